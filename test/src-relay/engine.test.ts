// The engine as a whole (server.ts): createRelay on 127.0.0.1:0, real sockets, a real child process as the command;
// start and stop, inetd-style sessions, session slots under pressure (idle eviction, connection storms, slow clients).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createRelay, type RelayEvent } from '../../src-relay/index';
import { MemorySession } from '../helpers/relay/memory-session';
import { faultyRelayForSuite } from '../helpers/relay/faulty-relay';
import { hangCommand } from '../helpers/programs/fixture-commands';
import { bigBody, dataBlock, healthyMail, mailTo, sendMail } from '../helpers/smtp/mail';
import { recordCommand, startRelayHarness, withRelay, type RelayHarness } from '../helpers/relay/relay-harness';
import { startRelayProcess, type RelayProcess } from '../helpers/relay/relay-process';
import { connectSmtp, type SmtpTestClient } from '../helpers/smtp/smtp-client';
import { settle, waitUntil } from '../helpers/wait';
import { loadRounds } from '../stress/load-rounds';

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

describe('idle eviction when every slot is taken', () => {
  let harness: RelayHarness;
  const clients: SmtpTestClient[] = [];
  after(async () => {
    for (const client of clients) client.destroy();
    await harness?.close();
  });

  it('gives the slot of the longest-idle session to a newcomer, but never one that is busy or idle only briefly', { timeout: 20_000 }, async () => {
    harness = await startRelayHarness({ options: { maxSessions: 3, evictIdleAfterMs: 400, commandTimeoutMs: 60_000 } });
    // Three idle sessions fill the relay, the first one idle the longest.
    for (let i = 0; i < 3; i += 1) {
      const client = await connectSmtp(harness.port);
      assert.equal(client.greeting?.code, 220);
      assert.equal((await client.command(`EHLO idle${i}`)).code, 250);
      clients.push(client);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Nobody has been idle long enough yet: the fourth is refused at once, as before.
    const early = await connectSmtp(harness.port);
    assert.equal(early.greeting?.code, 421);
    early.destroy();

    await new Promise((resolve) => setTimeout(resolve, 500));
    const newcomer = await connectSmtp(harness.port);
    clients.push(newcomer);
    assert.equal(newcomer.greeting?.code, 220, 'the newcomer is served');
    const evicted = clients[0]!;
    const last = await evicted.readReply(2000);
    assert.equal(last.code, 421);
    assert.match(last.raw, /Idle while other clients wait/);
    await evicted.expectClosed(2000);
    assert.equal((await clients[1]!.command('NOOP')).code, 250, 'the others keep their sessions');
    assert.equal((await clients[2]!.command('NOOP')).code, 250);
    const opened = harness.events.filter((event) => event.type === 'session-open').map((event) => event.session);
    const closed = await harness.waitForEvent((event) => event.type === 'session-close' && event.reason === 'evicted');
    assert.equal(closed.type === 'session-close' && closed.session, opened[0], 'the evicted session is the first one opened');

    // The newcomer sends a mail in its slot.
    await newcomer.command('EHLO newcomer');
    assert.equal((await newcomer.command('MAIL FROM:<a@example.org>')).code, 250);
    assert.equal((await newcomer.command('RCPT TO:<b@example.org>')).code, 250);
    assert.equal((await newcomer.command('DATA')).code, 354);
    assert.equal((await newcomer.command('Subject: evicted for me\r\n\r\nhi\r\n.')).code, 250);
    assert.equal(harness.recordings().length, 1);
  });
});

describe('idle eviction passes over a busy session', () => {
  let harness: RelayHarness;
  const clients: SmtpTestClient[] = [];
  after(async () => {
    for (const client of clients) client.destroy();
    await harness?.close();
  });

  it('evicts the next-idlest idle session when the quietest-looking one is in the middle of DATA', { timeout: 20_000 }, async () => {
    harness = await startRelayHarness({ options: { maxSessions: 3, evictIdleAfterMs: 400, commandTimeoutMs: 60_000, dataTimeoutMs: 60_000 } });
    // The first session has been connected, and silent, the longest; but it is inside DATA, so it is not idle.
    const busy = await connectSmtp(harness.port);
    clients.push(busy);
    assert.equal((await busy.command('EHLO busy')).code, 250);
    assert.equal((await busy.command('MAIL FROM:<a@example.org>')).code, 250);
    assert.equal((await busy.command('RCPT TO:<b@example.org>')).code, 250);
    assert.equal((await busy.command('DATA')).code, 354);
    busy.send('Subject: half a mail\r\n\r\nfirst part\r\n');
    for (let i = 0; i < 2; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const client = await connectSmtp(harness.port);
      clients.push(client);
      assert.equal((await client.command(`EHLO idle${i}`)).code, 250);
    }
    const opened = harness.events.filter((event) => event.type === 'session-open').map((event) => event.session);
    assert.equal(opened.length, 3);

    await new Promise((resolve) => setTimeout(resolve, 500));
    const newcomer = await connectSmtp(harness.port);
    clients.push(newcomer);
    assert.equal(newcomer.greeting?.code, 220, 'the newcomer is served');
    const [, idlest, younger] = clients;
    const last = await idlest!.readReply(2000);
    assert.equal(last.code, 421, 'the idle session that waited longest makes room');
    assert.match(last.raw, /Idle while other clients wait/);
    await idlest!.expectClosed(2000);
    const closed = await harness.waitForEvent((event) => event.type === 'session-close' && event.reason === 'evicted');
    assert.equal(closed.type === 'session-close' && closed.session, opened[1], 'the evicted session is the second one opened');

    // The busy session was left alone: its mail completes and is delivered whole.
    assert.equal((await busy.command('second part\r\n.')).code, 250);
    assert.equal(harness.recordings().length, 1);
    assert.match(harness.recordings()[0]!.stdin.toString('latin1'), /first part\r?\nsecond part/);
    assert.equal((await younger!.command('NOOP')).code, 250, 'the younger idle session keeps its slot');
    assert.equal(harness.events.filter((event) => event.type === 'session-close' && event.reason === 'evicted').length, 1, 'one eviction only');
  });
});

describe('stop() with sessions handed to handleConnection', () => {
  it('closes an idle inetd-style session with 421 and resolves', { timeout: 10_000 }, async () => {
    const relay = createRelay({ command: ['/bin/true'], stopGraceMs: 5000 });
    const session = new MemorySession(relay, 'inetd');
    session.send('EHLO x\r\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await relay.stop();
    assert.equal(await session.ended, 'shutdown');
    assert.ok(Date.now() - started < 2000, `stop() took ${Date.now() - started} ms`);
    assert.match(session.raw, /^220 .*\r\n250-localhost\r\n(250-.*\r\n)*250 HELP\r\n421 4\.3\.2 Service shutting down/);
  });
});

// Connection storms against the default limit of 16 sessions, with the relay in its own process so its open file
// descriptors can be counted. msmtpd leaked slots here until it served nobody (reference section 0.4).
describe('connection storms, the relay in its own process', () => {
  let relay: RelayProcess;

  before(async () => {
    relay = await startRelayProcess({ options: { maxSessions: 16, commandTimeoutMs: 1500, dataTimeoutMs: 1500 }, quiet: true });
  });

  after(async () => {
    await relay?.stop();
  });

  it('200 connections at once, 10 rounds: 16 served, 184 refused with 421 at once, every slot free after each round', { timeout: 90_000 }, async (t) => {
    const result = await loadRounds({ connections: 200, rounds: 10, midData: 4, roundTimeoutMs: 10_000, fdSlack: 2, relay });
    for (const [round, figures] of result.perRound.entries()) {
      const { closeHow } = figures;
      assert.equal(figures.greeted, 16, `round ${round} (${closeHow}): sessions served`);
      assert.equal(figures.refused, 184, `round ${round} (${closeHow}): 421s`);
      assert.equal(figures.other, 0);
      // Over 1 s would mean SYNs were dropped and retried by TCP (a listen backlog smaller than the burst).
      assert.ok(figures.maxRefusalMs < 900, `round ${round}: slowest 421 after ${figures.maxRefusalMs} ms`);
      if (closeHow === 'idle') assert.equal(figures.idleClosed, 16, 'idle sessions closed by the server with 421');
      assert.equal(figures.activeAfter, 0, `round ${round} (${closeHow}): slots still taken`);
      t.diagnostic(`round ${round} (${closeHow}): 16 served, 184 refused, slowest 421 ${figures.maxRefusalMs} ms, slots free`);
    }
    assert.equal(result.statsAfterRounds.refusedSessions, 1840);
    assert.equal(result.statsAfterRounds.mailsAborted, 40, 'the 4 mails cut off per round were counted as aborted');
    assert.equal(result.recordedAfterRounds, 0, 'no cut-off mail was delivered');

    assert.deepEqual(result.fullHouseCodes, Array(16).fill(250));
    assert.equal(result.seventeenthGreeting, 421, 'a 17th session is refused while 16 are open');
    assert.equal(relay.recordings().length, 16);
    const { fdsStart, fdsEnd } = result;
    assert.ok(fdsEnd <= fdsStart + 2, `relay holds ${fdsEnd} fds, ${fdsStart} at start`);
    t.diagnostic(`relay fds: ${fdsStart} at start, ${fdsEnd} after 2000 connections`);
  });

  it('16 slow-loris clients (a byte every 100 ms) hold the slots only until commandTimeoutMs, then a real mail gets through', { timeout: 30_000 }, async () => {
    await settle(() => relay.stats(), (s) => s.activeSessions === 0, 5000);
    const line = Buffer.from('EHLO slow-loris.example.org-with-a-name-long-enough-to-take-seconds\r\n');
    const clients: SmtpTestClient[] = await Promise.all(Array.from({ length: 16 }, () => connectSmtp(relay.port)));
    const started = Date.now();
    let sent = 0;
    const drip = setInterval(() => {
      sent += 1;
      for (const client of clients) if (!client.isClosed && sent < line.length) client.send(line.subarray(sent - 1, sent));
    }, 100);
    try {
      assert.deepEqual(clients.map((c) => c.greeting?.code), Array(16).fill(220));
      const locked = await connectSmtp(relay.port);
      assert.equal(locked.greeting?.code, 421, 'all slots taken by the slow clients');
      locked.destroy();
      const replies = await Promise.all(clients.map((client) => client.readReply(8000)));
      const took = Date.now() - started;
      assert.deepEqual(replies.map((r) => r.code), Array(16).fill(421));
      assert.ok(took >= 1000 && took < 6000, `cut off after ${took} ms (commandTimeoutMs 1500), bytes still arriving`);
      assert.ok(sent < line.length, 'no line was ever completed');
    } finally {
      clearInterval(drip);
      for (const client of clients) client.destroy();
    }
    await settle(() => relay.stats(), (s) => s.activeSessions === 0, 5000);
    const { client, reply } = await mailTo(relay.port, 'after-loris@hard.test', bigBody(1000));
    client.destroy();
    assert.equal(reply.code, 250);
  });
});

describe('a second relay on a taken port', () => {
  const faults = faultyRelayForSuite();

  it('refuses to start on a port already taken (EADDRINUSE) and the relay holding it keeps serving', { timeout: 20_000 }, async () => {
    const second = createRelay({ host: '127.0.0.1', port: faults.harness.port, command: ['/bin/true'] });
    await assert.rejects(second.start(), (error: NodeJS.ErrnoException) => error.code === 'EADDRINUSE');
    assert.equal(second.running, false);
    const healthy = healthyMail(faults.harness.port);
    await healthy.done;
    healthy.check(faults.recordings());
    const client = await connectSmtp(faults.harness.port);
    assert.equal(client.greeting?.code, 220);
    client.destroy();
  });
});
