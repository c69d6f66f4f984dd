/**
 * The Accounts pane in headless Chromium against the real main-process side (AppCommands with its AccountsService,
 * RelayHost, engine, outbox, the session key ring) and the real msmtp, in a private HOME whose ~/.msmtprc this test
 * writes. The address's settings are found on loopback (the provider's autoconfig file over HTTPS with the lookup's
 * test CA); the provider is a loopback SMTP server with STARTTLS + AUTH and a CA of its own, trusted through the
 * account's trust file. Screenshots go to test-artifacts/ (and docs/screenshots/ with APP_SCREENSHOTS_FOR_DOCS=1).
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTransport } from 'nodemailer';
import type { Page } from 'playwright-core';
import type { AppCore } from '../../electron/core/app-core';
import { createSettingsStore } from '../../electron/core/settings';
import { trayModel } from '../../electron/tray/model';
import { createKeyringStore, msmtpKeyring, type AccountSeams } from '../../src-relay/index';
import { ARTIFACTS, openWindow, startWindowBrowser, type WindowBrowser } from '../helpers/app/app-browser';
import { coreWithOutbox, startWith, windowCommands } from '../helpers/app/app-core';
import { settingsFor, tempDir, uniqueUser } from '../helpers/app/app-env';
import { loopbackSeams, startHttpsStub, xml, type HttpsStub } from '../helpers/lookup/lookup-servers';
import { freePort } from '../helpers/ports';
import { makeTestCa, startProvider, type Provider, type TestCa } from '../helpers/smtp/provider';
import { makeTestCertificates } from '../helpers/lookup/test-ca';
import { waitUntil } from '../helpers/wait';

const DOCS_SHOTS = join(__dirname, '..', '..', '..', 'docs', 'screenshots');
/** The shots docs/desktop-app.md shows. */
const DOC_SHOTS = ['accounts', 'accounts-wrong-password', 'accounts-attention'];
const AXE = require.resolve('axe-core/axe.min.js');
const secrets = createKeyringStore();

/** The provider's own autoconfig file: its SMTP server is on 127.0.0.1, outside the mail domain (to be confirmed). */
function autoconfig(port: number): string {
  return `<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="own.test"><domain>own.test</domain>
    <displayName>Own Mail</displayName>
    <outgoingServer type="smtp"><hostname>127.0.0.1</hostname><port>${port}</port><socketType>STARTTLS</socketType>
    <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication></outgoingServer>
    </emailProvider></clientConfig>`;
}

const HAND_WRITTEN = [
  '# my own account, written by hand',
  'defaults',
  'tls on',
  '',
  'account personal',
  'host smtp.hand.example',
  'port 587',
  'auth on',
  'from ann@hand.example',
  'user ann@hand.example',
  'passwordeval "echo not-used"',
  '',
  'account default : personal',
  '',
].join('\n');

describe('Accounts pane in Chromium', { timeout: 180_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let app: WindowBrowser;
  let core: AppCore;
  let page: Page;
  let ca: TestCa;
  let provider: Provider;
  let https: HttpsStub;
  let home: string;
  let rc: string;
  let env: NodeJS.ProcessEnv;
  const users = new Map<string, string>();
  const opened: string[] = [];
  const attention: string[] = [];
  const forDocs = process.env.APP_SCREENSHOTS_FOR_DOCS === '1';
  // A plain address for the pictures in docs/; otherwise one no other run uses (the key ring is shared).
  const address = forDocs ? 'bob@own.test' : `bob-${process.pid}@own.test`;
  const user = uniqueUser('accounts');

  before(async () => {
    dir = await tempDir('accounts-pane');
    home = join(dir.path, 'home');
    rc = join(home, '.msmtprc');
    env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), LC_ALL: 'C' };
    await mkdir(home, { recursive: true });
    await writeFile(rc, HAND_WRITTEN, { mode: 0o600 });
    // A Thunderbird identity that sends through the relay with an address no account has.
    const profile = join(home, '.thunderbird', 'ab12.default');
    await mkdir(profile, { recursive: true });
    await writeFile(join(home, '.thunderbird', 'profiles.ini'), '[Profile0]\nName=default\nIsRelative=1\nPath=ab12.default\nDefault=1\n');
    await writeFile(join(profile, 'prefs.js'), [
      'user_pref("mail.accountmanager.accounts", "account1");',
      'user_pref("mail.account.account1.identities", "id1");',
      `user_pref("mail.identity.id1.useremail", "${address}");`,
      'user_pref("mail.identity.id1.smtpServer", "smtp1");',
      'user_pref("mail.smtpservers", "smtp1");',
      'user_pref("mail.smtpserver.smtp1.description", "msmtp Relay");',
      'user_pref("mail.smtpserver.smtp1.hostname", "localhost");',
      '',
    ].join('\n'));

    ca = makeTestCa();
    provider = await startProvider({ ca, mode: 'starttls', users });
    const certificates = await makeTestCertificates(['autoconfig.own.test']);
    https = await startHttpsStub(certificates, { 'autoconfig.own.test/mail/config-v1.1.xml': xml(autoconfig(provider.port)) });

    const dataDir = join(dir.path, 'data');
    const store = createSettingsStore(dataDir);
    // The relay runs the real msmtp on this HOME (`env` is a program: no shell).
    await store.save({ ...settingsFor('', await freePort(), user), command: `env HOME=${home} msmtp -f %F --` });
    const loaded = await store.load();
    core = coreWithOutbox(secrets, join(dataDir, 'outbox'));
    const seams: AccountSeams = {
      place: { env, home }, keyring: msmtpKeyring('linux', env), msmtp: { env }, verifyOptions: { timeoutMs: 5000 },
    };
    const controller = windowCommands({ app: core, store, secrets }, dir.path, {
      chooseTrustFile: async () => ca.caPath,
      openExternal: async (url) => {
        opened.push(url);
      },
      checkOptions: { env, home },
      thunderbird: { platform: 'linux', home },
      accounts: {
        seams, home,
        lookupSeams: loopbackSeams({ 'autoconfig.own.test:443': https.port }, certificates),
        onAttention: (trouble) => attention.push(trouble.account),
      },
    });
    const started = await startWith(core, loaded.settings);
    assert.equal(started.state, 'running', started.error);

    app = await startWindowBrowser(controller);
    page = await openWindow(app, core, { tab: 'accounts', viewport: { width: 940, height: 1000 } });
  });

  after(async () => {
    await app?.close();
    await core?.relay.shutdown();
    await provider?.close();
    await https?.close();
    await msmtpKeyring('linux', env).remove('127.0.0.1', address).catch(() => undefined);
    await secrets.delete(user).catch(() => false);
    ca?.remove();
    await dir?.remove();
  });

  const text = (selector: string) => page.locator(selector).innerText();
  const row = (name: string) => page.locator(`#accounts-list li[data-account="${name}"]`);
  /** The window (or one element of it, in a window tall enough to hold it); the ones docs/ shows go there too. */
  const screenshot = async (name: string, selector?: string) => {
    await page.evaluate("document.getElementById('toast').hidden = true; document.activeElement?.blur()");
    if (selector) await page.setViewportSize({ width: 940, height: 1500 });
    const target = selector ? page.locator(selector) : page;
    await target.screenshot({ path: join(ARTIFACTS, `app-${name}.png`) });
    if (forDocs && DOC_SHOTS.includes(name)) {
      await mkdir(DOCS_SHOTS, { recursive: true });
      await target.screenshot({ path: join(DOCS_SHOTS, `${name}.png`) });
    }
    if (selector) await page.setViewportSize({ width: 940, height: 1000 });
  };
  /** axe-core's violations in the window as it is now, as one line each. */
  const axe = async (): Promise<string[]> => {
    if (!(await page.evaluate<boolean>('typeof window.axe === "object"'))) await page.evaluate(await readFile(AXE, 'utf8'));
    return page.evaluate<string[]>(`axe.run(document, { resultTypes: ['violations'] }).then((result) =>
      result.violations.map((v) => v.id + ' (' + v.impact + '): ' + v.nodes.map((node) => node.target.join(' ')).join(' | ')))`);
  };
  const saveAndWait = async () => {
    const before = await page.locator('#acc-result').innerText().catch(() => '');
    await page.click('#btn-acc-save');
    await waitUntil(async () => (await page.isHidden('#account-form'))
      || ((await page.isVisible('#acc-result')) && (await text('#acc-result')) !== before), 20_000, 'Verify and save to answer');
  };
  const sendAs = async (from: string, subject: string) => {
    const transport = createTransport({
      host: '127.0.0.1', port: core.status.current().port, secure: false, ignoreTLS: true,
      auth: { user, pass: (await secrets.get(user))! }, connectionTimeout: 5000, socketTimeout: 20_000,
    });
    try {
      return (await transport.sendMail({ from, to: 'friend@example.test', subject, text: `${subject}\n` })).response;
    } finally {
      transport.close();
    }
  };

  it('lists the hand-written accounts read-only, in msmtp\'s order, the default marked, and warns of a sender no account has', async () => {
    await waitUntil(async () => (await page.locator('#accounts-list li').count()) === 2, 10_000, 'the two accounts');
    assert.deepEqual(await page.locator('#accounts-list li h2').allInnerTexts(), ['personal', 'default']);
    assert.equal(await text('#accounts-file'), '~/.msmtprc');
    assert.match(await text('#accounts-list li[data-account="default"] .account-head'), /Default account/);
    assert.doesNotMatch(await row('personal').locator('.account-head').innerText(), /Default account/);
    for (const name of ['personal', 'default']) {
      assert.match(await row(name).locator('.account-head').innerText(), /Hand-written: read-only/);
      assert.equal(await row(name).locator('button').count(), 0, 'no Edit, Verify or Remove for a hand-written account');
    }
    assert.match(await row('personal').innerText(), /From\s+ann@hand\.example/);
    assert.match(await row('personal').innerText(), /Server\s+smtp\.hand\.example:587 \(STARTTLS\)/);
    assert.match(await row('personal').innerText(), /Password\s+msmtp runs a command \(passwordeval\)/);
    assert.equal(await page.isVisible('#accounts-unmatched'), true);
    assert.match(await text('#accounts-unmatched'), /through the default account “default”: through the wrong provider/);
    assert.equal(await text('#accounts-unmatched-list'), `${address} (Thunderbird (default))`);
    await screenshot('accounts');
  });

  it('Gmail: the settings from the app\'s table, the app-password page opened through the main process; Outlook.com: the plain truth, no Verify', async () => {
    // By keyboard: Enter on Add account, the address typed into the field that has the focus, Enter to look it up.
    await page.focus('#btn-account-add');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate("document.activeElement?.id"), 'acc-address', 'the address field has the focus');
    await page.keyboard.type('ann.example@gmail.com');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#acc-details:not([hidden])', { timeout: 10_000 });
    assert.match(await text('#acc-source'), /^Found in msmtp Relay's own provider table/);
    assert.equal(await page.inputValue('#acc-host'), 'smtp.gmail.com');
    assert.equal(await page.inputValue('#acc-user'), 'ann.example@gmail.com');
    assert.equal(await page.isHidden('#acc-confirm-box'), true, 'the bundled table needs no confirmation');
    await page.click('#acc-advice button.link-button');
    await waitUntil(() => opened.length === 1, 5000, 'the page to be opened');
    assert.deepEqual(opened, ['https://myaccount.google.com/apppasswords']);
    await screenshot('accounts-add-gmail', '#account-form');

    await page.fill('#acc-address', 'ann.example@outlook.com');
    await page.click('#btn-acc-find');
    await waitUntil(async () => (await page.inputValue('#acc-user')) === 'ann.example@outlook.com', 10_000, 'the Outlook.com lookup');
    assert.match(await text('#acc-advice .advice-bad'), /since September 2024.*does not support yet/);
    assert.equal(await page.getAttribute('#btn-acc-save', 'aria-disabled'), 'true', 'Verify and save is off (and keeps the focus)');
    await page.click('#btn-acc-cancel');
    assert.equal(await page.isHidden('#account-form'), true);
  });

  it('add: settings learnt from another host must be confirmed; a wrong password shows its words and writes nothing; the right one writes the account', async () => {
    users.set(address, 'right password');
    const before = await readFile(rc, 'utf8');
    await page.click('#btn-account-add');
    await page.fill('#acc-address', address);
    await page.press('#acc-address', 'Enter');
    await page.waitForSelector('#acc-details:not([hidden])', { timeout: 15_000 });
    assert.match(await text('#acc-source'), /^Found in the provider's configuration file/);
    assert.equal(await page.inputValue('#acc-host'), '127.0.0.1');
    assert.equal(await page.inputValue('#acc-port'), String(provider.port));
    assert.equal(await page.inputValue('#acc-tls'), 'starttls');
    assert.equal(await page.isVisible('#acc-confirm-box'), true, 'a server outside own.test is confirmed first');
    assert.match(await text('#acc-confirm-reason'), /^The server 127\.0\.0\.1 is outside own\.test\. Check that 127\.0\.0\.1 is your provider's server/);

    await page.click('#acc-trust-box summary');
    await page.click('#btn-acc-trust');
    await waitUntil(async () => (await page.inputValue('#acc-trust')) === ca.caPath, 5000, 'the chosen trust file');
    await page.fill('#acc-password', 'wrong password');
    await saveAndWait();
    assert.match(await text('#acc-result'), /Tick the box to confirm 127\.0\.0\.1/);
    assert.equal(provider.logins.length, 0, 'no password was sent before the confirmation');

    await page.check('#acc-confirm');
    await saveAndWait();
    assert.match(await text('#acc-result'), /The provider did not accept the login: nothing was saved/);
    assert.equal(await text('#acc-password-error'), 'The server refused the user name or password.');
    assert.equal(await page.getAttribute('#acc-password', 'aria-invalid'), 'true');
    assert.match((await page.getAttribute('#acc-password', 'aria-describedby'))!, /acc-password-error/);
    assert.equal(await readFile(rc, 'utf8'), before, 'nothing written');
    assert.equal(await msmtpKeyring('linux', env).has('127.0.0.1', address), false, 'nothing stored');
    await screenshot('accounts-wrong-password', '#account-form');
    // The pane at its busiest: hand-written accounts, the sender warning, the form with a confirmation and an error.
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      assert.deepEqual(await axe(), [], `axe in ${scheme}`);
    }
    await page.emulateMedia({ colorScheme: 'light' });

    await page.fill('#acc-password', 'right password');
    await saveAndWait();
    assert.equal(await page.isHidden('#account-form'), true, await text('#acc-result').catch(() => ''));
    assert.equal(await page.inputValue('#acc-password'), '', 'the password is gone from the window');
    await waitUntil(async () => (await page.locator('#accounts-list li').count()) === 3, 10_000, 'the new account in the list');
    const written = await readFile(rc, 'utf8');
    assert.ok(written.startsWith(before), 'the hand-written part is untouched');
    assert.match(written, new RegExp(`# msmtp-relay: begin account ${address.replace(/[.]/g, '\\.')}`));
    assert.match(written, new RegExp(`tls_trust_file ${ca.caPath.replace(/[.]/g, '\\.')}`));
    assert.doesNotMatch(written, /right password/);
    const added = row(address);
    assert.match(await added.locator('.account-head').innerText(), /Written by msmtp Relay/);
    assert.match(await added.innerText(), /Password\s+msmtp finds its password in the key ring/);
    assert.deepEqual(await added.locator('button').allInnerTexts(), ['Edit', 'Verify again', 'Remove']);
    assert.equal(await page.isHidden('#accounts-unmatched'), true, 'the Thunderbird sender now has its account');
    await screenshot('accounts-added');
  });

  it('edit: the wrong TLS mode for the port is named, and the file stays as it was', async () => {
    const before = await readFile(rc, 'utf8');
    await row(address).locator('button', { hasText: 'Edit' }).click();
    assert.equal(await page.inputValue('#acc-host'), '127.0.0.1');
    assert.equal(await page.inputValue('#acc-trust'), ca.caPath);
    assert.equal(await page.getAttribute('#acc-address', 'readonly'), '');
    await page.selectOption('#acc-tls', 'tls');
    await page.fill('#acc-password', 'right password');
    await saveAndWait();
    assert.match(await text('#acc-result'), /STARTTLS/);
    assert.equal(await readFile(rc, 'utf8'), before);
    await page.click('#btn-acc-cancel');
  });

  it('needs attention: a login refused keeps the mail, marks the account in the pane and the tray, notifies once; verifying again clears it and sends the mail', async () => {
    users.set(address, 'changed on the web site');
    assert.match(await sendAs(address, 'first kept'), /^250 .*Queued as/);
    assert.match(await sendAs(address, 'second kept'), /^250 .*Queued as/);
    await waitUntil(async () => (await row(address).getAttribute('data-attention')) === 'true', 15_000, 'the account marked');
    assert.match(await row(address).locator('.account-head').innerText(), /Needs attention/);
    assert.match(await row(address).locator('.account-attention').innerText(), /The provider refused the login/);
    assert.equal(await text('#accounts-attention-count'), '1');
    const card = page.locator('.problem[data-kind="account-attention"]');
    assert.equal(await card.locator('h3').innerText(), `The msmtp account ${address} needs attention`);
    const tray = trayModel(core.status.current());
    assert.equal(tray.look, 'error');
    assert.ok(tray.items.some((item) => item.kind === 'label' && item.label.includes(`${address} needs attention`)), JSON.stringify(tray.items));
    assert.deepEqual(attention, [address], 'notified once for two kept mails');
    assert.equal((await core.outbox!.view()).mails.length, 2);
    await screenshot('accounts-attention');
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      assert.deepEqual(await axe(), [], `axe in ${scheme}, an account needing attention`);
    }
    await page.emulateMedia({ colorScheme: 'light' });

    await card.locator('button.opens').click();
    await page.waitForSelector('#account-form:not([hidden])');
    assert.equal(await text('#account-form-title'), `Verify ${address} again`);
    assert.equal(await page.evaluate("document.activeElement?.id"), 'acc-password');
    await page.fill('#acc-password', 'changed on the web site');
    await saveAndWait();
    assert.equal(await page.isHidden('#account-form'), true, await text('#acc-result').catch(() => ''));
    await waitUntil(async () => (await row(address).getAttribute('data-attention')) === null, 10_000, 'the mark to go');
    await waitUntil(async () => (await core.outbox!.view()).mails.length === 0, 30_000, 'the kept mails to go out');
    const delivered = provider.mails.filter((mail) => mail.user === address).map((mail) => mail.raw.toString());
    assert.ok(delivered.some((raw) => raw.includes('first kept')) && delivered.some((raw) => raw.includes('second kept')));
    assert.equal(core.status.current().problems?.some((problem) => problem.kind === 'account-attention') ?? false, false);
    assert.equal(await page.locator('.problem[data-kind="account-attention"]').count(), 0);
  });

  it('remove: asks once more, then takes the block and the key ring item away; the hand-written part stays', async () => {
    const remove = row(address).locator('button', { hasText: 'Remove' });
    await remove.click();
    const again = row(address).locator('button', { hasText: 'Click again to remove' });
    await again.waitFor();
    await again.click();
    await waitUntil(async () => (await page.locator('#accounts-list li').count()) === 2, 10_000, 'the account gone');
    assert.equal(await readFile(rc, 'utf8'), HAND_WRITTEN);
    assert.equal(await msmtpKeyring('linux', env).has('127.0.0.1', address), false);
    assert.equal(await page.isVisible('#accounts-unmatched'), true, 'the Thunderbird sender has no account again');
  });
});
