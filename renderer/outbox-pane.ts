import type { OutboxMail, OutboxView, RendererApi, SentMail } from '../electron/contract/api';
import { busy, byId, keepFocus, setEnabled, toast } from './dom.js';

/** How long the second click of Delete is awaited before the button asks again from the start. */
const CONFIRM_MS = 5000;
/** Relative times ("next try in 3 min") are worded again this often. */
const TICK_MS = 15_000;

/**
 * The Outbox pane: mails waiting, given up and sent recently, with Retry now, Delete (two clicks) and Pause sending.
 * Subjects and addresses are the sender's text: they only ever go into textContent.
 */
export function mountOutboxPane(api: RendererApi): { show(view: OutboxView): void; refresh(): Promise<void> } {
  const pane = byId('pane-outbox');
  const waitingList = byId<HTMLOListElement>('outbox-waiting');
  const failedList = byId<HTMLOListElement>('outbox-failed');
  const sentList = byId<HTMLOListElement>('outbox-sent');
  const retryAll = byId<HTMLButtonElement>('btn-outbox-retry');
  const pause = byId<HTMLButtonElement>('btn-outbox-pause');
  let view: OutboxView | null = null;
  let confirming: string | null = null;
  let confirmTimer: number | undefined;

  const show = (next: OutboxView) => {
    view = next;
    render();
  };

  function render(): void {
    if (!view) return;
    const now = Date.now();
    const waiting = view.mails.filter((mail) => mail.state !== 'failed');
    const failed = view.mails.filter((mail) => mail.state === 'failed');
    // A redrawn list keeps the focus on the button it was on, or hands it to the next mail's, or to the list's title.
    const redraw = (list: HTMLOListElement, items: HTMLLIElement[]) =>
      keepFocus(list, () => list.replaceChildren(...items), () => byId(`${list.id}-title`));
    redraw(waitingList, waiting.map((mail) => keptItem(mail, now, confirming === mail.id)));
    redraw(failedList, failed.map((mail) => keptItem(mail, now, confirming === mail.id)));
    redraw(sentList, view.sent.map((mail) => sentItem(mail)));
    byId('outbox-waiting-empty').hidden = waiting.length > 0;
    byId('outbox-failed-empty').hidden = failed.length > 0;
    byId('outbox-sent-empty').hidden = view.sent.length > 0;

    byId('outbox-summary').textContent = summary(view, waiting.length, failed.length);
    const notice = byId('outbox-notice');
    const says = !view.available
      ? view.error ?? 'The outbox is not available.'
      : view.paused
        ? 'Sending is paused: every new mail is kept here until you resume.'
        : !view.keepUnsent
          ? 'Keeping mail is turned off (Relay pane): a mail that cannot go out now is refused, and the mail program must try again. Mail kept before is still sent.'
          : '';
    notice.textContent = says;
    notice.hidden = says === '';
    pause.textContent = view.paused ? 'Resume sending' : 'Pause sending';
    pause.dataset.paused = String(view.paused);
    setEnabled(pause, view.available);
    setEnabled(retryAll, view.available && !view.paused && waiting.length > 0);
    const count = byId('outbox-count');
    count.textContent = String(view.mails.length);
    count.hidden = view.mails.length === 0;
    count.dataset.failed = String(failed.length > 0);
  }

  const refresh = async () => show(await api.listOutbox());

  retryAll.addEventListener('click', () => {
    void busy(retryAll, async () => report(await api.retryOutbox(null)));
  });
  pause.addEventListener('click', () => {
    void busy(pause, async () => {
      const paused = pause.dataset.paused !== 'true';
      show(await api.setSendingPaused(paused));
      toast(paused ? 'Sending paused: new mail is kept in the outbox' : 'Sending resumed');
    });
  });
  pane.addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-action]');
    const id = button?.closest<HTMLElement>('[data-id]')?.dataset.id;
    if (!button || !id || button.getAttribute('aria-disabled') === 'true') return;
    if (button.dataset.action === 'retry') {
      void busy(button, async () => report(await api.retryOutbox(id)));
      return;
    }
    // Deleting cannot be undone (the mail is gone for good): the first click only asks.
    if (confirming !== id) {
      confirming = id;
      window.clearTimeout(confirmTimer);
      confirmTimer = window.setTimeout(() => {
        confirming = null;
        render();
      }, CONFIRM_MS);
      render();
      return;
    }
    confirming = null;
    window.clearTimeout(confirmTimer);
    void busy(button, async () => {
      report(await api.deleteFromOutbox(id));
      await refresh();
    });
  });
  window.setInterval(render, TICK_MS);

  return { show, refresh };
}

function report(result: { ok: true; message?: string } | { ok: false; error: string }): void {
  if (result.ok) toast(result.message ?? 'Done');
  else toast(result.error, 'error');
}

function summary(view: OutboxView, waiting: number, failed: number): string {
  if (!view.available) return 'The outbox is not available';
  if (waiting === 0 && failed === 0) return 'Every mail went out.';
  const parts = [
    ...(waiting > 0 ? [`${waiting} ${waiting === 1 ? 'mail' : 'mails'} waiting`] : []),
    ...(failed > 0 ? [`${failed} failed`] : []),
  ];
  return `${parts.join(', ')}.`;
}

function keptItem(mail: OutboxMail, now: number, confirming: boolean): HTMLLIElement {
  const item = mailItem(mail.id, mail.state, mail.subject, mail.to, mail.from, mail.maySendTwice);
  const meta = element('p', 'mail-meta');
  const next = mail.state === 'sending'
    ? 'being sent now'
    : mail.state === 'failed' ? 'given up' : mail.nextAttemptAt === null ? '' : `next try ${relative(mail.nextAttemptAt, now)}`;
  meta.textContent = [`kept ${clock(mail.receivedAt, now)}`, attempts(mail.attempts), next].filter(Boolean).join(' · ');
  item.append(meta);
  if (mail.lastError) {
    const error = element('p', 'mail-error');
    error.textContent = mail.lastError;
    item.append(error);
  }
  if (mail.lastOutput.trim()) {
    const output = element('pre', 'mail-output mono');
    output.title = "msmtp's last words";
    output.textContent = mail.lastOutput.trim().split('\n').slice(-4).join('\n');
    item.append(output);
  }
  const actions = element('div', 'mail-actions');
  const retry = element('button', '');
  retry.type = 'button';
  retry.dataset.action = 'retry';
  retry.textContent = mail.state === 'failed' ? 'Try again' : 'Retry now';
  setEnabled(retry, mail.state !== 'sending');
  const remove = element('button', confirming ? 'danger' : 'subtle');
  remove.type = 'button';
  remove.dataset.action = 'delete';
  remove.textContent = confirming ? 'Click again to delete it' : 'Delete';
  setEnabled(remove, mail.state !== 'sending');
  actions.append(retry, remove);
  item.append(actions);
  return item;
}

function sentItem(mail: SentMail): HTMLLIElement {
  const item = mailItem(mail.id, 'sent', mail.subject, mail.to, mail.from, mail.maySendTwice);
  const meta = element('p', 'mail-meta');
  meta.textContent = `sent ${clock(mail.time, Date.now())}${mail.attempts > 1 ? ` on attempt ${mail.attempts}` : ''}`;
  item.append(meta);
  return item;
}

function mailItem(id: string, state: string, subject: string, to: readonly string[], from: string, maySendTwice: boolean): HTMLLIElement {
  const item = element('li', 'mail-item');
  item.dataset.id = id;
  item.dataset.key = id;
  item.dataset.state = state;
  const head = element('div', 'mail-head');
  const title = element('strong', 'mail-subject');
  title.textContent = subject || '(no subject)';
  head.append(title);
  if (maySendTwice) {
    const flag = element('span', 'flag');
    flag.textContent = 'may have been sent already';
    flag.title = 'It was being sent when the relay stopped dead: the recipient may get it twice.';
    head.append(flag);
  }
  const who = element('p', 'mail-who');
  who.textContent = `to ${to.join(', ')} · from ${from || '<>'}`;
  item.append(head, who);
  return item;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

function attempts(count: number): string {
  if (count === 0) return 'not tried yet';
  return count === 1 ? '1 attempt' : `${count} attempts`;
}

/** The time of day for today, else the date too. */
function clock(time: number, now: number): string {
  const date = new Date(time);
  const sameDay = date.toDateString() === new Date(now).toDateString();
  const hours = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
  return sameDay ? `at ${hours}` : `on ${date.toLocaleDateString()} ${hours}`;
}

function relative(time: number, now: number): string {
  const seconds = Math.round((time - now) / 1000);
  if (seconds <= 5) return 'now';
  if (seconds < 90) return `in ${seconds} s`;
  if (seconds < 90 * 60) return `in ${Math.round(seconds / 60)} min (${clock(time, now).replace(/^at /, '')})`;
  return `in ${Math.round(seconds / 3600)} h (${clock(time, now).replace(/^at /, '')})`;
}
