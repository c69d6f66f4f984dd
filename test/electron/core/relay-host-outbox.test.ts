/**
 * RelayHost's outbox with real parts: the real engine on 127.0.0.1, the real key ring, the real msmtp sending to a
 * loopback SMTP sink. "Provider down" is the sink's port with nothing listening (msmtp: connection refused, exit 75);
 * the provider comes back by starting the sink on that very port.
 */
import assert from 'node:assert/strict';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GaveUpMail } from '../../../electron/outbox/app-outbox';
import { RelayHost } from '../../../electron/core/relay-host';
import { outboxLine, trayModel } from '../../../electron/tray/model';
import { createKeyringStore } from '../../../src-relay/index';
import { freePort } from '../../helpers/ports';
import { msmtpSettingsFor, tempDir, uniqueUser } from '../../helpers/app-env';
import { sendWithNodemailer as sendMail } from '../../helpers/mail';
import { writeMsmtprc, type TestMsmtprc } from '../../helpers/msmtprc';
import { startSink, type SinkOptions, type SmtpSink } from '../../helpers/smtp-sink';
import { waitUntil } from '../../helpers/wait';

const secrets = createKeyringStore();
const engineOptions = { stopGraceMs: 10_000, authFailureDelayMs: 0 };
/** Retries far apart: in these tests a kept mail goes out only when the test says so. */
const outboxTiming = { retryInitialMs: 10 * 60_000 };
const QUEUED = /^250 2\.0\.0 Queued as ([0-9A-F]{12}): .+; will retry$/;

describe('RelayHost outbox', { timeout: 90_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const users: string[] = [];
  const cleanups: (() => Promise<unknown> | void)[] = [];

  before(async () => {
    dir = await tempDir('host-outbox');
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await Promise.all(users.map((user) => secrets.delete(user).catch(() => false)));
    await dir.remove();
  });

  /** A host with its own outbox folder and msmtp pointed at a provider port where nothing listens yet. */
  async function setup(name: string) {
    const user = uniqueUser(name);
    users.push(user);
    const providerPort = await freePort();
    const msmtprc: TestMsmtprc = writeMsmtprc({ port: providerPort });
    cleanups.push(() => msmtprc.remove());
    const outboxDir = join(dir.path, name, 'outbox');
    const relay = new RelayHost({ secrets, engineOptions, outboxDir, outboxTiming });
    cleanups.push(() => relay.shutdown());
    const settings = msmtpSettingsFor(msmtprc.path, 0, user);
    const status = await relay.start(settings);
    assert.equal(status.state, 'running', status.error);
    const pass = (await secrets.get(user))!;
    const send = (to: string, subject: string) => sendMail(relay.status().port, { user, pass }, to, subject);
    const providerUp = async (options: Omit<SinkOptions, 'port'> = {}): Promise<SmtpSink> => {
      const sink = await startSink({ ...options, port: providerPort });
      cleanups.push(() => sink.close());
      return sink;
    };
    return { relay, settings, send, providerUp, outboxDir, user };
  }

  /** A relay that starts (a new engine too) tries every waiting mail at once: waits until that try is over. */
  async function triedAgain(relay: RelayHost, id: string, attempts: number): Promise<void> {
    await waitUntil(async () => (await relay.outboxView()).mails.some((mail) => mail.id === id && mail.state === 'waiting' && mail.attempts === attempts), 10_000, `mail ${id} back to waiting after attempt ${attempts}`);
    await relay.outboxSettled();
  }

  it('keeps a mail the provider cannot take, keeps it across an engine restart, and sends it on Retry once the provider is back', async () => {
    const { relay, settings, send, providerUp, outboxDir } = await setup('keep');
    const reply = await send('bob@example.net', 'Quarterly report');
    const id = QUEUED.exec(reply)?.[1];
    assert.ok(id, `a queued reply, got: ${reply}`);
    await waitUntil(() => relay.status().outbox?.waiting === 1, 5000, 'the waiting count');
    assert.deepEqual(relay.status().outbox, { waiting: 1, failed: 0, paused: false });
    assert.equal(relay.status().lastMail?.outcome, 'queued');
    assert.equal(relay.status().lastMail?.summary, 'to bob@example.net: kept in the outbox, will retry');
    assert.equal((await stat(outboxDir)).mode & 0o777, 0o700, 'the outbox folder is private');

    const [kept] = (await relay.outboxView()).mails;
    assert.equal(kept!.id, id);
    assert.equal(kept!.state, 'waiting');
    assert.equal(kept!.subject, 'Quarterly report');
    assert.deepEqual(kept!.to, ['bob@example.net']);
    assert.equal(kept!.attempts, 1);
    assert.ok(kept!.lastError.length > 0, 'why it waits');
    assert.ok(kept!.nextAttemptAt! > Date.now() + 5 * 60_000, 'the next turn is the back-off, not now');
    const lines = relay.recentLog().map((entry) => `${entry.kind}/${entry.level}: ${entry.message}`);
    assert.ok(lines.some((line) => line.startsWith('mail/') && line.includes(`Queued as ${id}`)), lines.join('\n'));

    // A settings change replaces the engine; the outbox (opened once by the host) stays and is not reread from zero.
    const port = await freePort();
    const moved = await relay.apply({ ...settings, port });
    assert.equal(moved.state, 'running', moved.error);
    assert.equal(moved.port, port);
    assert.deepEqual((await relay.outboxView()).mails.map((mail) => mail.id), [id]);
    await triedAgain(relay, id, 2);

    const sink = await providerUp();
    assert.equal(await relay.retryOutbox(null), 1);
    const [mail] = await sink.waitForMails(1, 15_000);
    assert.deepEqual(mail!.to, ['bob@example.net']);
    assert.match(mail!.raw.toString('latin1'), /^Subject: Quarterly report\r$/m);
    await waitUntil(() => relay.status().outbox?.waiting === 0, 5000, 'the waiting count to drop');
    const view = await relay.outboxView();
    assert.deepEqual(view.mails, []);
    assert.equal(view.sent[0]!.id, id);
    assert.equal(view.sent[0]!.attempts, 3);
    assert.equal(relay.status().mailsToday, 1);
    assert.equal(relay.status().lastMail?.summary, 'to bob@example.net: delivered from the outbox');
    assert.ok(relay.recentLog().some((entry) => entry.message === `[outbox ${id}] mail from ann@example.org to bob@example.net: sent on attempt 3`));
    assert.equal(sink.mails.length, 1, 'sent once');
    assert.deepEqual((await readdir(outboxDir)).filter((name) => name.startsWith(id)), [], 'nothing of it left in the spool');
  });

  it("a provider that answers 451 at the end of the mail: kept with msmtp's words, sent once it takes mail again", async () => {
    const { relay, send, providerUp } = await setup('busy');
    let busy = true;
    const sink = await providerUp({ dataReply: () => (busy ? { code: 451, message: 'Greylisted, try again later' } : null) });
    const id = QUEUED.exec(await send('grace@example.net', 'Minutes'))?.[1];
    assert.ok(id);
    const [kept] = (await relay.outboxView()).mails;
    assert.equal(kept!.id, id);
    assert.match(kept!.lastOutput, /server message: 451 Greylisted, try again later/, "msmtp's own words");
    assert.equal(sink.mails.length, 0);
    busy = false;
    await relay.retryOutbox(id);
    await sink.waitForMails(1, 15_000);
    assert.deepEqual(sink.mails[0]!.to, ['grace@example.net']);
  });

  it('keepUnsent off: new mail the provider cannot take gets 451, what was kept before is still sent when the network returns', async () => {
    const { relay, settings, send, providerUp } = await setup('off');
    const keptReply = await send('carol@example.net', 'kept before');
    const id = QUEUED.exec(keptReply)?.[1];
    assert.ok(id, keptReply);

    const off = await relay.apply({ ...settings, keepUnsent: false });
    assert.equal(off.state, 'running', off.error);
    assert.equal((await relay.outboxView()).keepUnsent, false);
    await assert.rejects(send('dave@example.net', 'refused now'), /451/);
    assert.deepEqual((await relay.outboxView()).mails.map((mail) => mail.id), [id], 'the refused mail was not kept');

    await triedAgain(relay, id, 2);
    const sink = await providerUp();
    relay.networkBack('online');
    const mails = await sink.waitForMails(1, 15_000);
    assert.deepEqual(mails.map((mail) => mail.to), [['carol@example.net']]);
    assert.ok(relay.recentLog().some((entry) => entry.message === 'the network is back: trying the waiting mail now'));
    await waitUntil(() => relay.status().outbox?.waiting === 0, 5000, 'the outbox to empty');

    // Paused, a new mail is kept even with keeping off: the user asked for nothing to go out.
    await relay.setSendingPaused(true);
    const paused = await send('erin@example.net', 'while paused');
    assert.match(paused, /^250 2\.0\.0 Queued as [0-9A-F]{12}: sending is paused; will retry$/);
    await waitUntil(() => relay.status().outbox?.waiting === 1, 5000, 'the paused mail counted');
    assert.equal(relay.status().outbox?.paused, true);
    assert.equal(outboxLine(relay.status()), '1 mail waiting to be sent (sending paused)');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(sink.mails.length, 1, 'nothing goes out while paused');
    await relay.setSendingPaused(false);
    await sink.waitForMails(2, 15_000);
    assert.deepEqual(sink.mails[1]!.to, ['erin@example.net']);
    await waitUntil(() => relay.status().outbox?.waiting === 0 && relay.status().outbox?.paused === false, 5000, 'resumed and sent');
    assert.equal(outboxLine(relay.status()), null, 'an empty outbox says nothing in the tray');
  });

  it('a kept mail the provider then refuses is given up: the hook hears it, the tray counts it, Delete removes it', async () => {
    const { relay, send, providerUp, outboxDir } = await setup('gaveup');
    const heard: GaveUpMail[] = [];
    relay.onMailGaveUp((mail) => heard.push(mail));
    const id = QUEUED.exec(await send('refused@example.net', 'Invoice <42>'))?.[1];
    assert.ok(id);
    await providerUp({ rejectRecipient: (address) => address === 'refused@example.net' });
    assert.equal(await relay.retryOutbox(id), 1);
    await waitUntil(() => heard.length === 1, 15_000, 'the gave-up hook');
    assert.equal(heard[0]!.id, id);
    assert.deepEqual(heard[0]!.to, ['refused@example.net']);
    assert.equal(heard[0]!.from, 'ann@example.org');
    assert.equal(heard[0]!.subject, 'Invoice <42>');
    assert.equal(heard[0]!.attempts, 2);
    assert.ok(heard[0]!.reason.length > 0, 'a reason to show');

    await waitUntil(() => relay.status().outbox?.failed === 1, 5000, 'the failed count');
    assert.equal(relay.status().outbox?.waiting, 0);
    assert.equal(relay.status().lastMail?.outcome, 'failed');
    const model = trayModel(relay.status());
    assert.ok(model.items.some((item) => item.kind === 'label' && item.label === '1 failed'), JSON.stringify(model.items));
    assert.equal(model.look, 'error', 'a mail given up needs the user');
    const [failed] = (await relay.outboxView()).mails;
    assert.equal(failed!.state, 'failed');
    assert.match(failed!.lastError, /.+/);

    assert.equal(await relay.removeFromOutbox(id), true);
    assert.equal(await relay.removeFromOutbox(id), false, 'gone already');
    assert.deepEqual((await relay.outboxView()).mails, []);
    assert.deepEqual((await readdir(outboxDir)).filter((name) => name.startsWith(id)), []);
    await waitUntil(() => relay.status().outbox?.failed === 0, 5000, 'the failed count to drop');
    assert.ok(relay.recentLog().some((entry) => entry.message.endsWith('removed from the outbox')));
  });

  it('an outbox folder that cannot be used is a notice; mail that cannot go out gets 451 as without an outbox', async () => {
    const user = uniqueUser('nofolder');
    users.push(user);
    const blocker = join(dir.path, 'a-file');
    await writeFile(blocker, '');
    const msmtprc = writeMsmtprc({ port: await freePort() });
    cleanups.push(() => msmtprc.remove());
    const relay = new RelayHost({ secrets, engineOptions, outboxDir: join(blocker, 'outbox') });
    cleanups.push(() => relay.shutdown());
    const status = await relay.start(msmtpSettingsFor(msmtprc.path, 0, user));
    assert.equal(status.state, 'running', status.error);
    assert.match(status.notices.join('\n'), /The outbox folder .*a-file\/outbox cannot be used \(ENOTDIR\)/);
    const view = await relay.outboxView();
    assert.equal(view.available, false);
    assert.match(view.error!, /ENOTDIR/);
    await assert.rejects(sendMail(status.port, { user, pass: (await secrets.get(user))! }, 'bob@example.net'), /451/);
  });
});
