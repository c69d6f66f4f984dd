import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { cpuPerMail, sampleCpu } from '../../bench/cpu';
import { msmtpInstalled, startMsmtpTarget } from '../../bench/sink';

// The bench's real-msmtp rows stand on two tools: the sink msmtp sends to, and the CPU accounting of a process
// tree. These check that msmtp really delivers to the sink (plain, dot-stuffed and empty bodies) without the 40 ms
// delayed-ACK stall, and that the tree's CPU includes the children it reaped.

test('msmtp delivers to the bench sink: plain, dot-stuffed and empty bodies', { skip: msmtpInstalled() ? false : 'no msmtp here', timeout: 60_000 }, async () => {
  const target = await startMsmtpTarget();
  try {
    const argv = target.commandArgv.map((arg) => (arg === '%F' ? 'sender@example.com' : arg));
    const bodies = ['Subject: plain\n\nhello\n', 'Subject: dots\n\n.\n..\n.leading dot\n', ''];
    for (const body of bodies) {
      const run = spawnSync(argv[0]!, [...argv.slice(1), 'sink@example.com'], { input: body, encoding: 'utf8', timeout: 20_000 });
      assert.equal(run.status, 0, `msmtp failed for ${JSON.stringify(body)}: ${run.stderr}`);
    }
    // Ten mails: with delayed ACKs each would wait 40 ms for its final dot to go out (400 ms in all, at least).
    const started = Date.now();
    for (let i = 0; i < 10; i++) {
      assert.equal(spawnSync(argv[0]!, [...argv.slice(1), 'sink@example.com'], { input: bodies[0], timeout: 20_000 }).status, 0);
    }
    const perMail = (Date.now() - started) / 10;
    assert.ok(perMail < 400, `${perMail.toFixed(1)} ms per mail`);
  } finally {
    await target.stop();
  }
});

test('CPU of a process tree counts the children it has reaped', { timeout: 30_000 }, () => {
  const before = sampleCpu(process.pid);
  // A child that burns 200 ms of CPU (counted as CPU, not wall time: the machine may be busy), waited for, so it
  // lands in our cutime.
  const run = spawnSync(process.execPath, ['-e', 'const t = process.cpuUsage(); while (process.cpuUsage(t).user < 200_000);']);
  assert.equal(run.status, 0);
  const after = sampleCpu(process.pid);
  const perMail = cpuPerMail(before, after, 1);
  assert.ok(perMail.treeMs - perMail.ownMs >= 100, `tree ${perMail.treeMs} ms, own ${perMail.ownMs} ms`);
});
