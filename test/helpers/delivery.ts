import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { DeliveryOutcome, DeliveryReport } from '../../src-relay/deliver';

/** A mail body as the engine's reader would hand it on, from strings (latin1) or buffers. */
export function bodyOf(...chunks: (string | Buffer)[]): Readable {
  return Readable.from(chunks.map((chunk) => (typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk)));
}

/** A failed delivery as tests read it: the reply's code and text, the command's report, and whether the input broke. */
export interface FailureView {
  code: number;
  message: string;
  report: DeliveryReport;
  /** The mail never arrived whole (cause 'input'): the command was killed before it saw an end. */
  aborted: boolean;
  detail?: string;
}

/** The failure a delivery must end in; fails the test if it was delivered. */
export async function deliveryError(promise: Promise<DeliveryOutcome>): Promise<FailureView> {
  const outcome = await promise;
  if (outcome.status === 'delivered') assert.fail('the delivery succeeded');
  return {
    code: outcome.reply.code,
    message: outcome.reply.message,
    report: outcome.report,
    aborted: outcome.cause === 'input',
    ...(outcome.detail ? { detail: outcome.detail } : {}),
  };
}

/** The report of a delivery that must have succeeded. */
export async function deliveredReport(promise: Promise<DeliveryOutcome>): Promise<DeliveryReport> {
  const outcome = await promise;
  if (outcome.status !== 'delivered') assert.fail(`the delivery failed: ${outcome.reply.code} ${outcome.reply.message}`);
  return outcome.report;
}
