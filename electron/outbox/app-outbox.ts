import { Outbox, type OutboxOptions, type RelayEvent } from '../../src-relay/index';
import { decodeEncodedWords } from './encoded-words';
import type { OutboxCounts, OutboxView } from '../contract/api';

/** A kept mail the outbox gave up on: what the notification (the health stream's policy) needs to word it. */
export interface GaveUpMail {
  id: string;
  from: string;
  to: readonly string[];
  subject: string;
  attempts: number;
  reason: string;
}

export interface AppOutboxOptions {
  /** The spool folder, in the app's data folder; created 0700. */
  dir: string;
  timing?: Pick<OutboxOptions, 'retryInitialMs' | 'retryMaxMs' | 'lifetimeMs'> | undefined;
  /** The keepUnsent setting, which the Outbox pane shows (asked of the settings' owner). */
  keepUnsent(): boolean;
  /** Every outbox event, for the log. */
  onEvent(event: RelayEvent): void;
  /** The counts changed (the tray and status card show them). */
  onCounts(counts: OutboxCounts): void;
  /** The folder could not be opened: said once, in words for the user. */
  onUnavailable(message: string): void;
}

/**
 * The desktop app's outbox, without Electron: opened once for the app's lifetime (engines come and go with the
 * settings, the outbox outlives them), listed for the window, counted for the tray.
 */
export class AppOutbox {
  private opening: Promise<Outbox | null> | null = null;
  private outbox: Outbox | null = null;
  private problem: string | undefined;
  private counted: OutboxCounts | undefined;
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
  private readonly viewListeners = new Set<(view: OutboxView) => void>();
  private readonly gaveUpListeners = new Set<(mail: GaveUpMail) => void>();

  constructor(private readonly options: AppOutboxOptions) {}

  /** The open outbox, or null when its folder cannot be used (then mail that cannot go out gets 451, as without). */
  open(): Promise<Outbox | null> {
    this.opening ??= this.openOnce();
    return this.opening;
  }

  get counts(): OutboxCounts | undefined {
    return this.counted ? { ...this.counted } : undefined;
  }

  async view(): Promise<OutboxView> {
    const outbox = await this.open();
    if (!outbox) {
      return { available: false, error: this.problem ?? 'the outbox is not open', paused: false, keepUnsent: this.options.keepUnsent(), mails: [], sent: [] };
    }
    // Subjects as the mail program showed them, not as MIME encoded them for the wire.
    const mails = (await outbox.list()).map((entry) => ({ ...entry, to: [...entry.to], subject: decodeEncodedWords(entry.subject) }));
    const sent = outbox.recentlySent().map((entry) => ({ ...entry, to: [...entry.to], subject: decodeEncodedWords(entry.subject) }));
    return { available: true, paused: outbox.isPaused, keepUnsent: this.options.keepUnsent(), mails, sent };
  }

  /** Every waiting mail, or the one named (waiting or failed), is due now; how many that were. */
  async retry(id: string | null): Promise<number> {
    const outbox = await this.open();
    if (!outbox) return 0;
    const entries = await outbox.list();
    const due = id === null ? entries.filter((entry) => entry.state === 'waiting') : entries.filter((entry) => entry.id === id && entry.state !== 'sending');
    if (due.length === 0) return 0;
    outbox.retryNow(id === null ? undefined : [id]);
    this.refresh();
    return due.length;
  }

  async remove(id: string): Promise<boolean> {
    const outbox = await this.open();
    return outbox ? outbox.remove(id) : false;
  }

  async setPaused(paused: boolean): Promise<void> {
    const outbox = await this.open();
    if (!outbox) throw new Error(this.problem ?? 'the outbox is not open');
    await outbox.setPaused(paused);
  }

  /** Lists again and tells the window and the counts; calls in a burst (one per mail) share one listing. */
  refresh(): void {
    if (!this.outbox) return;
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = this.publish().catch(() => undefined).finally(() => {
      this.refreshing = null;
      if (this.refreshAgain) {
        this.refreshAgain = false;
        this.refresh();
      }
    });
  }

  /** Resolves once the listings asked for so far are published (tests, and shutdown). */
  async settled(): Promise<void> {
    while (this.refreshing) await this.refreshing;
  }

  onView(listener: (view: OutboxView) => void): () => void {
    this.viewListeners.add(listener);
    return () => this.viewListeners.delete(listener);
  }

  onGaveUp(listener: (mail: GaveUpMail) => void): () => void {
    this.gaveUpListeners.add(listener);
    return () => this.gaveUpListeners.delete(listener);
  }

  async close(): Promise<void> {
    const outbox = await this.opening;
    await this.settled();
    await outbox?.close();
  }

  private async openOnce(): Promise<Outbox | null> {
    try {
      const outbox = await Outbox.open({ dir: this.options.dir, ...this.options.timing });
      outbox.subscribe((event) => this.onOutboxEvent(event));
      this.outbox = outbox;
      this.refresh();
      return outbox;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      this.problem = `The outbox folder ${this.options.dir} cannot be used (${code}): mail that cannot go out now is refused (451) instead of kept.`;
      this.options.onUnavailable(this.problem);
      return null;
    }
  }

  private onOutboxEvent(event: RelayEvent): void {
    this.options.onEvent(event);
    if (event.type === 'outbox' && event.action === 'gave-up') void this.announceGaveUp(event);
    this.refresh();
  }

  private async announceGaveUp(event: Extract<RelayEvent, { type: 'outbox' }>): Promise<void> {
    const entry = (await this.outbox!.list().catch(() => [])).find((candidate) => candidate.id === event.id);
    const mail: GaveUpMail = {
      id: event.id, from: event.from, to: [...event.to], subject: decodeEncodedWords(entry?.subject ?? ''), attempts: event.attempts, reason: event.reason ?? '',
    };
    for (const listener of this.gaveUpListeners) {
      try {
        listener(mail);
      } catch {
        // a failing notification must not stop the outbox
      }
    }
  }

  private async publish(): Promise<void> {
    const view = await this.view();
    const counts: OutboxCounts = {
      waiting: view.mails.filter((mail) => mail.state !== 'failed').length,
      failed: view.mails.filter((mail) => mail.state === 'failed').length,
      paused: view.paused,
    };
    const before = this.counted;
    this.counted = counts;
    for (const listener of this.viewListeners) listener(view);
    if (!before || before.waiting !== counts.waiting || before.failed !== counts.failed || before.paused !== counts.paused) {
      this.options.onCounts(counts);
    }
  }
}
