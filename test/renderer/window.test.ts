/**
 * The settings window in headless Chromium against the real AppCommands, RelayHost, relay engine, settings file and
 * key ring (see helpers/app-browser.ts for the one replaced part, the IPC transport). Saves a screenshot of each
 * pane to test-artifacts/. APP_SCREENSHOTS_FOR_DOCS=1 makes the shots look like a fresh install (user msmtpd-user,
 * port 2500; both must be free) for docs/screenshots/; otherwise a unique user and free ports keep runs independent.
 */
import assert from 'node:assert/strict';
import { access, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import type { AppSettings } from '../../electron/contract/api';
import { DESKTOP_FILE_NAME, createXdgAutostart } from '../../electron/desktop/autostart';
import { AppCommands } from '../../electron/core/commands';
import { createSettingsStore } from '../../electron/core/settings';
import { createKeyringStore } from '../../src-relay/index';
import { ARTIFACTS, serveUi, startWindowBrowser, type WindowBrowser } from '../helpers/app/app-browser';
import { freePort } from '../helpers/ports';
import { SINK, refused, sunkMails, tempDir, uniqueUser } from '../helpers/app/app-env';
import { sendWithNodemailer } from '../helpers/smtp/mail';
import { waitUntil } from '../helpers/wait';
import { createAppCore, type AppCore } from '../../electron/core/app-core';
import { UNSET_SETTINGS, startWith } from '../helpers/app/app-core';

const secrets = createKeyringStore();

describe('settings window in Chromium', { timeout: 90_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let app: WindowBrowser;
  let stranger: Awaited<ReturnType<typeof serveUi>>;
  let core: AppCore;
  let page: Page;
  let push: WindowBrowser['push'];
  let mailDir: string;
  let dataDir: string;
  let firstPort: number;
  const forDocs = process.env.APP_SCREENSHOTS_FOR_DOCS === '1';
  const user = forDocs ? 'msmtpd-user' : uniqueUser('window');
  let secondPort: number;
  const clipboard: string[] = [];
  const openedLogs: number[] = [];
  const savedPath = process.env.PATH;

  before(async () => {
    dir = await tempDir('window');
    mailDir = join(dir.path, 'mails');
    dataDir = join(dir.path, 'data');
    await mkdir(mailDir);
    // "msmtp" on PATH for this test: --version is the real msmtp's, a mail goes to the sink. So the window shows
    // the real default command and the real version check, while mails stay on this machine.
    const bin = join(dir.path, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'msmtp'), [
      '#!/bin/sh',
      'if [ "$1" = --version ]; then exec /usr/bin/msmtp --version; fi',
      `exec '${process.execPath}' '${SINK}' '${mailDir}' "$@"`,
      '',
    ].join('\n'));
    await chmod(join(bin, 'msmtp'), 0o755);
    process.env.PATH = `${bin}:${savedPath}`;
    const home = join(dir.path, 'home');
    await mkdir(home);
    await writeFile(join(home, '.msmtprc'), [
      'defaults', 'auth on', 'tls on', '',
      'account personal', 'host smtp.example.org', 'from ann@example.org', '',
      'account work', 'host mail.work.example', 'from ann.smith@work.example', '',
      'account default : personal', '',
    ].join('\n'));
    // A Thunderbird profile, so the setup pane shows Add to Thunderbird as a user with Thunderbird sees it.
    await mkdir(join(home, '.thunderbird', 'k3x9.default-esr'), { recursive: true });
    await writeFile(join(home, '.thunderbird', 'profiles.ini'), '[Profile0]\nName=default-esr\nIsRelative=1\nPath=k3x9.default-esr\nDefault=1\n');
    await writeFile(join(home, '.thunderbird', 'k3x9.default-esr', 'prefs.js'), [
      'user_pref("mail.accountmanager.accounts", "account1");',
      'user_pref("mail.account.account1.identities", "id1,id2");',
      'user_pref("mail.identity.id1.fullName", "Ann Example");',
      'user_pref("mail.identity.id1.useremail", "ann@example.org");',
      'user_pref("mail.identity.id2.useremail", "ann.smith@work.example");',
      '',
    ].join('\n'));

    firstPort = forDocs ? 2525 : await freePort();
    secondPort = forDocs ? 2500 : await freePort();
    const store = createSettingsStore(dataDir);
    await store.save({ command: 'msmtp -f %F --', host: '127.0.0.1', port: firstPort, user, launchAtLogin: false, keepUnsent: true, tls: false, notifications: true });
    const loaded = await store.load();
    core = createAppCore({ settings: UNSET_SETTINGS, secrets, engineOptions: { authFailureDelayMs: 0, stopGraceMs: 5000 } });
    const controller = new AppCommands({
      app: core,
      store,
      secrets,
      autostart: createXdgAutostart(join(dir.path, 'autostart'), ['/opt/msmtp-relay', '--hidden']),
      writeClipboard: (text) => {
        clipboard.push(text);
      },
      openLogFile: async () => {
        openedLogs.push(Date.now());
        return '';
      },
      chooseFile: async () => '/usr/bin/msmtp',
      checkOptions: { home, env: { ...process.env, XDG_CONFIG_HOME: join(home, '.config') } },
      thunderbird: { platform: 'linux', home },
    });
    core.settings.replace(loaded.settings);
    const started = await startWith(core, loaded.settings);
    assert.equal(started.state, 'running', started.error);

    stranger = await serveUi();
    app = await startWindowBrowser(controller);
    push = app.push;
    page = await app.context.newPage();
    core.log.onEntry((entry) => push(page, 'log', entry));
    core.status.onStatus((status) => push(page, 'status', status));
    await page.goto(`${app.origin}/index.html`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10_000 });
  });

  after(async () => {
    process.env.PATH = savedPath;
    await app?.close();
    stranger?.server.close();
    await core?.relay.shutdown();
    await secrets.delete(user).catch(() => false);
    await dir?.remove();
  });

  const text = (selector: string) => page.locator(selector).innerText();
  const waitText = (selector: string, pattern: RegExp, what = selector) =>
    waitUntil(async () => pattern.test(await text(selector)), 10_000, `${what} to match ${pattern}`);
  const tab = (name: 'relay' | 'logs' | 'setup') => page.click(`#tab-${name}`);
  const screenshot = async (name: string) => {
    await page.evaluate("document.getElementById('toast').hidden = true; document.activeElement?.blur()");
    await page.screenshot({ path: join(ARTIFACTS, `app-${name}.png`) });
  };

  it('shows the running relay and the saved settings', async () => {
    assert.equal(await text('#status-line'), `Running on localhost:${firstPort}`);
    assert.equal(await page.inputValue('#f-port'), String(firstPort));
    assert.equal(await page.inputValue('#f-command'), 'msmtp -f %F --');
    assert.equal(await page.inputValue('#f-user'), user);
    assert.equal(await page.inputValue('#f-password'), '', 'the password never reaches the window');
    assert.equal(await page.isDisabled('#btn-save'), true, 'nothing to save yet');
  });

  it('changing the port in the Relay pane restarts the relay and the new port accepts mail', async () => {
    await tab('relay');
    const newPort = secondPort;
    await page.fill('#f-port', String(newPort));
    assert.equal(await text('#save-state'), 'Unsaved changes');
    await page.click('#btn-save');
    await waitText('#status-line', new RegExp(`^Running on localhost:${newPort}$`), 'the status line');
    assert.equal(await text('#save-state'), '');
    assert.equal((JSON.parse(await readFile(join(dataDir, 'settings.json'), 'utf8')) as AppSettings).port, newPort);
    const pass = (await secrets.get(user))!;
    assert.match(await sendWithNodemailer(newPort, { user, pass }, 'dave@example.net'), /^250/);
    assert.ok(await refused(firstPort), 'the old port is closed');
    assert.ok((await sunkMails(mailDir)).some((mail) => mail.argv.at(-1) === 'dave@example.net'));

    // An invalid value is refused next to its field, and nothing is restarted.
    await page.fill('#f-host', 'mail.example');
    await page.click('#btn-save');
    await waitText('[data-error-for="host"]', /numeric IP address/);
    assert.equal(await page.getAttribute('#f-host', 'aria-invalid'), 'true');
    await page.click('#btn-revert');
    assert.equal(await page.inputValue('#f-host'), '127.0.0.1');
    assert.equal(await text('#status-line'), `Running on localhost:${newPort}`);
  });

  it('Check shows the error for a bad command and the msmtp version and accounts for a good one', async () => {
    await page.fill('#f-command', '/nonexistent/msmtp -f %F --');
    await page.click('#btn-check');
    await page.waitForSelector('#check-result[data-ok="false"]');
    assert.equal(await text('#check-result .check-head'), '✗ /nonexistent/msmtp was not found');

    // Browse puts the chosen program in place of the first word and keeps the arguments.
    await page.fill('#f-command', 'msmtp -a work -f %F --');
    await page.click('#btn-browse');
    await waitUntil(async () => (await page.inputValue('#f-command')) === '/usr/bin/msmtp -a work -f %F --', 5000, 'the chosen program');

    await page.fill('#f-command', 'msmtp -f %F --');
    await page.click('#btn-check');
    await page.waitForSelector('#check-result[data-ok="true"]');
    assert.match(await text('#check-result .check-head'), /^✓ msmtp version \d+\.\d+/);
    const accounts = await page.locator('#check-result li').allInnerTexts();
    assert.equal(accounts.length, 3);
    assert.match(accounts[0]!, /^personal ann@example\.org in ~\/\.msmtprc$/);
    assert.match(accounts[1]!, /^work ann\.smith@work\.example in ~\/\.msmtprc$/);
    // Tall enough to show the whole form.
    await page.setViewportSize({ width: 940, height: 1180 });
    await screenshot('relay');
    await page.setViewportSize({ width: 940, height: 700 });
  });

  it('a mail sent with nodemailer shows up in the Logs pane, live', async () => {
    const pass = (await secrets.get(user))!;
    assert.match(await sendWithNodemailer(secondPort, { user, pass }, 'bob@example.net', 'Quarterly report'), /^250/);
    await assert.rejects(sendWithNodemailer(secondPort, { user, pass }, 'fail@example.net', 'Bounce'), /554/);
    assert.match(await sendWithNodemailer(secondPort, { user, pass }, 'carol@example.net', 'Lunch'), /^250/);
    await tab('logs');
    const mailLine = page.locator('.log-line[data-kind="mail"]', { hasText: 'bob@example.net' });
    await mailLine.waitFor({ timeout: 10_000 });
    assert.match(await mailLine.innerText(), /mail from ann@example\.org to bob@example\.net \(\d+ bytes, \d+ ms\): delivered/);
    const failed = page.locator('.log-line[data-level="error"]', { hasText: 'fail@example.net' });
    await failed.waitFor({ timeout: 10_000 });
    assert.match(await failed.innerText(), /failed; exit 1; 554 .*command said: msmtp: recipient address fail@example\.net not accepted/);
    await page.locator('.log-line', { hasText: 'carol@example.net' }).waitFor({ timeout: 10_000 });
    const all = (await page.locator('#log-list').innerText());
    assert.ok(!all.includes(pass), 'no password in the log');
    assert.ok(!all.includes('Quarterly report'), 'no mail content in the log');
    await waitText('#status-mails', /^3 mails sent today\. Last: to carol@example\.net: delivered$/, 'the mail count');

    await page.fill('#log-filter', 'carol');
    assert.deepEqual(await page.locator('.log-line:visible .message').allInnerTexts().then((lines) => lines.length > 0 && lines.every((l) => l.includes('carol'))), true);
    await page.fill('#log-filter', '');
    await page.selectOption('#log-kind', 'error');
    const errors = await page.locator('.log-line:visible').count();
    assert.ok(errors >= 1);
    assert.equal(await page.locator('.log-line:visible[data-level="info"]').count(), 0);
    await page.selectOption('#log-kind', 'mail');
    assert.equal(await page.locator('.log-line:visible').count(), 4, 'dave, bob, fail and carol');
    await page.selectOption('#log-kind', 'all');
    await screenshot('logs');

    await page.click('#btn-open-log');
    await waitUntil(() => openedLogs.length === 1, 5000, 'the log file to be opened');
  });

  it('Clear empties the Logs pane and the buffer it is seeded from, and shows the empty state', async () => {
    await tab('logs');
    assert.ok(await page.locator('#log-list .log-line').count() > 0, 'lines to clear');
    assert.equal(await page.isHidden('#log-empty'), true);
    await page.click('#btn-clear-log');
    await waitUntil(async () => (await page.locator('#log-list > *').count()) === 0, 5000, 'the log list to be emptied');
    assert.equal(await page.isVisible('#log-empty'), true);
    assert.equal(await text('#log-empty'), 'Nothing logged yet. Send a mail through the relay and it shows up here.');
    // A window opened later is seeded from the host's buffer: the cleared lines must not come back from there.
    assert.ok(!core.log.recent().some((entry) => /bob@example\.net|carol@example\.net/.test(entry.message)), 'the host buffer was cleared too');
  });

  it('the Mail client setup pane shows the settings and its copy buttons put the right text on the clipboard', async () => {
    await tab('setup');
    const port = core.status.current().port;
    assert.equal(await text('#setup-host'), 'localhost');
    assert.equal(await text('#setup-port'), String(port));
    assert.equal(await text('#setup-user'), user);
    assert.equal(await text('#setup-security'), 'None');
    const copies: [string, string][] = [['host', 'localhost'], ['port', String(port)], ['user', user], ['password', (await secrets.get(user))!]];
    for (const [item, expected] of copies) {
      const before = clipboard.length;
      await page.click(`#pane-setup button[data-copy="${item}"]`);
      await waitUntil(() => clipboard.length === before + 1, 5000, `the ${item} copy`);
      assert.equal(clipboard.at(-1), expected, item);
    }
    await page.click('#pane-setup button[data-copy="all"]');
    await waitUntil(() => clipboard.length === 5, 5000, 'the settings copy');
    assert.match(clipboard[4]!, new RegExp(`^Server: localhost$[\\s\\S]*^Port: ${port}$[\\s\\S]*^User name: ${user}$`, 'm'));
    assert.ok(!clipboard[4]!.includes(copies[3]![1]), 'the password is only ever copied on its own');
    assert.match(await page.locator('#client-guides details[data-guide="thunderbird"]').textContent() ?? '', new RegExp(`Port ${port}`));
    await page.setViewportSize({ width: 940, height: 980 });
    await screenshot('setup');
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot('setup-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 940, height: 700 });
  });

  it('the password can be set and regenerated from the window, never read', async () => {
    await tab('relay');
    const before = (await secrets.get(user))!;
    await page.fill('#f-password', 'short');
    await page.click('#btn-set-password');
    await waitText('#password-error', /^Use at least 8 characters$/);
    assert.equal(await secrets.get(user), before);

    await page.fill('#f-password', 'a long enough passphrase');
    await page.click('#btn-set-password');
    await waitUntil(async () => (await secrets.get(user)) === 'a long enough passphrase', 5000, 'the new password in the key ring');
    await waitUntil(async () => (await page.inputValue('#f-password')) === '', 5000, 'the field to be cleared');
    const port = core.status.current().port;
    await waitUntil(() => core.status.current().state === 'running', 5000, 'the relay to run again');
    assert.match(await sendWithNodemailer(port, { user, pass: 'a long enough passphrase' }, 'erin@example.net'), /^250/);

    await page.click('#btn-regenerate');
    assert.equal(await text('#btn-regenerate'), 'Click again to replace it');
    assert.equal(await secrets.get(user), 'a long enough passphrase', 'the first click only asks');
    await page.click('#btn-regenerate');
    await waitUntil(async () => (await secrets.get(user)) !== 'a long enough passphrase', 5000, 'a regenerated password');
    assert.match((await secrets.get(user))!, /^[A-Za-z0-9_-]{32}$/);
    const html = await page.content();
    assert.ok(!html.includes((await secrets.get(user))!), 'the page never holds the password');
  });

  it('a port in use shows as an error naming the port; Try again starts once it is free', async () => {
    await tab('relay');
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const busyPort = (blocker.address() as { port: number }).port;
    try {
      await page.fill('#f-port', String(busyPort));
      await page.click('#btn-save');
      await waitText('#status-error', new RegExp(`^Port ${busyPort} is already in use on 127\\.0\\.0\\.1`));
      assert.equal(await text('#status-line'), 'Not running');
      assert.equal(await page.getAttribute('#status-card', 'data-state'), 'error');
      assert.equal(await text('#btn-toggle'), 'Try again');
      await screenshot('error');
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
    await page.click('#btn-toggle');
    await waitText('#status-line', new RegExp(`^Running on localhost:${busyPort}$`));
    assert.equal(await page.isHidden('#status-error'), true);
  });

  it('Stop and Start from the status card', async () => {
    const port = core.status.current().port;
    await page.click('#btn-toggle');
    await waitText('#status-line', /^Stopped$/);
    assert.ok(await refused(port));
    assert.equal(await text('#btn-toggle'), 'Start relay');
    await page.click('#btn-toggle');
    await waitText('#status-line', new RegExp(`^Running on localhost:${port}$`));
  });

  it('"Start at login" writes the XDG autostart entry when saved on, and removes it when saved off', async () => {
    await tab('relay');
    const entry = join(dir.path, 'autostart', DESKTOP_FILE_NAME);
    const exists = () => access(entry).then(() => true, () => false);
    assert.equal(await exists(), false, 'no login item before the user asks for one');
    assert.equal(await page.isChecked('#f-launch'), false);

    await page.check('#f-launch');
    assert.equal(await text('#save-state'), 'Unsaved changes');
    await page.click('#btn-save');
    await waitUntil(exists, 5000, 'the autostart entry to be written');
    assert.match(await readFile(entry, 'utf8'), /^Exec=\/opt\/msmtp-relay --hidden$/m);
    await waitUntil(async () => (await text('#save-state')) === '', 5000, 'the save to finish');
    assert.equal((JSON.parse(await readFile(join(dataDir, 'settings.json'), 'utf8')) as AppSettings).launchAtLogin, true);

    await page.uncheck('#f-launch');
    await page.click('#btn-save');
    await waitUntil(async () => !(await exists()), 5000, 'the autostart entry to be removed');
    await waitUntil(async () => (await text('#save-state')) === '', 5000, 'the save to finish');
    assert.equal((JSON.parse(await readFile(join(dataDir, 'settings.json'), 'utf8')) as AppSettings).launchAtLogin, false);
    assert.equal(await page.isChecked('#f-launch'), false);
  });

  it('refuses IPC from any other page, and the CSP blocks inline script', async () => {
    const other = await app.context.newPage();
    try {
      await other.goto(`${stranger.origin}/index.html`);
      const answer = await other.evaluate<string>("window.relay.getSettings().then(() => 'answered', (error) => error.message)");
      assert.match(answer, /untrusted sender/);
    } finally {
      await other.close();
    }
    const inline = await page.evaluate<boolean>(`(() => {
      const script = document.createElement('script');
      script.textContent = 'window.__inlineRan = true';
      document.body.append(script);
      return window.__inlineRan ?? false;
    })()`);
    assert.equal(inline, false);
  });
});
