import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { LoadJob, LoadResult } from '../../bench/load-client';
import { ResidentWorker } from '../../bench/processes';
import { startRelayHarness } from '../helpers/relay/relay-harness';

// The benchmark's client stays up across jobs (so its own JIT warm-up is not measured); these check that the
// resident protocol carries several jobs and that what it reports is what the relay did.

const loadClientScript = join(__dirname, '..', '..', 'bench', 'load-client.js');

test('the resident load client runs several jobs in one process and reports every mail', { timeout: 60_000 }, async () => {
  const harness = await startRelayHarness();
  const client = new ResidentWorker<LoadJob, LoadResult>(loadClientScript);
  try {
    const first = await client.run({ kind: 'sessions', port: harness.port, sessions: 2, mailsPerSession: 3 }, 30_000);
    assert.deepEqual(first.errors, []);
    assert.equal(first.mails, 6);
    assert.equal(first.mailLatenciesMs.length, 6);
    assert.ok(first.mailLatenciesMs.every((ms) => ms > 0));

    const second = await client.run({ kind: 'connections', port: harness.port, total: 4, concurrency: 2 }, 30_000);
    assert.deepEqual(second.errors, []);
    assert.equal(second.mails, 4);
    assert.equal(second.greetingLatenciesMs.length, 4);

    await harness.waitForEvent(() => harness.events.filter((e) => e.type === 'mail' && e.outcome === 'delivered').length === 10);
    assert.equal(harness.recordings().length, 10);
  } finally {
    await client.close();
    await harness.close();
  }
});

test('a resident job that outlives its timeout is killed and rejected, not waited for', { timeout: 30_000 }, async () => {
  // A port that takes the connection and never greets: the client waits for a 220 that does not come.
  const { createServer } = await import('node:net');
  const silent = createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as { port: number }).port;
  const client = new ResidentWorker<LoadJob, LoadResult>(loadClientScript);
  try {
    const started = Date.now();
    await assert.rejects(client.run({ kind: 'greetings', port, total: 1 }, 1500), /no result after 1500 ms/);
    assert.ok(Date.now() - started < 5000);
  } finally {
    await client.close();
    silent.close();
  }
});
