/**
 * The window's parts of issue #9 in headless Chromium, with the real AppCommands, RelayHost, engine, key ring, msmtp
 * and health checks behind it (helpers/app-browser.ts replaces only the IPC transport): the test mail, local TLS in
 * the setup pane with Export certificate, and health problems with their one-click fixes. Screenshots go to
 * test-artifacts/ (app-test-mail.png, app-setup-tls.png, app-health.png); with APP_SCREENSHOTS_FOR_DOCS=1 they show a
 * fresh install's user name and port 2500 (which must be free), for docs/screenshots/.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { freePort } from '../helpers/ports';
import type { AppSettings } from '../../electron/contract/api';
import { createXdgAutostart } from '../../electron/desktop/autostart';
import { AppCommands } from '../../electron/core/commands';
import { readOsRelease } from '../../electron/health/problems';
import { HealthMonitor } from '../../electron/health/monitor';
import { createSettingsStore } from '../../electron/core/settings';
import { ensureCertificate } from '../../electron/core/tls-cert';
import { createKeyringStore } from '../../src-relay/index';
import { ARTIFACTS, startWindowBrowser, type WindowBrowser } from '../helpers/app/app-browser';
import { tempDir, uniqueUser } from '../helpers/app/app-env';
import { holdPort } from '../helpers/programs/port-holder';
import { startScriptedSink, type ScriptedSink } from '../helpers/smtp/scripted-sink';
import { waitUntil } from '../helpers/wait';
import { createAppCore, type AppCore } from '../../electron/core/app-core';
import { UNSET_SETTINGS, startWith } from '../helpers/app/app-core';

const secrets = createKeyringStore();
const run = promisify(execFile);

describe('settings window: test mail, local TLS, health checks', { timeout: 120_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let app: WindowBrowser;
  let core: AppCore;
  let page: Page;
  let sink: ScriptedSink;
  let home: string;
  let exportPath: string;
  let tlsDir: string;
  let unwatch: () => void;
  const children: ChildProcess[] = [];
  const forDocs = process.env.APP_SCREENSHOTS_FOR_DOCS === '1';
  const user = forDocs ? 'msmtpd-user' : uniqueUser('window-health');
  const savedHome = process.env.HOME;

  before(async () => {
    dir = await tempDir('window-health');
    home = join(dir.path, 'home');
    await mkdir(home);
    process.env.HOME = home; // the relay's real msmtp reads this ~/.msmtprc
    sink = await startScriptedSink();
    await writeFile(join(home, '.msmtprc'), [
      'defaults', 'syslog off', 'timeout 10', 'tls off', 'tls_starttls off', 'auth off', '',
      'account personal', 'host 127.0.0.1', `port ${sink.port}`, 'from ann@example.org', '',
      'account default : personal', '',
    ].join('\n'), { mode: 0o600 });
    tlsDir = join(dir.path, 'data', 'tls');
    exportPath = join(dir.path, 'exported', 'msmtp-relay-localhost.pem');
    const settings: AppSettings = { command: 'msmtp -f %F --', host: '127.0.0.1', port: forDocs ? 2500 : await freePort(), user, launchAtLogin: false, keepUnsent: false, tls: false, notifications: true };
    const store = createSettingsStore(join(dir.path, 'data'));
    await store.save(settings);
    const certificate = () => ensureCertificate({ dir: tlsDir });
    core = createAppCore({ settings: UNSET_SETTINGS, secrets, engineOptions: { authFailureDelayMs: 0, stopGraceMs: 2000 }, tlsCertificate: certificate });
    const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config') };
    let controller: AppCommands | null = null;
    const health = new HealthMonitor({
      status: core.status, settings: () => controller!.current(), os: await readOsRelease(), home, env, secretServiceRunning: async () => true,
    });
    controller = new AppCommands({
      app: core, store, secrets, health, certificate,
      autostart: createXdgAutostart(join(dir.path, 'autostart'), ['/bin/true']),
      writeClipboard: () => undefined, openLogFile: async () => '', chooseFile: async () => null,
      chooseSavePath: async () => exportPath,
      checkOptions: { home, env },
    });
    core.settings.replace(settings);
    unwatch = health.watch();
    const started = await startWith(core, settings);
    assert.equal(started.state, 'running', started.error);

    app = await startWindowBrowser(controller);
    const push = app.push;
    page = await app.context.newPage();
    core.status.onStatus((status) => push(page, 'status', status));
    await page.goto(`${app.origin}/index.html`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10_000 });
  });

  after(async () => {
    process.env.HOME = savedHome;
    for (const child of children) child.kill();
    unwatch?.();
    await app?.close();
    await core?.relay.shutdown();
    await sink?.close();
    await secrets.delete(user).catch(() => false);
    await dir?.remove();
  });

  const text = (selector: string) => page.locator(selector).innerText();
  const waitText = (selector: string, pattern: RegExp) =>
    waitUntil(async () => pattern.test(await text(selector).catch(() => '')), 15_000, `${selector} to match ${pattern}`);
  const screenshot = async (name: string, height: number) => {
    await page.setViewportSize({ width: 940, height });
    await page.evaluate("document.getElementById('toast').hidden = true; document.activeElement?.blur(); document.querySelector('main').scrollTop = 0");
    await page.screenshot({ path: join(ARTIFACTS, `app-${name}.png`) });
    await page.setViewportSize({ width: 940, height: 700 });
  };

  it('Send a test mail: prefilled with the default account\'s From; the result names the account, or the failed stage in msmtp\'s words', async () => {
    await waitUntil(async () => (await page.inputValue('#f-test-to')) === 'ann@example.org', 5000, 'the default address');
    await page.click('#btn-test-mail');
    await page.waitForSelector('#test-mail-result[data-outcome="sent"]', { timeout: 15_000 });
    assert.equal(await text('#test-mail-result .check-head'), '✓ Sent to ann@example.org with msmtp account personal. Look for "msmtp Relay test mail" in that inbox.');
    assert.equal(await text('#test-mail-result [data-fact="account"]'), `personal (${join(home, '.msmtprc')})`);
    assert.equal(await text('#test-mail-result [data-fact="connection"]'), 'not encrypted (on this computer only)');
    assert.deepEqual((await sink.waitForMails(1, 5000))[0]!.to, ['ann@example.org']);

    sink.setScript({ answers: { rcpt: '550 5.1.1 <nobody@example.net>: no such user' } });
    await page.fill('#f-test-to', 'nobody@example.net');
    await page.click('#btn-test-mail');
    await page.waitForSelector('#test-mail-result[data-outcome="failed"]', { timeout: 15_000 });
    assert.match(await text('#test-mail-result .check-head'), /^✗ Not sent with msmtp account personal: Recipient \(RCPT TO\) failed/);
    assert.equal(await text('#test-mail-result [data-fact="stage"]'), 'Recipient (RCPT TO)');
    assert.equal(await text('#test-mail-result [data-fact="provider"]'), '550 5.1.1 <nobody@example.net>: no such user');
    assert.match(await text('#test-mail-result .test-said'), /msmtp: recipient address nobody@example\.net not accepted by the server/);
    assert.ok(!(await page.content()).includes((await secrets.get(user))!), 'the password never reaches the window');
    sink.setScript({});
    await screenshot('test-mail', 1500);
  });

  it('Encrypt connections: the setup pane says STARTTLS, shows the fingerprint, exports the certificate a client then verifies', async () => {
    await page.check('#f-tls');
    await page.click('#btn-save');
    await waitUntil(async () => (await text('#save-state')) === '' && core.status.current().state === 'running', 10_000, () => `the relay to run with TLS: ${JSON.stringify(core.status.current())}`);
    await page.click('#tab-setup');
    await waitText('#setup-security', /^STARTTLS$/);
    const certificate = await ensureCertificate({ dir: tlsDir });
    assert.equal(await page.isVisible('#setup-cert-row'), true);
    assert.equal(await text('#setup-fingerprint'), certificate.fingerprint256);
    await page.click('#btn-export-cert');
    await waitUntil(() => readFile(exportPath, 'utf8').then((pem) => pem === certificate.cert, () => false), 5000, 'the exported certificate');
    // A client that trusts only the exported file: python's ssl, through the relay the window just reconfigured.
    const script = [
      'import smtplib, ssl, sys',
      's = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)',
      's.starttls(context=ssl.create_default_context(cafile=sys.argv[2]))',
      'print(s.sock.version())',
      's.quit()',
    ].join('\n');
    const port = (await page.locator('#setup-port').innerText()).trim();
    const { stdout } = await run('python3', ['-c', script, port, exportPath], { encoding: 'utf8', timeout: 15_000 });
    assert.match(stdout, /^TLSv1\.[23]$/m);
    await screenshot('setup-tls', 980);

    await page.click('#tab-relay');
    await page.fill('#f-test-to', 'tls@example.net');
    await page.click('#btn-test-mail');
    await page.waitForSelector('#test-mail-result[data-outcome="sent"]', { timeout: 15_000 });
    assert.equal(await text('#test-mail-result [data-fact="connection"]'), 'STARTTLS, certificate verified');
  });

  it('health: no msmtp configuration and a port held by another program show their cause; the fixes work in one click', async () => {
    await page.click('#tab-relay');
    await rename(join(home, '.msmtprc'), join(home, 'msmtprc.away'));
    const busy = await holdPort('127.0.0.1');
    children.push(busy.child);
    await page.fill('#f-port', String(busy.port));
    await page.click('#btn-save');
    const portCard = page.locator('.problem[data-kind="port-in-use"]', { hasText: `Port ${busy.port} ` });
    await portCard.waitFor({ timeout: 15_000 });
    assert.equal(await portCard.locator('h3').innerText(), `Port ${busy.port} is in use by node (pid ${busy.child.pid})`);
    const configCard = page.locator('.problem[data-kind="msmtp-no-config"]');
    await configCard.waitFor({ timeout: 15_000 });
    assert.equal(await configCard.locator('h3').innerText(), 'msmtp has no configuration file');
    assert.equal(await configCard.locator('button.opens').innerText(), 'Add an account');
    assert.equal(await configCard.locator('pre.sample').count(), 0, 'no sample file to edit by hand');
    assert.equal(await page.getAttribute('#status-card', 'data-state'), 'error');
    await screenshot('health', 1100);

    const fixLabel = await portCard.locator('button.fix').innerText();
    const nextPort = Number(/^Use port (\d+)$/.exec(fixLabel)?.[1]);
    assert.ok(nextPort > 0, fixLabel);
    await portCard.locator('button.fix').click();
    await waitText('#status-line', new RegExp(`^Running on localhost:${nextPort}$`));
    await waitUntil(async () => (await page.locator('.problem[data-kind="port-in-use"]').count()) === 0, 5000, () => `the port card to go: ${JSON.stringify(core.status.current())}`);
    assert.equal(await page.inputValue('#f-port'), String(nextPort));
    await waitUntil(async () => (await page.locator('#setup-port').innerText()) === String(nextPort), 5000, 'the setup pane to follow');

    await rename(join(home, 'msmtprc.away'), join(home, '.msmtprc'));
    await configCard.locator('button.fix').click();
    await waitUntil(async () => (await page.locator('.problem').count()) === 0, 10_000, 'every problem to clear');
  });
});
