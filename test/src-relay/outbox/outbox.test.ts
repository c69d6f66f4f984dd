import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Outbox } from '../../../src-relay/outbox/outbox';
import { startOutboxRelay, submitMail, queueIdOf } from '../../helpers/relay/outbox-relay';
import { connectSmtp } from '../../helpers/smtp/smtp-client';
import { startSink } from '../../helpers/smtp/smtp-sink';
import { waitUntil } from '../../helpers/wait';

const temp = mkdtempSync(join(tmpdir(), 'outbox-test-'));
after(() => rmSync(temp, { recursive: true, force: true }));

const mode = (path: string) => statSync(path).mode & 0o777;
const spoolFiles = (dir: string) => readdirSync(dir).filter((name) => /^[0-9A-F]{12}\./.test(name)).sort();

describe('outbox: provider down, then back', () => {
  it('keeps a mail when msmtp cannot connect, answers 250 Queued, and sends it once the provider is back', async () => {
    const relay = await startOutboxRelay({ outbox: { retryInitialMs: 60_000 } });
    try {
      const reply = await submitMail(relay.port, { to: 'someone@outbox.test', body: 'Subject: kept one\n\nwaits for the provider' });
      assert.equal(reply.code, 250);
      assert.match(reply.raw, /^250 2\.0\.0 Queued as [0-9A-F]{12}: .+; will retry\r\n$/);
      const id = queueIdOf(reply);

      // Durable and private: the mail and its record, 0600 in a 0700 folder.
      assert.deepEqual(spoolFiles(relay.spool), [`${id}.eml`, `${id}.json`]);
      assert.equal(mode(relay.spool), 0o700);
      assert.equal(mode(join(relay.spool, `${id}.eml`)), 0o600);
      assert.equal(mode(join(relay.spool, `${id}.json`)), 0o600);
      const record = JSON.parse(readFileSync(join(relay.spool, `${id}.json`), 'utf8')) as { attempts: number; subject: string; to: string[]; lastOutput: string };
      assert.equal(record.attempts, 1);
      assert.equal(record.subject, 'kept one');
      assert.deepEqual(record.to, ['someone@outbox.test']);
      assert.match(record.lastOutput, /cannot connect|Connection refused/i, 'msmtp\'s own words are kept');
      const [entry] = await relay.outbox.list();
      assert.equal(entry?.state, 'waiting');
      assert.ok(entry.nextAttemptAt! > Date.now() + 30_000, 'the next try follows the back-off');

      const queued = await relay.waitForEvent((event) => event.type === 'mail' && event.outcome === 'queued');
      assert.equal(queued.type === 'mail' && queued.queueId, id);

      const sink = await startSink({ port: relay.providerPort });
      try {
        relay.outbox.retryNow();
        const [mail] = await sink.waitForMails(1, 10_000);
        const text = mail!.raw.toString('latin1');
        assert.deepEqual(mail!.to, ['someone@outbox.test']);
        assert.match(text, /^Message-ID: <[0-9A-F]{12}\.[0-9a-z]+@localhost>\r\n/, 'a mail without Message-ID gets one when it is kept');
        assert.match(text, /\r\nReceived: from outbox\.test /);
        assert.match(text, /\r\n\r\nwaits for the provider\r\n$/);
        await relay.waitForEvent((event) => event.type === 'outbox' && event.action === 'sent' && event.id === id);
        assert.deepEqual(spoolFiles(relay.spool), [], 'a sent mail leaves the spool');
        assert.equal((await relay.outbox.list()).length, 0);
        assert.equal(relay.outbox.recentlySent()[0]?.subject, 'kept one');
      } finally {
        await sink.close();
      }
    } finally {
      await relay.close();
    }
  });

  it('retries by itself on the back-off, keeps a Message-ID the mail already had, and sends it only once', async () => {
    const relay = await startOutboxRelay({ outbox: { retryInitialMs: 300, retryMaxMs: 600 } });
    try {
      const reply = await submitMail(relay.port, { to: 'a@outbox.test', body: 'Message-ID: <own@client.test>\nSubject: own id\n\nbody' });
      const id = queueIdOf(reply);
      // Two more tries fail on the back-off while the provider is down...
      await relay.waitForEvent((event) => event.type === 'outbox' && event.action === 'waiting' && event.attempts >= 2, 5000);
      const sink = await startSink({ port: relay.providerPort });
      try {
        // ...and the next one, with nobody asking, goes out.
        const [mail] = await sink.waitForMails(1, 5000);
        const text = mail!.raw.toString('latin1');
        assert.equal(text.match(/^Message-ID:/gim)?.length, 1, 'no second Message-ID');
        assert.match(text, /Message-ID: <own@client\.test>/);
        await relay.waitForEvent((event) => event.type === 'outbox' && event.action === 'sent' && event.id === id);
        await new Promise((resolve) => setTimeout(resolve, 800));
        assert.equal(sink.mails.length, 1, 'sent exactly once');
      } finally {
        await sink.close();
      }
    } finally {
      await relay.close();
    }
  });

  it('sends what waits at once when another mail gets through (the network is back)', async () => {
    const relay = await startOutboxRelay({ outbox: { retryInitialMs: 600_000 } });
    try {
      const id = queueIdOf(await submitMail(relay.port, { to: 'first@outbox.test', body: 'Subject: first\n\nwaiting' }));
      const sink = await startSink({ port: relay.providerPort });
      try {
        const direct = await submitMail(relay.port, { to: 'second@outbox.test', body: 'Subject: second\n\ndirect' });
        assert.equal(direct.code, 250);
        assert.match(direct.raw, /mail was piped/);
        await sink.waitForMails(2, 10_000);
        await relay.waitForEvent((event) => event.type === 'outbox' && event.action === 'sent' && event.id === id);
        assert.deepEqual(sink.mails.map((mail) => mail.to[0]).sort(), ['first@outbox.test', 'second@outbox.test']);
      } finally {
        await sink.close();
      }
    } finally {
      await relay.close();
    }
  });
});

describe('outbox: what is not kept', () => {
  it('a permanent refusal (550 at RCPT) still reaches the client as 5xx and nothing is kept', async () => {
    const sink = await startSink({ rejectRecipient: (address) => address.startsWith('nobody') });
    const relay = await startOutboxRelay({ providerPort: sink.port });
    try {
      const reply = await submitMail(relay.port, { to: 'nobody@outbox.test', body: 'Subject: x\n\nx' });
      assert.equal(reply.code >= 500 && reply.code < 600, true, reply.raw);
      assert.deepEqual(spoolFiles(relay.spool), []);
    } finally {
      await relay.close();
      await sink.close();
    }
  });

  it('a 451 or a 421 at RCPT is kept and answered 250, with the provider\'s words kept', async () => {
    const sink = await startSink({ recipientReply: (address) => (address.startsWith('later451') ? 451 : address.startsWith('later421') ? 421 : null) });
    const relay = await startOutboxRelay({ providerPort: sink.port });
    try {
      for (const code of [451, 421]) {
        const reply = await submitMail(relay.port, { to: `later${code}@outbox.test`, body: 'Subject: x\n\nx' });
        assert.match(reply.raw, /Queued as [0-9A-F]{12}: recipient deferred by the mail server; will retry/);
      }
      const kept = await relay.outbox.list();
      assert.equal(kept.length, 2);
      assert.match(kept[0]!.lastOutput, /server message: 451/);
      assert.match(kept[1]!.lastOutput, /server message: 421/);
    } finally {
      await relay.close();
      await sink.close();
    }
  });

  it('a client that leaves mid-DATA leaves nothing in the outbox', async () => {
    const relay = await startOutboxRelay();
    try {
      const client = await connectSmtp(relay.port);
      client.send('EHLO outbox.test\r\nMAIL FROM:<s@outbox.test>\r\nRCPT TO:<r@outbox.test>\r\nDATA\r\n');
      await client.readReplies(4);
      client.send('Subject: half\r\n\r\nonly the first half');
      await new Promise((resolve) => setTimeout(resolve, 200));
      client.destroy();
      await relay.waitForEvent((event) => event.type === 'mail' && event.outcome === 'aborted');
      assert.deepEqual(spoolFiles(relay.spool), []);
      assert.deepEqual(readdirSync(join(relay.spool, 'tmp')), []);
    } finally {
      await relay.close();
    }
  });
});

describe('outbox: lifetime, pause, delete', () => {
  it('gives a mail up after its lifetime and moves it to the failed list, never deleting it', async () => {
    const relay = await startOutboxRelay({ outbox: { retryInitialMs: 100, retryMaxMs: 100, lifetimeMs: 400 } });
    try {
      const id = queueIdOf(await submitMail(relay.port, { to: 'late@outbox.test', body: 'Subject: too late\n\nx' }));
      const gaveUp = await relay.waitForEvent((event) => event.type === 'outbox' && event.action === 'gave-up', 5000);
      assert.equal(gaveUp.type === 'outbox' && gaveUp.id, id);
      assert.match(gaveUp.type === 'outbox' ? gaveUp.reason ?? '' : '', /not sent within/);
      const [entry] = await relay.outbox.list();
      assert.equal(entry?.state, 'failed');
      assert.equal(entry.nextAttemptAt, null);
      assert.deepEqual(spoolFiles(relay.spool), [`${id}.eml`, `${id}.json`], 'still on disk');
      assert.equal(await relay.outbox.remove(id), true);
      assert.deepEqual(spoolFiles(relay.spool), []);
      assert.equal(await relay.outbox.remove(id), false, 'a second delete finds nothing');
    } finally {
      await relay.close();
    }
  });

  it('while paused, every new mail is kept without a try; resuming sends it', async () => {
    const sink = await startSink();
    const relay = await startOutboxRelay({ providerPort: sink.port });
    try {
      await relay.outbox.setPaused(true);
      const reply = await submitMail(relay.port, { to: 'paused@outbox.test', body: 'Subject: paused\n\nx' });
      assert.match(reply.raw, /Queued as [0-9A-F]{12}: sending is paused; will retry/);
      relay.outbox.retryNow(); // a Retry now (or a network return) while paused sends nothing either
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(sink.mails.length, 0, 'no try while paused');
      assert.deepEqual(relay.events.filter((event) => event.type === 'outbox' && event.action !== 'removed'), [], 'no try while paused');
      const reopened = await Outbox.open({ dir: relay.spool });
      assert.equal(reopened.isPaused, true, 'the pause is kept on disk');
      await reopened.close();
      await relay.outbox.setPaused(false);
      await sink.waitForMails(1, 10_000);
    } finally {
      await relay.close();
      await sink.close();
    }
  });
});

describe('outbox: two relays on one spool', () => {
  it('never both send the same mail', async () => {
    const spool = join(temp, 'shared-spool');
    const first = await startOutboxRelay({ spool, outbox: { retryInitialMs: 600_000 } });
    const count = 20;
    let second: Awaited<ReturnType<typeof startOutboxRelay>> | null = null;
    try {
      for (let i = 0; i < count; i++) queueIdOf(await submitMail(first.port, { to: `shared${i}@outbox.test`, body: `Subject: shared ${i}\n\nx` }));
      // A slow provider, so that both relays are busy at once and both have to take mails from the same spool.
      const sink = await startSink({ port: first.providerPort, acceptDelayMs: 100 });
      try {
        second = await startOutboxRelay({ spool, providerPort: first.providerPort, outbox: { retryInitialMs: 600_000 } });
        first.outbox.retryNow();
        second.outbox.retryNow();
        await sink.waitForMails(count, 20_000);
        await waitUntil(async () => (await first.outbox.list()).length === 0, 10_000, 'the spool to empty');
        await new Promise((resolve) => setTimeout(resolve, 500));
        const recipients = sink.mails.map((mail) => mail.to[0]!);
        assert.equal(recipients.length, count, `each mail once; got ${recipients.length}`);
        assert.equal(new Set(recipients).size, count);
        const sentBy = (relay: typeof first) => relay.events.filter((event) => event.type === 'outbox' && event.action === 'sent').length;
        assert.equal(sentBy(first) + sentBy(second), count);
        assert.ok(sentBy(first) > 0 && sentBy(second) > 0, `both relays sent: ${sentBy(first)} and ${sentBy(second)}`);
      } finally {
        await sink.close();
      }
    } finally {
      await first.close();
      await second?.close();
    }
  });
});

describe('outbox: offline (msmtp in a private network namespace)', () => {
  it('keeps the mail while offline and sends it when a relay with the network starts on the spool', async () => {
    const spool = join(temp, 'offline-spool');
    const sink = await startSink();
    const offline = await startOutboxRelay({ spool, providerPort: sink.port, commandPrefix: ['unshare', '-n'] });
    try {
      const reply = await submitMail(offline.port, { to: 'offline@outbox.test', body: 'Subject: offline\n\nx' });
      queueIdOf(reply);
      const [entry] = await offline.outbox.list();
      assert.match(entry!.lastOutput, /unreachable|cannot connect/i);
      assert.equal(sink.mails.length, 0);
    } finally {
      await offline.close();
    }
    const online = await startOutboxRelay({ spool, providerPort: sink.port });
    try {
      await sink.waitForMails(1, 10_000);
      assert.equal(sink.mails[0]!.to[0], 'offline@outbox.test');
    } finally {
      await online.close();
      await sink.close();
    }
  });
});

describe('outbox: the disk is full', () => {
  it('answers 451 when the mail cannot be kept, leaves nothing half-written, and a restart picks up what was kept', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('mounting a small tmpfs needs root (CI runs as root)');
    const mountPoint = mkdtempSync(join(tmpdir(), 'outbox-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', mountPoint]);
    try {
      const spool = join(mountPoint, 'spool');
      const relay = await startOutboxRelay({ spool });
      let keptId: string;
      try {
        keptId = queueIdOf(await submitMail(relay.port, { to: 'small@outbox.test', body: 'Subject: small\n\nfits' }));
        // Bigger than what is left: msmtp fails (provider down), and keeping it fails too.
        // Two sizes: one kept in memory until it is written, one that moves to a spool file while it arrives.
        for (const lines of [600, 1500]) {
          const big = `Subject: big\n\n${`${'x'.repeat(998)}\n`.repeat(lines)}`;
          const reply = await submitMail(relay.port, { to: `big${lines}@outbox.test`, body: big });
          assert.equal(reply.code, 451, reply.raw);
          assert.match(reply.raw, /Could not send the mail now nor keep it for later \(ENOSPC\); try again later/);
        }
        assert.equal(relay.events.filter((event) => event.type === 'outbox' && event.action === 'storage-error').length, 2);
        assert.deepEqual(spoolFiles(spool), [`${keptId}.eml`, `${keptId}.json`], 'nothing of the big mail stays behind');
        assert.deepEqual(readdirSync(join(spool, 'tmp')), []);
        // The disk is still usable for what fits.
        queueIdOf(await submitMail(relay.port, { to: 'small2@outbox.test', body: 'Subject: small 2\n\nfits too' }));
      } finally {
        await relay.close();
      }
      const sink = await startSink();
      const restarted = await startOutboxRelay({ spool, providerPort: sink.port });
      try {
        const mails = await sink.waitForMails(2, 10_000);
        assert.deepEqual(mails.map((mail) => mail.to[0]).sort(), ['small2@outbox.test', 'small@outbox.test']);
        await waitUntil(() => spoolFiles(spool).length === 0, 5000, 'the spool to empty');
      } finally {
        await restarted.close();
        await sink.close();
      }
    } finally {
      execFileSync('umount', [mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    }
  });
});
