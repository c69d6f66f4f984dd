import { readFileSync, writeFileSync } from 'node:fs';

/** Resident memory of a process from /proc/PID/status, in KiB: now (VmRSS) and the peak (VmHWM). */
export interface Residency {
  rssKiB: number;
  peakKiB: number;
}

export function readResidency(pid: number): Residency | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKiB: field('VmRSS'), peakKiB: field('VmHWM') };
  } catch {
    return null; // the process is gone
  }
}

/** Resets VmHWM to the current RSS (Linux 4.0+: "5" in clear_refs), so the next peak belongs to what follows. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** The pids a process started (Linux: /proc/PID/task/TID/children), one level down. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Samples the peak residency of some processes every few ms until stopped: VmHWM when the kernel kept it,
 * else the largest VmRSS seen. `pids` is asked again at each tick, so short-lived children are caught.
 */
export class PeakSampler {
  private peakKiB = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pids: () => number[], intervalMs = 10) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peakKiB;
  }

  private sample(): void {
    for (const pid of this.pids()) {
      const residency = readResidency(pid);
      if (residency) this.peakKiB = Math.max(this.peakKiB, residency.peakKiB || 0, residency.rssKiB || 0);
    }
  }
}
