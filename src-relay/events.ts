/**
 * What the engine reports, as data. The CLI turns these into msmtpd-style log lines, the desktop app into its
 * Logs pane and tray state. No event ever carries a password or a mail body.
 */
export type MailOutcome = 'delivered' | 'temp-failed' | 'failed' | 'aborted';

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
    }
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
