/**
 * A desktop's D-Bus services, faked on the test's private session bus by test/fixtures/fake-desktop-bus.py: a
 * StatusNotifierWatcher (the tray host) and logind's session with its LockedHint. The app finds logind on the system
 * bus; pointing DBUS_SYSTEM_BUS_ADDRESS at the session bus (systemBusEnv) makes it ask this fake.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fixture } from '../paths';

export interface FakeService {
  readonly child: ChildProcess;
  /** Lines it printed ("registered <entry>", "locked", ...). */
  readonly lines: string[];
  send(command: string): void;
  stop(): Promise<void>;
}

export async function fakeService(kind: 'watcher' | 'logind', extra: string[] = []): Promise<FakeService> {
  const child = spawn('/usr/bin/python3', [fixture('fake-desktop-bus.py'), kind, ...extra], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const reader = createInterface({ input: child.stdout });
  const first = new Promise<string>((resolve) => reader.once('line', resolve));
  reader.on('line', (line) => lines.push(line));
  assert.equal(await first, 'ready', `the fake ${kind} owns its bus name`);
  return {
    child,
    lines,
    send: (command) => child.stdin.write(`${command}\n`),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The environment under which "the system bus" is the test's session bus, where the fake logind is. */
export function systemBusEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, DBUS_SYSTEM_BUS_ADDRESS: env.DBUS_SESSION_BUS_ADDRESS };
}
