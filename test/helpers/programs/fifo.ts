import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

/** Makes a FIFO (named pipe) at `path`: a reader that opens it waits for a writer, for good if none comes. */
export function makeFifo(path: string): void {
  assert.equal(spawnSync('mkfifo', [path]).status, 0, `mkfifo ${path}`);
}

/** Opens and closes the FIFO for writing, so a reader left waiting on it (by code under test that fails) can end. */
export function releaseFifo(path: string): void {
  spawnSync('sh', ['-c', 'exec 3<>"$1"', 'sh', path], { timeout: 1000 });
}

/** The work, or a rejection once it took longer than `ms`: a hang becomes a test failure. */
export function within<T>(ms: number, work: Promise<T>): Promise<T> {
  return Promise.race([
    work,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms).unref()),
  ]);
}
