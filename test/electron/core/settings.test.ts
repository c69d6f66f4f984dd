import assert from 'node:assert/strict';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SETTINGS_FILE, createSettingsStore, defaultSettings, validateSettings } from '../../../electron/core/settings';
import { tempDir } from '../../helpers/app/app-env';

describe('settings store', { timeout: 20_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir('settings');
  });
  after(() => dir.remove());

  const fresh = async (name: string) => {
    const folder = join(dir.path, name, 'nested');
    return { folder, store: createSettingsStore(folder) };
  };

  it('starts from the defaults when there is no file yet', async () => {
    const { store } = await fresh('empty');
    const loaded = await store.load();
    assert.deepEqual(loaded, { settings: defaultSettings });
    assert.deepEqual(defaultSettings, {
      command: 'msmtp -f %F --', host: 'localhost', port: 2500, user: 'msmtpd-user', launchAtLogin: false, keepUnsent: true,
      tls: false, notifications: true,
    });
  });

  it('saves private JSON (0600 in a 0700 folder) and loads it back', async () => {
    const { folder, store } = await fresh('save');
    const next = { ...defaultSettings, port: 2525, user: 'me', command: "'/opt/my msmtp/bin/msmtp' -a work -f %F --" };
    const result = await store.save({ ...next, extra: 'dropped' });
    assert.deepEqual(result, { ok: true, settings: next });
    assert.equal((await stat(store.file)).mode & 0o777, 0o600);
    assert.equal((await stat(folder)).mode & 0o777, 0o700);
    assert.deepEqual(JSON.parse(await readFile(store.file, 'utf8')), next);
    assert.deepEqual((await store.load()).settings, next);
    assert.deepEqual(await readdir(folder), [SETTINGS_FILE], 'no temporary file is left behind');
  });

  it('replaces the file atomically: concurrent saves and reads never see a partial file', async () => {
    const { folder, store } = await fresh('atomic');
    await store.save(defaultSettings);
    const ports = Array.from({ length: 40 }, (_, i) => 3000 + i);
    let reads = 0;
    let saving = true;
    const reader = (async () => {
      while (saving) {
        const text = await readFile(store.file, 'utf8');
        const parsed = JSON.parse(text) as { port: number }; // throws on a torn write
        assert.ok(parsed.port === 2500 || ports.includes(parsed.port));
        reads += 1;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await Promise.all(ports.map((port) => store.save({ ...defaultSettings, port })));
    saving = false;
    await reader;
    assert.ok(reads > 0);
    const final = JSON.parse(await readFile(store.file, 'utf8')) as { port: number };
    assert.ok(ports.includes(final.port));
    assert.deepEqual(await readdir(folder), [SETTINGS_FILE]);
  });

  it('refuses invalid settings with a message per field and leaves the file alone', async () => {
    const { store } = await fresh('invalid');
    await store.save(defaultSettings);
    const result = await store.save({ command: 'msmtp | tee log', host: 'mail.example', port: 70000, user: 'a b', launchAtLogin: 'yes', keepUnsent: 1, tls: 'on', notifications: 1 });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(Object.keys(result.errors).sort(), ['command', 'host', 'keepUnsent', 'launchAtLogin', 'notifications', 'port', 'tls', 'user']);
    assert.match(result.errors.command!, /shell operator '\|'/);
    assert.match(result.errors.host!, /Enter localhost \(127\.0\.0\.1 and ::1\) or a numeric IP address/);
    assert.match(result.errors.port!, /1 to 65535/);
    assert.deepEqual((await store.load()).settings, defaultSettings);
  });

  it('reports a broken file, keeps it aside, and goes on with the defaults', async () => {
    const { folder, store } = await fresh('broken');
    await store.save(defaultSettings);
    await writeFile(store.file, '{"port": 2600, "command": ');
    const loaded = await store.load();
    assert.deepEqual(loaded.settings, defaultSettings);
    assert.match(loaded.problem!, /could not be used \(not valid JSON/);
    assert.match(loaded.problem!, /settings\.json\.broken/);
    assert.equal(await readFile(join(folder, `${SETTINGS_FILE}.broken`), 'utf8'), '{"port": 2600, "command": ');
    assert.deepEqual(JSON.parse(await readFile(store.file, 'utf8')), defaultSettings);
    assert.equal((await stat(store.file)).mode & 0o777, 0o600);
    assert.deepEqual(await store.load(), { settings: defaultSettings }, 'the next start is clean');
  });

  it('treats a wrong value as broken too, but fills keys missing from an older file', async () => {
    const { store } = await fresh('values');
    await store.save(defaultSettings);
    await writeFile(store.file, JSON.stringify({ port: 2600 }));
    assert.deepEqual(await store.load(), { settings: { ...defaultSettings, port: 2600 } });
    // A file from before the outbox: keeping mail is on, as for a new install.
    const older: Record<string, unknown> = { ...defaultSettings, keepUnsent: false };
    delete older.keepUnsent;
    await writeFile(store.file, JSON.stringify(older));
    assert.equal((await store.load()).settings.keepUnsent, true);
    await writeFile(store.file, JSON.stringify({ ...defaultSettings, port: '2600' }));
    const loaded = await store.load();
    assert.deepEqual(loaded.settings, defaultSettings);
    assert.match(loaded.problem!, /port: Enter a port number/);
    await writeFile(store.file, '[1, 2]');
    assert.match((await store.load()).problem!, /settings must be an object/);
  });

  it('keeps the 127.0.0.1 of a file written before localhost became the default', async () => {
    const { store } = await fresh('older-host');
    await store.save(defaultSettings);
    await writeFile(store.file, JSON.stringify({ command: 'msmtp -f %F --', host: '127.0.0.1', port: 2525, user: 'me', launchAtLogin: false }));
    assert.deepEqual(await store.load(), { settings: { command: 'msmtp -f %F --', host: '127.0.0.1', port: 2525, user: 'me', launchAtLogin: false, keepUnsent: true, tls: false, notifications: true } });
  });

  it('validates each field', () => {
    const ok = (patch: object) => validateSettings({ ...defaultSettings, ...patch }).ok;
    assert.equal(ok({ host: '::1' }), true);
    assert.equal(ok({ host: 'localhost' }), true);
    assert.equal(ok({ host: 'LOCALHOST' }), false);
    assert.equal(ok({ host: '0.0.0.0' }), true);
    assert.equal(ok({ host: 'example.org' }), false);
    assert.equal(ok({ port: 0 }), false);
    assert.equal(ok({ port: 1 }), true);
    assert.equal(ok({ port: 65535 }), true);
    assert.equal(ok({ port: 2500.5 }), false);
    assert.equal(ok({ command: '' }), false);
    assert.equal(ok({ command: 'msmtp -f %F -- ; rm -rf ~' }), false);
    assert.equal(ok({ command: 'msmtp $(id)' }), false);
    // Issue #16: a NUL was saved, and every mail then got 451.
    assert.equal(ok({ command: 'msmtp -f %F\0 --' }), false);
    assert.equal(ok({ command: "'msmtp\0' -f %F --" }), false);
    assert.equal(ok({ user: '' }), false);
    assert.equal(ok({ user: 'x'.repeat(129) }), false);
    assert.equal(ok({ user: 'tab\tuser' }), false);
    assert.equal(ok({ user: 'user@example.org' }), true);
    assert.equal(validateSettings(null).ok, false);
    assert.equal(validateSettings('{}').ok, false);
  });
});
