/**
 * The desktop app's composition root, run: out/electron/glue/main.js in a child process with everything real (the
 * engine, the key ring of scripts/with-keyring.sh, msmtp delivering to a loopback sink, electron-log, the settings
 * window in headless Chromium with the real preload) except Electron's native layer, which is the stand-in of
 * test/helpers/electron-stand-in/ (its header lists what it implements and from which documentation). The tray host
 * (StatusNotifierWatcher) and logind's LockedHint are python3-dbus fakes on the private session bus.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKeyringStore } from '../../src-relay/index';
import { msmtpSettingsFor, refused, tempDir, uniqueUser } from '../helpers/app-env';
import { desktopEnv, launchApp, writeAppSettings, type DesktopApp, type StandInState } from '../helpers/desktop-app';
import { fakeService, type FakeService } from '../helpers/fake-desktop';
import { sendWithNodemailer } from '../helpers/mail';
import { writeMsmtprc, type TestMsmtprc } from '../helpers/msmtprc';
import { freePort } from '../helpers/ports';
import { startSink, type SmtpSink } from '../helpers/smtp-sink';
import { waitUntil } from '../helpers/wait';

const secrets = createKeyringStore();

interface Desk {
  home: string;
  port: number;
  user: string;
  sink: SmtpSink;
  msmtprc: TestMsmtprc;
  env: NodeJS.ProcessEnv;
}

const cleanups: Array<() => Promise<unknown>> = [];

/** A user's desktop: a home folder with the app's settings (real msmtp to a sink, whose 250 may come late). */
async function desk(tag: string, acceptDelayMs = 0): Promise<Desk> {
  const dir = await tempDir(`root-${tag}`);
  const sink = await startSink({ acceptDelayMs });
  const msmtprc = writeMsmtprc({ port: sink.port });
  const port = await freePort();
  const user = uniqueUser(`root-${tag}`);
  await writeAppSettings(dir.path, msmtpSettingsFor(msmtprc.path, port, user));
  cleanups.push(() => dir.remove(), () => sink.close(), async () => msmtprc.remove(), () => secrets.delete(user).catch(() => false));
  return { home: dir.path, port, user, sink, msmtprc, env: desktopEnv(dir.path) };
}

function started(app: DesktopApp): DesktopApp {
  cleanups.push(() => app.kill());
  return app;
}

function listening(port: number): Promise<boolean> {
  return refused(port).then((no) => !no);
}

async function waitForState(app: DesktopApp, what: string, check: (state: StandInState) => boolean, timeoutMs = 20_000): Promise<StandInState> {
  let last: StandInState | null = null;
  await waitUntil(async () => {
    last = await app.state();
    return check(last);
  }, timeoutMs, () => `${what}; journal: ${last?.journal.join(' | ')}\n${app.output()}`);
  return last!;
}

const liveTray = (state: StandInState) => state.trays.filter((tray) => !tray.destroyed).at(-1);

/** Sends one mail through the relay with the password the app keeps in the key ring; resolves to the reply. */
async function mail(d: Desk, to = 'someone@example.net'): Promise<string> {
  const pass = await waitUntil(() => secrets.get(d.user), 10_000, 'the password in the key ring');
  return sendWithNodemailer(d.port, { user: d.user, pass }, to);
}

describe('composition root (main.js under the Electron stand-in)', { timeout: 240_000 }, () => {
  let watcher: FakeService | null = null;
  let logind: FakeService;

  before(async () => {
    logind = await fakeService('logind');
  });
  after(async () => {
    await logind.stop();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
    await watcher?.stop();
    watcher = null;
  });

  it('cold start: tray icon registered with the host, relay listening, window loaded, a mail sent shows in the tray', async () => {
    watcher = await fakeService('watcher');
    const d = await desk('cold');
    const app = started(launchApp(d.env));
    const state = await waitForState(app, 'the tray and the window', (s) => liveTray(s)?.registrations === 1 && s.journal.includes('window 1 loaded'));
    assert.equal(state.trays.length, 1);
    assert.equal(state.trays[0]!.kind, 'sni');
    assert.ok(watcher.lines.includes(`registered org.kde.StatusNotifierItem-${app.child.pid}-1`), watcher.lines.join('\n'));
    await waitUntil(() => listening(d.port), 10_000, 'the relay listening');
    const ipcAt = state.journal.indexOf('app ipc registered');
    const windowAt = state.journal.findIndex((line) => line.startsWith('window 1 created'));
    assert.ok(ipcAt >= 0 && ipcAt < windowAt, state.journal.join(' | '));

    assert.match(await mail(d), /^250/);
    const [got] = await d.sink.waitForMails(1, 10_000);
    assert.deepEqual(got!.to, ['someone@example.net']);
    const after = await waitForState(app, 'the count and last result in the tray', (s) => liveTray(s)!.menu.includes('1 mail sent today (last: delivered)'));
    assert.deepEqual(liveTray(after)!.menu.slice(2), ['-', 'Stop relay', 'Settings…', 'Copy mail client settings', 'Open log file', '-', 'Quit msmtp Relay']);
    assert.match(liveTray(after)!.tooltip, /^msmtp Relay: /);
    // The real window got the pushed status through the real preload.
    assert.match(String(await app.call('page-text')), /127\.0\.0\.1|localhost|Running|running/);
  });

  it('a second launch during boot opens the window only once IPC is registered; after boot it shows it, and --hidden does not', async () => {
    watcher = await fakeService('watcher');
    const d = await desk('second');
    // 'ready' waits for the second launch here, so it lands before boot has registered anything.
    const first = started(launchApp({ ...d.env, STAND_IN_READY_AFTER: 'second-instance' }, ['--hidden']));
    await waitUntil(() => existsSync(join(d.home, '.config', 'msmtp-relay', 'SingletonLock')), 10_000, 'the first instance holding the lock');
    const second = started(launchApp(d.env));
    assert.deepEqual(await second.exited, { code: 0, signal: null }, second.output());
    const state = await waitForState(first, 'the window asked for during boot, loaded', (s) => s.journal.includes('window 1 loaded'));
    const at = (prefix: string) => state.journal.findIndex((line) => line.startsWith(prefix));
    assert.ok(at('second-instance') >= 0 && at('second-instance') < at('ready'), `during boot: ${state.journal.join(' | ')}`);
    assert.ok(at('app ipc registered') < at('window 1 created'), `no window before the handlers: ${state.journal.join(' | ')}`);
    assert.equal(state.windows.length, 1);
    assert.match(String(await first.call('page-text')), /Running|Starting|running/, 'the page got its data over IPC');

    // After boot: hide the window to the tray by closing it, then a second launch shows it again; a hidden one not.
    await waitForState(first, 'the window shown', (s) => s.windows[0]?.visible === true);
    await first.call('close-window');
    await waitForState(first, 'the window hidden to the tray', (s) => s.windows[0]?.visible === false && s.windows.length === 1);
    const hiddenAgain = started(launchApp(d.env, ['--hidden']));
    assert.equal((await hiddenAgain.exited).code, 0);
    await sleep(500);
    assert.equal((await first.state()).windows[0]!.visible, false, 'a login item started again does not open the window');
    const third = started(launchApp(d.env));
    assert.equal((await third.exited).code, 0);
    await waitForState(first, 'the window shown by the second launch', (s) => s.windows[0]?.visible === true && s.windows.length === 1);
  });

  it('a hidden start waits for a tray host that comes a few seconds late, and opens no window', async () => {
    const d = await desk('late-host');
    const app = started(launchApp(d.env, ['--hidden']));
    await sleep(2500);
    watcher = await fakeService('watcher');
    const state = await waitForState(app, 'the icon on the late host', (s) => liveTray(s)?.registrations === 1);
    await waitUntil(() => listening(d.port), 10_000, 'the relay listening');
    await sleep(1000);
    const now = await app.state();
    assert.deepEqual(now.windows, [], `no window: ${now.journal.join(' | ')}`);
    assert.equal(state.trays.length, 1);
    assert.equal(state.trays[0]!.kind, 'sni');
  });

  it('a host that lists no item of ours counts as no tray: a hidden start opens the window', async () => {
    watcher = await fakeService('watcher', ['--ignore']);
    const d = await desk('no-item');
    const app = started(launchApp(d.env, ['--hidden']));
    const state = await waitForState(app, 'the window, since the icon is not listed', (s) => s.journal.includes('window 1 loaded'), 30_000);
    assert.equal(state.trays[0]?.kind, 'sni', 'the icon was made and registered, but the host lists nothing');
    assert.ok(watcher.lines.some((line) => line.startsWith('registered ')), watcher.lines.join('\n'));
  });

  it('the tray host away during a screen lock: no window, no new icon; away while unlocked: the window once', async () => {
    watcher = await fakeService('watcher');
    const d = await desk('lock');
    const app = started(launchApp(d.env, ['--hidden']));
    await waitForState(app, 'the icon registered', (s) => liveTray(s)?.registrations === 1);
    logind.send('lock');
    await waitUntil(() => logind.lines.includes('locked'), 5000, 'the lock');
    await watcher.stop(); // GNOME turns the AppIndicator extension off while locked
    await sleep(14_000); // longer than the patience (10 s) and several polls (2 s)
    let state = await app.state();
    assert.deepEqual(state.windows, [], `no window during the lock: ${state.journal.join(' | ')}`);
    watcher = await fakeService('watcher'); // the unlock brings it back
    logind.send('unlock');
    await waitUntil(() => logind.lines.includes('unlocked'), 5000, 'the unlock');
    await waitForState(app, 'the same icon registered again by itself', (s) => liveTray(s)?.registrations === 2);
    await sleep(3000);
    state = await app.state();
    assert.deepEqual(state.windows, [], `no window after the unlock: ${state.journal.join(' | ')}`);
    assert.equal(state.trays.length, 1, 'no second tray (it would be an XEmbed icon)');

    await watcher.stop(); // now the host goes away with the session unlocked
    watcher = null;
    state = await waitForState(app, 'the window after the patience', (s) => s.journal.includes('window 1 loaded'), 30_000);
    assert.equal(state.windows.length, 1);
    assert.equal(state.trays.length, 1);
  });

  it('a renderer crash destroys the window; the next open builds a fresh one that loads', async () => {
    watcher = await fakeService('watcher');
    const d = await desk('crash');
    const app = started(launchApp(d.env));
    await waitForState(app, 'the window loaded', (s) => s.journal.includes('window 1 loaded'));
    await app.call('crash-renderer');
    let state = await waitForState(app, 'the crashed window gone', (s) => s.journal.includes('window 1 closed'));
    assert.ok(state.journal.includes('window 1 renderer gone'));
    assert.deepEqual(state.windows, []);
    assert.ok(await listening(d.port), 'the relay runs on');
    await app.call('tray-menu', 'Settings…');
    state = await waitForState(app, 'a fresh window', (s) => s.journal.includes('window 2 loaded'));
    assert.deepEqual(state.windows.map((window) => window.crashed), [false]);
    assert.match(String(await app.call('page-text')), /Running|running/);
  });

  describe('every way out with a mail in flight', () => {
    async function inFlight(tag: string, acceptDelayMs: number) {
      watcher = await fakeService('watcher');
      const d = await desk(tag, acceptDelayMs);
      const app = started(launchApp(d.env, ['--hidden']));
      await waitForState(app, 'the icon', (s) => liveTray(s)?.registrations === 1);
      await waitUntil(() => listening(d.port), 10_000, 'the relay listening');
      const reply = mail(d).then((text) => text, (error: unknown) => `error: ${(error as Error).message}`);
      // The provider has the mail and holds back its 250: msmtp, and so the relay's session, is waiting for it.
      await waitUntil(() => d.sink.mails.length === 1, 10_000, 'the mail at the provider');
      return { d, app, reply };
    }

    it('tray Quit: stops listening at once, the mail finishes, exit 0', async () => {
      const { d, app, reply } = await inFlight('quit-tray', 2000);
      await app.call('tray-menu', 'Quit msmtp Relay');
      await waitUntil(() => refused(d.port), 1000, 'the listener closed at once');
      assert.match(await reply, /^250/);
      assert.deepEqual(await app.exited, { code: 0, signal: null }, app.output());
      assert.equal(d.sink.mails.length, 1);
    });

    it('SIGTERM (a logout, or systemd stopping the session): the same', async () => {
      const { d, app, reply } = await inFlight('quit-term', 2000);
      app.child.kill('SIGTERM');
      await waitUntil(() => refused(d.port), 1000, 'the listener closed at once');
      assert.match(await reply, /^250/);
      assert.deepEqual(await app.exited, { code: 0, signal: null }, app.output());
    });

    it('OS shutdown: the app holds it, and ends by itself within what logind gives (5 s), cutting a mail that takes longer', async () => {
      const { d, app, reply } = await inFlight('quit-shutdown', 9000);
      const startedAt = Date.now();
      assert.deepEqual(await app.call('power', 'shutdown'), { prevented: true });
      await waitUntil(() => refused(d.port), 1000, 'the listener closed at once');
      const exit = await app.exited;
      const took = Date.now() - startedAt;
      assert.deepEqual(exit, { code: 1, signal: null }, `ended by itself, not killed by logind: ${app.output()}`);
      assert.ok(took < 5000, `within logind's delay (${took} ms)`);
      assert.doesNotMatch(await reply, /^250/, 'the cut mail was never accepted: the client keeps it');
    });

    it('the display going away (a logout): the process ends without before-quit; the mail is not accepted, the port is free', async () => {
      const { d, app, reply } = await inFlight('quit-display', 5000);
      await app.call('display-lost').catch(() => undefined);
      assert.deepEqual(await app.exited, { code: 1, signal: null });
      assert.doesNotMatch(await reply, /^250/, 'no 250 for a mail the relay could not finish');
      assert.ok(await refused(d.port));
    });
  });
});
