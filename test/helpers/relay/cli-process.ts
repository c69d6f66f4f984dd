import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { quote } from 'shell-quote';
import { smtpGreets } from '../ports';
import { waitUntil } from '../wait';

import { OUT_DIR } from '../paths';

export const cliPath = join(OUT_DIR, 'src-relay', 'cli', 'main.js');

/** argv as one shell-quoted string, for --command (which the relay splits again without a shell). */
export function commandString(argv: readonly string[]): string {
  return quote([...argv]);
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed (unless keepStdinOpen). */
  input?: string | Buffer;
  keepStdinOpen?: boolean;
  timeoutMs?: number;
}

/** Runs the CLI to its end; kills it and rejects if it runs longer than the timeout. */
export function runCli(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  return CliProcess.start(args, options).exited(options.timeoutMs ?? 10_000);
}

/** A running CLI with its output collected; every wait is bounded. */
export class CliProcess {
  stdout = '';
  stderr = '';
  private exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (text: string) => (this.stdout += text));
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    this.exit = new Promise((done) => child.once('close', (code, signal) => done({ code, signal })));
  }

  static start(args: readonly string[], options: RunOptions = {}): CliProcess {
    const child = spawn(process.execPath, [cliPath, ...args], {
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.on('error', () => undefined); // the CLI may exit without reading its input
    if (options.input !== undefined) child.stdin.write(options.input);
    if (!options.keepStdinOpen) child.stdin.end();
    return new CliProcess(child);
  }

  /**
   * Starts the CLI on 127.0.0.1:port and resolves once it greets there; if it exits first or stays silent for
   * timeoutMs it is killed and the promise rejects with its stderr.
   */
  static async listening(port: number, args: readonly string[], options: RunOptions = {}, timeoutMs = 10_000): Promise<CliProcess> {
    const cli = CliProcess.start(['--interface=127.0.0.1', `--port=${port}`, ...args], options);
    try {
      await waitUntil(async () => {
        if (!cli.running) throw new Error(`msmtp-relay exited (${cli.child.exitCode ?? cli.child.signalCode}) before listening: ${cli.stderr}`);
        return smtpGreets(port);
      }, timeoutMs, () => `msmtp-relay to listen on ${port}; stderr: ${cli.stderr}`);
    } catch (error) {
      cli.kill();
      throw error;
    }
    return cli;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits for the exit; on timeout kills the process and rejects. */
  async exited(timeoutMs = 10_000): Promise<CliResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, fail) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        fail(new Error(`CLI did not exit within ${timeoutMs} ms; stderr: ${this.stderr}`));
      }, timeoutMs);
    });
    try {
      const { code, signal } = await Promise.race([this.exit, timeout]);
      return { code, signal, stdout: this.stdout, stderr: this.stderr };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a signal and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<CliResult> {
    if (this.running) this.child.kill(signal);
    return this.exited(timeoutMs);
  }

  /** For cleanup: never throws, never waits long. */
  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

export function readText(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/** Waits until the log file holds a line matching the pattern, and returns the whole file. */
export async function waitForLogLine(path: string, pattern: RegExp, timeoutMs = 5000): Promise<string> {
  await waitUntil(() => pattern.test(readText(path)), timeoutMs, () => `a log line matching ${pattern} in ${path}; log so far:\n${readText(path)}`);
  return readText(path);
}

/** The one line msmtp-relay prints for a start-up failure. */
export function assertOneErrorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((line) => line !== '');
  if (lines.length !== 1 || !lines[0]!.startsWith('msmtp-relay: ')) {
    throw new Error(`expected exactly one 'msmtp-relay: ...' line on stderr, got ${JSON.stringify(stderr)}`);
  }
  return lines[0]!;
}
