import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LogLevel as EngineLogLevel, MailOutcome as EngineMailOutcome, OutboxEntry, SentEntry } from '../../../src-relay/index';
import type { LogLevel, MailOutcome, OutboxMail, SentMail } from '../../../electron/contract/api';

/**
 * The contract is import-free (the window's build sees nothing of the Node side), so it restates some of the
 * engine's types. These checks are the compiler's: the file does not build when a copy drifts from its source.
 */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;

const copiesMatch: [
  Same<MailOutcome, EngineMailOutcome>,
  Same<LogLevel, EngineLogLevel>,
  Same<OutboxMail, OutboxEntry>,
  Same<SentMail, SentEntry>,
] = [true, true, true, true];

describe('the IPC contract', () => {
  it("restates the engine's types exactly (checked when this file compiles)", () => {
    assert.deepEqual(copiesMatch, [true, true, true, true]);
  });
});
