import {
  createRelay, findExecutable, formatHostPort, parseCommand, type RelayEngine, type RelayEvent, type RelayOptions,
  type SecretStore, type TlsOptions,
} from '../../src-relay/index';
import type { AppSettings, RelayErrorKind } from '../contract/api';
import { notFoundMessage } from '../health/msmtp-check';
import type { AppOutbox } from '../outbox/app-outbox';
import type { AppLog } from './app-log';
import type { EngineState } from './app-status';
import { ensureRelayPassword } from './password';

export interface RelayHostOptions {
  secrets: SecretStore;
  /** The settings' one owner (CurrentSettings): asked at every start and apply. */
  settings: () => AppSettings;
  log: AppLog;
  /** The outbox the engines keep mail in; null: mail that cannot go out now is refused with 451. */
  outbox: AppOutbox | null;
  /** Engine options the settings do not cover (limits, stop grace); tests shorten timeouts here. */
  engineOptions?: Partial<RelayOptions>;
  /** The key and certificate for STARTTLS when the settings turn TLS on (tls-cert.ts makes and renews them). */
  tlsCertificate?: () => Promise<TlsOptions>;
}

interface Failure {
  kind: RelayErrorKind;
  message: string;
}

/**
 * Owns the relay engine for the desktop app, without Electron: starts it with the password from the keyring,
 * restarts it when settings change without dropping a mail in flight (the old engine drains while the new one
 * listens), and says what it is doing (state) and what its engines report (events).
 */
export class RelayHost {
  private wanted = false;
  private engine: RelayEngine | null = null;
  /** The settings the current engine runs with, to see whether new ones need a restart. */
  private runningWith: AppSettings | null = null;
  private readonly subscriptions = new Map<RelayEngine, () => void>();
  private failure: Failure | null = null;
  private readonly draining = new Set<Promise<void>>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly stateListeners = new Set<() => void>();
  private readonly eventListeners = new Set<(event: RelayEvent) => void>();

  constructor(private readonly options: RelayHostOptions) {}

  state(): EngineState {
    const address = this.engine?.address;
    const settings = this.options.settings();
    return {
      state: this.failure ? 'error' : this.engine ? 'running' : 'stopped',
      host: address?.host ?? settings.host,
      port: address?.port ?? settings.port,
      ...(this.failure ? { error: this.failure.message, errorKind: this.failure.kind } : {}),
    };
  }

  get running(): boolean {
    return this.engine !== null;
  }

  /** Started, stopped, failed: the status is to be drawn again. */
  onStateChange(listener: () => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Every engine event as data (the log, the tally, the test mail and the notifications listen). */
  onEvent(listener: (event: RelayEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  start(): Promise<EngineState> {
    return this.serially(async () => {
      this.wanted = true;
      await this.replaceEngine();
      return this.state();
    });
  }

  stop(): Promise<EngineState> {
    return this.serially(async () => {
      this.wanted = false;
      this.failure = null;
      await this.retire(this.engine, true);
      this.engine = null;
      this.changed();
      return this.state();
    });
  }

  /** The settings changed: restart only when something the engine uses changed (or to retry after an error). */
  apply(): Promise<EngineState> {
    return this.serially(async () => {
      const before = this.runningWith;
      const settings = this.options.settings();
      const changed = !before || before.command !== settings.command || before.host !== settings.host
        || before.port !== settings.port || before.user !== settings.user || before.tls !== settings.tls
        || before.keepUnsent !== settings.keepUnsent;
      if (this.wanted && (changed || this.failure)) await this.replaceEngine();
      return this.state();
    });
  }

  /** After a password change or a new certificate: the running engine holds the old one. */
  restart(): Promise<EngineState> {
    return this.serially(async () => {
      if (this.wanted) await this.replaceEngine();
      return this.state();
    });
  }

  /** The quit path: stop listening, let mails in flight finish (bounded by the engine's grace), then resolve. */
  async shutdown(): Promise<void> {
    await this.stop();
    await Promise.allSettled([...this.draining]);
    await this.options.outbox?.close();
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async replaceEngine(): Promise<void> {
    const settings = this.options.settings();
    this.runningWith = settings;
    const old = this.engine;
    this.failure = null;
    const prepared = await this.prepare(settings);
    if ('kind' in prepared) {
      await this.retire(old, true);
      this.engine = null;
      this.fail(prepared);
      return;
    }
    const next = prepared.engine;
    const sameAddress = old?.address != null && sameListener({ host: old.options.host, port: old.address.port }, settings);
    // Same address: the old listener must let go of the port first; its sessions keep running meanwhile.
    if (sameAddress) await this.retire(old, false);
    const listenFailure = await this.listen(next, sameAddress ? 40 : 1);
    if (listenFailure) {
      this.fail(listenFailure);
      this.detach(next);
      if (!sameAddress) await this.retire(old, true);
      this.engine = null;
      return;
    }
    this.engine = next;
    if (!sameAddress) await this.retire(old, false);
    this.changed();
  }

  /** Everything that can fail before listening: command, program on PATH, password, engine options. */
  private async prepare(settings: AppSettings): Promise<{ engine: RelayEngine } | Failure> {
    let argv: string[];
    try {
      argv = parseCommand(settings.command);
    } catch (error) {
      return { kind: 'settings', message: (error as Error).message };
    }
    if (findExecutable(argv[0]!) === null) {
      return { kind: 'command-not-found', message: notFoundMessage(argv[0]!) };
    }
    let password: string;
    try {
      password = await ensureRelayPassword(this.options.secrets, settings.user, this.options.log);
    } catch (error) {
      return {
        kind: 'keyring',
        message: `No keyring: ${(error as Error).message}. The relay does not run without its password.`,
      };
    }
    let tls: TlsOptions | undefined;
    if (settings.tls && this.options.tlsCertificate) {
      try {
        tls = await this.options.tlsCertificate();
      } catch (error) {
        return { kind: 'start-failed', message: `Could not make the certificate for encrypted connections: ${(error as Error).message}` };
      }
    }
    const outbox = await this.options.outbox?.open() ?? null;
    let engine: RelayEngine;
    try {
      engine = createRelay({
        ...this.options.engineOptions,
        host: settings.host,
        port: settings.port,
        command: argv,
        auth: { user: settings.user, password },
        ...(tls ? { tls } : {}),
      }, outbox ? { outbox, keepNewMail: settings.keepUnsent } : {});
    } catch (error) {
      return { kind: 'settings', message: (error as Error).message };
    }
    return { engine };
  }

  /** Starts listening; null on success. `attempts` > 1 waits out a port the previous engine is still releasing. */
  private async listen(engine: RelayEngine, attempts: number): Promise<Failure | null> {
    this.subscriptions.set(engine, engine.subscribe((event) => this.onEngineEvent(engine, event)));
    for (let attempt = 1; ; attempt += 1) {
      try {
        await engine.start();
        return null;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' && attempt < attempts) {
          await new Promise((resolve) => setTimeout(resolve, 25));
          continue;
        }
        return startFailure(error, engine.options.host, engine.options.port);
      }
    }
  }

  private detach(engine: RelayEngine): void {
    this.subscriptions.get(engine)?.();
    this.subscriptions.delete(engine);
  }

  /**
   * Stops an engine that is no longer current. With `wait` the caller waits for its mails in flight; without, it
   * drains in the background (tracked, so shutdown() still waits) and its events still reach the log.
   */
  private async retire(engine: RelayEngine | null, wait: boolean): Promise<void> {
    if (!engine) return;
    const wasListening = engine.running;
    const stopping = engine.stop().catch((error: unknown) => {
      this.options.log.app('error', `stopping the relay failed: ${(error as Error).message}`);
    }).finally(() => {
      this.detach(engine);
      this.draining.delete(stopping);
    });
    this.draining.add(stopping);
    if (wait || !wasListening) await stopping;
  }

  private fail(failure: Failure): void {
    this.failure = failure;
    this.options.log.app('error', failure.message);
    this.changed();
  }

  private changed(): void {
    for (const listener of this.stateListeners) listener();
  }

  private onEngineEvent(engine: RelayEngine, event: RelayEvent): void {
    if (event.type === 'stopped') {
      const where = engine.options.port ? ` on ${formatHostPort(engine.options.host, engine.options.port)}` : '';
      this.options.log.write('info', 'relay', `relay${where} stopped`);
    } else {
      this.options.log.event(event);
    }
    for (const listener of this.eventListeners) listener(event);
  }
}

function sameListener(address: { host: string; port: number }, settings: AppSettings): boolean {
  return address.host === settings.host && (settings.port === 0 ? false : address.port === settings.port);
}

function startFailure(error: unknown, host: string, port: number): Failure {
  const code = (error as NodeJS.ErrnoException).code;
  const where = formatHostPort(host, port);
  switch (code) {
    case 'EADDRINUSE':
      return { kind: 'port-in-use', message: `Port ${port} is already in use on ${host} (another program listens there); choose another port` };
    case 'EACCES':
      return { kind: 'start-failed', message: `Not allowed to listen on ${where} (ports below 1024 need administrator rights)` };
    case 'EADDRNOTAVAIL':
      return { kind: 'start-failed', message: `The address ${host} does not belong to this computer` };
    default:
      return { kind: 'start-failed', message: `Could not listen on ${where}: ${(error as Error).message}` };
  }
}
