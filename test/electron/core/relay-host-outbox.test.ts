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
import { outboxLine, trayModel } from '../../../electron/tray/model';
import { createKeyringStore } from '../../../src-relay/index';
import { freePort } from '../../helpers/ports';
import { msmtpSettingsFor, tempDir, uniqueUser } from '../../helpers/app/app-env';
import { sendWithNodemailer as sendMail } from '../../helpers/smtp/mail';
import { writeMsmtprc, type TestMsmtprc } from '../../helpers/programs/msmtprc';
import { startSink, type SinkOptions, type SmtpSink } from '../../helpers/smtp/smtp-sink';
import { waitUntil } from '../../helpers/wait';
import { createAppCore, type AppCore } from '../../../electron/core/app-core';
import { UNSET_SETTINGS, startWith, applyWith, pausedView } from '../../helpers/app/app-core';

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
    const core = createAppCore({ settings: UNSET_SETTINGS, secrets, engineOptions, outboxDir, outboxTiming });
    cleanups.push(() => core.relay.shutdown());
    const settings = msmtpSettingsFor(msmtprc.path, 0, user);
    const status = await startWith(core, settings);
    assert.equal(status.state, 'running', status.error);
    const pass = (await secrets.get(user))!;
    const send = (to: string, subject: string) => sendMail(core.status.current().port, { user, pass }, to, subject);
    const providerUp = async (options: Omit<SinkOptions, 'port'> = {}): Promise<SmtpSink> => {
      const sink = await startSink({ ...options, port: providerPort });
      cleanups.push(() => sink.close());
      return sink;
    };
    return { core, settings, send, providerUp, outboxDir, user };
  }

  /** A relay that starts (a new engine too) tries every waiting mail at once: waits until that try is over. */
  async function triedAgain(core: AppCore, id: string, attempts: number): Promise<void> {
    await waitUntil(async () => (await core.outbox!.view()).mails.some((mail) => mail.id === id && mail.state === 'waiting' && mail.attempts === attempts), 10_000, `mail ${id} back to waiting after attempt ${attempts}`);
    await core.outbox!.settled();
  }

  it('keeps a mail the provider cannot take, keeps it across an engine restart, and sends it on Retry once the provider is back', async () => {
    const { core, settings, send, providerUp, outboxDir } = await setup('keep');
    const reply = await send('bob@example.net', 'Quarterly report');
    const id = QUEUED.exec(reply)?.[1];
    assert.ok(id, `a queued reply, got: ${reply}`);
    await waitUntil(() => core.status.current().outbox?.waiting === 1, 5000, 'the waiting count');
    assert.deepEqual(core.status.current().outbox, { waiting: 1, failed: 0, paused: false });
    assert.equal(core.status.current().lastMail?.outcome, 'queued');
    assert.equal(core.status.current().lastMail?.summary, 'to bob@example.net: kept in the outbox, will retry');
    assert.equal((await stat(outboxDir)).mode & 0o777, 0o700, 'the outbox folder is private');

    const [kept] = (await core.outbox!.view()).mails;
    assert.equal(kept!.id, id);
    assert.equal(kept!.state, 'waiting');
    assert.equal(kept!.subject, 'Quarterly report');
    assert.deepEqual(kept!.to, ['bob@example.net']);
    assert.equal(kept!.attempts, 1);
    assert.ok(kept!.lastError.length > 0, 'why it waits');
    assert.ok(kept!.nextAttemptAt! > Date.now() + 5 * 60_000, 'the next turn is the back-off, not now');
    const lines = core.log.recent().map((entry) => `${entry.kind}/${entry.level}: ${entry.message}`);
    assert.ok(lines.some((line) => line.startsWith('mail/') && line.includes(`Queued as ${id}`)), lines.join('\n'));

    // A settings change replaces the engine; the outbox (opened once by the host) stays and is not reread from zero.
    const port = await freePort();
    const moved = await applyWith(core, { ...settings, port });
    assert.equal(moved.state, 'running', moved.error);
    assert.equal(moved.port, port);
    assert.deepEqual((await core.outbox!.view()).mails.map((mail) => mail.id), [id]);
    await triedAgain(core, id, 2);

    const sink = await providerUp();
    assert.equal(await core.outbox!.retry(null), 1);
    const [mail] = await sink.waitForMails(1, 15_000);
    assert.deepEqual(mail!.to, ['bob@example.net']);
    assert.match(mail!.raw.toString('latin1'), /^Subject: Quarterly report\r$/m);
    await waitUntil(() => core.status.current().outbox?.waiting === 0, 5000, 'the waiting count to drop');
    const view = await core.outbox!.view();
    assert.deepEqual(view.mails, []);
    assert.equal(view.sent[0]!.id, id);
    assert.equal(view.sent[0]!.attempts, 3);
    assert.equal(core.status.current().mailsToday, 1);
    assert.equal(core.status.current().lastMail?.summary, 'to bob@example.net: delivered from the outbox');
    assert.ok(core.log.recent().some((entry) => entry.message === `[outbox ${id}] mail from ann@example.org to bob@example.net: sent on attempt 3`));
    assert.equal(sink.mails.length, 1, 'sent once');
    assert.deepEqual((await readdir(outboxDir)).filter((name) => name.startsWith(id)), [], 'nothing of it left in the spool');
  });

  it("a provider that answers 451 at the end of the mail: kept with msmtp's words, sent once it takes mail again", async () => {
    const { core, send, providerUp } = await setup('busy');
    let busy = true;
    const sink = await providerUp({ dataReply: () => (busy ? { code: 451, message: 'Greylisted, try again later' } : null) });
    const id = QUEUED.exec(await send('grace@example.net', 'Minutes'))?.[1];
    assert.ok(id);
    const [kept] = (await core.outbox!.view()).mails;
    assert.equal(kept!.id, id);
    assert.match(kept!.lastOutput, /server message: 451 Greylisted, try again later/, "msmtp's own words");
    assert.equal(sink.mails.length, 0);
    busy = false;
    await core.outbox!.retry(id);
    await sink.waitForMails(1, 15_000);
    assert.deepEqual(sink.mails[0]!.to, ['grace@example.net']);
  });

  it('keepUnsent off: new mail the provider cannot take gets 451, what was kept before is still sent when the network returns', async () => {
    const { core, settings, send, providerUp } = await setup('off');
    const keptReply = await send('carol@example.net', 'kept before');
    const id = QUEUED.exec(keptReply)?.[1];
    assert.ok(id, keptReply);

    const off = await applyWith(core, { ...settings, keepUnsent: false });
    assert.equal(off.state, 'running', off.error);
    assert.equal((await core.outbox!.view()).keepUnsent, false);
    await assert.rejects(send('dave@example.net', 'refused now'), /451/);
    assert.deepEqual((await core.outbox!.view()).mails.map((mail) => mail.id), [id], 'the refused mail was not kept');

    await triedAgain(core, id, 2);
    const sink = await providerUp();
    core.networkBack('online');
    const mails = await sink.waitForMails(1, 15_000);
    assert.deepEqual(mails.map((mail) => mail.to), [['carol@example.net']]);
    assert.ok(core.log.recent().some((entry) => entry.message === 'the network is back: trying the waiting mail now'));
    await waitUntil(() => core.status.current().outbox?.waiting === 0, 5000, 'the outbox to empty');

    // Paused, a new mail is kept even with keeping off: the user asked for nothing to go out.
    await pausedView(core, true);
    const paused = await send('erin@example.net', 'while paused');
    assert.match(paused, /^250 2\.0\.0 Queued as [0-9A-F]{12}: sending is paused; will retry$/);
    await waitUntil(() => core.status.current().outbox?.waiting === 1, 5000, 'the paused mail counted');
    assert.equal(core.status.current().outbox?.paused, true);
    assert.equal(outboxLine(core.status.current()), '1 mail waiting to be sent (sending paused)');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(sink.mails.length, 1, 'nothing goes out while paused');
    await pausedView(core, false);
    await sink.waitForMails(2, 15_000);
    assert.deepEqual(sink.mails[1]!.to, ['erin@example.net']);
    await waitUntil(() => core.status.current().outbox?.waiting === 0 && core.status.current().outbox?.paused === false, 5000, 'resumed and sent');
    assert.equal(outboxLine(core.status.current()), null, 'an empty outbox says nothing in the tray');
  });

  it('a kept mail the provider then refuses is given up: the hook hears it, the tray counts it, Delete removes it', async () => {
    const { core, send, providerUp, outboxDir } = await setup('gaveup');
    const heard: GaveUpMail[] = [];
    core.outbox!.onGaveUp((mail) => heard.push(mail));
    const id = QUEUED.exec(await send('refused@example.net', 'Invoice <42>'))?.[1];
    assert.ok(id);
    await providerUp({ rejectRecipient: (address) => address === 'refused@example.net' });
    assert.equal(await core.outbox!.retry(id), 1);
    await waitUntil(() => heard.length === 1, 15_000, 'the gave-up hook');
    assert.equal(heard[0]!.id, id);
    assert.deepEqual(heard[0]!.to, ['refused@example.net']);
    assert.equal(heard[0]!.from, 'ann@example.org');
    assert.equal(heard[0]!.subject, 'Invoice <42>');
    assert.equal(heard[0]!.attempts, 2);
    assert.ok(heard[0]!.reason.length > 0, 'a reason to show');

    await waitUntil(() => core.status.current().outbox?.failed === 1, 5000, 'the failed count');
    assert.equal(core.status.current().outbox?.waiting, 0);
    assert.equal(core.status.current().lastMail?.outcome, 'failed');
    const model = trayModel(core.status.current());
    assert.ok(model.items.some((item) => item.kind === 'label' && item.label === '1 failed'), JSON.stringify(model.items));
    assert.equal(model.look, 'error', 'a mail given up needs the user');
    const [failed] = (await core.outbox!.view()).mails;
    assert.equal(failed!.state, 'failed');
    assert.match(failed!.lastError, /.+/);

    assert.equal(await core.outbox!.remove(id), true);
    assert.equal(await core.outbox!.remove(id), false, 'gone already');
    assert.deepEqual((await core.outbox!.view()).mails, []);
    assert.deepEqual((await readdir(outboxDir)).filter((name) => name.startsWith(id)), []);
    await waitUntil(() => core.status.current().outbox?.failed === 0, 5000, 'the failed count to drop');
    assert.ok(core.log.recent().some((entry) => entry.message.endsWith('removed from the outbox')));
  });

  it('an outbox folder that cannot be used is a notice; mail that cannot go out gets 451 as without an outbox', async () => {
    const user = uniqueUser('nofolder');
    users.push(user);
    const blocker = join(dir.path, 'a-file');
    await writeFile(blocker, '');
    const msmtprc = writeMsmtprc({ port: await freePort() });
    cleanups.push(() => msmtprc.remove());
    const core = createAppCore({ settings: UNSET_SETTINGS, secrets, engineOptions, outboxDir: join(blocker, 'outbox') });
    cleanups.push(() => core.relay.shutdown());
    const status = await startWith(core, msmtpSettingsFor(msmtprc.path, 0, user));
    assert.equal(status.state, 'running', status.error);
    assert.match(core.status.current().notices.join('\n'), /The outbox folder .*a-file\/outbox cannot be used \(ENOTDIR\)/);
    const view = await core.outbox!.view();
    assert.equal(view.available, false);
    assert.match(view.error!, /ENOTDIR/);
    await assert.rejects(sendMail(status.port, { user, pass: (await secrets.get(user))! }, 'bob@example.net'), /451/);
  });
});
