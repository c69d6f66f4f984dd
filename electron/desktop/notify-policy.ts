/**
 * When the app shows a desktop notification, as data: the relay stopped with an error, or a mail failed for good
 * (a 5xx: the client has it back and nothing will retry it). Temporary failures are retried by the client or the
 * outbox and say nothing here. main.ts turns a Notice into Electron's Notification; this file knows no Electron.
 */
import type { RelayFacts } from '../contract/api';

export interface Notice {
  title: string;
  body: string;
}

export interface MailReport {
  outcome: string;
  to: readonly string[];
  reply: string;
  commandOutput?: string;
}

export interface NotifyPolicyOptions {
  /** The user's setting (on by default). */
  enabled: () => boolean;
  /** While the window has the focus the user sees it there already. */
  windowFocused?: () => boolean;
  now?: () => number;
  /** Failed mails within this long of a notification are counted into the next one instead of each popping up. */
  mailQuietMs?: number;
}

export class NotifyPolicy {
  private lastState: RelayFacts['state'] | null = null;
  private lastMailNoticeAt = -Infinity;
  private heldBack = 0;

  constructor(private readonly options: NotifyPolicyOptions) {}

  /** A notice when the relay has just gone into its error state (not for each repeat of the same error). */
  onStatus(status: RelayFacts): Notice | null {
    const was = this.lastState;
    this.lastState = status.state;
    if (status.state !== 'error' || was === 'error' || !this.wanted()) return null;
    return { title: 'msmtp Relay stopped', body: truncate(status.error ?? 'The relay stopped with an error.', 200) };
  }

  /** A notice for a mail that failed permanently; a burst of failures becomes one notice with a count. */
  onMail(mail: MailReport): Notice | null {
    if (mail.outcome !== 'failed' || !this.wanted()) return null;
    const now = (this.options.now ?? Date.now)();
    if (now - this.lastMailNoticeAt < (this.options.mailQuietMs ?? 60_000)) {
      this.heldBack += 1;
      return null;
    }
    this.lastMailNoticeAt = now;
    const more = this.heldBack > 0 ? ` (and ${this.heldBack} more since the last notice)` : '';
    this.heldBack = 0;
    const said = mail.commandOutput?.trim().split('\n').pop();
    return {
      title: `A mail to ${truncate(mail.to.join(', '), 60)} could not be sent${more}`,
      body: truncate(said ? `msmtp said: ${said}` : mail.reply, 200),
    };
  }

  /** The outbox gave up on a kept mail (it expired or the provider refused it for good): also a permanent failure. */
  onGaveUp(mail: { to: readonly string[]; attempts: number; reason: string }): Notice | null {
    const tries = mail.attempts === 1 ? '1 try' : `${mail.attempts} tries`;
    return this.onMail({ outcome: 'failed', to: mail.to, reply: `Given up after ${tries}: ${mail.reason}` });
  }

  /**
   * An msmtp account could not log in and its mail is kept: told once per account (the caller calls this only when
   * the account was not marked yet), even while the window has the focus, since the pane it shows may be another.
   */
  onAccountAttention(trouble: { account: string; kind: 'login-refused' | 'no-password' }): Notice | null {
    if (!this.options.enabled()) return null;
    const why = trouble.kind === 'login-refused' ? 'the provider refused the login' : 'msmtp found no password for it';
    return {
      title: `The mail account ${truncate(trouble.account, 60)} needs attention`,
      body: `Its mail is kept in the outbox: ${why}. Open Accounts to verify it again.`,
    };
  }

  private wanted(): boolean {
    return this.options.enabled() && !(this.options.windowFocused?.() ?? false);
  }
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
