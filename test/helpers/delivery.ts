import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { DeliveryError } from '../../src-relay/deliver';

/** A mail body as the engine's reader would hand it on, from strings (latin1) or buffers. */
export function bodyOf(...chunks: (string | Buffer)[]): Readable {
  return Readable.from(chunks.map((chunk) => (typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk)));
}

/** The DeliveryError a delivery must fail with; fails the test if it succeeds or fails otherwise. */
export async function deliveryError(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof DeliveryError, `expected a DeliveryError, got ${String(error)}`);
    return error;
  }
  assert.fail('the delivery succeeded');
}
