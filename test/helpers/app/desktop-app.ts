/**
 * The desktop app's composition root (out/electron/glue/main.js) run as a child process under plain Node, with
 * `electron` resolved to the stand-in (test/helpers/electron-stand-in/, its header says what it does) and everything
 * else real. The child's IPC channel is the stand-in's control: the test plays the OS and the user through it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppSettings } from '../../../electron/contract/api';
import { OUT_DIR, REPO_ROOT } from '../paths';

export interface StandInState {
  journal: string[];
  ready: boolean;
  windows: Array<{ id: number; visible: boolean; crashed: boolean }>;
  trays: Array<{ kind: 'sni' | 'xembed'; destroyed: boolean; tooltip: string; image: string; menu: string[]; registrations: number }>;
  notifications: Array<{ title: string; body: string }>;
}

export interface DesktopApp {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  call<T = unknown>(op: string, arg?: string): Promise<T>;
  state(): Promise<StandInState>;
  kill(): Promise<void>;
}

/** The environment of a desktop session: its own HOME and config folder; GNOME on X11 unless told otherwise. */
export function desktopEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CURRENT_DESKTOP: 'ubuntu:GNOME',
    XDG_SESSION_TYPE: 'x11',
    // logind is asked on the system bus; the fake one lives on the test's session bus (test/helpers/fake-desktop.ts).
    DBUS_SYSTEM_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS,
    ...extra,
  };
}

export async function writeAppSettings(home: string, settings: AppSettings): Promise<void> {
  const dir = join(home, '.config', 'msmtp-relay');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, 'settings.json'), JSON.stringify(settings), { mode: 0o600 });
}

export function launchApp(env: NodeJS.ProcessEnv, argv: string[] = []): DesktopApp {
  const child = fork(join(OUT_DIR, 'electron', 'glue', 'main.js'), argv, {
    cwd: REPO_ROOT,
    env,
    execArgv: ['--require', join(OUT_DIR, 'test', 'helpers', 'electron-stand-in', 'register.js')],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => void (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => void (output += chunk.toString()));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  let nextId = 1;
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  child.on('message', (message: { id: number; result?: unknown; error?: string }) => {
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error !== undefined) waiter?.reject(new Error(message.error));
    else waiter?.resolve(message.result);
  });
  void exited.then(() => {
    for (const waiter of pending.values()) waiter.reject(new Error(`the app exited\n${output}`));
    pending.clear();
  });
  const call = <T>(op: string, arg?: string) => new Promise<T>((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    child.send({ id, op, arg });
  });
  return {
    child,
    output: () => output,
    exited,
    call,
    state: () => call<StandInState>('state'),
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
