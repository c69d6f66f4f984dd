import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** execvp's search path when PATH is unset (glibc's _CS_PATH). */
const DEFAULT_SEARCH_PATH = '/bin:/usr/bin';

/**
 * The file a spawn of `program` would run, found without running it: `program` itself when it names a path,
 * else the first executable file of that name on PATH (trying PATHEXT's extensions on Windows); null if none.
 * Used wherever the relay checks a command before it is needed: the CLI's start, the app's start and Check
 * button, the choice of the launcher's python3.
 */
export function findExecutable(program: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const windows = process.platform === 'win32';
  const extensions = windows ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';')] : [''];
  const candidates = program.includes('/') || (windows && program.includes('\\'))
    ? [program]
    : (env.PATH ?? DEFAULT_SEARCH_PATH).split(delimiter).filter(Boolean).map((dir) => join(dir, program));
  for (const candidate of candidates) {
    for (const extension of extensions) {
      if (isExecutableFile(candidate + extension)) return candidate + extension;
    }
  }
  return null;
}

/** Executable and not a directory (directories are "executable" too: searchable). */
export function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return !statSync(path).isDirectory();
  } catch {
    return false;
  }
}
