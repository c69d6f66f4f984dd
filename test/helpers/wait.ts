import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `read` until `done(value)` holds or timeoutMs passed, and returns the last value read either way: for
 * figures that are reported rather than asserted (the stress runs), or asserted by the caller with its own message.
 */
export async function settle<T>(read: () => T | Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(20);
  }
}

/**
 * Polls until condition() gives a truthy value and returns that value; rejects after timeoutMs naming what it
 * waited for (a function, so the message can show the state at the moment of the timeout).
 */
export async function waitUntil<T>(
  condition: () => T | Promise<T>,
  timeoutMs: number,
  what: string | (() => string),
): Promise<NonNullable<T>> {
  const value = await settle(condition, Boolean, timeoutMs);
  if (!value) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
  return value;
}
