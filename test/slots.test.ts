// Session slots under pressure: idle connections cannot lock everyone out, and stop() reaches sessions that were
// handed to the engine directly (inetd mode) as well as accepted ones.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemorySession } from './properties/memory-session';
import { connectSmtp, type SmtpTestClient } from './helpers/smtp-client';
import { startRelayHarness, type RelayHarness } from './helpers/relay-harness';
import { createRelay } from '../src-relay/index';

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
