import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { CrlfToLf } from '../delivery/deliver';
import type { RelayEvent } from '../events';
import { MailCopy, headerField } from './mail-copy';
import { OutboxStore, type Claim, type KeptRecord, type RelayRegistration } from './store';
import { SmtpError, queuedReply } from '../smtp/reply';
import { NO_REPORT, type DeliveryFailure, type DeliveryOutcome, type Envelope, type MailResult } from '../smtp/handler';

export interface OutboxOptions {
  /** The spool folder (created 0700). */
  dir: string;
  /** The first retry comes this long after a failure; each one after doubles the wait, up to retryMaxMs. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** A mail still not sent this long after it was kept is given up (moved to the failed list). */
  lifetimeMs?: number;
  /** Kept mails tried at the same time. */
  concurrency?: number;
  /** The domain part of the Message-ID added to a kept mail that has none. */
  hostname?: string;
  now?: () => number;
  /**
   * This process retries every waiting mail when it gets SIGUSR1 (the CLI daemon installs that handler), so
   * `--queue-flush` may send it. Without it no signal is ever sent here: SIGUSR1's default action kills.
   */
  flushSignal?: 'SIGUSR1';
}

export const defaultOutboxTiming = Object.freeze({
  retryInitialMs: 60_000,
  retryMaxMs: 60 * 60_000,
  lifetimeMs: 5 * 24 * 60 * 60_000,
});

/** How the outbox sends a kept mail again: the engine's delivery command, fed the kept bytes. */
export type KeptMailSender = (envelope: Envelope, body: Readable, header: string) => Promise<DeliveryOutcome>;

/** One kept mail as lists show it. */
export interface OutboxEntry {
  id: string;
  state: 'waiting' | 'sending' | 'failed';
  from: string;
  to: readonly string[];
  subject: string;
  receivedAt: number;
  attempts: number;
  nextAttemptAt: number | null;
  lastError: string;
  lastOutput: string;
  maySendTwice: boolean;
}

/** A mail that went out recently (directly or from the outbox). */
export interface SentEntry {
  id: string;
  time: number;
  from: string;
  to: readonly string[];
  subject: string;
  attempts: number;
  maySendTwice: boolean;
}

/** Failure stages at which the network, not the mail, was the problem: a delivery that works again retries them. */
const NETWORK_STAGES = new Set(['lookup', 'connect', 'timeout', 'greeting', 'tls', 'unknown', '']);
const RECENT_LIMIT = 50;
/** Rescans of the spool (for mails that other relays kept) at most this often. */
const RESCAN_MS = 1000;

/**
 * Keeps the mail that cannot go out now and sends it later by itself. A session hands it every mail: it is tried at
 * once exactly as without an outbox; one that failed for a reason that may pass (network, a 4xx) is written to disk
 * durably before the client hears 250, then retried on a back-off, at once whenever a delivery works again, and
 * given up after its lifetime onto a failed list that only a person empties.
 */
export class Outbox {
  private readonly store: OutboxStore;
  private readonly timing: { retryInitialMs: number; retryMaxMs: number; lifetimeMs: number };
  private readonly concurrency: number;
  private readonly hostname: string;
  private readonly now: () => number;
  private readonly flushSignal: 'SIGUSR1' | undefined;
  private readonly records = new Map<string, KeptRecord>();
  private readonly sending = new Set<string>();
  private readonly recent: (SentEntry & { head: Buffer | null })[] = [];
  private readonly listeners = new Set<(event: RelayEvent) => void>();
  private sender: KeptMailSender | null = null;
  private paused = false;
  private timer: NodeJS.Timeout | null = null;
  private lastScan = 0;
  private pumping: Promise<void> | null = null;
  private again = false;
  private closed = false;

  private constructor(options: OutboxOptions) {
    this.store = new OutboxStore(options.dir);
    this.timing = {
      retryInitialMs: options.retryInitialMs ?? defaultOutboxTiming.retryInitialMs,
      retryMaxMs: options.retryMaxMs ?? defaultOutboxTiming.retryMaxMs,
      lifetimeMs: options.lifetimeMs ?? defaultOutboxTiming.lifetimeMs,
    };
    this.concurrency = options.concurrency ?? 2;
    this.hostname = options.hostname ?? 'localhost';
    this.now = options.now ?? Date.now;
    this.flushSignal = options.flushSignal;
  }

  /** Opens (creating) the spool and reads what it holds; mails left in flight by a dead relay are taken back. */
  static async open(options: OutboxOptions): Promise<Outbox> {
    const outbox = new Outbox(options);
    await outbox.store.open();
    outbox.paused = await outbox.store.readPaused();
    await outbox.rescan();
    return outbox;
  }

  get dir(): string {
    return this.store.dir;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  subscribe(listener: (event: RelayEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * From now on kept mails are sent with this sender, starting at once (the relay started). Returns the detach; only
   * the sender attached last is used, so an engine that is replaced cannot detach its successor.
   */
  attach(sender: KeptMailSender): () => void {
    this.sender = sender;
    void this.store.registerRelay(this.flushSignal).catch(() => undefined);
    this.retryNow();
    return () => {
      if (this.sender !== sender) return;
      this.sender = null;
      void this.store.unregisterRelay().catch(() => undefined);
    };
  }

  /** Where a copy of a new mail goes while the command is fed, so that it can be kept if the try fails. */
  newCopy(): MailCopy {
    return new MailCopy(this.store.temporaryDir);
  }

  /** While sending is paused: a new mail is only read and kept, not tried. */
  async keepUntried(envelope: Envelope, body: Readable, header: string): Promise<MailResult> {
    const copy = this.newCopy();
    const read = await readInto(copy, body, header);
    if (read) {
      await copy.discard();
      return read;
    }
    return this.keep(envelope, copy, { reason: 'sending is paused', stage: '', attempts: 0, output: '' });
  }

  /**
   * The decision after a new mail's first try, on its outcome: a delivered or hopeless mail's copy is dropped and
   * the outcome stands; a whole mail whose failure may pass is kept, and the client hears Queued instead.
   */
  async afterFirstTry(envelope: Envelope, copy: MailCopy, outcome: DeliveryOutcome): Promise<MailResult> {
    if (outcome.status === 'delivered') {
      this.remember(envelope, copy.headBytes(), 1, false, `direct-${envelope.id}`);
      await copy.discard();
      this.networkIsBack();
      return outcome;
    }
    // Kept only when the mail arrived whole and may still go out: the reply's class says so (msmtp's failure table).
    if (outcome.cause !== 'command' || !outcome.reply.temporary) {
      await copy.discard();
      return outcome;
    }
    const kept = await this.keep(envelope, copy, { reason: outcome.reason, stage: outcome.stage, attempts: 1, output: outcome.report.output });
    return kept.status === 'queued' ? { ...kept, report: outcome.report } : kept;
  }

  /** Everything kept, oldest first. */
  async list(): Promise<OutboxEntry[]> {
    await this.rescan();
    return [...this.records.values()]
      .sort((a, b) => a.receivedAt - b.receivedAt || a.id.localeCompare(b.id))
      .map((record) => this.entry(record));
  }

  recentlySent(): SentEntry[] {
    return this.recent.map(({ head, ...sent }) => ({
      ...sent,
      subject: sent.subject || (head ? headerField(head.toString('latin1'), 'Subject') ?? '' : ''),
    }));
  }

  /** Every waiting mail (or the named ones, failed ones too) is due now. */
  retryNow(ids?: readonly string[]): void {
    const wanted = ids ? new Set(ids) : null;
    const now = this.now();
    for (const record of this.records.values()) {
      if (wanted ? wanted.has(record.id) : record.state === 'waiting') {
        record.nextAttemptAt = now;
        if (wanted) record.state = 'waiting';
      }
    }
    this.lastScan = 0;
    this.kick();
  }

  /** Deletes a kept mail; false when there is none by that id or it is being sent right now. */
  async remove(id: string): Promise<boolean> {
    const taken = await this.store.claim(id);
    if (!taken) return false;
    await this.store.finish(taken.claim);
    this.records.delete(id);
    this.emit({ type: 'outbox', action: 'removed', ...this.summary(taken.record) });
    return true;
  }

  async setPaused(paused: boolean): Promise<void> {
    if (paused === this.paused) return;
    this.paused = paused;
    await this.store.writePaused(paused);
    this.emit({ type: 'outbox-paused', paused });
    if (!paused) this.retryNow();
  }

  /** Resolves once no try of this process is in flight (after a detach, none starts again). */
  async whenIdle(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  /** Pauses the retries of this process; waits for tries in flight. The spool stays as it is. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.pumping;
    await this.store.unregisterRelay().catch(() => undefined);
  }

  /** Sends every waiting mail now with this sender, once each, and resolves when all were tried (the CLI's flush). */
  async flushWith(sender: KeptMailSender): Promise<{ sent: number; waiting: number; failed: number }> {
    await this.rescan();
    const ids = [...this.records.values()].filter((record) => record.state === 'waiting').map((record) => record.id);
    const results = { sent: 0, waiting: 0, failed: 0 };
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const outcome = await this.attempt(ids[next++]!, sender);
        if (outcome) results[outcome] += 1;
      }
    };
    await Promise.all(Array.from({ length: this.concurrency }, worker));
    return results;
  }

  /** Processes that hold this spool with a running relay. */
  liveRelays(): Promise<RelayRegistration[]> {
    return this.store.liveRelays();
  }

  private async keep(envelope: Envelope, copy: MailCopy, first: { reason: string; stage: string; attempts: number; output: string }): Promise<MailResult> {
    const id = newQueueId();
    const head = copy.headText();
    const now = this.now();
    const record: KeptRecord = {
      version: 1,
      id,
      from: envelope.from,
      to: [...envelope.to],
      receivedAt: now,
      subject: headerField(head, 'Subject') ?? '',
      addedHeader: headerField(head, 'Message-ID') === null ? `Message-ID: <${id}.${now.toString(36)}@${this.hostname}>\n` : '',
      state: 'waiting',
      attempts: first.attempts,
      nextAttemptAt: first.attempts === 0 ? now : now + this.backoff(first.attempts),
      lastAttemptAt: first.attempts === 0 ? 0 : now,
      lastError: first.reason,
      lastOutput: first.output,
      lastStage: first.stage,
      maySendTwice: false,
    };
    try {
      await this.store.keep(record, copy);
    } catch (error) {
      await copy.discard();
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      this.emit({ type: 'outbox', action: 'storage-error', ...this.summary(record), reason: `could not keep the mail (${code}); the client was told to try again` });
      return {
        status: 'failed',
        reply: new SmtpError(451, [4, 3, 0], `Could not send the mail now nor keep it for later (${code}); try again later`),
        report: { ...NO_REPORT, output: first.output },
        cause: 'command',
        stage: 'command',
        reason: `could not keep the mail (${code})`,
        detail: `${first.reason}; keeping it failed: ${code}`,
      };
    }
    this.records.set(id, record);
    this.schedule();
    return { status: 'queued', reply: queuedReply(id, first.reason), queueId: id, reason: first.reason };
  }

  private backoff(attempts: number): number {
    const doubled = this.timing.retryInitialMs * 2 ** Math.max(0, attempts - 1);
    return Math.min(doubled, this.timing.retryMaxMs);
  }

  /** A delivery just worked: mails the network held back are due now. */
  private networkIsBack(): void {
    const now = this.now();
    let any = false;
    for (const record of this.records.values()) {
      if (record.state === 'waiting' && record.nextAttemptAt > now && NETWORK_STAGES.has(record.lastStage)) {
        record.nextAttemptAt = now;
        any = true;
      }
    }
    if (any) this.kick();
  }

  private kick(): void {
    if (this.closed) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = this.pump().finally(() => {
      this.pumping = null;
      if (this.again) {
        this.again = false;
        this.kick();
      } else {
        this.schedule();
      }
    });
  }

  private schedule(): void {
    if (this.closed || this.pumping) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.sender || this.paused) return;
    let earliest = Infinity;
    for (const record of this.records.values()) {
      if (record.state === 'waiting' && !this.sending.has(record.id)) earliest = Math.min(earliest, record.nextAttemptAt);
    }
    if (earliest === Infinity) return;
    const delay = Math.max(0, Math.min(earliest - this.now(), 2 ** 31 - 1));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick();
    }, delay);
    this.timer.unref();
  }

  private async pump(): Promise<void> {
    if (this.now() - this.lastScan >= RESCAN_MS) await this.rescan().catch(() => undefined);
    const running = new Set<Promise<unknown>>();
    for (;;) {
      const sender = this.sender;
      if (!sender || this.paused || this.closed) break;
      const now = this.now();
      const due = [...this.records.values()]
        .filter((record) => record.state === 'waiting' && record.nextAttemptAt <= now && !this.sending.has(record.id))
        .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.receivedAt - b.receivedAt)[0];
      if (!due) {
        if (running.size === 0) break;
        await Promise.race(running);
        continue;
      }
      if (running.size >= this.concurrency) {
        await Promise.race(running);
        continue;
      }
      const attempt: Promise<unknown> = this.attempt(due.id, sender).catch(() => undefined).finally(() => running.delete(attempt));
      running.add(attempt);
    }
    await Promise.allSettled([...running]);
  }

  /** One try of one kept mail; what became of it, or null when another process had it. */
  private async attempt(id: string, sender: KeptMailSender): Promise<'sent' | 'waiting' | 'failed' | null> {
    this.sending.add(id);
    try {
      const taken = await this.store.claim(id).catch(() => null);
      if (!taken) {
        this.records.delete(id);
        return null;
      }
      const { claim, record } = taken;
      this.records.set(id, record);
      const envelope: Envelope = { id: record.id, helo: '', remote: '', from: record.from, to: record.to };
      const outcome = await sender(envelope, this.store.mailStream(id), record.addedHeader);
      return await this.settle(claim, record, outcome);
    } finally {
      this.sending.delete(id);
    }
  }

  private async settle(claim: Claim, record: KeptRecord, outcome: DeliveryOutcome): Promise<'sent' | 'waiting' | 'failed'> {
    const now = this.now();
    record.attempts += 1;
    record.lastAttemptAt = now;
    if (outcome.status === 'delivered') {
      await this.store.finish(claim);
      this.records.delete(record.id);
      this.remember(record, null, record.attempts, record.maySendTwice, record.id);
      this.emit({ type: 'outbox', action: 'sent', ...this.summary(record) });
      this.networkIsBack();
      return 'sent';
    }
    const temporary = outcome.reply.temporary;
    record.lastError = outcome.reason;
    record.lastOutput = outcome.report.output;
    record.lastStage = outcome.stage;
    const expired = now - record.receivedAt >= this.timing.lifetimeMs;
    if (temporary && !expired) {
      record.nextAttemptAt = now + this.backoff(record.attempts);
      await this.store.release(claim, record);
      this.emit({ type: 'outbox', action: 'waiting', ...this.summary(record), reason: outcome.reason, nextAttemptAt: record.nextAttemptAt, ...output(outcome) });
      return 'waiting';
    }
    record.state = 'failed';
    if (expired && temporary) record.lastError = `not sent within ${Math.round(this.timing.lifetimeMs / 3_600_000)} hours; last error: ${outcome.reason}`;
    await this.store.release(claim, record);
    this.emit({ type: 'outbox', action: 'gave-up', ...this.summary(record), reason: record.lastError, ...output(outcome) });
    return 'failed';
  }

  private async rescan(): Promise<void> {
    this.lastScan = this.now();
    const { records, deadClaims, claimed } = await this.store.scan();
    const seen = new Set<string>();
    for (const record of records) {
      seen.add(record.id);
      const known = this.records.get(record.id);
      // Our own schedule (due now after a network return) beats the one on disk; everything else comes from disk.
      if (known && known.attempts === record.attempts && known.state === record.state) record.nextAttemptAt = Math.min(known.nextAttemptAt, record.nextAttemptAt);
      this.records.set(record.id, record);
    }
    for (const dead of deadClaims) {
      const record = await this.store.recover(dead);
      if (!record) continue;
      seen.add(record.id);
      this.records.set(record.id, record);
      this.emit({ type: 'outbox', action: 'recovered', ...this.summary(record) });
    }
    for (const id of [...this.records.keys()]) {
      if (!seen.has(id) && !claimed.has(id) && !this.sending.has(id)) this.records.delete(id);
    }
  }

  private entry(record: KeptRecord): OutboxEntry {
    const sending = this.sending.has(record.id);
    return {
      id: record.id,
      state: sending ? 'sending' : record.state,
      from: record.from,
      to: record.to,
      subject: record.subject,
      receivedAt: record.receivedAt,
      attempts: record.attempts,
      nextAttemptAt: record.state === 'waiting' && !sending ? record.nextAttemptAt : null,
      lastError: record.lastError,
      lastOutput: record.lastOutput,
      maySendTwice: record.maySendTwice,
    };
  }

  private summary(record: KeptRecord) {
    return {
      id: record.id, from: record.from, to: record.to, attempts: record.attempts,
      ...(record.maySendTwice ? { maySendTwice: true } : {}),
    };
  }

  /** The subject of a mail sent directly is read only when someone asks for the list. */
  private remember(mail: { from: string; to: readonly string[]; subject?: string }, head: Buffer | null, attempts: number, maySendTwice: boolean, id: string): void {
    this.recent.unshift({ id, time: this.now(), from: mail.from, to: mail.to, subject: mail.subject ?? '', head, attempts, maySendTwice });
    if (this.recent.length > RECENT_LIMIT) this.recent.pop();
  }

  private emit(event: RelayEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // a failing listener must not stop the outbox
      }
    }
  }
}

function output(outcome: DeliveryOutcome) {
  return outcome.report.output ? { commandOutput: outcome.report.output } : {};
}

/** Reads a body into the copy without a command (sending paused); the failure if the body did not arrive whole. */
async function readInto(copy: MailCopy, body: Readable, header: string): Promise<DeliveryFailure | null> {
  const converter = new CrlfToLf();
  await copy.add(Buffer.from(header));
  try {
    for await (const chunk of body) await copy.add(converter.convert(chunk as Buffer));
    await copy.add(converter.flush());
    return null;
  } catch (error) {
    const reply = error instanceof SmtpError ? error : new SmtpError(451, [4, 3, 0], 'Mail aborted');
    return {
      status: 'failed', reply, report: NO_REPORT, cause: 'input', stage: 'unknown', reason: reply.message,
      detail: (error as Error).message,
    };
  }
}

/** Twelve hex digits: unique enough for one spool, short enough to read out. */
function newQueueId(): string {
  return randomBytes(6).toString('hex').toUpperCase();
}
