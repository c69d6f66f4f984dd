// The engine as a whole: createRelay on 127.0.0.1:0, real sockets, a real child process as the command.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import { createRelay, type RelayEvent } from '../src-relay/index';
import { hangCommand } from './helpers/fixture-commands';
import { dataBlock, sendMail } from './helpers/mail';
import { recordCommand, startRelayHarness, withRelay } from './helpers/relay-harness';
import { connectSmtp } from './helpers/smtp-client';
import { waitUntil } from './helpers/wait';

type MailEvent = Extract<RelayEvent, { type: 'mail' }>;
const isMail = (event: RelayEvent): event is MailEvent => event.type === 'mail';
const fast = { commandTimeoutMs: 5000, dataTimeoutMs: 5000, deliveryTimeoutMs: 5000 };

describe('relay engine', () => {
  it('stop(): idle sessions get 421 at once, a mail in flight finishes with 250 before stop resolves', async () => {
    await withRelay({ options: fast, record: { sleepMs: 600 } }, async (relay, open) => {
      const idle = await open();
      assert.equal((await idle.command('EHLO idle')).code, 250);
      const busy = await open();
      assert.equal((await busy.command('EHLO busy')).code, 250);
      busy.send('MAIL FROM:<s@x>\r\nRCPT TO:<r@y>\r\nDATA\r\n');
      assert.deepEqual((await busy.readReplies(3)).map((r) => r.code), [250, 250, 354]);
      busy.send(dataBlock('Subject: in flight\r\n\r\nbody\r\n'));
      // The command has the whole mail and is still running (it sleeps 600 ms before exiting 0).
      await waitUntil(() => relay.recordings().length === 1, 5000, 'the command to get the whole mail');

      const busyReply = busy.readReply(5000);
      const stopStarted = Date.now();
      const stopped = relay.relay.stop(5000).then(() => Date.now());
      const idleReply = await idle.readReply(1000);
      assert.equal(idleReply.code, 421);
      assert.ok(Date.now() - stopStarted < 400, 'the idle session was told at once');
      await idle.expectClosed();
      assert.equal((await busyReply).code, 250);
      const stoppedAt = await stopped;
      assert.ok(stoppedAt - stopStarted >= 300, `stop() waited for the command (it sleeps 600 ms): ${stoppedAt - stopStarted} ms`);
      const order = relay.events.map((e) => e.type).filter((t) => t === 'mail' || t === 'stopped');
      assert.deepEqual(order, ['mail', 'stopped'], 'the mail was answered before the engine reported it stopped');
      assert.equal((await busy.readReply()).code, 421, 'then the session was closed for shutdown');
      assert.equal(relay.relay.running, false);
      assert.equal(relay.relay.stats().mailsDelivered, 1);
      assert.equal(relay.relay.stats().activeSessions, 0);
      assert.ok(relay.events.some((e) => e.type === 'stopped'));
    });
  });

  it('stop(): does not wait for an idle client that keeps its side of the connection open after the 421', async () => {
    const relay = await startRelayHarness({ options: fast });
    const socket = connect({ host: '127.0.0.1', port: relay.port, allowHalfOpen: true });
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      received += text;
    });
    try {
      await waitUntil(() => received.startsWith('220 '), 5000, 'the greeting');
      const started = Date.now();
      await relay.relay.stop(5000);
      const took = Date.now() - started;
      assert.ok(took < 1000, `stop() took ${took} ms with one idle session`);
      await waitUntil(() => received.includes('\r\n421 '), 2000, 'the 421');
      const end = await relay.waitForEvent((e) => e.type === 'session-close');
      assert.equal(end.type === 'session-close' && end.reason, 'shutdown');
    } finally {
      socket.destroy();
      await relay.close();
    }
  });

  it('stop(): a mail that outlasts the grace period is cut, and its command is killed before EOF', async () => {
    await withRelay({ options: fast }, async (relay, open) => {
      const client = await open();
      assert.equal((await client.command('EHLO c')).code, 250);
      client.send('MAIL FROM:<s@x>\r\nRCPT TO:<r@y>\r\nDATA\r\n');
      assert.deepEqual((await client.readReplies(3)).map((r) => r.code), [250, 250, 354]);
      client.send('Subject: never finished\r\n\r\npartial');
      await waitUntil(() => relay.partials().some((p) => p.includes('partial')), 5000, 'the partial body to reach the command');
      const started = Date.now();
      await relay.relay.stop(300);
      const took = Date.now() - started;
      assert.ok(took >= 280 && took < 3000, `stop took ${took} ms`);
      assert.equal(relay.recordings().length, 0, 'nothing delivered');
      const event = await relay.waitForEvent(isMail);
      assert.equal(event.outcome, 'aborted');
    });
  });

  it('can be started again after stop() and serves as before', async () => {
    await withRelay({ options: fast }, async (relay) => {
      await relay.relay.stop(1000);
      assert.equal(relay.relay.address, null);
      const { port } = await relay.relay.start();
      const client = await connectSmtp(port);
      try {
        assert.equal(client.greeting?.code, 220);
        assert.equal((await client.command('EHLO again')).code, 250);
        assert.equal((await sendMail(client, 's@x', ['r@y'], 'x')).final?.code, 250);
      } finally {
        client.destroy();
      }
      assert.equal(relay.recordings().length, 1);
      assert.deepEqual(relay.events.filter((e) => e.type === 'listening' || e.type === 'stopped').map((e) => e.type), ['listening', 'stopped', 'listening']);
    });
  });

  it('runs a session over any duplex stream (inetd mode): pipelined input, replies in order, one mail', async () => {
    const recordDir = mkdtempSync(join(tmpdir(), 'relay-inetd-'));
    try {
      const relay = createRelay({ ...fast, command: recordCommand(recordDir) });
      const input = new PassThrough();
      const output = new PassThrough();
      const io = Duplex.from({ readable: input, writable: output });
      const replies: Buffer[] = [];
      output.on('data', (chunk: Buffer) => replies.push(chunk));
      input.end('EHLO inetd\r\nMAIL FROM:<>\r\nRCPT TO:<r@y>\r\nDATA\r\nSubject: inetd\r\n\r\nbody\r\n.\r\nQUIT\r\n');
      const reason = await relay.handleConnection(io, 'inetd');
      assert.equal(reason, 'quit');
      const codes = Buffer.concat(replies).toString().split('\r\n').filter((l) => /^\d{3} /.test(l)).map((l) => l.slice(0, 3));
      assert.deepEqual(codes, ['220', '250', '250', '250', '354', '250', '221']);
      assert.equal(relay.stats().mailsDelivered, 1);
      assert.equal(relay.stats().activeSessions, 0);
    } finally {
      rmSync(recordDir, { recursive: true, force: true });
    }
  });

  it('in inetd mode, what the command prints never reaches the client (no injected replies)', async () => {
    const relay = createRelay({ ...fast, command: ['/bin/sh', '-c', 'cat >/dev/null; echo 250 INJECTED-BY-COMMAND'] });
    const events: RelayEvent[] = [];
    relay.subscribe((event) => events.push(event));
    const input = new PassThrough();
    const output = new PassThrough();
    const received: Buffer[] = [];
    output.on('data', (chunk: Buffer) => received.push(chunk));
    input.end('EHLO inetd\r\nMAIL FROM:<s@x>\r\nRCPT TO:<r@y>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n');
    assert.equal(await relay.handleConnection(Duplex.from({ readable: input, writable: output }), 'inetd'), 'quit');
    const text = Buffer.concat(received).toString();
    assert.doesNotMatch(text, /INJECTED/);
    assert.match(text, /250 2\.0\.0 Ok, mail was piped\r\n221 /);
    const mail = events.find(isMail);
    assert.match(mail?.commandOutput ?? '', /250 INJECTED-BY-COMMAND/, 'it went to the log instead');
  });

  it('keeps a slow but steady DATA sender (longer than dataTimeoutMs in all) and answers 451 for a command that never finishes', async (t) => {
    // The command never reads; the client sends 100 kB, then one short line every 100 ms for longer than
    // dataTimeoutMs in total (but never silent that long), then the end marker.
    const dir = mkdtempSync(join(tmpdir(), 'relay-stall-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const pidFile = join(dir, 'pids.json');
    await withRelay({
      options: {
        commandTimeoutMs: 5000, dataTimeoutMs: 1000, deliveryTimeoutMs: 300,
        command: hangCommand(pidFile, false),
      },
    }, async (relay, open) => {
      const client = await open();
      assert.equal((await client.command('EHLO c')).code, 250);
      client.send('MAIL FROM:<s@x>\r\nRCPT TO:<r@y>\r\nDATA\r\n');
      assert.deepEqual((await client.readReplies(3)).map((r) => r.code), [250, 250, 354]);
      client.send(`${'0123456789'.repeat(100)}\r\n`.repeat(100));
      let lines = 0;
      // The drip stops itself after its last line, so it needs no clean-up of its own.
      await new Promise<void>((resolve) => {
        const drip = setInterval(() => {
          if (lines++ < 25) client.send('a slow line\r\n');
          else {
            clearInterval(drip);
            resolve();
          }
        }, 100);
      });
      client.send('.\r\n');
      const reply = await client.readReply(5000);
      assert.equal(reply.code, 451, reply.raw);
      assert.match(reply.lines[0]!, /timed out/);
      assert.equal((await client.command('NOOP')).code, 250, 'the session goes on');
      const event = await relay.waitForEvent(isMail);
      assert.equal(event.outcome, 'temp-failed');
    });
  });

  it('refuses a body over maxMessageBytes with 552 after reading it, kills the command, and the next mail works', async () => {
    await withRelay({ options: { ...fast, maxMessageBytes: 10_000 } }, async (relay, open) => {
      const client = await open();
      assert.equal((await client.command('EHLO c')).code, 250);
      client.send('MAIL FROM:<s@x>\r\nRCPT TO:<r@y>\r\nDATA\r\n');
      assert.deepEqual((await client.readReplies(3)).map((r) => r.code), [250, 250, 354]);
      client.send(`Subject: big\r\n\r\n${'x'.repeat(98)}\r\n`.repeat(80));
      await waitUntil(() => relay.partials().some((p) => p.includes('Subject: big')), 5000, 'the first part to reach the command');
      client.send(`${'y'.repeat(98)}\r\n`.repeat(200));
      client.send('.\r\n');
      const tooBig = await client.readReply();
      assert.equal(tooBig.code, 552, tooBig.raw);
      const fits = await sendMail(client, 's@x', ['r@y'], 'Subject: small\r\n\r\nfits\r\n');
      assert.equal(fits.final?.code, 250);
      const recordings = relay.recordings();
      assert.equal(recordings.length, 1, 'only the mail that fits was delivered');
      assert.match(recordings[0]!.stdin.toString(), /Subject: small/);
      assert.equal(relay.partials().length, 1, 'the oversized one was killed before EOF');
      const [first] = relay.events.filter(isMail);
      assert.equal(first!.outcome, 'failed');
      assert.match(first!.reply, /^552 /);
    });
  });

  it('stops reading a client that pipelines commands but never reads the replies, and cuts it off', async () => {
    const relay = await startRelayHarness({ options: { ...fast, commandTimeoutMs: 500 } });
    const socket = connect({ host: '127.0.0.1', port: relay.port });
    socket.on('error', () => {});
    socket.pause(); // never reads a reply
    try {
      // EHLO: a long reply for a short command, so the kernel's socket buffers fill after fewer commands.
      const batch = Buffer.from('EHLO x\r\n'.repeat(10_000));
      const total = 32 * 1024 * 1024;
      for (let queued = 0; queued < total; queued += batch.length) socket.write(batch);
      const end = await relay.waitForEvent((e) => e.type === 'session-close', 15_000);
      assert.equal(end.type === 'session-close' && end.reason, 'idle-timeout');
      // Loopback socket buffers hold a few MiB; all the rest must still be waiting in the client.
      const taken = total - socket.writableLength;
      assert.ok(taken < total / 2, `the relay took ${(taken / 1048576).toFixed(1)} MiB of commands whose replies were never read`);
      await waitUntil(() => relay.relay.stats().activeSessions === 0, 2000, 'the slot to be free');
    } finally {
      socket.destroy();
      await relay.close();
    }
  });

  it('serves 16 sessions at once without a MaxListeners warning', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      await withRelay({ options: fast }, async (relay, open) => {
        for (let i = 0; i < 16; i++) await open();
        assert.equal(relay.relay.stats().activeSessions, 16);
        await new Promise((r) => setImmediate(r));
        assert.deepEqual(warnings, []);
      });
    } finally {
      process.off('warning', onWarning);
    }
  });
});
