import type { RelayStatus, RendererApi } from '../electron/contract/api';
import { announce, busy, byId, guardDisabledButtons, keepFocus, linkDescriptions, mountTabList, toast } from './dom.js';
import { mountLogsPane } from './logs-pane.js';
import { mountRelayPane } from './relay-pane.js';
import { mountSetupPane } from './setup-pane.js';
import { mountOutboxPane } from './outbox-pane.js';
import { renderProblems } from './health-view.js';
import { mountAccountsPane } from './accounts-pane.js';
import { mountTestMail } from './test-mail-view.js';

/** Boot: take the bridge the preload installed, mount the three panes, follow status and log pushes. */
async function boot(): Promise<void> {
  const api = (window as unknown as { relay?: RendererApi }).relay;
  if (!api) {
    document.body.textContent = 'This page only works inside the msmtp Relay app.';
    return;
  }

  guardDisabledButtons();
  linkDescriptions();
  const logs = mountLogsPane(api);
  const setup = mountSetupPane(api);
  let relayPane: ReturnType<typeof mountRelayPane> | null = null;
  let tabs: ReturnType<typeof mountTabList> | null = null;
  const accounts = mountAccountsPane(api);
  showProblems = (box, problems) => renderProblems(box, problems, api, () => {
    void setup.refresh();
    void accounts.refresh();
    void api.getSettings().then((fixed) => relayPane?.show(fixed));
  }, (opens) => {
    tabs?.select(byId('tab-accounts'));
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
  // The accounts that need attention arrive as health problems (so do msmtp's own): the Accounts pane follows them.
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

  tabs = mountTabList(document.querySelector<HTMLElement>('[role="tablist"]')!, (tab) => {
    if (tab.dataset.pane === 'logs') logs.shown();
    if (tab.dataset.pane === 'outbox') void outbox.refresh();
    if (tab.dataset.pane === 'accounts') void accounts.refresh();
  });
  const toggle = byId<HTMLButtonElement>('btn-toggle');
  toggle.addEventListener('click', () => {
    void busy(toggle, async () => {
      const next = await api.setRunning(toggle.dataset.action === 'start');
      showStatus(next);
      if (next.state === 'error') toast(next.error ?? 'The relay did not start', 'error', { announced: false }); // the status says it
    });
  });
  document.body.dataset.ready = 'true';
}

let showProblems: (box: HTMLElement, problems: NonNullable<RelayStatus['problems']>) => void = () => undefined;

/** What was last said about the status: a push with every mail redraws the card, only a change is announced. */
let spoken: { line: string; error: string; problems: string } | null = null;

function announceChanges(status: RelayStatus): void {
  const now = { line: status.words.line, error: status.error ?? '', problems: (status.problems ?? []).map((problem) => problem.title).join('\n') };
  const before = spoken;
  spoken = now;
  if (!before) return; // the window just opened: what it shows is read with the page
  if (now.line !== before.line) announce(now.line);
  if (now.error && now.error !== before.error) announce(now.error);
  const known = new Set(before.problems.split('\n'));
  for (const title of now.problems.split('\n')) if (title && !known.has(title)) announce(title);
}

/** The heading of the pane on show: where the focus goes when what it was on disappears. */
function paneHeading(): HTMLElement | null {
  return document.querySelector<HTMLElement>('.pane:not([hidden]) h1');
}

function showStatus(status: RelayStatus): void {
  announceChanges(status);
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
  keepFocus(notices, () => {
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
  }, paneHeading);
}

void boot().catch((error: unknown) => {
  toast(`The window could not load its settings: ${(error as Error).message}`, 'error');
});
