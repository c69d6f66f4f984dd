import type { RelayEvent } from '../../../src-relay/index';

/** Every event an engine (or an outbox) reported, in order, and a bounded wait for the one a test needs. */
export class EventLog {
  readonly events: RelayEvent[] = [];
  private readonly waiters = new Set<(event: RelayEvent) => void>();

  /** The listener to subscribe with. */
  readonly record = (event: RelayEvent): void => {
    this.events.push(event);
    for (const waiter of this.waiters) waiter(event);
  };

  /** Resolves with the first event (already seen or future) that matches; rejects after timeoutMs. */
  waitFor(match: (event: RelayEvent) => boolean, timeoutMs: number): Promise<RelayEvent> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = (event: RelayEvent) => {
        if (!match(event)) return;
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve(event);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no matching relay event within ${timeoutMs} ms; last events: ${JSON.stringify(this.events.slice(-10))}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }
}
