import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The session bus's desktop names (the StatusNotifierWatcher, the fake logind) belong to one test file at a time:
 * the suite runs two files at once on one bus, and a second fake watcher would be refused its name, or an app under
 * test would see another test's tray host. Tests that own or watch those names hold this lock (a folder made
 * atomically, with the holder's pid, taken over when that process is gone). Returns the release function.
 */
export async function lockDesktopBus(timeoutMs = 300_000): Promise<() => void> {
  const bus = process.env.DBUS_SESSION_BUS_ADDRESS ?? 'no-bus';
  const dir = join(tmpdir(), `msmtp-relay-desktop-bus-${createHash('sha256').update(bus).digest('hex').slice(0, 16)}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, 'pid'), String(process.pid));
      return () => rmSync(dir, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(readPid(dir));
    if (holder > 0 && !alive(holder)) rmSync(dir, { recursive: true, force: true });
    if (Date.now() > deadline) throw new Error(`the desktop bus names are still held by pid ${holder} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

function readPid(dir: string): string {
  try {
    return readFileSync(join(dir, 'pid'), 'utf8');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
