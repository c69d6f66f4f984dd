import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readResidency } from '../../../bench/memory';
import type { RelayEvent, RelayOptions, RelayStats } from '../../../src-relay/index';
import { fixture } from '../paths';
import { recordCommand, readRecordings, type RecordBehaviour, type Recording } from './relay-harness';

const childScript = fixture('relay-child.mjs');

export interface RelayProcess {
  readonly pid: number;
  readonly port: number;
  readonly recordDir: string;
  /** Events the child reported (empty when started quiet). */
  readonly events: RelayEvent[];
  /** The engine's counters, asked over the child's stdin. */
  stats(timeoutMs?: number): Promise<RelayStats>;
  /** Null while running; the exit code/signal once the process ended (a crash shows here). */
  exited(): { code: number | null; signal: NodeJS.Signals | null } | null;
  stderr(): string;
  recordings(): Recording[];
  /** Resident set size (kB) and open file descriptors of the relay process, read from /proc. */
  sample(): { rssKb: number; fds: number };
  /** SIGTERM, bounded wait (SIGKILL after), and removal of the record dir. Safe to call twice. */
  stop(): Promise<void>;
}

export interface RelayProcessOptions {
  options?: Partial<RelayOptions>;
  record?: RecordBehaviour;
  /** Do not stream events (the soak sends tens of thousands). */
  quiet?: boolean;
}

/** Starts the engine in its own node process with the record command, and waits until it listens. */
export async function startRelayProcess(opts: RelayProcessOptions = {}): Promise<RelayProcess> {
  const recordDir = mkdtempSync(join(tmpdir(), 'relay-process-records-'));
  const options = { command: recordCommand(recordDir, opts.record), ...opts.options, quiet: opts.quiet ?? false };
  const child: ChildProcess = spawn(process.execPath, [childScript, JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const events: RelayEvent[] = [];
  const statsWaiters: Array<(stats: RelayStats) => void> = [];
  let stderr = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exitPromise = new Promise<void>((resolveExit) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolveExit();
    });
  });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-20_000);
  });
  const listening = new Promise<number>((resolvePort, reject) => {
    let pending = '';
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      pending += text;
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const message = JSON.parse(pending.slice(0, newline)) as { listening?: { port: number }; event?: RelayEvent; stats?: RelayStats };
        pending = pending.slice(newline + 1);
        if (message.listening) resolvePort(message.listening.port);
        if (message.event) events.push(message.event);
        if (message.stats) statsWaiters.shift()?.(message.stats);
      }
    });
    void exitPromise.then(() => reject(new Error(`relay process exited before listening: ${JSON.stringify(exit)} ${stderr}`)));
    setTimeout(() => reject(new Error(`relay process did not listen within 10 s: ${stderr}`)), 10_000).unref();
  });
  let port: number;
  try {
    port = await listening;
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(recordDir, { recursive: true, force: true });
    throw error;
  }
  let stopped = false;
  return {
    pid: child.pid!,
    port,
    recordDir,
    events,
    stats(timeoutMs = 5000) {
      return new Promise((resolveStats, reject) => {
        if (exit) {
          reject(new Error(`relay process is gone: ${JSON.stringify(exit)}; stderr: ${stderr}`));
          return;
        }
        const timer = setTimeout(() => reject(new Error('relay process did not answer "stats"')), timeoutMs);
        statsWaiters.push((stats) => {
          clearTimeout(timer);
          resolveStats(stats);
        });
        child.stdin!.write('stats\n');
      });
    },
    exited: () => exit,
    stderr: () => stderr,
    recordings: () => readRecordings(recordDir),
    sample: () => sampleProcess(child.pid!),
    async stop() {
      if (stopped) return;
      stopped = true;
      if (!exit) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exitPromise;
        clearTimeout(killer);
      }
      rmSync(recordDir, { recursive: true, force: true });
    },
  };
}

/** RSS (kB, from /proc/PID/status) and the number of open file descriptors (/proc/PID/fd) of a process. */
function sampleProcess(pid: number): { rssKb: number; fds: number } {
  // `|| 0`: a process that is exiting has no VmRSS line any more (NaN).
  return { rssKb: readResidency(pid)?.rssKiB || 0, fds: readdirSync(`/proc/${pid}/fd`).length };
}
