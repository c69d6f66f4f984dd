// "Add to Thunderbird" against the real Thunderbird (Debian's package): the module finds the profile through
// profiles.ini, writes the relay into its prefs.js, then Thunderbird runs headless on that profile, driven over
// Marionette. Thunderbird must see the outgoing server and send a mail through the real relay with it, using the
// identity the user picked; the relay's delivery command (the record command) must receive that mail.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../bench/ports';
import { addRelayToProfile, findProfiles, thunderbirdRoots, thunderbirdRunning } from '../electron/thunderbird-profiles';
import { tempDir } from './helpers/app-env';
import { Marionette } from './helpers/marionette';
import { startRelayHarness, type RelayHarness } from './helpers/relay-harness';
import { waitUntil } from './helpers/wait';

const USER = 'msmtpd-user';
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
const FROM = 'tb-user@example.org';

/** The user's profile before the click: one account with two identities, and their provider's outgoing server. */
function userProfilePrefs(): string {
  return `${[
    '// Mozilla User Preferences',
    '',
    'user_pref("mail.accountmanager.accounts", "account1");',
    'user_pref("mail.accountmanager.defaultaccount", "account1");',
    'user_pref("mail.account.account1.identities", "id1,id2");',
    'user_pref("mail.account.account1.server", "server1");',
    'user_pref("mail.server.server1.type", "none");',
    'user_pref("mail.server.server1.hostname", "Local Folders");',
    'user_pref("mail.server.server1.userName", "nobody");',
    'user_pref("mail.server.server1.name", "Local Folders");',
    `user_pref("mail.identity.id1.useremail", "${FROM}");`,
    'user_pref("mail.identity.id1.fullName", "TB User");',
    'user_pref("mail.identity.id1.fcc", false);',
    'user_pref("mail.identity.id1.smtpServer", "smtp1");',
    'user_pref("mail.identity.id2.useremail", "other@example.org");',
    'user_pref("mail.identity.id2.smtpServer", "smtp1");',
    'user_pref("mail.smtpservers", "smtp1");',
    'user_pref("mail.smtpserver.smtp1.hostname", "smtp.provider.example");',
    'user_pref("mail.smtpserver.smtp1.port", 587);',
  ].join('\n')}\n`;
}

describe('Add to Thunderbird, with the real Thunderbird', { timeout: 120_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let relay: RelayHarness;
  let thunderbird: ChildProcess | null = null;
  let marionette: Marionette | null = null;
  let output = '';
  let profileDir: string;
  let home: string;

  before(async () => {
    dir = await tempDir('thunderbird-real');
    home = join(dir.path, 'home');
    profileDir = join(home, '.thunderbird', 'x1y2z3.default-esr');
    await mkdir(profileDir, { recursive: true });
    await writeFile(join(home, '.thunderbird', 'profiles.ini'), '[Profile0]\nName=default-esr\nIsRelative=1\nPath=x1y2z3.default-esr\nDefault=1\n');
    await writeFile(join(profileDir, 'prefs.js'), userProfilePrefs());
    relay = await startRelayHarness({ options: { host: 'localhost', port: 0, auth: { user: USER, password: PASSWORD } } });
  });

  after(async () => {
    marionette?.close();
    if (thunderbird?.pid && thunderbird.exitCode === null) {
      // Thunderbird starts helper processes: its own process group goes with it.
      try {
        process.kill(-thunderbird.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await relay?.close();
    await dir?.remove();
  });

  it('writes the profile it finds, then headless Thunderbird sees the server and sends a mail through the relay', async () => {
    const [profile] = await findProfiles(thunderbirdRoots({ platform: 'linux', home }));
    assert.equal(profile?.dir, profileDir);
    const written = await addRelayToProfile(profileDir, { host: 'localhost', port: relay.port, user: USER, starttls: false }, ['id1']);
    assert.ok(written.ok, JSON.stringify(written));
    assert.deepEqual({ key: written.key, added: written.added, identities: written.identities }, { key: 'smtp2', added: true, identities: ['id1'] });

    const marionettePort = await freePort();
    // user.js is Thunderbird's own way to set prefs for a start; only the test's remote-control prefs go there.
    await writeFile(join(profileDir, 'user.js'), [
      `user_pref("marionette.port", ${marionettePort});`,
      'user_pref("mail.shell.checkDefaultClient", false);',
      'user_pref("mail.provider.suppress_dialog_on_startup", true);',
      'user_pref("mailnews.start_page.enabled", false);',
    ].join('\n'));
    thunderbird = spawn('thunderbird', ['--headless', '--marionette', '-remote-allow-system-access', '--no-remote', '--profile', profileDir], {
      env: { ...process.env, HOME: home, MOZ_HEADLESS: '1', MOZ_CRASHREPORTER_DISABLE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    thunderbird.stdout!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    thunderbird.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    await waitUntil(async () => {
      if (thunderbird!.exitCode !== null) throw new Error(`Thunderbird exited (${thunderbird!.exitCode}): ${output}`);
      try {
        marionette = await Marionette.open(marionettePort, 5000);
        return true;
      } catch {
        return false;
      }
    }, 60_000, () => `Thunderbird's Marionette on port ${marionettePort}; output: ${output}`);

    // While Thunderbird has the profile open, a click is refused and prefs.js is left alone.
    assert.equal(await thunderbirdRunning(profileDir), true, 'the real lock is seen');
    const refused = await addRelayToProfile(profileDir, { host: 'localhost', port: 1, user: USER, starttls: false }, []);
    assert.deepEqual(refused.ok ? null : refused.reason, 'running');

    const seen = await marionette!.execute<Record<string, unknown>>(`
      const { MailServices } = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");
      const relay = MailServices.outgoingServer.servers.find((server) => server.description == "msmtp Relay");
      const smtp = relay.QueryInterface(Ci.nsISmtpServer);
      const byIdentity = (key) => MailServices.outgoingServer.getServerByIdentity(MailServices.accounts.getIdentity(key)).key;
      return {
        version: Services.appinfo.version,
        servers: MailServices.outgoingServer.servers.map((server) => server.key),
        key: relay.key, hostname: smtp.hostname, port: smtp.port, username: relay.username,
        authMethod: relay.authMethod, normalPassword: Ci.nsMsgAuthMethod.passwordCleartext,
        socketType: relay.socketType, plain: Ci.nsMsgSocketType.plain,
        id1: byIdentity("id1"), id2: byIdentity("id2"),
      };
    `);
    const { version, ...server } = seen;
    assert.deepEqual(server, {
      servers: ['smtp1', 'smtp2'], key: 'smtp2', hostname: 'localhost', port: relay.port, username: USER,
      authMethod: seen.normalPassword, normalPassword: 3, socketType: 0, plain: 0, id1: 'smtp2', id2: 'smtp1',
    });
    process.stdout.write(`# Thunderbird ${String(version)} sees outgoing server smtp2 = localhost:${relay.port} for id1\n`);

    const marker = `tb-${randomBytes(4).toString('hex')}`;
    const sent = await marionette!.execute<{ status: number; message: string | null }>(`
      const [marker, password] = arguments;
      const { MailServices } = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");
      const identity = MailServices.accounts.getIdentity("id1");
      const fields = Cc["@mozilla.org/messengercompose/composefields;1"].createInstance(Ci.nsIMsgCompFields);
      fields.from = "TB User <${FROM}>";
      fields.to = "friend@example.com";
      fields.subject = marker;
      const send = Cc["@mozilla.org/messengercompose/send;1"].createInstance(Ci.nsIMsgSend);
      return new Promise((resolve) => {
        const listener = {
          QueryInterface: ChromeUtils.generateQI(["nsIMsgSendListener"]),
          onStartSending() {}, onSendProgress() {}, onProgress() {}, onStatus() {}, onGetDraftFolderURI() {},
          onTransportSecurityError() {},
          onStopSending(messageId, status, message) { resolve({ status, message }); },
          onSendNotPerformed(messageId, status) { resolve({ status, message: "not performed" }); },
        };
        send.createAndSendMessage(null, identity, "account1", fields, false, false, Ci.nsIMsgSend.nsMsgDeliverNow, null,
          "text/plain", "Sent by Thunderbird through msmtp Relay.\\r\\n" + marker + "\\r\\n", null, null, listener, password, null,
          Ci.nsIMsgCompType.New);
      });
    `, [marker, PASSWORD], 45_000);
    assert.equal(sent.status, 0, `Thunderbird reported ${JSON.stringify(sent)}; output: ${output}`);

    await relay.waitForEvent((event) => event.type === 'mail' && event.outcome === 'delivered', 10_000);
    const [recording, ...more] = relay.recordings();
    assert.equal(more.length, 0, 'exactly one mail');
    assert.deepEqual(recording!.argv, ['-f', FROM, '--', 'friend@example.com']);
    const mail = recording!.stdin.toString('utf8');
    assert.match(mail, new RegExp(`^Subject: ${marker}$`, 'm'));
    assert.match(mail, /^From: TB User <tb-user@example\.org>$/m);
    assert.ok(relay.events.some((event) => event.type === 'auth' && event.ok && event.user === USER), 'Thunderbird logged in with the user name');
    process.stdout.write(`# Thunderbird's mail ${marker} reached the delivery command\n`);
  });
});
