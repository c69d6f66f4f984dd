import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCrashTest } from '../../helpers/relay/outbox-crash';

/** Tries in flight per relay (the outbox's concurrency) that a kill can leave sent but not yet marked sent. */
const RETRIES_IN_FLIGHT = 2;

// The full run (1,000 mails) is in `npm run stress`; this one is shorter.
describe('outbox crash test: provider flapping, relay killed with SIGKILL and restarted on its spool', () => {
  it('loses no mail that got a 250 and sends none twice while the relay does not crash', async (t) => {
    const result = await runCrashTest({ mails: 120, clients: 4, kills: 0, flapEveryMs: 400, timeoutMs: 60_000, log: (line) => t.diagnostic(line) });
    assert.equal(result.acked, 120);
    assert.ok(result.queuedReplies > 0, 'the provider was down for some mails');
    assert.deepEqual(result.lost, []);
    assert.equal(result.duplicates, 0);
  });

  it('loses no mail that got a 250 across SIGKILLs; duplicates stay within the documented bound', async (t) => {
    const clients = 4;
    const result = await runCrashTest({ mails: 200, clients, kills: 3, flapEveryMs: 500, timeoutMs: 90_000, log: (line) => t.diagnostic(line) });
    assert.equal(result.acked, 200);
    assert.equal(result.kills, 3);
    assert.deepEqual(result.lost, []);
    assert.ok(result.duplicates <= result.kills * (clients + RETRIES_IN_FLIGHT), `${result.duplicates} duplicates after ${result.kills} kills`);
  });
});
