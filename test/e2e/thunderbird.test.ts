// "Add to Thunderbird" against the real Thunderbird (Debian's package): the module finds the profile through
// profiles.ini and writes the relay into its prefs.js; Thunderbird then runs headless on that profile, driven over
// Marionette, and must see the outgoing server and send a mail through the real relay with it, from the identity
// the user picked. After Thunderbird has quit (and rewritten prefs.js itself), a second click moves the server to
// another relay port and adds an identity: Thunderbird sees one updated server, not two, and sends through it. With
// TLS on, the server is STARTTLS: Thunderbird sends through a relay that offers it, and not through one that does not.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { addRelayToProfile, findProfiles, thunderbirdRoots, thunderbirdRunning } from '../../electron/setup/thunderbird-profiles';
import { tempDir } from '../helpers/app/app-env';
import { startRelayHarness, type RelayHarness } from '../helpers/relay/relay-harness';
import { startThunderbird, type HeadlessThunderbird } from '../helpers/programs/thunderbird';

const USER = 'msmtpd-user';
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;

/** The user's profile before the click: one account with two identities, and their provider's outgoing server. */
const USER_PROFILE = `${[
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
  'user_pref("mail.identity.id1.useremail", "tb-user@example.org");',
  'user_pref("mail.identity.id1.fullName", "TB User");',
  'user_pref("mail.identity.id1.fcc", false);',
  'user_pref("mail.identity.id1.smtpServer", "smtp1");',
  'user_pref("mail.identity.id2.useremail", "other@example.org");',
  'user_pref("mail.identity.id2.fcc", false);',
  'user_pref("mail.identity.id2.smtpServer", "smtp1");',
  'user_pref("mail.smtpservers", "smtp1");',
  'user_pref("mail.smtpserver.smtp1.hostname", "smtp.provider.example");',
  'user_pref("mail.smtpserver.smtp1.port", 587);',
].join('\n')}\n`;

/** What Thunderbird's own services say about the outgoing servers, read in its chrome context. */
const SEEN_SCRIPT = `
  const { MailServices } = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");
  const relays = MailServices.outgoingServer.servers.filter((server) => server.description == "msmtp Relay");
  const relay = relays[0];
  const smtp = relay.QueryInterface(Ci.nsISmtpServer);
  const byIdentity = (key) => MailServices.outgoingServer.getServerByIdentity(MailServices.accounts.getIdentity(key)).key;
  return {
    version: Services.appinfo.version,
    servers: MailServices.outgoingServer.servers.map((server) => server.key),
    relays: relays.length,
    key: relay.key, hostname: smtp.hostname, port: smtp.port, username: relay.username,
    normalPassword: relay.authMethod == Ci.nsMsgAuthMethod.passwordCleartext,
    noTls: relay.socketType == Ci.nsMsgSocketType.plain,
    starttls: relay.socketType == Ci.nsMsgSocketType.alwaysSTARTTLS,
    id1: byIdentity("id1"), id2: byIdentity("id2"),
  };
`;

/** Composes and sends a plain-text mail from an identity with Thunderbird's own MessageSend, as the compose window does. */
const SEND_SCRIPT = `
  const [identityKey, from, to, subject, password] = arguments;
  const { MailServices } = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");
  const identity = MailServices.accounts.getIdentity(identityKey);
  const fields = Cc["@mozilla.org/messengercompose/composefields;1"].createInstance(Ci.nsIMsgCompFields);
  fields.from = from;
  fields.to = to;
  fields.subject = subject;
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
      "text/plain", "Sent by Thunderbird through msmtp Relay.\\r\\n" + subject + "\\r\\n", null, null, listener, password, null,
      Ci.nsIMsgCompType.New);
  });
`;

interface TestCertificates {
  key: string;
  cert: string;
  /** The issuing CA's certificate, DER in base64 (what nsIX509CertDB.addCertFromBase64 takes). */
  caBase64: string;
}

/** A throwaway CA and a localhost certificate it signed (SANs localhost, 127.0.0.1, ::1), made with openssl. */
function makeTestCertificates(dir: string): TestCertificates {
  const openssl = (...args: string[]) => {
    const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    assert.equal(result.status, 0, result.stderr);
  };
  mkdirSync(dir, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=msmtp Relay test CA', '-days', '1');
  openssl('req', ...ec, '-keyout', 'key.pem', '-out', 'leaf.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'leaf.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'cert.pem', '-days', '1', '-extfile', 'leaf.ext');
  const pem = readFileSync(join(dir, 'ca.pem'), 'utf8');
  return {
    key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    caBase64: pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''),
  };
}

describe('Add to Thunderbird, with the real Thunderbird', { timeout: 180_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const relays: RelayHarness[] = [];
  let thunderbird: HeadlessThunderbird | null = null;
  let profileDir: string;
  let home: string;
  let tls: TestCertificates;

  before(async () => {
    dir = await tempDir('thunderbird-real');
    home = join(dir.path, 'home');
    profileDir = join(home, '.thunderbird', 'x1y2z3.default-esr');
    await mkdir(profileDir, { recursive: true });
    await writeFile(join(home, '.thunderbird', 'profiles.ini'), '[Profile0]\nName=default-esr\nIsRelative=1\nPath=x1y2z3.default-esr\nDefault=1\n');
    await writeFile(join(profileDir, 'prefs.js'), USER_PROFILE);
    for (let n = 0; n < 2; n += 1) {
      relays.push(await startRelayHarness({ options: { host: 'localhost', port: 0, auth: { user: USER, password: PASSWORD } } }));
    }
    tls = makeTestCertificates(join(dir.path, 'tls'));
    relays.push(await startRelayHarness({
      options: { host: 'localhost', port: 0, auth: { user: USER, password: PASSWORD }, tls: { key: tls.key, cert: tls.cert } },
    }));
  });

  after(async () => {
    thunderbird?.kill();
    for (const relay of relays) await relay.close();
    await dir?.remove();
  });

  async function sendFrom(relay: RelayHarness, identity: string, from: string, to: string): Promise<void> {
    const subject = `tb-${randomBytes(4).toString('hex')}`;
    const sent = await thunderbird!.marionette.execute<{ status: number; message: string | null }>(
      SEND_SCRIPT, [identity, from, to, subject, PASSWORD], 45_000);
    assert.equal(sent.status, 0, `Thunderbird reported ${JSON.stringify(sent)}; output: ${thunderbird!.output()}`);
    await relay.waitForEvent((event) => event.type === 'mail' && event.outcome === 'delivered', 10_000);
    const [recording, ...more] = relay.recordings();
    assert.equal(more.length, 0, 'exactly one mail on this relay');
    const address = /<(.+)>/.exec(from)?.[1] ?? from;
    assert.deepEqual(recording!.argv, ['-f', address, '--', to]);
    const mail = recording!.stdin.toString('utf8');
    assert.match(mail, new RegExp(`^Subject: ${subject}$`, 'm'));
    assert.match(mail, new RegExp(`^From: ${from.replace(/[.+]/g, '\\$&')}$`, 'm'));
    assert.ok(relay.events.some((event) => event.type === 'auth' && event.ok && event.user === USER), 'Thunderbird logged in with the user name');
    process.stdout.write(`# Thunderbird's mail ${subject} from ${identity} reached the delivery command on port ${relay.port}\n`);
  }

  it('writes the profile it finds, then headless Thunderbird sees the server and sends a mail through the relay', async () => {
    const [first] = relays as [RelayHarness, RelayHarness];
    const [profile] = await findProfiles(thunderbirdRoots({ platform: 'linux', home }));
    assert.equal(profile?.dir, profileDir);
    const written = await addRelayToProfile(profileDir, { host: 'localhost', port: first.port, user: USER, starttls: false }, ['id1']);
    assert.ok(written.ok, JSON.stringify(written));
    assert.deepEqual({ key: written.key, added: written.added, identities: written.identities }, { key: 'smtp2', added: true, identities: ['id1'] });

    thunderbird = await startThunderbird(profileDir, home);
    // While Thunderbird has the profile open, a click is refused and prefs.js is left alone.
    assert.equal(await thunderbirdRunning(profileDir), true, 'the real lock is seen');
    const refused = await addRelayToProfile(profileDir, { host: 'localhost', port: 1, user: USER, starttls: false }, []);
    assert.equal(refused.ok ? null : refused.reason, 'running');

    const { version, ...seen } = await thunderbird.marionette.execute<Record<string, unknown>>(SEEN_SCRIPT);
    assert.deepEqual(seen, {
      servers: ['smtp1', 'smtp2'], relays: 1, key: 'smtp2', hostname: 'localhost', port: first.port, username: USER,
      normalPassword: true, noTls: true, starttls: false, id1: 'smtp2', id2: 'smtp1',
    });
    process.stdout.write(`# Thunderbird ${String(version)} sees outgoing server smtp2 = localhost:${first.port} for id1\n`);
    await sendFrom(first, 'id1', 'TB User <tb-user@example.org>', 'friend@example.com');
  });

  it('after Thunderbird quit, a second click updates that server (new port, one more identity) and adds none', async () => {
    const [, second] = relays as [RelayHarness, RelayHarness];
    assert.ok(thunderbird, 'the first test started Thunderbird');
    await thunderbird.quit();
    thunderbird = null;
    assert.equal(await thunderbirdRunning(profileDir), false, 'the lock is gone once Thunderbird quit');
    // prefs.js is now the one Thunderbird wrote itself on exit (it copies user.js prefs in): it must read back, and
    // the update go into it.
    assert.match(await readFile(join(profileDir, 'prefs.js'), 'utf8'), /^user_pref\("marionette\.port", \d+\);$/m);
    const updated = await addRelayToProfile(profileDir, { host: 'localhost', port: second.port, user: USER, starttls: false }, ['id2']);
    assert.ok(updated.ok, JSON.stringify(updated));
    assert.deepEqual({ key: updated.key, added: updated.added, identities: updated.identities }, { key: 'smtp2', added: false, identities: ['id1', 'id2'] });

    thunderbird = await startThunderbird(profileDir, home);
    const { version, ...seen } = await thunderbird.marionette.execute<Record<string, unknown>>(SEEN_SCRIPT);
    assert.equal(typeof version, 'string');
    assert.deepEqual(seen, {
      servers: ['smtp1', 'smtp2'], relays: 1, key: 'smtp2', hostname: 'localhost', port: second.port, username: USER,
      normalPassword: true, noTls: true, starttls: false, id1: 'smtp2', id2: 'smtp2',
    });
    await sendFrom(second, 'id2', 'other@example.org', 'friend@example.com');
    await thunderbird.quit();
    thunderbird = null;
  });

  it('with TLS on, the server says STARTTLS; Thunderbird sends over it, and refuses a relay that offers none', async () => {
    const [first, , secure] = relays as [RelayHarness, RelayHarness, RelayHarness];
    const updated = await addRelayToProfile(profileDir, { host: 'localhost', port: secure.port, user: USER, starttls: true }, []);
    assert.ok(updated.ok && !updated.added, JSON.stringify(updated));
    thunderbird = await startThunderbird(profileDir, home);
    // The user would accept the relay's certificate once; here its issuer is made a trusted CA in the profile.
    await thunderbird.marionette.execute(`
      const certdb = Cc["@mozilla.org/security/x509certdb;1"].getService(Ci.nsIX509CertDB);
      certdb.addCertFromBase64(arguments[0], "C,,");
    `, [tls.caBase64]);
    const { version, ...seen } = await thunderbird.marionette.execute<Record<string, unknown>>(SEEN_SCRIPT);
    assert.equal(typeof version, 'string');
    assert.deepEqual(seen, {
      servers: ['smtp1', 'smtp2'], relays: 1, key: 'smtp2', hostname: 'localhost', port: secure.port, username: USER,
      normalPassword: true, noTls: false, starttls: true, id1: 'smtp2', id2: 'smtp2',
    });
    await sendFrom(secure, 'id1', 'TB User <tb-user@example.org>', 'tls-friend@example.com');

    // Pointed at a relay that offers no STARTTLS, Thunderbird will not send in the clear (a fresh start: Thunderbird
    // keeps its SMTP connection open between mails).
    await thunderbird.quit();
    const plain = await addRelayToProfile(profileDir, { host: 'localhost', port: first.port, user: USER, starttls: true }, []);
    assert.ok(plain.ok);
    thunderbird = await startThunderbird(profileDir, home);
    const before = first.recordings().length;
    const eventsBefore = first.events.length;
    const later = () => first.events.slice(eventsBefore);
    const refused = await thunderbird.marionette.execute<{ status: number }>(
      SEND_SCRIPT, ['id1', 'tb-user@example.org', 'plain@example.com', 'must-not-go-out', PASSWORD], 45_000);
    assert.notEqual(refused.status, 0, "Thunderbird sent without STARTTLS");
    assert.equal(first.recordings().length, before);
    // It did connect, then neither logged in nor sent: the missing STARTTLS stopped it, not an unreachable server.
    const types = later().map((event) => event.type);
    assert.ok(types.includes('session-open') && !types.includes('auth') && !types.includes('mail'), `relay events: ${JSON.stringify(later())}`);
    await thunderbird.quit();
    thunderbird = null;
  });
});

describe('prefs.js as the real Thunderbird reads it (issue #16, 2 and 3)', { timeout: 180_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let thunderbird: HeadlessThunderbird | null = null;
  before(async () => {
    dir = await tempDir('thunderbird-prefs');
  });
  after(async () => {
    thunderbird?.kill();
    await dir?.remove();
  });

  it('a \\x00 escape the app did not change stays an escape, and a user name with );// and U+2028 survives both ways', async () => {
    const home = join(dir.path, 'home');
    const profileDir = join(home, '.thunderbird', 'nul.default');
    await mkdir(profileDir, { recursive: true });
    // Early in the file: a raw NUL here would end Thunderbird's read before the accounts.
    const [header, ...rest] = USER_PROFILE.split('\n\n');
    await writeFile(join(profileDir, 'prefs.js'), `${header}\n\nuser_pref("mail.identity.id2.organization", "Org\\x00cut");\n${rest.join('\n\n')}`);
    const user = 'odd);//user\u2028name\'"\\';
    const server = { host: 'localhost', port: 2599, user, starttls: false };
    const written = await addRelayToProfile(profileDir, server, ['id1']);
    assert.ok(written.ok, JSON.stringify(written));
    assert.ok(!(await readFile(join(profileDir, 'prefs.js'), 'utf8')).includes('\0'), 'no raw NUL written');

    thunderbird = await startThunderbird(profileDir, home);
    const seen = await thunderbird.marionette.execute<Record<string, unknown>>(`
      const { MailServices } = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");
      const relay = MailServices.outgoingServer.servers.find((server) => server.description == "msmtp Relay");
      return {
        accounts: MailServices.accounts.accounts.length,
        servers: MailServices.outgoingServer.servers.map((server) => server.key),
        // The server's username is a byte string (UTF-8 as Latin-1); the pref service decodes it.
        username: relay ? relay.username : null,
        pref: Services.prefs.getStringPref("mail.smtpserver.smtp2.username"),
        // Thunderbird's own parser skips a pref with a \\x00 escape: the line was left as the user had it.
        organization: Services.prefs.prefHasUserValue("mail.identity.id2.organization"),
      };
    `);
    assert.equal(Buffer.from(String(seen.username), 'latin1').toString('utf8'), user);
    assert.deepEqual({ ...seen, username: null }, { accounts: 1, servers: ['smtp1', 'smtp2'], username: null, pref: user, organization: false });
    await thunderbird.quit();
    thunderbird = null;
    // prefs.js is now Thunderbird's own writing of that user name: the app must read it back and update it.
    const again = await addRelayToProfile(profileDir, { ...server, port: 2598 }, []);
    assert.ok(again.ok, JSON.stringify(again));
    assert.equal(again.key, 'smtp2');
  });
});
