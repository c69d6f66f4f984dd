import { readFileSync } from 'node:fs';
import { childPids } from './memory';

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ: 100 on every Linux the bench runs on). */
const TICKS_PER_SECOND = 100;

interface Times {
  /** utime + stime of the process itself. */
  own: number;
  /** cutime + cstime: children it has waited for (and what they waited for). */
  reaped: number;
}

/** CPU times of one process, in ms; null when it is gone. */
function readTimes(pid: number): Times | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces: count fields from after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const tick = (index: number) => (Number(fields[index - 3]) * 1000) / TICKS_PER_SECOND;
  return { own: tick(14) + tick(15), reaped: tick(16) + tick(17) };
}

/** Every live process below pid, at any depth. */
function descendants(pid: number): number[] {
  const found: number[] = [];
  const queue = childPids(pid);
  while (queue.length > 0) {
    const next = queue.shift()!;
    found.push(next);
    queue.push(...childPids(next));
  }
  return found;
}

/**
 * CPU used so far, in ms: by the server process alone, and by its whole tree (itself, its live descendants, and all
 * that those have reaped: the relay's launcher and the commands, msmtpd's session forks and their shells).
 */
export interface CpuSample {
  readonly ownMs: number;
  /** The live processes below it, their own CPU only: the relay's launcher (msmtpd has none that live on). */
  readonly helpersMs: number;
  readonly treeMs: number;
}

export function sampleCpu(pid: number): CpuSample {
  const root = readTimes(pid);
  if (!root) throw new Error(`process ${pid} is gone`);
  let treeMs = root.own + root.reaped;
  let helpersMs = 0;
  for (const child of descendants(pid)) {
    const times = readTimes(child);
    if (!times) continue;
    helpersMs += times.own;
    treeMs += times.own + times.reaped;
  }
  return { ownMs: root.own, helpersMs, treeMs };
}

/** What a measurement cost, per mail. */
export function cpuPerMail(before: CpuSample, after: CpuSample, mails: number): CpuSample {
  return {
    ownMs: (after.ownMs - before.ownMs) / mails,
    helpersMs: (after.helpersMs - before.helpersMs) / mails,
    treeMs: (after.treeMs - before.treeMs) / mails,
  };
}
