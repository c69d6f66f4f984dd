import { createHash, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Replies } from './reply';

export interface Credentials {
  user: string;
  password: string;
}

/** Strict base64 (RFC 4648 alphabet, correct padding), as SASL requires; anything else is a 501. */
export function decodeBase64Strict(text: string): Buffer {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw Replies.syntax('Invalid base64 data');
  return Buffer.from(text, 'base64');
}

/** SASL PLAIN message: [authzid] NUL authcid NUL passwd. The authzid is ignored, as msmtpd 1.8.25+ does. */
export function decodePlain(response: string): Credentials {
  const fields = decodeBase64Strict(response).toString('utf8').split('\0');
  if (fields.length !== 3) throw Replies.syntax('Invalid PLAIN authentication data');
  return { user: fields[1]!, password: fields[2]! };
}

export function decodeLoginField(response: string): string {
  return decodeBase64Strict(response).toString('utf8');
}

/** Compares in time that depends on neither secret's content nor length. */
export function credentialsMatch(given: Credentials, expected: Credentials): boolean {
  const userOk = timingSafeEqual(digest(given.user), digest(expected.user));
  const passwordOk = timingSafeEqual(digest(given.password), digest(expected.password));
  return userOk && passwordOk;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * After a failed AUTH, every further attempt from any session waits for its own turn, one turn per delay. Parallel
 * guessing therefore gains nothing: N guesses take N delays, whereas msmtpd's flat per-session sleep let 8 parallel
 * guesses through in 1.09 s. The spacing ends once no attempt has failed for the window.
 */
export class AuthThrottle {
  private lastFailureAt = Number.NEGATIVE_INFINITY;
  private nextTurnAt = 0;

  constructor(private readonly delayMs: number, private readonly windowMs: number, private readonly now = Date.now) {}

  /** Waits for this attempt's turn; resolves with the time waited. */
  async waitForTurn(): Promise<number> {
    const now = this.now();
    if (this.delayMs === 0 || now - this.lastFailureAt > this.windowMs) return 0;
    const turn = Math.max(now + this.delayMs, this.nextTurnAt);
    this.nextTurnAt = turn + this.delayMs;
    const wait = turn - now;
    await sleep(wait);
    return wait;
  }

  recordFailure(): void {
    this.lastFailureAt = this.now();
  }
}
