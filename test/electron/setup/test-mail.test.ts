/**
 * "Send a test mail" end to end: the AppCommands sends through the running RelayHost (real engine, real key ring),
 * the relay hands it to the real msmtp, and msmtp talks to a scripted loopback provider that accepts, refuses the
 * recipient, refuses the login, or is down. The result must name msmtp's account, say whether it went out, and
 * give the failed stage in msmtp's own words with advice; never the password. With local TLS on, the test mail
 * itself goes over STARTTLS and verifies the relay's certificate.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../helpers/ports';
import type { AppSettings } from '../../../electron/contract/api';
import { createXdgAutostart } from '../../../electron/desktop/autostart';
import { AppCommands } from '../../../electron/core/commands';
import { createSettingsStore } from '../../../electron/core/settings';
import { sendTestMail } from '../../../electron/setup/test-mail';
import { ensureCertificate } from '../../../electron/core/tls-cert';
import { classifyCommandFailure } from '../../../src-relay/index';
import { createKeyringStore } from '../../../src-relay/index';
import { tempDir, uniqueUser } from '../../helpers/app/app-env';
import { startScriptedSink, type ScriptedSink } from '../../helpers/smtp/scripted-sink';
import { createAppCore, type AppCore } from '../../../electron/core/app-core';
import { UNSET_SETTINGS, startWith } from '../../helpers/app/app-core';

const secrets = createKeyringStore();

describe('Send a test mail', { timeout: 90_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let home: string;
  let sink: ScriptedSink;
  let core: AppCore;
  let controller: AppCommands;
  const user = uniqueUser('test-mail');
  const savedHome = process.env.HOME;

  /** msmtp's user configuration for this test: two accounts, the default one sends to the scripted provider. */
  async function writeConfig(account: Record<string, string>): Promise<void> {
    const lines = [
      'defaults', 'syslog off', 'timeout 10', 'tls off', 'tls_starttls off', 'auth off',
      'set_from_header off', 'set_date_header off', 'set_msgid_header off', '',
      'account personal', 'host 127.0.0.1', `port ${sink.port}`, 'from ann@example.org',
      ...Object.entries(account).map(([key, value]) => `${key} ${value}`), '',
      'account work', 'host 127.0.0.1', 'port 9', 'from ann@work.example', '',
      'account default : personal', '',
    ];
    await writeFile(join(home, '.msmtprc'), lines.join('\n'), { mode: 0o600 });
  }

  before(async () => {
    dir = await tempDir('test-mail');
    home = join(dir.path, 'home');
    await mkdir(home);
    // The relay's msmtp reads ~/.msmtprc of this process's HOME.
    process.env.HOME = home;
    sink = await startScriptedSink();
    await writeConfig({});
    const settings: AppSettings = { command: 'msmtp -f %F --', host: '127.0.0.1', port: await freePort(), user, launchAtLogin: false, keepUnsent: false, tls: false, notifications: false };
    const store = createSettingsStore(join(dir.path, 'data'));
    await store.save(settings);
    core = createAppCore({
        settings: UNSET_SETTINGS,
      secrets,
      engineOptions: { authFailureDelayMs: 0, stopGraceMs: 2000 },
      tlsCertificate: () => ensureCertificate({ dir: join(dir.path, 'data', 'tls') }),
    });
    controller = new AppCommands({
      app: core, store, secrets, autostart: createXdgAutostart(join(dir.path, 'autostart'), ['/bin/true']),
      writeClipboard: () => undefined, openLogFile: async () => '', chooseFile: async () => null,
      certificate: () => ensureCertificate({ dir: join(dir.path, 'data', 'tls') }),
      checkOptions: { home, env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config') } },
    });
    core.settings.replace(settings);
    const started = await startWith(core, settings);
    assert.equal(started.state, 'running', started.error);
  });

  after(async () => {
    process.env.HOME = savedHome;
    await core?.relay.shutdown();
    await sink?.close();
    await secrets.delete(user).catch(() => false);
    await dir?.remove();
  });

  it('defaults to the From of msmtp\'s default account', async () => {
    assert.deepEqual(await controller.testMailDefaults(), { from: 'ann@example.org', to: 'ann@example.org' });
  });

  it('goes out through relay → msmtp → provider, and names the account msmtp used', async () => {
    const result = await controller.sendTestMail('bob@example.net');
    assert.equal(result.outcome, 'sent', JSON.stringify(result));
    assert.equal(result.encrypted, false);
    assert.equal(result.account, 'personal');
    assert.equal(result.accountFile, join(home, '.msmtprc'));
    assert.equal(result.headline, 'Sent to bob@example.net with msmtp account personal. Look for "msmtp Relay test mail" in that inbox.');
    const [mail] = await sink.waitForMails(1, 10_000);
    assert.equal(mail!.from, 'ann@example.org');
    assert.deepEqual(mail!.to, ['bob@example.net']);
    assert.match(mail!.raw.toString(), /^Subject: msmtp Relay test mail\r$/m);
    assert.match(mail!.raw.toString(), /^Message-ID: <test-\d+-[0-9a-f]{12}@msmtp-relay\.localhost>\r$/m);
    assert.ok(!JSON.stringify(result).includes((await secrets.get(user))!), 'no password in the result');
  });

  it('a recipient the provider refuses: rejected by the server, in msmtp\'s words, with the provider\'s reply', async () => {
    sink.setScript({ answers: { rcpt: '550 5.1.1 <nobody@example.net>: no such user' } });
    const result = await controller.sendTestMail('nobody@example.net');
    assert.equal(result.outcome, 'failed', JSON.stringify(result));
    assert.equal(result.account, 'personal');
    assert.equal(result.stage, 'Recipient (RCPT TO)');
    assert.match(result.headline, /^Not sent with msmtp account personal: Recipient \(RCPT TO\) failed \(/);
    assert.match(result.said ?? '', /msmtp: recipient address nobody@example\.net not accepted by the server/);
    assert.match(result.said ?? '', /550 5\.1\.1 <nobody@example\.net>: no such user/);
    assert.equal(result.providerReply, '550 5.1.1 <nobody@example.net>: no such user');
    assert.ok(result.advice && result.advice.length > 10);
    assert.match(result.serverReply ?? '', /^5\d\d /, 'the relay gave the client a permanent failure');
  });

  it('a wrong login at the provider: the login stage', async () => {
    sink.setScript({ auth: { user: 'ann', password: 'the-right-one' } });
    await writeConfig({ auth: 'plain', user: 'ann', password: 'a-wrong-one' });
    try {
      const result = await controller.sendTestMail('carol@example.net');
      assert.equal(result.outcome, 'failed', JSON.stringify(result));
      assert.equal(result.stage, 'Login');
      assert.match(result.said ?? '', /msmtp: authentication failed/);
      assert.ok(!JSON.stringify(result).includes('a-wrong-one'), 'msmtp\'s password is not shown either');
    } finally {
      sink.setScript({});
      await writeConfig({});
    }
  });

  it('the provider is down: the connect stage, msmtp\'s "Connection refused"', async () => {
    const closedPort = await freePort();
    await writeConfig({ port: String(closedPort) });
    try {
      const result = await controller.sendTestMail('dave@example.net');
      assert.equal(result.outcome, 'failed', JSON.stringify(result));
      assert.equal(result.stage, 'Connect');
      assert.match(result.said ?? '', new RegExp(`msmtp: cannot connect to 127\\.0\\.0\\.1, port ${closedPort}: Connection refused`));
    } finally {
      await writeConfig({});
    }
  });

  it('with "Encrypt connections" on, the test mail uses STARTTLS and verifies the relay\'s own certificate', async () => {
    const saved = await controller.saveSettings({ ...controller.current(), tls: true });
    assert.equal(saved.ok, true);
    const view = await controller.clientSetup();
    assert.equal(view.security, 'starttls');
    assert.equal(view.fingerprint, (await ensureCertificate({ dir: join(dir.path, 'data', 'tls') })).fingerprint256);
    const before = sink.mails.length;
    const result = await controller.sendTestMail('erin@example.net');
    assert.equal(result.outcome, 'sent', JSON.stringify(result));
    await sink.waitForMails(before + 1, 10_000);
    assert.equal(result.encrypted, true);
    assert.equal(sink.mails.at(-1)!.to[0], 'erin@example.net');
    // Against any other certificate the handshake fails, and the result says it was the relay's TLS.
    const other = await ensureCertificate({ dir: join(dir.path, 'other-tls') });
    const mismatch = await sendTestMail({
      address: { host: '127.0.0.1', port: core.status.current().port }, user, password: async () => (await secrets.get(user))!,
      from: 'ann@example.org', to: 'erin@example.net', tlsCa: other.cert,
      subscribe: () => () => undefined, probe: async () => null, classify: classifyCommandFailure,
    });
    assert.equal(mismatch.outcome, 'failed');
    assert.match(mismatch.headline, /^Not sent: the relay could not be reached \(TLS: .*certificate/);
    assert.equal(sink.mails.length, before + 1, 'nothing sent over an unverified connection');
    await controller.saveSettings({ ...controller.current(), tls: false });
  });

  it('says so when the relay is not running, and refuses a non-address', async () => {
    assert.equal((await controller.sendTestMail('not an address')).outcome, 'refused');
    await controller.setRunning(false);
    try {
      const result = await controller.sendTestMail('frank@example.net');
      assert.equal(result.outcome, 'not-running');
      assert.equal(result.headline, 'The relay is not running');
    } finally {
      await controller.setRunning(true);
    }
  });

  describe('with the outbox on (the real engine keeps the mail)', () => {
    it('the provider is down: "Not sent yet: kept in the outbox because …", with the stage and msmtp\'s words', async () => {
      const closedPort = await freePort();
      await writeConfig({ port: String(closedPort) });
      const keepingUser = uniqueUser('test-mail-outbox');
      const keeping = createAppCore({
        settings: UNSET_SETTINGS,
        secrets, outboxDir: join(dir.path, 'outbox'), engineOptions: { authFailureDelayMs: 0, stopGraceMs: 2000 },
        // Long enough that no retry runs during the test.
        outboxTiming: { retryInitialMs: 600_000 },
      });
      const settings: AppSettings = { ...controller.current(), user: keepingUser, port: await freePort(), keepUnsent: true };
      const keptController = new AppCommands({
        app: keeping, store: createSettingsStore(join(dir.path, 'data-outbox')), secrets,
        autostart: createXdgAutostart(join(dir.path, 'autostart-outbox'), ['/bin/true']),
        writeClipboard: () => undefined, openLogFile: async () => '', chooseFile: async () => null,
        checkOptions: { home, env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config') } },
      });
      keeping.settings.replace(settings);
      try {
        assert.equal((await keeping.relay.start()).state, 'running');
        const result = await keptController.sendTestMail('gina@example.net');
        assert.equal(result.outcome, 'queued', JSON.stringify(result));
        assert.match(result.queueId ?? '', /^[0-9A-F]{12}$/);
        assert.match(result.headline, /^Not sent yet: kept in the outbox because .+; it will be retried$/);
        assert.equal(result.stage, 'Connect');
        assert.match(result.said ?? '', new RegExp(`msmtp: cannot connect to 127\\.0\\.0\\.1, port ${closedPort}: Connection refused`));
        assert.equal(result.account, 'personal');
      } finally {
        await keeping.relay.shutdown();
        await secrets.delete(keepingUser).catch(() => false);
        await writeConfig({});
      }
    });
  });
});
