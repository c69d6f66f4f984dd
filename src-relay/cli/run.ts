import { Duplex, PassThrough } from 'node:stream';
import type { Socket } from 'node:net';
import { fstatSync } from 'node:fs';
import { StartupError, type Startup } from './startup';
import {
  createRelay, formatHostPort, openAuthFailureFile, type PasswordSource, type RelayEngine, type ThrottleStore,
} from '../index';
import { attachEngineLog } from './log';
import { openSpool } from './queue';
import type { Outbox } from '../index';

/** Listens until SIGTERM or SIGINT, then stops like the engine promises: mails in flight finish (bounded). Exit 0. */
export async function runDaemon(startup: Startup): Promise<number> {
  const { options, sink } = startup;
  const { engine, outbox } = await loggedRelay(startup, undefined, 'SIGUSR1');
  sink.write('info', startingLine(startup));
  process.on('SIGHUP', () => sink.write('info', 'SIGHUP ignored (as msmtpd does)'));
  if (outbox) {
    process.on('SIGUSR1', () => {
      sink.write('info', 'SIGUSR1 received: sending every waiting mail now');
      outbox.retryNow();
    });
  }
  const stopSignal = firstSignal(['SIGTERM', 'SIGINT'], (signal) => sink.write('info', `${signal} received again: already stopping`));
  try {
    await engine.start();
  } catch (error) {
    throw new StartupError(`cannot bind to ${formatHostPort(options.host, options.port)}: ${socketErrorText(error)}`);
  }
  const signal = await stopSignal;
  sink.write('info', `${signal} received: stopping; mails in flight may take up to ${options.stopGraceMs / 1000} s to finish`);
  await engine.stop();
  await outbox?.close();
  sink.write('info', statsLine(engine));
  await sink.close();
  return 0;
}

/**
 * One session on stdin/stdout (inetd, socket activation, socat). Exit 0 when the client quit or hung up, 1 for any
 * other end. The delivery command's output never reaches the client: the engine sends it to the log.
 */
export async function runInetd(startup: Startup): Promise<number> {
  const { options, sink } = startup;
  // Every connection is a process of its own: the spacing after a failed login must outlive each of them.
  const authFailures = options.auth ? loginSpacingFile(startup) : undefined;
  const { engine, outbox } = await loggedRelay(startup, authFailures);
  const input = new PassThrough();
  process.stdin.pipe(input);
  process.stdout.on('error', () => {
    // the client is gone; the session notices through its input
  });
  const io = Duplex.from({ readable: input, writable: process.stdout });
  // Stop reading: an idle session ends now, a mail still arriving is dropped (its command killed, never a truncated
  // mail), one whose command already runs gets its reply. A command stuck past the grace time is cut off.
  let stopping = false;
  const stopReading = (signal: NodeJS.Signals) => {
    // Handled every time: dying on a second signal would close a command's stdin mid-mail, which it takes as the end.
    if (stopping) return;
    stopping = true;
    sink.write('info', `${signal} received: ending the session`);
    process.stdin.unpipe(input);
    input.end();
    setTimeout(() => {
      sink.write('error', `session did not end within ${options.stopGraceMs / 1000} s of ${signal}; exiting`);
      void sink.close().then(() => process.exit(1));
    }, options.stopGraceMs).unref();
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, stopReading);
  const reason = await engine.handleConnection(io, stdinPeer() ?? 'inetd');
  process.stdin.unpipe(input);
  process.stdin.destroy();
  await outbox?.close();
  await sink.close();
  return reason === 'quit' || reason === 'eof' ? 0 : 1;
}

function loginSpacingFile({ sink }: Startup): ThrottleStore | undefined {
  const report = (message: string) => sink.write('error', message);
  try {
    return openAuthFailureFile(undefined, report);
  } catch (error) {
    report(`failed logins are spaced within this connection only: ${(error as Error).message}`);
    return undefined;
  }
}

async function loggedRelay(startup: Startup, authFailures?: ThrottleStore, flushSignal?: 'SIGUSR1'): Promise<{ engine: RelayEngine; outbox: Outbox | null }> {
  const outbox = startup.config.queueDir !== undefined ? await openSpool(startup.config, flushSignal) : null;
  const engine = createRelay(startup.options, { ...(outbox ? { outbox } : {}), ...(authFailures ? { authFailures } : {}) });
  // With --log=none no event is worded at all: the words would go nowhere, several times for every mail.
  if (startup.config.log.kind !== 'none') {
    attachEngineLog(engine, startup.sink);
    if (outbox) attachEngineLog(outbox, startup.sink);
  }
  return { engine, outbox };
}

/** The client's address when stdin is a TCP socket (systemd, xinetd); pipes and socketpairs have none. */
function stdinPeer(): string | undefined {
  try {
    if (!fstatSync(0).isSocket()) return undefined;
  } catch {
    return undefined;
  }
  return (process.stdin as Partial<Socket>).remoteAddress || undefined;
}

/** Resolves with the first of the signals; later ones only call onRepeat, so they cannot kill a graceful stop. */
function firstSignal(signals: readonly NodeJS.Signals[], onRepeat: (signal: NodeJS.Signals) => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    for (const signal of signals) {
      process.on(signal, () => {
        if (received) return onRepeat(signal);
        received = true;
        resolve(signal);
      });
    }
  });
}

function startingLine(startup: Startup): string {
  const { options, config } = startup;
  const parts = [`command '${config.commandText}'`, `max ${options.maxSessions} sessions`];
  if (options.auth) parts.push(`auth required for user ${options.auth.user} (password from ${SOURCE_NAMES[startup.passwordSource ?? 'prompt']})`);
  if (options.tls) parts.push('STARTTLS offered');
  if (config.queueDir !== undefined) parts.push(`mail that cannot go out now is kept in ${config.queueDir}`);
  return `msmtp-relay starting: ${parts.join(', ')}`;
}

const SOURCE_NAMES: Record<PasswordSource, string> = {
  passwordeval: 'passwordeval',
  'app-keyring': "msmtp-relay's key ring entry",
  'msmtp-keyring': "msmtp's key ring entry",
  prompt: 'the terminal',
};

function statsLine(engine: RelayEngine): string {
  const stats = engine.stats();
  return `stopped after ${stats.totalSessions} sessions (${stats.refusedSessions} refused): ${stats.mailsDelivered} mails delivered, ` +
    `${stats.mailsQueued ? `${stats.mailsQueued} kept for later, ` : ''}${stats.mailsFailed} failed, ${stats.mailsAborted} aborted, ${stats.authFailures} failed logins`;
}

const SOCKET_ERRORS: Record<string, string> = {
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address (not an address of this machine)',
  EACCES: 'Permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)',
  EAFNOSUPPORT: 'Address family not supported (is IPv6 disabled?)',
};

function socketErrorText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code && SOCKET_ERRORS[code]) return SOCKET_ERRORS[code];
  return error instanceof Error ? error.message : String(error);
}
