/**
 * The Mail client setup pane in headless Chromium against the real AppCommands, RelayHost and relay engine (on
 * localhost: both loopbacks), the real key ring and a Thunderbird profile in a temporary home: Add to Thunderbird
 * writes prefs.js, updates it on a second click, refuses while the profile is locked; the guides show the current
 * settings, and the Python snippet copied from the page sends a mail through the app's relay.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { freePort } from '../helpers/ports';
import { PASSWORD_VARIABLE } from '../../electron/setup/mail-clients';
import { createSettingsStore } from '../../electron/core/settings';
import { PrefsFile } from '../../electron/setup/thunderbird-prefs';
import { createKeyringStore } from '../../src-relay/index';
import { ARTIFACTS, startWindowBrowser, type WindowBrowser } from '../helpers/app/app-browser';
import { settingsFor, sunkMails, tempDir, uniqueUser } from '../helpers/app/app-env';
import { describeProgram, runProgram } from '../helpers/programs/run-program';
import { waitUntil } from '../helpers/wait';
import { createAppCore, type AppCore } from '../../electron/core/app-core';
import { startWith, UNSET_SETTINGS, windowCommands } from '../helpers/app/app-core';

const secrets = createKeyringStore();

describe('Mail client setup pane in Chromium', { timeout: 90_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let app: WindowBrowser;
  let core: AppCore;
  let page: Page;
  let mailDir: string;
  let profileDir: string;
  let port: number;
  const user = uniqueUser('setup');
  const clipboard: string[] = [];
  const prefsOf = async () => PrefsFile.parse(await readFile(join(profileDir, 'prefs.js'), 'utf8'));

  before(async () => {
    dir = await tempDir('setup-pane');
    mailDir = join(dir.path, 'mails');
    await mkdir(mailDir);
    const home = join(dir.path, 'home');
    profileDir = join(home, '.thunderbird', 'ab12.default-esr');
    await mkdir(profileDir, { recursive: true });
    await writeFile(join(home, '.thunderbird', 'profiles.ini'), '[Profile0]\nName=default-esr\nIsRelative=1\nPath=ab12.default-esr\nDefault=1\n');
    const flatpak = join(home, '.var', 'app', 'org.mozilla.Thunderbird', '.thunderbird');
    await mkdir(join(flatpak, 'cd34.flat'), { recursive: true });
    await writeFile(join(flatpak, 'profiles.ini'), '[Profile0]\nName=flat\nIsRelative=1\nPath=cd34.flat\n');
    await writeFile(join(profileDir, 'prefs.js'), [
      'user_pref("mail.accountmanager.accounts", "account1");',
      'user_pref("mail.account.account1.identities", "id1,id2");',
      'user_pref("mail.identity.id1.fullName", "Ann Example");',
      'user_pref("mail.identity.id1.useremail", "ann@example.org");',
      'user_pref("mail.identity.id2.useremail", "ann@work.example");',
      'user_pref("mail.smtpservers", "smtp1");',
      'user_pref("mail.smtpserver.smtp1.hostname", "smtp.example.org");',
      '',
    ].join('\n'));

    port = await freePort();
    const store = createSettingsStore(join(dir.path, 'data'));
    await store.save({ ...settingsFor(mailDir, port, user), host: 'localhost' });
    const loaded = await store.load();
    core = createAppCore({ settings: UNSET_SETTINGS, secrets, engineOptions: { authFailureDelayMs: 0, stopGraceMs: 2000 } });
    const controller = windowCommands({ app: core, store, secrets }, dir.path, {
      writeClipboard: (text) => {
        clipboard.push(text);
      },
      thunderbird: { platform: 'linux', home },
    });
    core.settings.replace(loaded.settings);
    const started = await startWith(core, loaded.settings);
    assert.equal(started.state, 'running', started.error);

    app = await startWindowBrowser(controller);
    page = await app.context.newPage();
    await page.setViewportSize({ width: 940, height: 1100 });
    await page.goto(`${app.origin}/index.html`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10_000 });
    await page.click('#tab-setup');
  });

  after(async () => {
    await app?.close();
    await core?.relay.shutdown();
    await secrets.delete(user).catch(() => false);
    await dir?.remove();
  });

  const text = (selector: string) => page.locator(selector).innerText();
  const identityBoxes = () => page.locator('#tb-identities input[type="checkbox"]');
  const clickAdd = async () => {
    const before = await text('#tb-result');
    await page.click('#btn-tb-add');
    await waitUntil(async () => (await text('#tb-result')) !== before, 10_000, 'the Add to Thunderbird result');
    return text('#tb-result');
  };

  it('lists the profiles (native and Flatpak) and the identities of the default one, none on the relay yet', async () => {
    assert.deepEqual(await page.locator('#tb-profile option').allInnerTexts(), ['default-esr (default)', 'flat · Flatpak']);
    assert.equal(await page.inputValue('#tb-profile'), profileDir, 'the default profile is preselected');
    assert.equal(await page.locator('#tb-profile option').first().getAttribute('title'), profileDir);
    assert.equal(await identityBoxes().count(), 2);
    assert.deepEqual(await page.locator('#tb-identities label').allInnerTexts(), ['Ann Example <ann@example.org>', 'ann@work.example']);
    assert.equal(await identityBoxes().nth(0).isChecked(), false);
    assert.equal(await page.isVisible('#tb-running'), false);
  });

  it('Add to Thunderbird writes the server for the ticked identity; a second click updates it, never a duplicate', async () => {
    await identityBoxes().nth(0).check();
    assert.match(await clickAdd(), /^Added “msmtp Relay” in Thunderbird \(default-esr\)\. 1 identity sends through it\./);
    let prefs = await prefsOf();
    assert.equal(prefs.get('mail.smtpservers'), 'smtp1,smtp2');
    assert.equal(prefs.get('mail.smtpserver.smtp2.hostname'), 'localhost');
    assert.equal(prefs.get('mail.smtpserver.smtp2.port'), port);
    assert.equal(prefs.get('mail.smtpserver.smtp2.username'), user);
    assert.equal(prefs.get('mail.identity.id1.smtpServer'), 'smtp2');
    assert.equal(prefs.get('mail.identity.id2.smtpServer'), undefined);
    assert.equal((await readdir(profileDir)).filter((name) => name.startsWith('prefs.js.msmtp-relay-')).length, 1, 'one backup');
    await waitUntil(() => identityBoxes().nth(0).isChecked(), 5000, 'id1 to show as sending through the relay');

    await identityBoxes().nth(1).check();
    assert.match(await clickAdd(), /^Updated “msmtp Relay” in Thunderbird \(default-esr\)\. 2 identities send through it\./);
    prefs = await prefsOf();
    assert.equal(prefs.get('mail.smtpservers'), 'smtp1,smtp2');
    assert.equal(prefs.get('mail.identity.id2.smtpServer'), 'smtp2');
    await page.evaluate("document.getElementById('toast').hidden = true");
    await page.screenshot({ path: join(ARTIFACTS, 'app-setup-thunderbird.png'), fullPage: true });
  });

  it('refuses while Thunderbird has the profile open, and says so', async () => {
    const before = await readFile(join(profileDir, 'prefs.js'), 'utf8');
    await symlink(`127.0.0.1:+${process.pid}`, join(profileDir, 'lock'));
    try {
      await page.click('#btn-tb-look');
      await waitUntil(() => page.isVisible('#tb-running'), 5000, 'the running notice');
      assert.equal(await clickAdd(), 'Thunderbird is running with this profile. Quit Thunderbird, then click Add to Thunderbird again.');
      assert.equal(await readFile(join(profileDir, 'prefs.js'), 'utf8'), before);
    } finally {
      await rm(join(profileDir, 'lock'));
    }
  });

  it('shows a guide per program with the current settings; the copied Python snippet sends through the app', async () => {
    const ids = await page.evaluate("[...document.querySelectorAll('#client-guides details')].map((node) => node.dataset.guide)");
    assert.deepEqual(ids, ['thunderbird', 'apple-mail', 'outlook-classic', 'outlook-new', 'evolution', 'kmail', 'mutt', 'git-send-email', 'python', 'node']);
    assert.equal(await text('#client-guides details[data-guide="outlook-new"] summary'), 'The new Outlook (and Outlook on the web): cannot be used');
    await page.click('#client-guides details[data-guide="outlook-new"] summary');
    assert.match(await text('#client-guides details[data-guide="outlook-new"]'), /Microsoft's cloud/);
    await page.click('#client-guides details[data-guide="python"] summary');
    await page.click('#client-guides details[data-guide="python"] .snippet button');
    await waitUntil(() => clipboard.length === 1, 5000, 'the snippet on the clipboard');
    const copied = clipboard[0]!;
    await page.evaluate("document.getElementById('toast').hidden = true");
    await page.locator('#client-guides details[data-guide="python"]').screenshot({ path: join(ARTIFACTS, 'app-setup-guide-python.png') });
    assert.equal(copied, await page.locator('#client-guides details[data-guide="python"] code').textContent());
    assert.match(copied, new RegExp(`smtplib\\.SMTP\\("localhost", ${port}, timeout=30\\)`));
    assert.match(copied, new RegExp(`smtp\\.login\\("${user}", os\\.environ\\["${PASSWORD_VARIABLE}"\\]\\)`));

    const script = join(dir.path, 'copied.py');
    await writeFile(script, copied);
    const result = await runProgram('python3', [script], { env: { [PASSWORD_VARIABLE]: (await secrets.get(user))! }, timeoutMs: 30_000 });
    assert.equal(result.code, 0, describeProgram('python3', result));
    await waitUntil(async () => (await sunkMails(mailDir)).length === 1, 10_000, 'the mail at the sink');
    assert.equal((await sunkMails(mailDir))[0]!.argv.at(-1), 'friend@example.org');
  });
});
