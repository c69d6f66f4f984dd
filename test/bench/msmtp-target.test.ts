import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpuPerMail, sampleCpu } from '../../bench/cpu';
import { commandForOneMail, runAlone } from '../../bench/msmtp-alone';
import { msmtpInstalled, startMsmtpTarget } from '../../bench/sink';

// The bench's real-msmtp rows stand on two tools: the sink msmtp sends to, and the CPU accounting of a process
// tree, and the ceiling (msmtp started from a loop, no server). These check that msmtp really delivers to the sink (plain, dot-stuffed and empty bodies) without the 40 ms
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

test('CPU of a live helper (the launcher) is counted as the helpers\' and in the tree', { timeout: 30_000 }, async () => {
  const before = sampleCpu(process.pid);
  // A live child that burns 200 ms of CPU and then waits to be killed: not reaped when the second sample is taken.
  const helper = spawn(process.execPath, ['-e', 'const t = process.cpuUsage(); while (process.cpuUsage(t).user < 200_000); process.stdout.write("done"); setInterval(() => {}, 1000);']);
  try {
    await once(helper.stdout, 'data');
    const perMail = cpuPerMail(before, sampleCpu(process.pid), 1);
    assert.ok(perMail.helpersMs >= 100, `helpers ${perMail.helpersMs} ms`);
    assert.ok(perMail.treeMs - perMail.ownMs >= perMail.helpersMs, `tree ${perMail.treeMs} ms, own ${perMail.ownMs} ms, helpers ${perMail.helpersMs} ms`);
  } finally {
    helper.kill('SIGKILL');
  }
});

test('the ceiling runs the real msmtp to the sink, several at a time, and counts what the commands cost', { skip: msmtpInstalled() ? false : 'no msmtp here', timeout: 60_000 }, async () => {
  const target = await startMsmtpTarget();
  try {
    const argv = commandForOneMail(target.commandArgv, 'sender@example.com', 'sink@example.com');
    assert.deepEqual(argv.slice(-4), ['-f', 'sender@example.com', '--', 'sink@example.com']);
    const result = await runAlone({ argv, mails: 6, parallel: 3 }, 30_000);
    assert.equal(result.mails, 6);
    assert.equal(result.latenciesMs.length, 6);
    assert.ok(result.latenciesMs.every((ms) => ms > 0 && ms < 20_000), result.latenciesMs.join(', '));
    assert.ok(result.commandsMs > 0, `commands ${result.commandsMs} ms`);
    // A command that fails makes the whole measurement fail, not a rate of failures.
    await assert.rejects(runAlone({ argv: commandForOneMail(['/bin/false', '%F', '--'], 'a@example.com', 'b@example.com'), mails: 2, parallel: 1 }, 30_000), /command failed/);
  } finally {
    await target.stop();
  }
});
