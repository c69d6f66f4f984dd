import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { AuthThrottle } from './auth';
import { deliverViaCommand, receivedHeader, spawnDetached, type CommandSpawner } from './deliver';
import type { RelayEvent, SessionEndReason } from './events';
import { resolveOptions, type RelayOptions } from './options';
import { Replies } from './reply';
import { runSession, type SessionHandler } from './session';

export interface RelayStats {
  activeSessions: number;
  totalSessions: number;
  refusedSessions: number;
  mailsDelivered: number;
  mailsFailed: number;
  mailsAborted: number;
  authFailures: number;
}

export interface RelayEngine {
  readonly options: RelayOptions;
  readonly running: boolean;
  readonly address: { host: string; port: number } | null;
  /** Listens on options.host:options.port; rejects with the socket error (EADDRINUSE, EADDRNOTAVAIL, EACCES...). */
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
}

/** How long a closed session's socket may linger half-open before it is destroyed. */
const LINGER_MS = 2000;

export function createRelay(partial: Partial<RelayOptions>, seams: EngineSeams = {}): RelayEngine {
  const options = resolveOptions(partial);
  const listeners = new Set<(event: RelayEvent) => void>();
  const throttle = new AuthThrottle(options.authFailureDelayMs, options.authFailureWindowMs);
  const spawner = seams.spawner ?? spawnDetached;
  const stats: RelayStats = {
    activeSessions: 0, totalSessions: 0, refusedSessions: 0,
    mailsDelivered: 0, mailsFailed: 0, mailsAborted: 0, authFailures: 0,
  };
  const sockets = new Set<Socket>();
  const sessionsDone = new Set<Promise<unknown>>();
  let server: Server | null = null;
  let address: { host: string; port: number } | null = null;
  let shutdown = new AbortController();
  let sequence = 0;
  const prefix = randomBytes(3).toString('hex');

  const emit = (event: RelayEvent) => {
    if (event.type === 'mail') {
      if (event.outcome === 'delivered') stats.mailsDelivered += 1;
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

  const handler: SessionHandler = {
    ...(options.auth ? { credentials: { user: options.auth.user, password: options.auth.password } } : {}),
    deliver: (envelope, body) =>
      deliverViaCommand(
        { argv: options.command, timeoutMs: options.deliveryTimeoutMs },
        envelope,
        body,
        receivedHeader(envelope, options.hostname),
        spawner,
      ),
  };

  const handleConnection = async (io: Duplex, remote: string): Promise<SessionEndReason> => {
    const id = `${prefix}-${(sequence += 1)}`;
    const opened = Date.now();
    stats.activeSessions += 1;
    stats.totalSessions += 1;
    emit({ type: 'session-open', session: id, remote, active: stats.activeSessions, max: options.maxSessions });
    let reason: SessionEndReason = 'error';
    try {
      reason = await runSession(io, { id, remote, options, handler, throttle, emit, shutdown: shutdown.signal });
    } finally {
      stats.activeSessions -= 1;
      emit({ type: 'session-close', session: id, reason, ms: Date.now() - opened });
    }
    return reason;
  };

  const accept = (socket: Socket) => {
    socket.on('error', () => {
      // A reset by the client surfaces in the session as end of input; nothing else to do here.
    });
    const remote = socket.remoteAddress ?? 'unknown';
    if (stats.activeSessions >= options.maxSessions || shutdown.signal.aborted) {
      stats.refusedSessions += 1;
      emit({ type: 'session-refused', remote, active: stats.activeSessions, max: options.maxSessions });
      const reply = shutdown.signal.aborted ? Replies.shuttingDown() : Replies.tooManySessions(options.maxSessions);
      socket.end(reply.toReply(false));
      setTimeout(() => socket.destroy(), LINGER_MS).unref();
      return;
    }
    socket.setNoDelay(true);
    sockets.add(socket);
    const done = handleConnection(socket, remote)
      .catch((error: unknown) => emit({ type: 'error', message: `session crashed: ${String(error)}` }))
      .finally(() => {
        sessionsDone.delete(done);
        if (!socket.destroyed) {
          socket.end();
          setTimeout(() => socket.destroy(), LINGER_MS).unref();
        }
        socket.once('close', () => sockets.delete(socket));
        if (socket.destroyed) sockets.delete(socket);
      });
    sessionsDone.add(done);
  };

  return {
    options,
    get running() {
      return server !== null;
    },
    get address() {
      return address;
    },
    async start() {
      if (server) throw new Error('relay is already running');
      shutdown = new AbortController();
      const listening = createServer({ allowHalfOpen: true, noDelay: true }, accept);
      listening.maxConnections = options.maxSessions * 64; // far above the session cap, only a bound on refusal work
      await new Promise<void>((resolve, reject) => {
        listening.once('error', reject);
        listening.listen({ host: options.host, port: options.port, backlog: 128, ipv6Only: false }, () => {
          listening.off('error', reject);
          resolve();
        });
      });
      listening.on('error', (error) => emit({ type: 'error', message: `server error: ${error.message}` }));
      const bound = listening.address();
      address = typeof bound === 'object' && bound ? { host: bound.address, port: bound.port } : null;
      server = listening;
      emit({ type: 'listening', host: address!.host, port: address!.port });
      return address!;
    },
    async stop(graceMs = options.stopGraceMs) {
      const closing = server;
      if (!closing) return;
      server = null;
      shutdown.abort();
      const closed = new Promise<void>((resolve) => closing.close(() => resolve()));
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      await Promise.race([Promise.allSettled([...sessionsDone]), grace]);
      clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await Promise.allSettled([...sessionsDone]);
      await closed;
      address = null;
      emit({ type: 'stopped' });
    },
    handleConnection,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stats: () => ({ ...stats }),
  };
}
