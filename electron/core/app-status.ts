import type { HealthProblem, OutboxCounts, RelayFacts, RelayStatus } from '../contract/api';
import { withWords } from '../tray/status-text';
import type { AppLog } from './app-log';
import type { MailTally } from './mail-tally';

/** What the relay engine is doing: the part of the status that RelayHost owns. */
export type EngineState = Pick<RelayFacts, 'state' | 'host' | 'port' | 'error' | 'errorKind'>;

export interface StatusSources {
  engine(): EngineState;
  tally: MailTally;
  outboxCounts(): OutboxCounts | undefined;
}

/**
 * The status the tray and the window show, put together from its owners (the engine's state, the mail tally, the
 * outbox's counts) plus the two things kept here: notices for the user and the health checks' problems.
 */
export class AppStatus {
  private readonly notices: string[] = [];
  private readonly problems = new Map<string, HealthProblem[]>();
  private readonly listeners = new Set<(status: RelayStatus) => void>();

  constructor(private readonly sources: StatusSources, private readonly log: AppLog) {}

  current(): RelayStatus {
    const problems = [...this.problems.values()].flat().map((problem) => ({ ...problem }));
    const lastMail = this.sources.tally.lastMail;
    const outbox = this.sources.outboxCounts();
    return withWords({
      ...this.sources.engine(),
      mailsToday: this.sources.tally.mailsToday,
      ...(lastMail ? { lastMail } : {}),
      notices: [...this.notices],
      ...(problems.length > 0 ? { problems } : {}),
      ...(outbox ? { outbox } : {}),
    });
  }

  onStatus(listener: (status: RelayStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Something the status is made of changed: tell the tray and the window. */
  changed(): void {
    const status = this.current();
    for (const listener of this.listeners) listener(status);
  }

  /** The health checks' findings from one source ('relay', 'msmtp', 'tray'); an empty list clears that source. */
  setProblems(source: string, problems: HealthProblem[]): void {
    const before = JSON.stringify(this.problems.get(source) ?? []);
    if (problems.length > 0) this.problems.set(source, problems);
    else this.problems.delete(source);
    // After the current round of status listeners (a check may run inside one): the last status sent is the newest.
    if (JSON.stringify(problems) !== before) queueMicrotask(() => this.changed());
  }

  /** Something the user should know that is not a relay error (a broken settings file that was replaced). */
  addNotice(text: string): void {
    this.notices.push(text);
    this.log.app('error', text);
    this.changed();
  }
}
