import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import { AuthThrottle, type ThrottleStore } from './smtp/auth';
import { deliverViaCommand, receivedHeader, type CommandSpawner } from './delivery/deliver';
import type { RelayEvent, SessionEndReason } from './events';
import { listenOnAll, type Bound } from './listen';
import { resolveOptions, type RelayOptions } from './options';
import type { Outbox } from './outbox/outbox';
import { Replies, type SmtpError } from './smtp/reply';
import { SessionControl, runSession } from './smtp/session';
import { createLauncherSpawner } from './delivery/launcher';
import { type Envelope, type SessionHandler } from './smtp/handler';

export interface RelayStats {
  activeSessions: number;
  totalSessions: number;
  refusedSessions: number;
  mailsDelivered: number;
  /** Mails kept in the outbox for later (answered 250 all the same). */
  mailsQueued: number;
  mailsFailed: number;
  mailsAborted: number;
  authFailures: number;
}

export interface RelayEngine {
  readonly options: RelayOptions;
  readonly running: boolean;
  /** The first address listened on (127.0.0.1 for 'localhost'), null when stopped. */
  readonly address: { host: string; port: number } | null;
  /** Every address listened on: two for 'localhost' where the machine has both loopbacks. */
  readonly addresses: readonly { host: string; port: number }[];
  /**
   * Listens on options.host:options.port ('localhost': 127.0.0.1 and ::1, same port); rejects with the socket error
   * (EADDRINUSE, EADDRNOTAVAIL, EACCES...).
   */
  start(): Promise<{ host: string; port: number }>;
  /** Stops accepting, closes idle sessions with 421, lets mails in flight finish for graceMs, then cuts the rest. */
  stop(graceMs?: number): Promise<void>;
  /** Runs one session on any stream: a socket the caller accepted, or stdin/stdout in inetd mode. */
  handleConnection(io: Duplex, remote: string): Promise<SessionEndReason>;
  subscribe(listener: (event: RelayEvent) => void): () => void;
  stats(): RelayStats;
}

export interface EngineSeams {
  /** How the delivery command is started (tests and benchmarks may measure alternatives). */
  spawner?: CommandSpawner;
  /** Where mail that cannot go out now is kept; without one, such mail is refused with 451 as msmtpd does. */
  outbox?: Outbox;
  /**
   * Where the spacing after a failed login is kept; by default in memory. The CLI's inetd mode passes a file, since
   * each of its connections is a process of its own.
   */
  authFailures?: ThrottleStore;
  /**
   * With an outbox, false sends new mail as if there were none (a temporary failure gets 451) while the outbox still
   * sends what it kept before; while sending is paused, new mail is kept all the same (the user asked for that).
   */
  keepNewMail?: boolean;
}

/** How long a closed session's socket may linger half-open before it is destroyed. */
const LINGER_MS = 2000;

/** Pending connections the kernel may queue for us (see start()). */
const LISTEN_BACKLOG = 1024;

/** Every session listens for the stop: Node's default cap of 10 listeners would print a warning at the 11th. */
function shutdownController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

export function createRelay(partial: Partial<RelayOptions>, seams: EngineSeams = {}): RelayEngine {
  const options = resolveOptions(partial);
  const listeners = new Set<(event: RelayEvent) => void>();
  const throttle = new AuthThrottle(options.authFailureDelayMs, options.authFailureWindowMs, Date.now, seams.authFailures);
  // By default commands start through a small python3 launcher (Node's spawn forks this whole process per mail);
  // without python3 that is Node's spawn.
  const launcher = seams.spawner ? null : createLauncherSpawner();
  const spawner = seams.spawner ?? launcher!.spawn;
  const stats: RelayStats = {
    activeSessions: 0, totalSessions: 0, refusedSessions: 0,
    mailsDelivered: 0, mailsQueued: 0, mailsFailed: 0, mailsAborted: 0, authFailures: 0,
  };
  const sockets = new Set<Socket>();
  const sessionsDone = new Set<Promise<unknown>>();
  /** Every running session (accepted sockets and handleConnection callers such as inetd) with its control. */
  const sessions = new Map<Duplex, SessionControl>();
  let server: Server | null = null;
  let address: { host: string; port: number } | null = null;
  /** For 'localhost': the ::1 listener next to `server` on 127.0.0.1. */
  let moreServers: Server[] = [];
  let addresses: { host: string; port: number }[] = [];
  let shutdown = shutdownController();
  let sequence = 0;
  const prefix = randomBytes(3).toString('hex');

  const emit = (event: RelayEvent) => {
    if (event.type === 'mail') {
      if (event.outcome === 'delivered') stats.mailsDelivered += 1;
      else if (event.outcome === 'queued') stats.mailsQueued += 1;
      else if (event.outcome === 'aborted') stats.mailsAborted += 1;
      else stats.mailsFailed += 1;
    } else if (event.type === 'auth' && !event.ok) {
      stats.authFailures += 1;
    }
    for (const listener of listeners) {
      try {
        listener(event);
      } catch {
        // A failing listener (a full disk under the log file) must not take the relay down.
      }
    }
  };

  const command = { argv: options.command, timeoutMs: options.deliveryTimeoutMs };
  /** Every delivery, new mail or a kept one, tells the app when an msmtp account needs the user. */
  const deliver = async (...args: Parameters<typeof deliverViaCommand>) => {
    const outcome = await deliverViaCommand(...args);
    if (outcome.status === 'failed' && outcome.account) {
      const { name, reason, advice } = outcome.account;
      emit({ type: 'account-attention', ...(name ? { account: name } : {}), reason, from: args[1].from, advice });
    }
    return outcome;
  };
  const sendKept = (envelope: Envelope, body: Readable, header: string) => deliver(command, envelope, body, header, spawner);
  const outbox = seams.outbox ?? null;
  let detachOutbox: (() => void) | null = null;
  const handler: SessionHandler = {
    ...(options.auth ? { credentials: { user: options.auth.user, password: options.auth.password } } : {}),
    deliver: async (envelope, body) => {
      const header = receivedHeader(envelope, options.hostname);
      if (!outbox || (seams.keepNewMail === false && !outbox.isPaused)) return deliver(command, envelope, body, header, spawner);
      if (outbox.isPaused) return outbox.keepUntried(envelope, body, header);
      // Tried at once, with a copy of what the command is fed; keeping it is the outbox's decision on the outcome.
      const copy = outbox.newCopy();
      return outbox.afterFirstTry(envelope, copy, await deliver(command, envelope, body, header, spawner, copy));
    },
  };

  const handleConnection = (io: Duplex, remote: string): Promise<SessionEndReason> => {
    const id = `${prefix}-${(sequence += 1)}`;
    const opened = Date.now();
    const control = new SessionControl();
    stats.activeSessions += 1;
    stats.totalSessions += 1;
    sessions.set(io, control);
    emit({ type: 'session-open', session: id, remote, active: stats.activeSessions, max: options.maxSessions });
    let reason: SessionEndReason = 'error';
    const done = runSession(io, { id, remote, options, handler, throttle, emit, shutdown: shutdown.signal, control })
      .then((ended) => (reason = ended))
      .finally(() => {
        stats.activeSessions -= 1;
        sessions.delete(io);
        sessionsDone.delete(done);
        emit({ type: 'session-close', session: id, reason, ms: Date.now() - opened });
      });
    sessionsDone.add(done);
    return done;
  };

  /** Every slot taken: the session that has waited longest for a command, if long enough, makes room. */
  const evictIdlest = (): boolean => {
    const oldestAllowed = Date.now() - options.evictIdleAfterMs;
    let idlest: SessionControl | null = null;
    for (const control of sessions.values()) {
      if (control.idleSince !== null && control.idleSince <= oldestAllowed && !control.closedAs
        && (idlest === null || control.idleSince < idlest.idleSince!)) idlest = control;
    }
    return idlest !== null && idlest.closeIfIdle(Replies.evicted(), 'evicted');
  };

  const accept = (socket: Socket) => {
    socket.on('error', () => {
      // A reset by the client surfaces in the session as end of input; nothing else to do here.
    });
    const remote = socket.remoteAddress ?? 'unknown';
    const refuse = (reply: SmtpError) => {
      stats.refusedSessions += 1;
      emit({ type: 'session-refused', remote, active: stats.activeSessions, max: options.maxSessions });
      socket.end(reply.toReply(false));
      setTimeout(() => socket.destroy(), LINGER_MS).unref();
    };
    if (shutdown.signal.aborted) return refuse(Replies.shuttingDown());
    if (atCapacity()) {
      // Every slot is taken: the session idle longest (if long enough) is closed to give its slot to this client.
      const madeRoom = evictIdlest();
      if (!madeRoom) return refuse(Replies.tooManySessions(options.maxSessions));
    }
    sockets.add(socket);
    void handleConnection(socket, remote)
      .catch((error: unknown) => emit({ type: 'error', message: `session crashed: ${String(error)}` }))
      .finally(() => {
        if (!socket.destroyed) {
          socket.end();
          setTimeout(() => socket.destroy(), LINGER_MS).unref();
        }
        socket.once('close', () => sockets.delete(socket));
        if (socket.destroyed) sockets.delete(socket);
      });
  };

  /** Sessions told to make room that have not ended yet: their slots are already promised to newcomers. */
  const evicting = () => [...sessions.values()].filter((control) => control.closedAs === 'evicted').length;
  /** Every slot is taken, counting those already promised to newcomers as free. */
  const atCapacity = () => stats.activeSessions >= options.maxSessions && stats.activeSessions - evicting() >= options.maxSessions;

  return {
    options,
    get running() {
      return server !== null;
    },
    get address() {
      return address;
    },
    get addresses() {
      return [...addresses];
    },
    async start() {
      if (server) throw new Error('relay is already running');
      shutdown = shutdownController();
      const opened = await listenOnAll(options, (host, port) => listenOn(host, port, accept, options.maxSessions),
        ({ listening }) => listening.close(), (message) => emit({ type: 'notice', message }));
      for (const { listening } of opened) listening.on('error', (error) => emit({ type: 'error', message: `server error: ${error.message}` }));
      addresses = opened.map((one) => one.bound);
      address = addresses[0]!;
      server = opened[0]!.listening;
      moreServers = opened.slice(1).map((one) => one.listening);
      void launcher?.prepare(); // now: until it is ready, commands start with Node's spawn
      for (const where of addresses.slice(1)) emit({ type: 'listening', host: where.host, port: where.port });
      emit({ type: 'listening', host: address.host, port: address.port });
      detachOutbox = outbox?.attach(sendKept) ?? null;
      return address;
    },
    async stop(graceMs = options.stopGraceMs) {
      const closing = server;
      if (!closing && sessions.size === 0) return;
      server = null;
      detachOutbox?.();
      detachOutbox = null;
      shutdown.abort();
      const closed = Promise.all([...(closing ? [closing] : []), ...moreServers].map((listening) => new Promise<void>((resolve) => listening.close(() => resolve()))));
      moreServers = [];
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      // Tries of kept mails in flight finish too (bounded by the same grace): they use this engine's launcher.
      await Promise.race([Promise.allSettled([...sessionsDone, outbox?.whenIdle()]), grace]);
      clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      for (const io of sessions.keys()) io.destroy();
      await Promise.allSettled([...sessionsDone]);
      await closed;
      launcher?.close();
      address = null;
      addresses = [];
      if (closing) emit({ type: 'stopped' });
    },
    handleConnection,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stats: () => ({ ...stats }),
  };
}

interface Listener extends Bound {
  listening: Server;
}

function listenOn(host: string, port: number, accept: (socket: Socket) => void, maxSessions: number): Promise<Listener> {
  const listening = createServer({ allowHalfOpen: true, noDelay: true }, accept);
  listening.maxConnections = maxSessions * 64; // far above the session cap, only a bound on refusal work
  return new Promise<Listener>((resolve, reject) => {
    listening.once('error', reject);
    // A burst of connections beyond the backlog has its SYNs dropped: those clients wait for TCP's retry instead
    // of getting their 421 at once (docs/benchmark.md has the measurement). The kernel caps it at net.core.somaxconn.
    listening.listen({ host, port, backlog: LISTEN_BACKLOG, ipv6Only: false }, () => {
      listening.off('error', reject);
      const where = listening.address();
      resolve({ listening, bound: typeof where === 'object' && where ? { host: where.address, port: where.port } : { host, port } });
    });
  });
}
