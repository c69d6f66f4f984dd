/**
 * The Outbox pane in headless Chromium with the real main-process side behind it (AppCommands, RelayHost, engine,
 * key ring, outbox spool) and the real msmtp delivering to a loopback SMTP sink. "Provider down" is msmtp's port with
 * nothing listening; the provider comes back by starting the sink on that port. See helpers/app-browser.ts for the
 * one replaced part, the IPC transport. Saves test-artifacts/app-outbox.png; APP_SCREENSHOTS_FOR_DOCS=1 makes it look
 * like a fresh install (user msmtpd-user, port 2500; both must be free) for docs/screenshots/outbox.png.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { createSettingsStore } from '../../electron/core/settings';
import { createKeyringStore } from '../../src-relay/index';
import { freePort } from '../helpers/ports';
import { ARTIFACTS, openWindow, startWindowBrowser, type WindowBrowser } from '../helpers/app/app-browser';
import { msmtpSettingsFor, tempDir, uniqueUser } from '../helpers/app/app-env';
import { sendWithNodemailer as sendMail } from '../helpers/smtp/mail';
import { writeMsmtprc, type TestMsmtprc } from '../helpers/programs/msmtprc';
import { startSink, type SinkOptions, type SmtpSink } from '../helpers/smtp/smtp-sink';
import { waitUntil } from '../helpers/wait';
import type { AppCore } from '../../electron/core/app-core';
import { coreWithOutbox, startWith, windowCommands } from '../helpers/app/app-core';

const OUTBOX_MODULE = join(__dirname, '..', '..', 'src-relay', 'outbox', 'outbox.js');
const secrets = createKeyringStore();
const QUEUED = /^250 2\.0\.0 Queued as ([0-9A-F]{12}): .+; will retry$/;
const HOSTILE_SUBJECT = '<img src=x onerror="window.__owned=1">Free <b>money</b>';

describe('Outbox pane in Chromium', { timeout: 120_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let app: WindowBrowser;
  let core: AppCore;
  let page: Page;
  let msmtprc: TestMsmtprc;
  let providerPort: number;
  let outboxDir: string;
  let sink: SmtpSink | null = null;
  let pass: string;
  const forDocs = process.env.APP_SCREENSHOTS_FOR_DOCS === '1';
  const user = forDocs ? 'msmtpd-user' : uniqueUser('outbox');

  before(async () => {
    dir = await tempDir('outbox-pane');
    providerPort = await freePort();
    msmtprc = writeMsmtprc({ port: providerPort });
    const dataDir = join(dir.path, 'data');
    outboxDir = join(dataDir, 'outbox');
    const store = createSettingsStore(dataDir);
    await store.save(msmtpSettingsFor(msmtprc.path, forDocs ? 2500 : await freePort(), user));
    const loaded = await store.load();
    core = coreWithOutbox(secrets, outboxDir);
    const controller = windowCommands({ app: core, store, secrets }, dir.path);
    core.settings.replace(loaded.settings);
    const started = await startWith(core, loaded.settings);
    assert.equal(started.state, 'running', started.error);
    pass = (await secrets.get(user))!;

    app = await startWindowBrowser(controller);
    page = await openWindow(app, core, { tab: 'outbox' });
  });

  after(async () => {
    await app?.close();
    await core?.relay.shutdown();
    await sink?.close();
    msmtprc?.remove();
    await secrets.delete(user).catch(() => false);
    await dir?.remove();
  });

  const send = (to: string, subject: string) => sendMail(core.status.current().port, { user, pass }, to, subject);
  const keep = async (to: string, subject: string) => {
    const reply = await send(to, subject);
    const id = QUEUED.exec(reply)?.[1];
    assert.ok(id, `kept, with a queue id: ${reply}`);
    return id;
  };
  const item = (id: string, list = 'waiting') => page.locator(`#outbox-${list} .mail-item[data-id="${id}"]`);
  const providerUp = async (options: Omit<SinkOptions, 'port'> = {}) => {
    sink = await startSink({ ...options, port: providerPort });
    return sink;
  };
  const providerDown = async () => {
    await sink?.close();
    sink = null;
  };
  const spoolFiles = async (id: string) => (await readdir(outboxDir)).filter((name) => name.startsWith(id));
  const relaySpool = () => readdirSync(outboxDir, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.json')).sort();

  // msmtp's words are asserted where msmtp read the whole mail before it failed: when it fails earlier (closed port,
  // refused recipient) the launcher's one socket for input and output can lose them (see the report to #8).
  let busy = true;

  it('a mail the provider cannot take shows up in the pane: subject, recipients, attempts, msmtp\'s words, next try', async () => {
    await providerUp({ dataReply: () => (busy ? { code: 451, message: 'Too many connections, try again later' } : null) });
    const id = await keep('bob@example.net', 'Quarterly report');
    const row = item(id);
    await row.waitFor({ timeout: 10_000 });
    assert.equal(await row.locator('.mail-subject').innerText(), 'Quarterly report');
    assert.equal(await row.locator('.mail-who').innerText(), 'to bob@example.net · from ann@example.org');
    assert.match(await row.locator('.mail-meta').innerText(), /^kept at \d\d:\d\d · 1 attempt · next try in 15 min \(\d\d:\d\d\)$/);
    assert.match(await row.locator('.mail-output').innerText(), /server message: 451 Too many connections, try again later/);
    assert.match(await row.locator('.mail-error').innerText(), /\S/, 'why it waits, in words');
    assert.equal(await page.locator('#outbox-count').innerText(), '1');
    assert.equal(await page.locator('#outbox-summary').innerText(), '1 mail waiting.');
    assert.equal(await page.isVisible('#outbox-waiting-empty'), false);
  });

  it('a subject with markup is shown as text, never run or rendered', async () => {
    const id = await keep('eve@example.net', HOSTILE_SUBJECT);
    const row = item(id);
    await row.waitFor({ timeout: 10_000 });
    assert.equal(await row.locator('.mail-subject').innerText(), HOSTILE_SUBJECT);
    assert.equal(await page.locator('#pane-outbox img, #pane-outbox b').count(), 0, 'no element made from the subject');
    assert.equal(await page.evaluate('window.__owned ?? null'), null);
  });

  it('Delete asks first, then removes the mail from the pane and the spool', async () => {
    const { mails } = await core.outbox!.view();
    const id = mails.find((mail) => mail.subject === HOSTILE_SUBJECT)!.id;
    const remove = item(id).locator('button[data-action="delete"]');
    await remove.click();
    await waitUntil(async () => (await remove.innerText()) === 'Click again to delete it', 5000, 'the confirmation');
    assert.equal((await spoolFiles(id)).length, 2, 'still kept after one click (record and mail)');
    await remove.click();
    await item(id).waitFor({ state: 'detached', timeout: 10_000 });
    assert.deepEqual(await spoolFiles(id), []);
    assert.equal(await page.locator('#toast').innerText(), 'Deleted from the outbox');
    assert.equal(await page.locator('#outbox-count').innerText(), '1');
  });

  it('Retry now sends the waiting mail once the provider is up; it moves to Sent recently', async () => {
    const { mails } = await core.outbox!.view();
    const id = mails[0]!.id;
    const provider = sink!;
    busy = false;
    await page.click('#btn-outbox-retry');
    const [mail] = await provider.waitForMails(1, 15_000);
    assert.deepEqual(mail!.to, ['bob@example.net']);
    await item(id, 'sent').waitFor({ timeout: 10_000 });
    assert.equal(await item(id, 'sent').locator('.mail-subject').innerText(), 'Quarterly report');
    assert.match(await item(id, 'sent').locator('.mail-meta').innerText(), /^sent at \d\d:\d\d on attempt 2$/);
    await item(id).waitFor({ state: 'detached', timeout: 5000 });
    assert.equal(await page.isVisible('#outbox-waiting-empty'), true);
    assert.equal(await page.locator('#outbox-summary').innerText(), 'Every mail went out.');
    assert.equal(await page.isHidden('#outbox-count'), true);
    assert.equal(provider.mails.length, 1, 'sent once');
  });

  it('Pause sending keeps every new mail, even with the provider up; Resume sends it', async () => {
    const provider = sink!;
    await page.click('#btn-outbox-pause');
    await waitUntil(async () => (await page.locator('#btn-outbox-pause').innerText()) === 'Resume sending', 5000, 'the pause');
    assert.equal(await page.locator('#outbox-notice').innerText(), 'Sending is paused: every new mail is kept here until you resume.');
    const reply = await send('frank@example.net', 'Build log for nightly');
    assert.match(reply, /^250 2\.0\.0 Queued as [0-9A-F]{12}: sending is paused; will retry$/);
    const id = QUEUED.exec(reply)![1]!;
    await item(id).waitFor({ timeout: 10_000 });
    assert.match(await item(id).locator('.mail-meta').innerText(), /· not tried yet · next try now$/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(provider.mails.length, 1, 'nothing went out while paused');
    await page.click('#btn-outbox-pause');
    await provider.waitForMails(2, 15_000);
    assert.deepEqual(provider.mails[1]!.to, ['frank@example.net']);
    await item(id, 'sent').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#btn-outbox-pause').innerText(), 'Pause sending');
    assert.equal(await page.isHidden('#outbox-notice'), true);
  });

  it('a mail in flight when a relay process dies is flagged "may have been sent already"', async () => {
    await providerDown();
    const id = await keep('carol@example.net', 'Re: lunch on Friday');
    await item(id).waitFor({ timeout: 10_000 });
    // Another process takes the mail for a try on the same spool and dies (SIGKILL) before the try ends.
    const child = spawn(process.execPath, ['-e', `
      const { Outbox } = require(${JSON.stringify(OUTBOX_MODULE)});
      Outbox.open({ dir: ${JSON.stringify(outboxDir)} }).then((outbox) => outbox.flushWith(() => {
        process.stdout.write('in flight\\n');
        return new Promise(() => {});
      }));
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('in flight') && resolve());
        child.once('exit', (code) => reject(new Error(`the child exited (${code}) before taking the mail`)));
      });
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((resolve) => child.once('close', resolve));
    await page.click('#tab-logs');
    await page.click('#tab-outbox'); // showing the pane lists the spool again, which takes the dead claim back
    await item(id).locator('.flag').waitFor({ timeout: 10_000 });
    assert.equal(await item(id).locator('.flag').innerText(), 'may have been sent already');
    await waitUntil(() => core.log.recent().some((entry) => entry.message.includes(`[outbox ${id}]`) && entry.message.includes('may have been sent already')), 5000, 'the log line');
  });

  it('a mail the provider refuses for good moves to Failed with the reason; the window as a whole', async () => {
    const id = await keep('old-address@example.com', 'Invoice 2026-117');
    await item(id).waitFor({ timeout: 10_000 });
    // Refused at RCPT (msmtp exits 65, a failure for good); a 5xx at the end of DATA exits 69, which is temporary.
    // Carol's mail (the test before) waits too and may be tried while the provider is up: it must keep waiting, so
    // the provider answers it 451 (a failure that may pass), whenever that try comes.
    await providerUp({
      rejectRecipient: (address) => address === 'old-address@example.com',
      dataReply: (to) => (to.includes('carol@example.net') ? { code: 451, message: 'Try again later' } : null),
    });
    await item(id).locator('button[data-action="retry"]').click();
    const failed = item(id, 'failed');
    await failed.waitFor({ timeout: 15_000 });
    assert.match(await failed.locator('.mail-meta').innerText(), /· 2 attempts · given up$/);
    assert.match(await failed.locator('.mail-error').innerText(), /\S/);
    assert.equal(await failed.locator('button[data-action="retry"]').innerText(), 'Try again');
    await providerDown();
    const cron = await keep('root@example.org', 'Cron <root@backup> /usr/local/bin/nightly-backup');
    // The window shows the kept mail first; the summary is drawn from the same view, so wait for that state.
    await item(cron).waitFor({ timeout: 15_000 });
    let seen = '';
    await waitUntil(async () => (seen = await page.locator('#outbox-summary').innerText()) === '2 mails waiting, 1 failed.', 15_000,
      () => `the summary "2 mails waiting, 1 failed." (the window says "${seen}"; the spool holds ${JSON.stringify(relaySpool())})`);
    assert.equal(await page.getAttribute('#outbox-count', 'data-failed'), 'true');
    assert.match(await page.locator('#status-mails').innerText(), /Last: to root@example\.org: kept in the outbox, will retry$/);

    await page.setViewportSize({ width: 940, height: 1240 });
    await page.evaluate("document.getElementById('toast').hidden = true; document.activeElement?.blur()");
    await page.mouse.move(0, 1200);
    await page.screenshot({ path: join(ARTIFACTS, 'app-outbox.png') });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: join(ARTIFACTS, 'app-outbox-dark.png') });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 940, height: 700 });
  });
});
