import type { RelayStatus, RendererApi } from '../electron/contract/api';
import { busy, byId, toast } from './dom.js';
import { mountLogsPane } from './logs-pane.js';
import { mountRelayPane } from './relay-pane.js';
import { mountSetupPane } from './setup-pane.js';
import { mountOutboxPane } from './outbox-pane.js';
import { renderProblems } from './health-view.js';
import { mountAccountsPane } from './accounts-pane.js';
import { mountTestMail } from './test-mail-view.js';

type PaneName = 'relay' | 'logs' | 'setup' | 'accounts' | 'outbox';

/** Boot: take the bridge the preload installed, mount the three panes, follow status and log pushes. */
async function boot(): Promise<void> {
  const api = (window as unknown as { relay?: RendererApi }).relay;
  if (!api) {
    document.body.textContent = 'This page only works inside the msmtp Relay app.';
    return;
  }

  const logs = mountLogsPane(api);
  const setup = mountSetupPane(api);
  let relayPane: ReturnType<typeof mountRelayPane> | null = null;
  const accounts = mountAccountsPane(api);
  showProblems = (box, problems) => renderProblems(box, problems, api, () => {
    void setup.refresh();
    void accounts.refresh();
    void api.getSettings().then((fixed) => relayPane?.show(fixed));
  }, (opens) => {
    selectPane('accounts');
    void accounts.refresh().then(() => {
      if (opens.form === 'add') accounts.add(opens.address);
      else if (opens.address) accounts.fix(opens.address);
    });
  });
  const outbox = mountOutboxPane(api);
  api.onOutbox((view) => outbox.show(view));
  // Subscribe before seeding: a line logged in between arrives twice and the pane drops the repeat by seq.
  api.onLog((entry) => logs.add(entry));
  // Status pushes come with every mail; the client setup changes only with where the relay listens (or a save).
  let listening = '';
  // The accounts that need attention arrive as health problems: the pane follows them.
  let troubled = '';
  api.onStatus((status) => {
    showStatus(status);
    const trouble = JSON.stringify((status.problems ?? []).filter((problem) => problem.kind === 'account-attention' || problem.kind.startsWith('msmtp-')));
    if (trouble !== troubled) {
      troubled = trouble;
      void accounts.refresh();
    }
    const now = `${status.state} ${status.host} ${status.port}`;
    if (now !== listening) {
      listening = now;
      void setup.refresh();
    }
  });

  const [settings, status, recent] = await Promise.all([api.getSettings(), api.getStatus(), api.recentLog()]);
  listening = `${status.state} ${status.host} ${status.port}`;
  relayPane = mountRelayPane(api, settings, () => void setup.refresh());
  mountTestMail(api);
  logs.seed(recent);
  showStatus(status);
  await setup.refresh();
  await outbox.refresh();
  await accounts.refresh();

  for (const tab of document.querySelectorAll<HTMLButtonElement>('[role="tab"]')) {
    tab.addEventListener('click', () => {
      selectPane(tab.dataset.pane as PaneName);
      if (tab.dataset.pane === 'logs') logs.shown();
      if (tab.dataset.pane === 'outbox') void outbox.refresh();
      if (tab.dataset.pane === 'accounts') void accounts.refresh();
    });
  }
  const toggle = byId<HTMLButtonElement>('btn-toggle');
  toggle.addEventListener('click', () => {
    void busy(toggle, async () => {
      const next = await api.setRunning(toggle.dataset.action === 'start');
      showStatus(next);
      if (next.state === 'error') toast(next.error ?? 'The relay did not start', 'error');
    });
  });
  document.body.dataset.ready = 'true';
}

let showProblems: (box: HTMLElement, problems: NonNullable<RelayStatus['problems']>) => void = () => undefined;

function selectPane(name: PaneName): void {
  for (const tab of document.querySelectorAll<HTMLButtonElement>('[role="tab"]')) {
    tab.setAttribute('aria-selected', String(tab.dataset.pane === name));
  }
  for (const pane of document.querySelectorAll<HTMLElement>('.pane')) pane.hidden = pane.id !== `pane-${name}`;
}

function showStatus(status: RelayStatus): void {
  const card = byId('status-card');
  card.dataset.state = status.words.attention ? 'warning' : status.state;
  byId('status-line').textContent = status.words.line;
  const mails = status.words.mails;
  byId('status-mails').textContent = status.lastMail
    ? `${mails}. Last: ${status.lastMail.summary}`
    : mails;
  const error = byId('status-error');
  error.hidden = !status.error;
  error.textContent = status.error ?? '';
  const toggle = byId<HTMLButtonElement>('btn-toggle');
  toggle.dataset.action = status.state === 'running' ? 'stop' : 'start';
  toggle.textContent = status.state === 'running' ? 'Stop relay' : status.state === 'error' ? 'Try again' : 'Start relay';

  const notices = byId('notices');
  notices.replaceChildren();
  const problems = status.problems ?? [];
  const explained = problems.some((problem) => problem.kind === 'no-keyring');
  const messages = [...(status.errorKind === 'keyring' && status.error && !explained ? [status.error] : []), ...status.notices];
  for (const text of messages) {
    const notice = document.createElement('p');
    notice.className = 'notice';
    notice.textContent = text;
    notices.append(notice);
  }
  showProblems(notices, problems);
}

void boot().catch((error: unknown) => {
  toast(`The window could not load its settings: ${(error as Error).message}`, 'error');
});
