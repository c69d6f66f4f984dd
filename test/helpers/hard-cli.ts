import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const cliPath = resolve(__dirname, '..', '..', 'src-relay', 'cli.js');

export interface CliProcess {
  readonly child: ChildProcess;
  readonly port: number;
  stderr(): string;
  /** SIGTERM and the exit code (SIGKILL after timeoutMs). */
  stop(timeoutMs?: number): Promise<number | null>;
}

/** Runs the compiled CLI (`msmtp-relay`) on 127.0.0.1:port and waits until it accepts connections. */
export async function startCli(port: number, args: readonly string[]): Promise<CliProcess> {
  const child = spawn(process.execPath, [cliPath, '--interface=127.0.0.1', `--port=${port}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`msmtp-relay exited ${child.exitCode}: ${stderr}`);
    const up = await new Promise<boolean>((resolveUp) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolveUp(true);
      });
      socket.once('error', () => resolveUp(false));
    });
    if (up) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`msmtp-relay did not listen on ${port} within 10 s: ${stderr}`);
    }
    await sleep(50);
  }
  return {
    child,
    port,
    stderr: () => stderr,
    async stop(timeoutMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(killer);
      return code;
    },
  };
}

/**
 * Mounts a tmpfs of `size` on a new directory under `parent` (root only); null when that is not possible here.
 * The caller unmounts with the returned function.
 */
export function mountTinyTmpfs(parent: string, size: string): { dir: string; unmount(): void } | null {
  if (process.getuid?.() !== 0) return null;
  const dir = join(parent, 'tiny-fs');
  spawnSync('mkdir', ['-p', dir]);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status !== 0) return null;
  return { dir, unmount: () => void spawnSync('umount', ['-l', dir]) };
}
