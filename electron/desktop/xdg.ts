import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** $XDG_CONFIG_HOME if it is an absolute path (the spec says to ignore a relative one), else ~/.config. */
export function xdgConfigHome(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  return env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(home, '.config');
}
