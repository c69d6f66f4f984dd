import { withWords } from '../tray/status-text';
import {
  createRelay, describeEvent, findExecutable, formatHostPort, parseCommand, type RelayEngine, type RelayEvent, type RelayOptions,
  type SecretStore, type TlsOptions,
} from '../../src-relay/index';
import type { HealthProblem } from '../contract/api';
import type { AppSettings, LastMail, LogEntry, LogKind, LogLevel, RelayErrorKind, RelayStatus } from '../contract/api';
import { notFoundMessage } from '../health/msmtp-check';
import { generatePassword } from './password';
import { RingBuffer } from './ring-buffer';
import { AppOutbox, type AppOutboxOptions, type GaveUpMail } from '../outbox/app-outbox';
import type { OutboxView } from '../contract/api';

export interface RelayHostOptions {
  secrets: SecretStore;
  /** Engine options the settings do not cover (limits, stop grace); tests shorten timeouts here. */
  engineOptions?: Partial<RelayOptions>;
  logCapacity?: number;
  now?: () => number;
  /** The key and certificate for STARTTLS when the settings turn TLS on (tls-cert.ts makes and renews them). */
  tlsCertificate?: () => Promise<TlsOptions>;
  /** The outbox folder (in the app's data folder); without one, mail that cannot go out now is refused with 451. */
  outboxDir?: string;
  /** The outbox's retry timing; tests lengthen or shorten it. */
  outboxTiming?: AppOutboxOptions['timing'];
}

interface Failure {
  kind: RelayErrorKind;
  message: string;
}

/**
 * Owns the relay engine for the desktop app, without Electron: starts it with the password from the keyring,
 * restarts it when settings change without dropping a mail in flight (the old engine drains while the new one
 * listens), and keeps what the tray and the window show: status, recent log lines, today's mail count.
 */
export class RelayHost {
  private settings: AppSettings | null = null;
  private wanted = false;
  private engine: RelayEngine | null = null;
  private readonly subscriptions = new Map<RelayEngine, () => void>();
  private failure: Failure | null = null;
  private readonly draining = new Set<Promise<void>>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly log: RingBuffer<LogEntry>;
  private seq = 0;
  private mailsToday = 0;
  private mailsDay = '';
  private lastMail: LastMail | undefined;
  private readonly notices: string[] = [];
  private readonly logListeners = new Set<(entry: LogEntry) => void>();
  private readonly statusListeners = new Set<(status: RelayStatus) => void>();
  private readonly now: () => number;
  private readonly problems = new Map<string, HealthProblem[]>();
  private readonly eventListeners = new Set<(event: RelayEvent) => void>();
  private readonly outbox: AppOutbox | null;

  constructor(private readonly options: RelayHostOptions) {
    this.log = new RingBuffer(options.logCapacity ?? 1000);
    this.now = options.now ?? Date.now;
    this.outbox = options.outboxDir ? new AppOutbox({
      dir: options.outboxDir,
      timing: options.outboxTiming,
      onEvent: (event) => this.onOutboxEvent(event),
      onCounts: () => this.emitStatus(),
      onUnavailable: (message) => this.addNotice(message),
    }) : null;
  }

  status(): RelayStatus {
    this.rollDay();
    const address = this.engine?.address;
    const state = this.failure ? 'error' : this.engine ? 'running' : 'stopped';
    return withWords({
      state,
      host: address?.host ?? this.settings?.host ?? '127.0.0.1',
      port: address?.port ?? this.settings?.port ?? 0,
      ...(this.failure ? { error: this.failure.message, errorKind: this.failure.kind } : {}),
      mailsToday: this.mailsToday,
      ...(this.lastMail ? { lastMail: { ...this.lastMail } } : {}),
      notices: [...this.notices],
      ...(this.problems.size > 0 ? { problems: [...this.problems.values()].flat().map((problem) => ({ ...problem })) } : {}),
      ...(this.outbox?.counts ? { outbox: this.outbox.counts } : {}),
    });
  }

  /** The health checks' findings from one source ('relay', 'msmtp', 'tray'); an empty list clears that source. */
  setProblems(source: string, problems: HealthProblem[]): void {
    const before = JSON.stringify(this.problems.get(source) ?? []);
    if (problems.length > 0) this.problems.set(source, problems);
    else this.problems.delete(source);
    // After the current round of status listeners (a check may run inside one): the last status sent is the newest.
    if (JSON.stringify(problems) !== before) queueMicrotask(() => this.emitStatus());
  }

  /** Every engine event as data, for the test mail and the notifications (the log gets them worded anyway). */
  onEvent(listener: (event: RelayEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** The Outbox pane's content; without an outbox folder, an unavailable view. */
  outboxView(): Promise<OutboxView> {
    if (!this.outbox) {
      return Promise.resolve({ available: false, error: 'this app runs without an outbox', paused: false, keepUnsent: false, mails: [], sent: [] });
    }
    return this.outbox.view();
  }

  /** Tries every waiting mail now (id null) or the one named; how many were due. Sent only while the relay runs. */
  retryOutbox(id: string | null): Promise<number> {
    return this.outbox ? this.outbox.retry(id) : Promise.resolve(0);
  }

  removeFromOutbox(id: string): Promise<boolean> {
    return this.outbox ? this.outbox.remove(id) : Promise.resolve(false);
  }

  async setSendingPaused(paused: boolean): Promise<OutboxView> {
    if (!this.outbox) throw new Error('this app runs without an outbox');
    await this.outbox.setPaused(paused);
    return this.outbox.view();
  }

  /** The network came back or the computer woke: kept mail is tried now rather than at its next turn. */
  networkBack(why: 'online' | 'resume'): void {
    const waiting = this.outbox?.counts?.waiting ?? 0;
    if (!this.engine || waiting === 0 || this.outbox?.counts?.paused) return;
    this.appLog('info', `${why === 'resume' ? 'the computer woke up' : 'the network is back'}: trying the waiting mail now`);
    void this.outbox!.retry(null);
  }

  /** The Outbox pane's content after every change (a mail kept, sent, given up, removed; sending paused). */
  onOutbox(listener: (view: OutboxView) => void): () => void {
    return this.outbox ? this.outbox.onView(listener) : () => false;
  }

  /** A kept mail was given up (it moved to the failed list): the hook for the notification. */
  onMailGaveUp(listener: (mail: GaveUpMail) => void): () => void {
    return this.outbox ? this.outbox.onGaveUp(listener) : () => false;
  }

  /** Resolves once the outbox's latest change reached the listeners (tests wait on it). */
  async outboxSettled(): Promise<void> {
    await this.outbox?.settled();
  }

  recentLog(): LogEntry[] {
    return this.log.toArray();
  }

  clearLog(): void {
    this.log.clear();
  }

  onLog(listener: (entry: LogEntry) => void): () => void {
    this.logListeners.add(listener);
    return () => this.logListeners.delete(listener);
  }

  onStatus(listener: (status: RelayStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** A line from the app itself (settings problems, keyring, autostart) into the same log as the relay's. */
  appLog(level: LogLevel, message: string): void {
    this.record(level, 'app', message);
  }

  addNotice(text: string): void {
    this.notices.push(text);
    this.appLog('error', text);
    this.emitStatus();
  }

  /** The password for `user`, created and stored on first use. Throws when the keyring is unavailable. */
  async ensurePassword(user: string): Promise<string> {
    const stored = await this.options.secrets.get(user);
    if (stored) return stored;
    const fresh = generatePassword();
    await this.options.secrets.set(user, fresh);
    this.appLog('info', `generated a new password for user ${user} and stored it in the keyring`);
    return fresh;
  }

  start(settings?: AppSettings): Promise<RelayStatus> {
    return this.serially(async () => {
      if (settings) this.settings = { ...settings };
      if (settings) this.outbox?.setKeepUnsent(settings.keepUnsent);
      this.wanted = true;
      await this.replaceEngine();
      return this.status();
    });
  }

  stop(): Promise<RelayStatus> {
    return this.serially(async () => {
      this.wanted = false;
      this.failure = null;
      await this.retire(this.engine, true);
      this.engine = null;
      this.emitStatus();
      return this.status();
    });
  }

  /** New settings: restart only when something the engine uses changed (or to retry after an error). */
  apply(settings: AppSettings): Promise<RelayStatus> {
    return this.serially(async () => {
      const before = this.settings;
      this.settings = { ...settings };
      this.outbox?.setKeepUnsent(settings.keepUnsent);
      const changed = !before || before.command !== settings.command || before.host !== settings.host
        || before.port !== settings.port || before.user !== settings.user || before.tls !== settings.tls
        || before.keepUnsent !== settings.keepUnsent;
      if (this.wanted && (changed || this.failure)) await this.replaceEngine();
      return this.status();
    });
  }

  /** After a password change: the running engine holds the old one. */
  restart(): Promise<RelayStatus> {
    return this.serially(async () => {
      if (this.wanted) await this.replaceEngine();
      return this.status();
    });
  }

  /** The quit path: stop listening, let mails in flight finish (bounded by the engine's grace), then resolve. */
  async shutdown(): Promise<void> {
    await this.stop();
    await Promise.allSettled([...this.draining]);
    await this.outbox?.close();
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async replaceEngine(): Promise<void> {
    const settings = this.settings;
    if (!settings) throw new Error('RelayHost: no settings to start with');
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
    this.emitStatus();
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
      password = await this.ensurePassword(settings.user);
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
    const outbox = await this.outbox?.open() ?? null;
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
      this.appLog('error', `stopping the relay failed: ${(error as Error).message}`);
    }).finally(() => {
      this.detach(engine);
      this.draining.delete(stopping);
    });
    this.draining.add(stopping);
    if (wait || !wasListening) await stopping;
  }

  private fail(failure: Failure): void {
    this.failure = failure;
    this.appLog('error', failure.message);
    this.emitStatus();
  }

  private onEngineEvent(engine: RelayEngine, event: RelayEvent): void {
    for (const listener of this.eventListeners) listener(event);
    const { level, message } = describeEvent(event);
    if (event.type === 'stopped') {
      const where = engine.options.port ? ` on ${formatHostPort(engine.options.host, engine.options.port)}` : '';
      this.record('info', 'relay', `relay${where} stopped`);
      return;
    }
    this.record(level, kindOf(event), message);
    if (event.type === 'mail') {
      this.rollDay();
      if (event.outcome === 'delivered') this.mailsToday += 1;
      const to = event.to.join(', ');
      const said = event.commandOutput ? `; ${event.commandOutput.trim().split('\n').pop()}` : '';
      this.lastMail = {
        time: this.now(),
        outcome: event.outcome,
        summary: event.outcome === 'delivered' ? `to ${to}: delivered`
          : event.outcome === 'queued' ? `to ${to}: kept in the outbox, will retry` : `to ${to}: ${event.reply}${said}`,
      };
      this.emitStatus();
      // Only a kept mail changes the outbox; its own tries refresh through its events.
      if (event.outcome === 'queued') this.outbox?.refresh();
    }
  }

  /** The outbox's own events (retries, give-ups) go into the same log; a later send counts as a mail sent today. */
  private onOutboxEvent(event: RelayEvent): void {
    const { level, message } = describeEvent(event);
    this.record(level, 'mail', message);
    if (event.type !== 'outbox' || (event.action !== 'sent' && event.action !== 'gave-up')) return;
    this.rollDay();
    const to = event.to.join(', ');
    if (event.action === 'sent') this.mailsToday += 1;
    this.lastMail = event.action === 'sent'
      ? { time: this.now(), outcome: 'delivered', summary: `to ${to}: delivered from the outbox` }
      : { time: this.now(), outcome: 'failed', summary: `to ${to}: given up: ${event.reason ?? 'unknown'}` };
    this.emitStatus();
  }

  private record(level: LogLevel, kind: LogKind, message: string): void {
    this.seq += 1;
    const entry: LogEntry = { seq: this.seq, time: this.now(), level, kind, message };
    this.log.push(entry);
    for (const listener of this.logListeners) listener(entry);
  }

  private emitStatus(): void {
    const status = this.status();
    for (const listener of this.statusListeners) listener(status);
  }

  private rollDay(): void {
    const day = new Date(this.now()).toDateString();
    if (day !== this.mailsDay) {
      this.mailsDay = day;
      this.mailsToday = 0;
    }
  }
}

function sameListener(address: { host: string; port: number }, settings: AppSettings): boolean {
  return address.host === settings.host && (settings.port === 0 ? false : address.port === settings.port);
}

function kindOf(event: RelayEvent): LogKind {
  switch (event.type) {
    case 'mail':
      return 'mail';
    case 'auth':
      return 'auth';
    case 'session-open':
    case 'session-close':
    case 'session-refused':
    case 'client-error':
      return 'session';
    default:
      return 'relay';
  }
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
