import type { RelayEvent } from '../../src-relay/index';
import type { LastMail } from '../contract/api';

type MailEvent = Extract<RelayEvent, { type: 'mail' }>;
type OutboxEvent = Extract<RelayEvent, { type: 'outbox' }>;

/** The day's count of mails sent and the last mail's result in one line, for the tray and the status card. */
export class MailTally {
  private count = 0;
  private day = '';
  private last: LastMail | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  get mailsToday(): number {
    this.rollDay();
    return this.count;
  }

  get lastMail(): LastMail | undefined {
    return this.last ? { ...this.last } : undefined;
  }

  /** A mail a client handed to the relay. */
  onMail(event: MailEvent): void {
    this.rollDay();
    if (event.outcome === 'delivered') this.count += 1;
    const to = event.to.join(', ');
    const said = event.commandOutput ? `; ${event.commandOutput.trim().split('\n').pop()}` : '';
    this.last = {
      time: this.now(),
      outcome: event.outcome,
      summary: event.outcome === 'delivered' ? `to ${to}: delivered`
        : event.outcome === 'queued' ? `to ${to}: kept in the outbox, will retry` : `to ${to}: ${event.reply}${said}`,
    };
  }

  /** A kept mail sent later, or given up; true when the tally changed. */
  onOutbox(event: OutboxEvent): boolean {
    if (event.action !== 'sent' && event.action !== 'gave-up') return false;
    this.rollDay();
    const to = event.to.join(', ');
    if (event.action === 'sent') this.count += 1;
    this.last = event.action === 'sent'
      ? { time: this.now(), outcome: 'delivered', summary: `to ${to}: delivered from the outbox` }
      : { time: this.now(), outcome: 'failed', summary: `to ${to}: given up: ${event.reason ?? 'unknown'}` };
    return true;
  }

  private rollDay(): void {
    const day = new Date(this.now()).toDateString();
    if (day !== this.day) {
      this.day = day;
      this.count = 0;
    }
  }
}
