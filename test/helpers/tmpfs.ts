import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

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
