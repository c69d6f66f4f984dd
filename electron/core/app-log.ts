import { describeEvent, type RelayEvent } from '../../src-relay/index';
import type { LogEntry, LogKind, LogLevel } from '../contract/api';
import { RingBuffer } from './ring-buffer';

/**
 * The app's one log: the relay's events worded, the outbox's, and the app's own lines (settings, keyring, autostart),
 * kept as the last `capacity` entries for a window that opens later, and pushed to whoever listens (the window, the
 * log file).
 */
export class AppLog {
  private readonly ring: RingBuffer<LogEntry>;
  private seq = 0;
  private readonly listeners = new Set<(entry: LogEntry) => void>();

  constructor(capacity = 1000, private readonly now: () => number = Date.now) {
    this.ring = new RingBuffer(capacity);
  }

  /** A line from the app itself. */
  app(level: LogLevel, message: string): void {
    this.write(level, 'app', message);
  }

  /** An engine or outbox event, in the engine's words. */
  event(event: RelayEvent): void {
    const { level, message } = describeEvent(event);
    this.write(level, event.type === 'outbox' ? 'mail' : kindOf(event), message);
  }

  write(level: LogLevel, kind: LogKind, message: string): void {
    this.seq += 1;
    const entry: LogEntry = { seq: this.seq, time: this.now(), level, kind, message };
    this.ring.push(entry);
    for (const listener of this.listeners) listener(entry);
  }

  recent(): LogEntry[] {
    return this.ring.toArray();
  }

  clear(): void {
    this.ring.clear();
  }

  onEntry(listener: (entry: LogEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
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
