/**
 * What the engine reports, as data. The CLI turns these into msmtpd-style log lines, the desktop app into its
 * Logs pane and tray state. No event ever carries a password or a mail body.
 */
export type MailOutcome = 'delivered' | 'queued' | 'temp-failed' | 'failed' | 'aborted';

/** What the outbox did with a kept mail; each comes with its id. */
export type OutboxAction =
  /** Another try went out. */
  | 'sent'
  /** Another try failed and the mail waits for the next. */
  | 'waiting'
  /** Given up (refused for good, or kept too long): it moved to the failed list. */
  | 'gave-up'
  /** Found in flight after a crash: it is tried again and may have been sent already. */
  | 'recovered'
  | 'removed'
  /** A kept mail could not be written or read (disk full, permissions). */
  | 'storage-error';

export type RelayEvent =
  | { type: 'listening'; host: string; port: number }
  | { type: 'stopped' }
  /** Worth a line in the log, not a failure (e.g. 'localhost' on a machine without ::1). */
  | { type: 'notice'; message: string }
  | { type: 'session-open'; session: string; remote: string; active: number; max: number }
  | { type: 'session-close'; session: string; reason: SessionEndReason; ms: number }
  | { type: 'session-refused'; remote: string; active: number; max: number }
  | { type: 'auth'; session: string; user: string; ok: boolean; delayedMs: number }
  | { type: 'client-error'; session: string; command: string; reply: string }
  | {
      type: 'mail';
      session: string;
      outcome: MailOutcome;
      from: string;
      to: readonly string[];
      bytes: number;
      ms: number;
      reply: string;
      exitCode?: number | null;
      signal?: string | null;
      /** The last bytes the command wrote to stderr and stdout (msmtp's error message), if any. */
      commandOutput?: string;
      /** Why a mail was aborted or failed, in words (client disconnected mid-DATA, command timed out...). */
      detail?: string;
      /** Set when the mail was kept in the outbox (outcome 'queued'). */
      queueId?: string;
    }
  | {
      type: 'outbox';
      action: OutboxAction;
      id: string;
      from: string;
      to: readonly string[];
      attempts: number;
      /** Why it is waiting or was given up, or what went wrong with storage. */
      reason?: string;
      /** The command's last words on this try. */
      commandOutput?: string;
      /** It was in flight when a relay died: the provider may have it already. */
      maySendTwice?: boolean;
      /** When the next try is due (epoch ms), for 'waiting'. */
      nextAttemptAt?: number;
    }
  | { type: 'outbox-paused'; paused: boolean }
  /**
   * An msmtp account cannot send until the user fixes it (the provider refused its login, or msmtp has no
   * password): emitted at each such failure, new mail or a retry, so the app can show it and notify once. The mail
   * is kept when the outbox is on; after the account is fixed, retrying the outbox sends it.
   */
  | { type: 'account-attention'; account?: string; reason: 'login-refused' | 'no-password'; from: string; advice: string }
  | { type: 'error'; message: string };

export type SessionEndReason =
  | 'quit'
  | 'eof'
  | 'idle-timeout'
  /** Closed while idle to make room for a new client when every slot was taken. */
  | 'evicted'
  | 'too-many-errors'
  | 'not-smtp'
  | 'shutdown'
  | 'auth-failures'
  | 'error';

export type LogLevel = 'info' | 'error';

/** One human sentence per event, shared by the CLI log and the app's Logs pane. */
export function describeEvent(event: RelayEvent): { level: LogLevel; message: string } {
  switch (event.type) {
    case 'listening':
      return info(`listening on ${formatHostPort(event.host, event.port)}`);
    case 'stopped':
      return info('relay stopped');
    case 'notice':
      return info(event.message);
    case 'session-open':
      return info(`[${event.session}] connection from ${event.remote}, active sessions ${event.active} (max ${event.max})`);
    case 'session-close':
      return info(`[${event.session}] connection closed (${event.reason}) after ${event.ms} ms`);
    case 'session-refused':
      return error(`connection from ${event.remote} refused: ${event.active} active sessions (max ${event.max})`);
    case 'auth':
      return event.ok
        ? info(`[${event.session}] authenticated user ${event.user}`)
        : error(`[${event.session}] authentication failed for user ${event.user}`);
    case 'client-error':
      return error(`[${event.session}] ${event.command}: ${event.reply}`);
    case 'mail': {
      const head = `[${event.session}] mail from ${event.from || '<>'} to ${event.to.join(', ')} (${event.bytes} bytes, ${event.ms} ms)`;
      const status = event.signal ? `signal ${event.signal}` : event.exitCode != null ? `exit ${event.exitCode}` : '';
      const tail = [event.outcome, status, event.reply, event.detail, event.commandOutput && `command said: ${event.commandOutput}`]
        .filter(Boolean)
        .join('; ');
      return event.outcome === 'delivered' ? info(`${head}: ${tail}`) : error(`${head}: ${tail}`);
    }
    case 'outbox': {
      const head = `[outbox ${event.id}] mail from ${event.from || '<>'} to ${event.to.join(', ')}`;
      const twice = event.maySendTwice ? ' (it was in flight when a relay stopped: it may have been sent already)' : '';
      const said = event.commandOutput ? `; command said: ${event.commandOutput}` : '';
      switch (event.action) {
        case 'sent':
          return info(`${head}: sent on attempt ${event.attempts}${twice}`);
        case 'waiting':
          return error(`${head}: attempt ${event.attempts} failed: ${event.reason ?? 'unknown'}; next try ${new Date(event.nextAttemptAt ?? 0).toISOString()}${said}`);
        case 'gave-up':
          return error(`${head}: gave up after ${event.attempts} attempts: ${event.reason ?? 'unknown'}${said}`);
        case 'recovered':
          return error(`${head}: found in flight after a crash; will try again${twice}`);
        case 'removed':
          return info(`${head}: removed from the outbox`);
        case 'storage-error':
          return error(`${head}: ${event.reason ?? 'storage error'}`);
      }
      break;
    }
    case 'account-attention':
      return error(`msmtp account ${event.account ?? '(unnamed)'} needs attention (${event.reason === 'login-refused' ? 'login refused' : 'no password'}) for ${event.from}: ${event.advice}`);
    case 'outbox-paused':
      return info(event.paused ? 'sending paused: new mail is kept in the outbox' : 'sending resumed');
    case 'error':
      return error(event.message);
  }
}

/** The name a mail client is told for a loopback address: what users type and what TLS names would match. */
export function loopbackName(host: string): string {
  return host === '127.0.0.1' || host === '::1' ? 'localhost' : host;
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const info = (message: string) => ({ level: 'info' as const, message });
const error = (message: string) => ({ level: 'error' as const, message });
