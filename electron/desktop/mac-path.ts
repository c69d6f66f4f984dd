import { delimiter } from 'node:path';

/**
 * Where Homebrew (Apple silicon, then Intel) and MacPorts install msmtp. An app started from Finder, the Dock or at
 * login gets launchd's PATH (/usr/bin:/bin:/usr/sbin:/sbin), which has none of them, so a bare `msmtp` command would
 * not be found although it works in Terminal.
 */
export const MAC_TOOL_DIRS: readonly string[] = ['/opt/homebrew/bin', '/usr/local/bin', '/opt/local/bin'];

/** The PATH the app's commands are looked up in: the inherited one first, as is, then the missing tool folders. */
export function macSearchPath(current: string | undefined, extra: readonly string[] = MAC_TOOL_DIRS): string {
  const entries = (current ?? '').split(delimiter).filter(Boolean);
  for (const dir of extra) if (!entries.includes(dir)) entries.push(dir);
  return entries.join(delimiter);
}
