import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Mounts a tmpfs of `size` on a new directory under `parent`; null when not root. As root a failed mount throws:
 * CI runs as root, and a skip there would hide the test it exists for. The caller unmounts with the returned function.
 */
export function mountTinyTmpfs(parent: string, size: string): { dir: string; unmount(): void } | null {
  if (process.getuid?.() !== 0) return null;
  const dir = join(parent, 'tiny-fs');
  spawnSync('mkdir', ['-p', dir]);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status !== 0) throw new Error(`mount -t tmpfs failed: ${mounted.stderr.trim() || `status ${mounted.status}`}`);
  return { dir, unmount: () => void spawnSync('umount', ['-l', dir]) };
}
