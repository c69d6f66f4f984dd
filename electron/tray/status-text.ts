/**
 * The relay's status in words, worded once in the main process: the tray (electron/tray/model.ts) uses these
 * functions, and the window gets the same words in RelayStatus.words, so both say the same thing.
 */
import type { RelayFacts, RelayStatus } from '../contract/api';

/** The name a mail client is told for a loopback address (the engine's loopbackName, for the window too). */
export function displayHost(host: string): string {
  return host === '127.0.0.1' || host === '::1' ? 'localhost' : host;
}

/** host:port, with an IPv6 address in brackets. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function runningLine(host: string, port: number): string {
  return `Running on ${formatAddress(displayHost(host), port)}`;
}

export function mailsSentToday(count: number): string {
  return count === 1 ? '1 mail sent today' : `${count} mails sent today`;
}

/**
 * The relay runs but a mail did not go out and will not by itself: the last one failed (a kept one will still go),
 * or the outbox holds mail it gave up. The user should look (the tray shows error, the window warning).
 */
export function lastMailFailed(status: { state: string; lastMail?: { outcome: string }; outbox?: { failed: number } }): boolean {
  if (status.state !== 'running') return false;
  if ((status.outbox?.failed ?? 0) > 0) return true;
  return status.lastMail !== undefined && status.lastMail.outcome !== 'delivered' && status.lastMail.outcome !== 'queued';
}

/** The facts with their words, as the window receives them. */
export function withWords(facts: RelayFacts): RelayStatus {
  return {
    ...facts,
    words: {
      line: facts.state === 'running' ? runningLine(facts.host, facts.port) : facts.state === 'stopped' ? 'Stopped' : 'Not running',
      mails: mailsSentToday(facts.mailsToday),
      attention: lastMailFailed(facts),
    },
  };
}
