/**
 * Linux tray detection on a real D-Bus session bus (the private one scripts/with-keyring.sh starts, where
 * gnome-keyring owns org.freedesktop.secrets). A fake StatusNotifierWatcher is a python3-dbus process that owns
 * the watcher's name on that bus: it appears late and goes away, like a panel starting after the app or restarting.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { STATUS_NOTIFIER_WATCHER, TrayWatch, linuxSession, trayExpected } from '../../../electron/tray/watch';
import { BUS_TOOLS, createBusProbe, type BusProbe } from '../../../electron/desktop/session-bus';
import { waitUntil } from '../../helpers/wait';

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

describe('tray support', { timeout: 30_000 }, () => {
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

  it('follows the watcher: none at start, one appearing late, then going away', async () => {
    const events: string[] = [];
    const watch = new TrayWatch({
      probe: createBusProbe(),
      session: GNOME,
      pollMs: 50,
      patienceMs: 10_000,
      keepAliveMs: 50,
      onAppear: () => events.push('appear'),
      onVanish: () => events.push('vanish'),
    });
    let watcher: ChildProcess | null = null;
    try {
      assert.equal(await watch.start(), false, 'no watcher yet on GNOME: no tray at start');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(events, []);
      watcher = await fakeWatcher();
      await waitUntil(() => events.length === 1, 5000, 'the late watcher to be seen');
      assert.deepEqual(events, ['appear']);
      assert.equal(watch.trayVisible, true);
      await stop(watcher);
      await waitUntil(() => events.length === 2, 5000, 'the watcher going away to be seen');
      assert.deepEqual(events, ['appear', 'vanish']);
      assert.equal(watch.trayVisible, false);
    } finally {
      watch.stop();
      if (watcher) await stop(watcher);
    }
  });

  it('gives up after its patience, and an unanswered probe changes nothing', async () => {
    const answers: Array<boolean | null> = [];
    let calls = 0;
    const probe: BusProbe = async () => {
      calls += 1;
      return answers.shift() ?? null;
    };
    const events: string[] = [];
    const watch = new TrayWatch({
      probe, session: GNOME, pollMs: 20, patienceMs: 200, keepAliveMs: 20,
      onAppear: () => events.push('appear'), onVanish: () => events.push('vanish'),
    });
    answers.push(true, null, null, false);
    try {
      assert.equal(await watch.start(), true);
      await waitUntil(() => events.length === 1, 5000, 'the vanish after two unanswered probes');
      assert.deepEqual(events, ['vanish'], 'null answers neither vanish nor appear');
      await new Promise((resolve) => setTimeout(resolve, 400));
      const settled = calls;
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(calls, settled, 'no more probes once the patience after the vanish ran out');
      assert.ok(settled >= 5 && settled <= 20, `probed ${settled} times`);
    } finally {
      watch.stop();
    }
  });
});
