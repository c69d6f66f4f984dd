import assert from 'node:assert/strict';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRelay, describeEvent, type RelayEvent } from '../src-relay/index';
import { quote } from 'shell-quote';
import { mountTinyTmpfs, startCli } from './helpers/hard-cli';
import { freePort } from '../bench/ports';
import { bigBody, healthyMail, openToData, processAlive, sendMail } from './helpers/hard-mail';
import { waitUntil } from './helpers/wait';
import { readRecordings, recordCommand, startRelayHarness, type RelayHarness } from './helpers/relay-harness';
import { connectSmtp } from './helpers/smtp-client';

// Faults on both sides of the relay: a delivery command that crashes, hangs, stops reading, exits early, floods
// its output or cannot run; a client that resets, half-closes or pipelines the end. Each gets the right reply, a
// clear log line, no truncated delivery, and a healthy session running at the same time is served as usual.

const faultyCommand = resolve(__dirname, '..', '..', 'test', 'fixtures', 'hard-faulty-command.mjs');
type MailEvent = Extract<RelayEvent, { type: 'mail' }>;
const isMailTo = (recipient: string) => (event: RelayEvent): event is MailEvent => event.type === 'mail' && event.to.includes(recipient);

let recordDir: string;
let relay: RelayHarness;

before(async () => {
  recordDir = mkdtempSync(join(tmpdir(), 'hard-faults-'));
  relay = await startRelayHarness({
    options: {
      command: ['/usr/bin/env', `RECORD_DIR=${recordDir}`, 'FLOOD_MB=16', process.execPath, faultyCommand, '-f', '%F', '--'],
      deliveryTimeoutMs: 800,
      commandTimeoutMs: 5000,
      dataTimeoutMs: 3000,
    },
  });
});

after(async () => {
  await relay?.close();
  rmSync(recordDir, { recursive: true, force: true });
});

/** Pids of every command run for this fault (the fixture leaves pid-<pid> files naming the fault). */
function commandPids(fault: string): number[] {
  return readdirSync(recordDir)
    .filter((name) => name.startsWith('pid-') && readFileSync(join(recordDir, name), 'utf8') === fault)
    .map((name) => Number(name.slice(4)));
}

function recordedFor(recipient: string) {
  return readRecordings(recordDir).filter((recording) => recording.argv.includes(recipient));
}

/**
 * Runs a fault beside a healthy mail; then checks the healthy one, and that the fault's command ran and none is
 * left. `commandMayNotStart`: the client gives up so early that the command may be killed before it wrote its pid.
 */
async function withHealthyNeighbour(fault: string, work: () => Promise<void>, { commandMayNotStart = false } = {}): Promise<void> {
  const healthy = healthyMail(relay.port);
  await Promise.all([work(), healthy.done]);
  healthy.check(readRecordings(recordDir));
  // "every command is gone" holds for an empty list too: without a pid seen, it proves nothing.
  if (!commandMayNotStart) assert.ok(commandPids(fault).length > 0, `no ${fault} command ran`);
  await waitUntil(() => commandPids(fault).every((pid) => !processAlive(pid)), 3000, `every ${fault} command to be gone`);
}

describe('the delivery command fails', () => {
  for (const [fault, signal] of [['segv', 'SIGSEGV'], ['kill', 'SIGKILL']] as const) {
    it(`dies of ${signal} in the middle of a mail: 451 naming the signal (it may go later), nothing delivered, the session goes on`, { timeout: 20_000 }, async () => {
      const recipient = `${fault}@hard.test`;
      await withHealthyNeighbour(fault, async () => {
        const { client, reply } = await sendMail(relay.port, recipient, bigBody(512 * 1024));
        try {
          assert.equal(reply.code, 451, reply.raw);
          assert.match(reply.raw, new RegExp(signal));
          assert.equal((await client.command('NOOP')).code, 250, 'the rest of the mail was read: the session is in step');
        } finally {
          client.destroy();
        }
      });
      const event = await relay.waitForEvent(isMailTo(recipient));
      assert.equal(event.outcome, 'temp-failed');
      assert.equal(event.signal, signal);
      assert.match(describeEvent(event).message, new RegExp(`temp-failed; signal ${signal}; 451`));
      // A command that dies before EOF never records: the empty list means something only once it is known to have run.
      assert.equal(commandPids(fault).length, 1, `the ${fault} command ran once`);
      assert.deepEqual(recordedFor(recipient), []);
    });
  }

  it('hangs after reading the mail: killed after deliveryTimeoutMs with its group, 451, the session goes on', { timeout: 20_000 }, async () => {
    const recipient = 'hang@hard.test';
    await withHealthyNeighbour('hang', async () => {
      const started = Date.now();
      const { client, reply } = await sendMail(relay.port, recipient, bigBody(10_000));
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
    const event = await relay.waitForEvent(isMailTo(recipient));
    assert.equal(event.outcome, 'temp-failed');
    assert.match(describeEvent(event).message, /timed out/);
  });

  it('stops reading a 4 MiB mail: 451 once it made no progress for deliveryTimeoutMs, the rest of the mail is read and dropped', { timeout: 20_000 }, async () => {
    const recipient = 'stall@hard.test';
    await withHealthyNeighbour('stall', async () => {
      const { client, reply } = await sendMail(relay.port, recipient, bigBody(4 * 1024 * 1024));
      try {
        assert.equal(reply.code, 451, reply.raw);
        assert.equal((await client.command('NOOP')).code, 250, 'the dialogue is in step after 4 MiB were dropped');
      } finally {
        client.destroy();
      }
    });
    assert.equal((await relay.waitForEvent(isMailTo(recipient))).outcome, 'temp-failed');
  });

  for (const [status, code] of [[75, 451], [1, 554], [0, 554]] as const) {
    it(`exits ${status} before reading a 4 MiB mail: ${code} at once by its status, the session stays in step`, { timeout: 20_000 }, async () => {
      const recipient = `early-${status}@hard.test`;
      await withHealthyNeighbour(`early-${status}`, async () => {
        const { client, reply } = await sendMail(relay.port, recipient, bigBody(4 * 1024 * 1024));
        try {
          assert.equal(reply.code, code, reply.raw);
          // Exit 0 without reading is no delivery either: a 554 that says so, never a 250 for a lost mail.
          assert.match(reply.raw, status === 0 ? /without reading the whole mail/ : new RegExp(`error ${status}`));
          assert.equal((await client.command('NOOP')).code, 250);
        } finally {
          client.destroy();
        }
      });
      const event = await relay.waitForEvent(isMailTo(recipient));
      assert.equal(event.exitCode, status);
      assert.match(describeEvent(event).message, new RegExp(`exit ${status}`));
    });
  }

  it('floods stdout and stderr with 16 MiB each: 250, the mail byte-exact, the log keeps a short tail', { timeout: 30_000 }, async () => {
    const recipient = 'flood@hard.test';
    await withHealthyNeighbour('flood', async () => {
      const { client, reply } = await sendMail(relay.port, recipient, bigBody(100_000, 'flooded'));
      try {
        assert.equal(reply.code, 250, reply.raw);
      } finally {
        client.destroy();
      }
    });
    const event = await relay.waitForEvent(isMailTo(recipient));
    assert.equal(event.outcome, 'delivered');
    assert.ok((event.commandOutput ?? '').length <= 2048, `log tail of ${event.commandOutput?.length} chars`);
    assert.match(event.commandOutput ?? '', /flood over$/);
    const [recording] = recordedFor(recipient);
    assert.ok(recording, 'the flooded mail was delivered');
    assert.equal(recording.stdin.toString('latin1').split('\n').filter((line) => line.startsWith('flooded ')).length, 100);
  });

  it('is not executable, or missing: 554 (a setting to fix) with the reason in reply and log; the relay keeps serving', { timeout: 20_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hard-noexec-'));
    const script = join(dir, 'not-executable.sh');
    writeFileSync(script, '#!/bin/sh\ncat >/dev/null\n');
    chmodSync(script, 0o644);
    try {
      for (const [argv, reason] of [[[script], 'EACCES'], [[join(dir, 'missing')], 'ENOENT']] as const) {
        const broken = await startRelayHarness({ options: { command: [...argv, '-f', '%F', '--'] } });
        try {
          for (let attempt = 0; attempt < 2; attempt++) {
            const { client, reply } = await sendMail(broken.port, 'someone@hard.test', bigBody(200_000));
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

describe('the client misbehaves', () => {
  it('resets the connection (RST) in the middle of a 2 MiB mail: nothing delivered, the command killed before EOF, slot freed', { timeout: 20_000 }, async () => {
    const recipient = 'reset-mid-data@hard.test';
    await withHealthyNeighbour('reset-mid-data', async () => {
      const client = await openToData(relay.port, recipient);
      const body = bigBody(2 * 1024 * 1024);
      client.send(body.subarray(0, body.length / 2));
      await waitUntil(() => commandPids('reset-mid-data').length > 0, 5000, 'the command to start');
      client.socket.resetAndDestroy();
    });
    const event = await relay.waitForEvent(isMailTo(recipient));
    assert.equal(event.outcome, 'aborted');
    assert.match(describeEvent(event).message, /aborted/);
    assert.match(event.detail ?? '', /killed/);
    assert.deepEqual(recordedFor(recipient), [], 'a truncated mail was delivered');
    await waitUntil(() => relay.relay.stats().activeSessions === 0, 3000, 'the slot to be free');
  });

  it('half-closes in the middle of a mail: 451 "nothing was delivered", the command killed, nothing recorded', { timeout: 20_000 }, async () => {
    const recipient = 'half-close@hard.test';
    await withHealthyNeighbour('half-close', async () => {
      const client = await openToData(relay.port, recipient);
      try {
        client.send('Subject: cut\r\n\r\nthe first half of a mail\r\n');
        client.end();
        const reply = await client.readReply(5000);
        assert.equal(reply.code, 451, reply.raw);
        assert.match(reply.raw, /nothing was delivered/);
        await client.expectClosed();
      } finally {
        client.destroy();
      }
    }, { commandMayNotStart: true });
    assert.equal((await relay.waitForEvent(isMailTo(recipient))).outcome, 'aborted');
    assert.deepEqual(recordedFor(recipient), []);
  });

  it('sends the final "." and QUIT in one packet: 250 then 221, the mail delivered exactly once', { timeout: 20_000 }, async () => {
    const recipient = 'dot-quit@hard.test';
    await withHealthyNeighbour('dot-quit', async () => {
      const client = await openToData(relay.port, recipient);
      try {
        client.send('Subject: one packet\r\n\r\nbody\r\n.\r\nQUIT\r\n');
        const replies = await client.readReplies(2, 5000);
        assert.deepEqual(replies.map((reply) => reply.code), [250, 221]);
        await client.expectClosed();
      } finally {
        client.destroy();
      }
    });
    const recordings = recordedFor(recipient);
    assert.equal(recordings.length, 1);
    assert.match(recordings[0]!.stdin.toString(), /\nSubject: one packet\n\nbody\n$/);
  });
});

describe('the relay itself', () => {
  it('refuses to start on a port already taken (EADDRINUSE) and the relay holding it keeps serving', { timeout: 20_000 }, async () => {
    const second = createRelay({ host: '127.0.0.1', port: relay.port, command: ['/bin/true'] });
    await assert.rejects(second.start(), (error: NodeJS.ErrnoException) => error.code === 'EADDRINUSE');
    assert.equal(second.running, false);
    const healthy = healthyMail(relay.port);
    await healthy.done;
    healthy.check(readRecordings(recordDir));
    const client = await connectSmtp(relay.port);
    assert.equal(client.greeting?.code, 220);
    client.destroy();
  });
});

describe('the log file of msmtp-relay --log=FILE', () => {
  const logLine = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d msmtp-relay\[\d+\] (info|error): \S/;

  /** One mail through the CLI, QUIT included; returns the reply to the end of data. */
  async function mailVia(port: number, recipient: string): Promise<number> {
    const { client, reply } = await sendMail(port, recipient, bigBody(20_000, recipient));
    try {
      assert.equal((await client.command('QUIT')).code, 221);
    } finally {
      client.destroy();
    }
    return reply.code;
  }

  it('its disk fills up while mails flow: every mail still 250, said once on stderr, logging resumes when there is room', { timeout: 30_000 }, async (t) => {
    const parent = mkdtempSync(join(tmpdir(), 'hard-logfull-'));
    const records = mkdtempSync(join(tmpdir(), 'hard-logfull-records-'));
    const tiny = mountTinyTmpfs(parent, '64k');
    if (!tiny) {
      rmSync(parent, { recursive: true, force: true });
      rmSync(records, { recursive: true, force: true });
      t.skip('mounting a tmpfs needs root (cli.test.ts covers --log=/dev/full)');
      return;
    }
    const logPath = join(tiny.dir, 'relay.log');
    const port = await freePort();
    const cli = await startCli(port, [`--log=${logPath}`, `--command=${quote(recordCommand(records))}`]);
    try {
      assert.equal(await mailVia(port, 'before-full@hard.test'), 250);
      // Fill the file system to the last byte.
      const filler = join(tiny.dir, 'filler');
      const fd = openSync(filler, 'w');
      const block = Buffer.alloc(4096, 'f');
      for (let size = block.length; size > 0; ) {
        try {
          writeSync(fd, block, 0, size);
        } catch {
          size = size === 1 ? 0 : Math.floor(size / 2);
        }
      }
      closeSync(fd);
      // The log file's last page may still have room: keep mails flowing, four at a time, until the log hits the wall.
      let sent = 0;
      for (let batch = 0; batch < 10 && !/cannot write to log file/.test(cli.stderr()); batch++) {
        const codes = await Promise.all(Array.from({ length: 4 }, () => mailVia(port, `while-full-${sent++}@hard.test`)));
        assert.deepEqual(codes, [250, 250, 250, 250]);
      }
      const complaints = cli.stderr().split('\n').filter((line) => /cannot write to log file/.test(line));
      assert.equal(complaints.length, 1, `stderr: ${cli.stderr()}`);
      assert.match(complaints[0]!, /ENOSPC|no space/i);
      rmSync(filler);
      assert.equal(await mailVia(port, 'after-room@hard.test'), 250);
      await waitUntil(() => readFileSync(logPath, 'utf8').includes('after-room@hard.test'), 3000, 'logging to resume');
      assert.equal(readRecordings(records).length, sent + 2, 'every mail was delivered, log or no log');
      assert.equal(await cli.stop(), 0);
      const lines = readFileSync(logPath, 'utf8').split('\n').filter(Boolean);
      for (const line of lines) assert.match(line, logLine, 'a log line was cut by the full disk and glued to the next');
    } finally {
      await cli.stop();
      tiny.unmount();
      rmSync(parent, { recursive: true, force: true });
      rmSync(records, { recursive: true, force: true });
    }
  });

  it('is removed while the relay runs: mails still 250, the next line creates it again', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hard-logrm-'));
    const logPath = join(dir, 'relay.log');
    const port = await freePort();
    const cli = await startCli(port, [`--log=${logPath}`, `--command=${quote(recordCommand(dir))}`]);
    try {
      assert.equal(await mailVia(port, 'first@hard.test'), 250);
      await waitUntil(() => readFileSync(logPath, 'utf8').includes('first@hard.test'), 3000, 'the first mail in the log');
      rmSync(logPath);
      const healthy = healthyMail(port);
      assert.equal(await mailVia(port, 'second@hard.test'), 250);
      await healthy.done;
      healthy.check(readRecordings(dir));
      await waitUntil(() => existsSync(logPath) && readFileSync(logPath, 'utf8').includes('second@hard.test'), 3000, 'a new log file');
      assert.doesNotMatch(readFileSync(logPath, 'utf8'), /first@hard\.test/);
      assert.equal(await cli.stop(), 0);
      assert.equal(cli.stderr(), '', 'a removed log file is not a problem to report');
    } finally {
      await cli.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
