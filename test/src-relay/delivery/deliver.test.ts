import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CrlfToLf, NULL_SENDER, buildArgv, deliverViaCommand, exitFailure, receivedHeader, sanitizeHelo, spawnDetached } from '../../../src-relay/delivery/deliver';
import { describeEvent } from '../../../src-relay/index';
import { faultyRelayForSuite, isMailTo, type MailEvent } from '../../helpers/relay/faulty-relay';
import { outcomeCommand } from '../../helpers/programs/fixture-commands';
import { bigBody, mailTo } from '../../helpers/smtp/mail';
import { REPO_ROOT } from '../../helpers/paths';
import { startRelayHarness } from '../../helpers/relay/relay-harness';
import { bodyOf, deliveredReport, deliveryError, registerSpawnerCases } from './deliver.cases';
import { type Envelope } from '../../../src-relay/smtp/handler';

const fixtures = join(REPO_ROOT, 'test', 'fixtures');
const envelope: Envelope = { id: 't-1', helo: 'client.example', remote: '127.0.0.1', from: 's@example.org', to: ['r1@example.com', 'r2@example.net'] };
const header = 'Received: test\n';
const temp = mkdtempSync(join(tmpdir(), 'deliver-test-'));
after(() => rmSync(temp, { recursive: true, force: true }));

function tempDir(name: string): string {
  return mkdtempSync(join(temp, `${name}-`));
}

describe('buildArgv', () => {
  it('replaces only the first %F and appends the recipients in order, duplicates kept', () => {
    assert.deepEqual(
      buildArgv(['msmtp', '-f', '%F', '--', '%F'], { from: 's@x', to: ['b@y', 'a@y', 'b@y'] }),
      ['msmtp', '-f', 's@x', '--', '%F', 'b@y', 'a@y', 'b@y'],
    );
  });

  it('replaces %F inside a word, once per template (msmtpd: X%FY %F %%F)', () => {
    assert.deepEqual(buildArgv(['cmd', 'X%FY', '%F', '%%F'], { from: 's@x', to: [] }), ['cmd', 'Xs@xY', '%F', '%%F']);
    assert.deepEqual(buildArgv(['cmd', 'a%Fb%F'], { from: 's@x', to: [] }), ['cmd', 'as@xb%F']);
  });

  it('passes no sender without %F, and MAILER-DAEMON for <>', () => {
    assert.deepEqual(buildArgv(['cat'], { from: 's@x', to: ['r@y'] }), ['cat', 'r@y']);
    assert.deepEqual(buildArgv(['m', '-f', '%F', '--'], { from: '', to: ['r@y'] }), ['m', '-f', NULL_SENDER, '--', 'r@y']);
    assert.equal(NULL_SENDER, 'MAILER-DAEMON');
  });

  it('takes a sender with $ replacement patterns literally', () => {
    assert.deepEqual(buildArgv(['m', '-f%F'], { from: "$&$'$`$1@x", to: [] }), ['m', "-f$&$'$`$1@x"]);
  });
});

describe('CrlfToLf', () => {
  const input = 'a\r\nb\rc\r\r\n\r\n\n\r';
  const expected = 'a\nb\rc\r\n\n\n\r';

  function convertChunks(chunks: string[]): string {
    const converter = new CrlfToLf();
    const out = chunks.map((chunk) => converter.convert(Buffer.from(chunk, 'latin1')).toString('latin1'));
    return out.join('') + converter.flush().toString('latin1');
  }

  it('turns CRLF into LF and keeps lone CRs, whole and at every split point', () => {
    assert.equal(convertChunks([input]), expected);
    for (let cut = 0; cut <= input.length; cut++) {
      assert.equal(convertChunks([input.slice(0, cut), input.slice(cut)]), expected, `split at ${cut}`);
    }
    assert.equal(convertChunks([...input]), expected, 'byte by byte');
  });

  it('holds a trailing CR across an empty chunk', () => {
    assert.equal(convertChunks(['a\r', '', '\nb']), 'a\nb');
  });
});

describe('exitFailure', () => {
  const failed = (exitCode: number | null, signal: NodeJS.Signals | null, output = '') => exitFailure({ exitCode, signal, output });

  it('answers 451 for the exit statuses msmtp uses for passing trouble, 554 for the rest, with msmtpd\'s words', () => {
    for (const code of [68, 69, 71, 73, 74, 75]) {
      const failure = failed(code, null);
      assert.equal(failure.reply.code, 451, `exit ${code}`);
      assert.match(failure.reply.message, new RegExp(`^Pipe command reported error ${code}\\b`));
    }
    for (const code of [1, 64, 65, 67, 70, 78]) {
      const failure = failed(code, null);
      assert.equal(failure.reply.code, 554, `exit ${code}`);
      assert.match(failure.reply.message, new RegExp(`^Pipe command reported error ${code}\\b`));
    }
  });

  it('lets a reply code that msmtp quotes decide over the exit status, and names the stage and reason', () => {
    const deferred = failed(69, null, 'msmtp: recipient address a@b not accepted by the server\nmsmtp: server message: 451 4.7.1 try later');
    assert.equal(deferred.reply.code, 451);
    assert.equal(deferred.stage, 'rcpt-to');
    assert.equal(deferred.cause, 'command');
    const refused = failed(69, null, 'msmtp: the server did not accept the mail\nmsmtp: server message: 554 5.7.1 spam');
    assert.equal(refused.reply.code, 554, 'a 554 after the final dot exits 69 like a 451: the quoted code decides');
    assert.match(refused.reply.message, /error 69: mail refused/);
  });

  it('reports a signal with 128+n, like a shell would, as temporary: nobody knows whether the mail went', () => {
    const killed = failed(null, 'SIGKILL');
    assert.equal(killed.reply.code, 451);
    assert.match(killed.reply.message, /\b137\b/);
    assert.match(killed.reply.message, /SIGKILL/);
    assert.match(failed(null, 'SIGSEGV').reply.message, /\b139\b/);
  });
});

describe('receivedHeader', () => {
  it('has LF line ends only, the sanitised HELO, the peer, our id and an RFC 5322 date', () => {
    const date = new Date(2026, 10, 25, 2, 30, 2);
    const text = receivedHeader({ ...envelope, helo: 'client.example' }, 'localhost', date);
    assert.ok(!text.includes('\r'), 'no CR anywhere');
    const lines = text.split('\n');
    assert.equal(lines.length, 4, 'three lines, each LF-terminated');
    assert.equal(lines[3], '');
    assert.equal(lines[0], 'Received: from client.example ([127.0.0.1])');
    assert.equal(lines[1], '\tby localhost (msmtp-relay) with ESMTP id t-1;');
    assert.match(lines[2]!, /^\tWed, 25 Nov 2026 02:30:02 [+-]\d{4}$/);
  });

  it('says ESMTPA for an authenticated session and keeps only address characters of the peer', () => {
    const text = receivedHeader({ ...envelope, user: 'u', remote: '::ffff:127.0.0.1\r\nX-Evil: 1' }, 'localhost');
    assert.match(text, /with ESMTPA id/);
    assert.ok(!text.includes('X-Evil'));
    assert.ok(!text.includes('\r'));
  });

  it('sanitises the HELO name the way msmtpd does', () => {
    assert.equal(sanitizeHelo(''), 'unknown');
    assert.equal(sanitizeHelo('a_b.example'), 'invalid');
    assert.equal(sanitizeHelo('[127.0.0.1]'), '[127.0.0.1]');
    assert.equal(sanitizeHelo('host.example:25'), 'host.example:25');
    assert.equal(sanitizeHelo('evil\r\nX-Injected: yes'), 'invalid');
    assert.equal(sanitizeHelo('a b'), 'invalid');
  });
});

describe('deliverViaCommand with real processes', () => {
  registerSpawnerCases(spawnDetached);

  it('reports a command killed by a signal as 451 with status 137 (the mail may not have gone: try again)', async () => {
    const dir = tempDir('signal');
    const error = await deliveryError(
      deliverViaCommand(
        { argv: outcomeCommand(dir), timeoutMs: 5000 },
        { ...envelope, to: ['signal-KILL@x'] },
        bodyOf('x\r\n'),
        header,
      ),
    );
    assert.equal(error.code, 451);
    assert.match(error.message, /137/);
    assert.match(error.report.output, /killing myself/);
  });

  it('keeps only the tail of a command that floods stdout and stderr with megabytes, in bounded memory', async () => {
    const floodBytes = 64 * 1024 * 1024; // per stream: far more than the heap growth allowed below
    const before = process.memoryUsage();
    const report = await deliveredReport(deliverViaCommand(
      { argv: ['/usr/bin/env', `FLOOD_BYTES=${floodBytes}`, process.execPath, join(fixtures, 'engine-flood.mjs')], timeoutMs: 10_000 },
      envelope,
      bodyOf('Subject: flood\r\n\r\nbody\r\n'),
      header,
    ));
    const afterUsage = process.memoryUsage();
    assert.equal(report.exitCode, 0);
    assert.ok(report.output.length <= 2048, `output kept: ${report.output.length} chars`);
    assert.match(report.output, /read \d+ bytes$/);
    assert.match(report.output, /FLOOD-END-std(out|err)/);
    const growth = afterUsage.rss - before.rss;
    assert.ok(growth < floodBytes, `RSS grew by ${(growth / 1048576).toFixed(1)} MiB while the command wrote ${(2 * floodBytes) / 1048576} MiB`);
  });
});

describe('the delivery command fails, through the engine, beside a healthy mail', () => {
  const faults = faultyRelayForSuite();

  for (const [fault, signal] of [['segv', 'SIGSEGV'], ['kill', 'SIGKILL']] as const) {
    it(`dies of ${signal} in the middle of a mail: 451 naming the signal (it may go later), nothing delivered, the session goes on`, { timeout: 20_000 }, async () => {
      const recipient = `${fault}@hard.test`;
      await faults.withHealthyNeighbour(fault, async () => {
        const { client, reply } = await mailTo(faults.harness.port, recipient, bigBody(512 * 1024));
        try {
          assert.equal(reply.code, 451, reply.raw);
          assert.match(reply.raw, new RegExp(signal));
          assert.equal((await client.command('NOOP')).code, 250, 'the rest of the mail was read: the session is in step');
        } finally {
          client.destroy();
        }
      });
      const event = await faults.harness.waitForEvent(isMailTo(recipient));
      assert.equal(event.outcome, 'temp-failed');
      assert.equal(event.signal, signal);
      assert.match(describeEvent(event).message, new RegExp(`temp-failed; signal ${signal}; 451`));
      // A command that dies before EOF never records: the empty list means something only once it is known to have run.
      assert.equal(faults.commandPids(fault).length, 1, `the ${fault} command ran once`);
      assert.deepEqual(faults.recordedFor(recipient), []);
    });
  }

  it('hangs after reading the mail: killed after deliveryTimeoutMs with its group, 451, the session goes on', { timeout: 20_000 }, async () => {
    const recipient = 'hang@hard.test';
    await faults.withHealthyNeighbour('hang', async () => {
      const started = Date.now();
      const { client, reply } = await mailTo(faults.harness.port, recipient, bigBody(10_000));
      const took = Date.now() - started;
      try {
        assert.equal(reply.code, 451, reply.raw);
        assert.match(reply.raw, /timed out/);
        assert.ok(took >= 700 && took < 5000, `answered after ${took} ms (deliveryTimeoutMs 800)`);
        assert.equal((await client.command('NOOP')).code, 250);
      } finally {
        client.destroy();
      }
    });
    const event = await faults.harness.waitForEvent(isMailTo(recipient));
    assert.equal(event.outcome, 'temp-failed');
    assert.match(describeEvent(event).message, /timed out/);
  });

  it('stops reading a 4 MiB mail: 451 once it made no progress for deliveryTimeoutMs, the rest of the mail is read and dropped', { timeout: 20_000 }, async () => {
    const recipient = 'stall@hard.test';
    await faults.withHealthyNeighbour('stall', async () => {
      const { client, reply } = await mailTo(faults.harness.port, recipient, bigBody(4 * 1024 * 1024));
      try {
        assert.equal(reply.code, 451, reply.raw);
        assert.equal((await client.command('NOOP')).code, 250, 'the dialogue is in step after 4 MiB were dropped');
      } finally {
        client.destroy();
      }
    });
    assert.equal((await faults.harness.waitForEvent(isMailTo(recipient))).outcome, 'temp-failed');
  });

  for (const [status, code] of [[75, 451], [1, 554], [0, 554]] as const) {
    it(`exits ${status} before reading a 4 MiB mail: ${code} at once by its status, the session stays in step`, { timeout: 20_000 }, async () => {
      const recipient = `early-${status}@hard.test`;
      await faults.withHealthyNeighbour(`early-${status}`, async () => {
        const { client, reply } = await mailTo(faults.harness.port, recipient, bigBody(4 * 1024 * 1024));
        try {
          assert.equal(reply.code, code, reply.raw);
          // Exit 0 without reading is no delivery either: a 554 that says so, never a 250 for a lost mail.
          assert.match(reply.raw, status === 0 ? /without reading the whole mail/ : new RegExp(`error ${status}`));
          assert.equal((await client.command('NOOP')).code, 250);
        } finally {
          client.destroy();
        }
      });
      const event = await faults.harness.waitForEvent(isMailTo(recipient));
      assert.equal(event.exitCode, status);
      assert.match(describeEvent(event).message, new RegExp(`exit ${status}`));
    });
  }

  it('floods stdout and stderr with 16 MiB each: 250, the mail byte-exact, the log keeps a short tail', { timeout: 30_000 }, async () => {
    const recipient = 'flood@hard.test';
    await faults.withHealthyNeighbour('flood', async () => {
      const { client, reply } = await mailTo(faults.harness.port, recipient, bigBody(100_000, 'flooded'));
      try {
        assert.equal(reply.code, 250, reply.raw);
      } finally {
        client.destroy();
      }
    });
    const event = await faults.harness.waitForEvent(isMailTo(recipient));
    assert.equal(event.outcome, 'delivered');
    assert.ok((event.commandOutput ?? '').length <= 2048, `log tail of ${event.commandOutput?.length} chars`);
    assert.match(event.commandOutput ?? '', /flood over$/);
    const [recording] = faults.recordedFor(recipient);
    assert.ok(recording, 'the flooded mail was delivered');
    assert.equal(recording.stdin.toString('latin1').split('\n').filter((line) => line.startsWith('flooded ')).length, 100);
  });

  it('is not executable, or missing: 554 (a setting to fix) with the reason in reply and log; the relay keeps serving', { timeout: 20_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-noexec-'));
    const script = join(dir, 'not-executable.sh');
    writeFileSync(script, '#!/bin/sh\ncat >/dev/null\n');
    chmodSync(script, 0o644);
    try {
      for (const [argv, reason] of [[[script], 'EACCES'], [[join(dir, 'missing')], 'ENOENT']] as const) {
        const broken = await startRelayHarness({ options: { command: [...argv, '-f', '%F', '--'] } });
        try {
          for (let attempt = 0; attempt < 2; attempt++) {
            const { client, reply } = await mailTo(broken.port, 'someone@hard.test', bigBody(200_000));
            try {
              assert.equal(reply.code, 554, reply.raw);
              assert.match(reply.raw, new RegExp(`failed to execute \\(${reason}\\)`));
              assert.equal((await client.command('QUIT')).code, 221);
            } finally {
              client.destroy();
            }
          }
          const event = await broken.waitForEvent((e): e is MailEvent => e.type === 'mail');
          assert.match(describeEvent(event).message, new RegExp(reason));
          assert.equal(broken.relay.stats().mailsFailed, 2);
        } finally {
          await broken.close();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
