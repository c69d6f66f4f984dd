/**
 * Linux tray detection on a real D-Bus session bus (the private one scripts/with-keyring.sh starts, where
 * gnome-keyring owns org.freedesktop.secrets). A fake StatusNotifierWatcher is a python3-dbus process that owns
 * the watcher's name on that bus: it appears late and goes away, like a panel starting after the app or restarting.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import {
  STATUS_NOTIFIER_WATCHER, TrayWatch, itemListed, linuxSession, sessionLocked, trayExpected, type LinuxSession, type TrayWatchOptions,
} from '../../../electron/tray/watch';
import { BUS_TOOLS, createBusProbe, createBusReader, parseDbusSendValue, parseGdbusValue, type BusProbe } from '../../../electron/desktop/session-bus';
import { fakeService, systemBusEnv } from '../../helpers/app/fake-desktop';
import { waitUntil } from '../../helpers/wait';
import { lockDesktopBus } from '../../helpers/programs/desktop-bus-lock';

const OWN_NAME = [
  'import dbus, sys',
  'bus = dbus.SessionBus()',
  'reply = bus.request_name(sys.argv[1], dbus.bus.NAME_FLAG_DO_NOT_QUEUE)',
  'print("owned" if reply == dbus.bus.REQUEST_NAME_REPLY_PRIMARY_OWNER else "refused", flush=True)',
  'sys.stdin.read()', // keeps the connection, and so the name, until the test closes stdin or kills it
].join('\n');

/** Owns `name` on the session bus until stopped; resolves once the bus has granted it. */
async function fakeWatcher(name = STATUS_NOTIFIER_WATCHER): Promise<ChildProcess> {
  const child = spawn('/usr/bin/python3', ['-c', OWN_NAME, name], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  assert.equal(line.toString().trim(), 'owned');
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

const GNOME = linuxSession({ XDG_CURRENT_DESKTOP: 'ubuntu:GNOME', XDG_SESSION_TYPE: 'x11' });

describe('tray support', { timeout: 420_000 }, () => {
  // Two test files run at once on one session bus: the desktop names are this file's alone meanwhile.
  let releaseBus: (() => void) | null = null;
  before(async () => {
    releaseBus = await lockDesktopBus();
  });
  it('runs inside a private session bus', () => {
    assert.match(process.env.DBUS_SESSION_BUS_ADDRESS ?? '', /^unix:/, 'run the tests through scripts/with-keyring.sh');
  });

  for (const tool of BUS_TOOLS) {
    it(`asks the bus with ${tool.program}: the keyring's name is owned, the watcher's is not, a dead bus is "cannot tell"`, async () => {
      const probe = createBusProbe({ tools: [tool] });
      assert.equal(await probe('org.freedesktop.secrets'), true);
      assert.equal(await probe(STATUS_NOTIFIER_WATCHER), false);
      const dead = createBusProbe({ tools: [tool], env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' } });
      assert.equal(await dead('org.freedesktop.secrets'), null);
    });
  }

  it('falls back to the next client when one is missing, and sees a name owned by another process', async () => {
    const missing = { program: 'no-such-dbus-client', args: () => [], owned: () => true };
    const probe = createBusProbe({ tools: [missing, BUS_TOOLS[1]!] });
    assert.equal(await probe(STATUS_NOTIFIER_WATCHER), false, 'the missing client did not answer "true"');
    const watcher = await fakeWatcher();
    try {
      assert.equal(await probe(STATUS_NOTIFIER_WATCHER), true);
    } finally {
      await stop(watcher);
    }
    assert.equal(await createBusProbe({ env: { ...process.env, PATH: '/nonexistent' } })('org.freedesktop.secrets'), null);
  });

  it('expects a tray where a watcher runs, or under X11 outside GNOME; never on Wayland or GNOME without one', () => {
    const kdeWayland = linuxSession({ XDG_CURRENT_DESKTOP: 'KDE', XDG_SESSION_TYPE: 'wayland' });
    const xfce = linuxSession({ XDG_CURRENT_DESKTOP: 'XFCE', XDG_SESSION_TYPE: 'x11' });
    assert.deepEqual(GNOME, { desktops: ['UBUNTU', 'GNOME'], wayland: false });
    assert.equal(linuxSession({ WAYLAND_DISPLAY: 'wayland-0' }).wayland, true);
    assert.equal(linuxSession({ WAYLAND_DISPLAY: 'wayland-0', XDG_SESSION_TYPE: 'x11' }).wayland, false);
    assert.equal(trayExpected(GNOME, true), true, 'GNOME with the AppIndicator extension');
    assert.equal(trayExpected(GNOME, false), false);
    assert.equal(trayExpected(GNOME, null), false);
    assert.equal(trayExpected(kdeWayland, true), true);
    assert.equal(trayExpected(kdeWayland, false), false, 'no watcher on Wayland: no tray');
    assert.equal(trayExpected(xfce, false), true, 'X11 panel: the XEmbed fallback');
    assert.equal(trayExpected(xfce, null), true);
  });

  it('reads the watcher\'s list of items and logind\'s LockedHint from the bus', async () => {
    const watcher = await fakeService('watcher');
    const logind = await fakeService('logind');
    const reader = createBusReader({ env: systemBusEnv() });
    try {
      assert.equal(await itemListed(reader, process.pid), false, 'nothing registered yet');
      await register(`org.kde.StatusNotifierItem-${process.pid + 1}-1`);
      assert.equal(await itemListed(reader, process.pid), false, "another process's item");
      await register(`org.kde.StatusNotifierItem-${process.pid}-1`);
      assert.equal(await itemListed(reader, process.pid), true);
      // An entry by unique name + path: the bus tells whose it is (here the gdbus process that registered it).
      const other = createBusReader();
      assert.equal(await other.processId('org.kde.StatusNotifierWatcher'), watcher.child.pid);
      assert.equal(await sessionLocked(reader), false);
      logind.send('lock');
      await waitUntil(() => logind.lines.includes('locked'), 5000, 'the lock');
      assert.equal(await sessionLocked(reader), true);
      assert.equal(await sessionLocked(createBusReader({ env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent' } })), null);
    } finally {
      await watcher.stop();
      await logind.stop();
    }
    assert.equal(await itemListed(reader, process.pid), null, 'no watcher: cannot tell');
  });

  it('parses gdbus and dbus-send replies', () => {
    assert.equal(parseGdbusValue('(<true>,)\n'), true);
    assert.equal(parseGdbusValue('(uint32 4242,)\n'), 4242);
    assert.deepEqual(parseGdbusValue("(<['org.kde.StatusNotifierItem-1-1', ':1.5/StatusNotifierItem']>,)\n"),
      ['org.kde.StatusNotifierItem-1-1', ':1.5/StatusNotifierItem']);
    assert.deepEqual(parseGdbusValue('(<@as []>,)\n'), []);
    assert.equal(parseDbusSendValue('method return time=1 sender=:1.1\n   variant       boolean false\n'), false);
    assert.equal(parseDbusSendValue('method return time=1 sender=:1.1\n   uint32 77\n'), 77);
    assert.deepEqual(parseDbusSendValue('method return time=1\n   variant       array [\n         string "a-1-1"\n         string ":1.2/x"\n      ]\n'), ['a-1-1', ':1.2/x']);
  });

  it('follows the watcher on the bus: none at start, one appearing late makes the icon, then the item is checked', async () => {
    const events: string[] = [];
    const reader = createBusReader({ env: systemBusEnv() });
    const watch = scripted(GNOME, {
      probe: createBusProbe(),
      itemListed: () => itemListed(reader, process.pid),
      sessionLocked: () => sessionLocked(reader),
      onIconNeeded: () => {
        events.push('icon');
        void register(`org.kde.StatusNotifierItem-${process.pid}-1`).then(() => watch.iconCreated()).then((ok) => events.push(`created ${ok}`));
      },
    }, events);
    let watcher: Awaited<ReturnType<typeof fakeService>> | null = null;
    try {
      assert.equal(await watch.start(), false, 'no watcher yet on GNOME: no tray at start');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual([...events], []);
      watcher = await fakeService('watcher');
      await waitUntil(() => events.includes('created true'), 10_000, () => `the icon made and listed: ${events.join(', ')}`);
      assert.deepEqual(events, ['icon', 'reachable true', 'created true']);
      assert.equal(watch.trayVisible, true);
    } finally {
      watch.stop();
      if (watcher) await watcher.stop();
    }
  });

  it('a screen lock: the watcher away while locked opens nothing and makes no new icon; away while unlocked past the patience opens the window once', async () => {
    const { watch, events, desktop } = await lockableGnomeWatch();
    try {
      assert.deepEqual(events.splice(0), ['reachable true']);
      desktop.locked = true;
      desktop.watcher = false; // GNOME disables the AppIndicator extension while locked
      await sleep(500);
      desktop.locked = null; // logind does not answer for a while (a busy bus): still locked
      await sleep(500);
      assert.deepEqual([...events], [], 'locked for longer than the patience: nothing');
      desktop.locked = false;
      await sleep(100);
      desktop.watcher = true; // the unlock brings the extension back; Chromium's item registers again by itself
      await sleep(300);
      assert.deepEqual([...events], [], 'no window, no new icon');
      assert.equal(watch.trayVisible, true);
      desktop.watcher = false; // now the host goes away for real, unlocked
      await waitUntil(() => events.includes('lost'), 5000, () => `the window after the patience: ${events.join(', ')}`);
      await sleep(300);
      assert.deepEqual(events, ['reachable false', 'lost'], 'once');
      desktop.watcher = true;
      await waitUntil(() => events.includes('reachable true'), 5000, 'the host back');
      assert.deepEqual(events, ['reachable false', 'lost', 'reachable true'], 'the same icon counts again, none made');
    } finally {
      watch.stop();
    }
  });

  it('the host back after a lock means unlocked: a later absence opens the window even when logind does not answer', async () => {
    const { watch, events, desktop } = await lockableGnomeWatch();
    try {
      events.splice(0);
      desktop.locked = true;
      desktop.watcher = false;
      await sleep(500);
      desktop.locked = null; // from here on logind does not answer (a busy bus)
      desktop.watcher = true; // GNOME brings the extension back only once the screen is unlocked
      await sleep(300);
      desktop.watcher = false; // the host goes away for real
      await waitUntil(() => events.includes('lost'), 5000, () => `the window after the patience: ${events.join(', ')}`);
      assert.deepEqual(events, ['reachable false', 'lost']);
    } finally {
      watch.stop();
    }
  });

  it('a host that lists no item of ours counts as no tray, and an icon made with no host is made again when one comes', async () => {
    const events: string[] = [];
    let watcher = true;
    const ignoring = scripted(GNOME, { probe: async () => watcher, itemListed: async () => false, registrationMs: 200 }, events);
    try {
      await ignoring.start();
      const started = Date.now();
      assert.equal(await ignoring.iconCreated(), false);
      assert.ok(Date.now() - started >= 200, 'it waited for the registration');
      assert.deepEqual(events.splice(0), ['reachable false']);
      assert.equal(ignoring.trayVisible, false);
    } finally {
      ignoring.stop();
    }
    const xfce = linuxSession({ XDG_CURRENT_DESKTOP: 'XFCE', XDG_SESSION_TYPE: 'x11' });
    watcher = false;
    const late = scripted(xfce, { probe: async () => watcher }, events);
    try {
      assert.equal(await late.start(), true, 'X11: the XEmbed icon');
      assert.equal(await late.iconCreated(), true);
      watcher = true;
      await waitUntil(() => events.includes('icon'), 5000, 'the icon made again for the new host');
    } finally {
      late.stop();
    }
  });

  it('a hidden start waits a bounded time for a late host', async () => {
    let calls = 0;
    const watch = scripted(GNOME, { probe: async () => ++calls >= 4 }, []);
    try {
      assert.equal(await watch.start(2000), true, 'the host came on the fourth look');
      const none = scripted(GNOME, { probe: async () => false }, []);
      const started = Date.now();
      assert.equal(await none.start(300), false);
      assert.ok(Date.now() - started >= 300 && Date.now() - started < 2000);
      none.stop();
    } finally {
      watch.stop();
    }
  });

  it('gives up after its patience when no host ever came, and an unanswered probe changes nothing', async () => {
    const answers: Array<boolean | null> = [];
    let calls = 0;
    const probe: BusProbe = async () => {
      calls += 1;
      return answers.shift() ?? null;
    };
    const events: string[] = [];
    const watch = scripted(XFCE_X11, { probe, patienceMs: 200 }, events);
    answers.push(false, null, null, false);
    try {
      assert.equal(await watch.start(), true, 'X11: XEmbed');
      await sleep(600);
      const settled = calls;
      await sleep(200);
      assert.equal(calls, settled, 'no more probes once the patience ran out');
      assert.ok(settled >= 5 && settled <= 20, `probed ${settled} times`);
      assert.deepEqual([...events], []);
    } finally {
      watch.stop();
    }
  });

  // Registered last, so it runs after this file's own clean-up has stopped its fakes.
  after(() => releaseBus?.());
});

const XFCE_X11 = linuxSession({ XDG_CURRENT_DESKTOP: 'XFCE', XDG_SESSION_TYPE: 'x11' });

/** Registers an item with the watcher, as Chromium's StatusNotifierItem does (through gdbus: argv, no shell). */
async function register(entry: string): Promise<void> {
  await promisify(execFile)('gdbus', ['call', '--session', '--dest', STATUS_NOTIFIER_WATCHER, '--object-path', '/StatusNotifierWatcher',
    '--method', `${STATUS_NOTIFIER_WATCHER}.RegisterStatusNotifierItem`, entry]);
}

/**
 * A GNOME session whose tray host and screen lock the test switches (`desktop`), 300 ms of patience for an absent
 * host; the watch is started and its icon made.
 */
async function lockableGnomeWatch(): Promise<{ watch: TrayWatch; events: string[]; desktop: { watcher: boolean; locked: boolean | null } }> {
  const desktop: { watcher: boolean; locked: boolean | null } = { watcher: true, locked: false };
  const events: string[] = [];
  const watch = scripted(GNOME, {
    probe: async () => desktop.watcher,
    sessionLocked: async () => desktop.locked,
    itemListed: async () => desktop.watcher,
    awayPatienceMs: 300,
  }, events);
  try {
    assert.equal(await watch.start(), true);
    assert.equal(await watch.iconCreated(), true);
  } catch (error) {
    watch.stop();
    throw error;
  }
  return { watch, events, desktop };
}

function scripted(session: LinuxSession, options: Partial<TrayWatchOptions>, events: string[]): TrayWatch {
  return new TrayWatch({
    probe: async () => false,
    session,
    pollMs: 20,
    patienceMs: 10_000,
    keepAliveMs: 20,
    awayPatienceMs: 10_000,
    registrationMs: 1000,
    sessionLocked: async () => false,
    itemListed: async () => true,
    onIconNeeded: () => events.push('icon'),
    onReachable: (reachable) => events.push(`reachable ${reachable}`),
    onLost: () => events.push('lost'),
    ...options,
  });
}
