import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** Every process the benchmark started and has not seen exit: each is its own process group, killed as one. */
const running = new Set<ChildProcess>();

export function startTracked(file: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options, detached: true });
  running.add(child);
  child.once('exit', () => running.delete(child));
  child.once('error', () => running.delete(child));
  return child;
}

/** Kills a tracked process and everything it started (msmtpd's session processes, the relay's commands). */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

export async function stopTracked(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    killGroup(child); // the leader is gone; its group may not be
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child), graceMs);
  await exited;
  clearTimeout(timer);
  killGroup(child); // leftovers of the group, if any
}

function killAllTracked(): void {
  for (const child of running) killGroup(child);
}

process.once('exit', killAllTracked);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAllTracked();
    process.exit(130);
  });
}

/** Runs a worker script (`node file jsonArg`) to completion and parses the JSON line it prints. */
export async function runWorker<T>(file: string, argument: unknown, timeoutMs: number): Promise<T> {
  const child = startTracked(process.execPath, [file, JSON.stringify(argument)]);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const timer = setTimeout(() => killGroup(child), timeoutMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('close', (c, s) => resolve([c, s])),
  );
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${file} ended with ${code ?? signal}${signal === 'SIGKILL' ? ` (timeout ${timeoutMs} ms?)` : ''}: ${stderr.trim()}`);
  return JSON.parse(stdout) as T;
}

/**
 * A worker process that stays up across jobs (`node file`, jobs and results as IPC messages), so a Node worker
 * is measured with its code compiled rather than through a fresh process's first minutes of JIT compiling.
 */
export class ResidentWorker<Job, Result> {
  private readonly child: ChildProcess;
  private stderr = '';
  private busy = false;

  constructor(private readonly file: string) {
    this.child = startTracked(process.execPath, [file], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.stderr = (this.stderr + text).slice(-4000)));
  }

  /** One job; rejects if the worker fails or takes longer than timeoutMs (then it is killed and cannot run more). */
  async run(job: Job, timeoutMs: number): Promise<Result> {
    if (this.busy) throw new Error(`${this.file}: one job at a time`);
    this.busy = true;
    const child = this.child;
    try {
      return await new Promise<Result>((resolve, reject) => {
        const timer = setTimeout(() => {
          killGroup(child);
          reject(new Error(`${this.file}: no result after ${timeoutMs} ms`));
        }, timeoutMs);
        const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
          clearTimeout(timer);
          reject(new Error(`${this.file} ended with ${code ?? signal}: ${this.stderr.trim()}`));
        };
        child.once('exit', onExit);
        child.once('message', (result) => {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve(result as Result);
        });
        child.send(job as object);
      });
    } finally {
      this.busy = false;
    }
  }

  async close(): Promise<void> {
    await stopTracked(this.child);
  }
}
