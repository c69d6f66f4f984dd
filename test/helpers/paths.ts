import { join, resolve } from 'node:path';

/** Where things are, seen from a test compiled to out/test/**: the one place that knows the layout. */
export const REPO_ROOT = resolve(__dirname, '../../..');
export const OUT_DIR = join(REPO_ROOT, 'out');

/** A file of test/fixtures/ (run in place: the .mjs fixtures are not compiled). */
export function fixture(name: string): string {
  return join(REPO_ROOT, 'test', 'fixtures', name);
}
