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

/** The two times the throttle keeps: when an attempt last failed, and when the next attempt's turn is. */
export interface ThrottleState {
  lastFailureAt: number;
  nextTurnAt: number;
}

/** Where the throttle keeps its state: in memory, or in a file that several processes share (inetd mode). */
export interface ThrottleStore {
  /** Applies `change` to the state with no other update in between (in any process), keeps its new state. */
  update<T>(change: (state: ThrottleState) => { state: ThrottleState; result: T }): T;
}

export function memoryStore(): ThrottleStore {
  let current: ThrottleState = { lastFailureAt: Number.NEGATIVE_INFINITY, nextTurnAt: 0 };
  return {
    update(change) {
      const { state, result } = change(current);
      current = state;
      return result;
    },
  };
}

/**
 * After a failed AUTH, every further attempt from any session waits for its own turn, one turn per delay. Parallel
 * guessing therefore gains nothing: N guesses take N delays, where msmtpd's flat per-session sleep let them through
 * in about one (docs/benchmark.md). The spacing ends once no attempt has failed for the window.
 */
export class AuthThrottle {
  private readonly store: ThrottleStore;

  constructor(
    private readonly delayMs: number,
    private readonly windowMs: number,
    private readonly now = Date.now,
    store?: ThrottleStore,
  ) {
    this.store = store ?? memoryStore();
  }

  /** Waits for this attempt's turn; resolves with the time waited. */
  async waitForTurn(): Promise<number> {
    const now = this.now();
    const wait = this.store.update((state) => {
      if (this.delayMs === 0 || now - state.lastFailureAt > this.windowMs) return { state, result: 0 };
      const turn = Math.max(now + this.delayMs, state.nextTurnAt);
      return { state: { ...state, nextTurnAt: turn + this.delayMs }, result: turn - now };
    });
    if (wait > 0) await sleep(wait);
    return wait;
  }

  recordFailure(): void {
    const now = this.now();
    this.store.update((state) => ({ state: { ...state, lastFailureAt: now }, result: undefined }));
  }
}
