import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CliProcess } from './cli-process';

export interface ListeningCli {
  readonly port: number;
  stderr(): string;
  /** SIGTERM and the exit code (null when it had to be killed with SIGKILL after timeoutMs). */
  stop(timeoutMs?: number): Promise<number | null>;
}

/** Runs the compiled CLI (`msmtp-relay`) on 127.0.0.1:port and waits until it accepts connections. */
export async function startCli(port: number, args: readonly string[]): Promise<ListeningCli> {
  const cli = await CliProcess.listening(port, args);
  return {
    port,
    stderr: () => cli.stderr,
    // Never rejects: callers also stop in `finally`, where a second error would hide the test's own.
    stop: (timeoutMs = 10_000) => cli.stop('SIGTERM', timeoutMs).then((result) => result.code, () => null),
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
