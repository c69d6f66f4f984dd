import { fixture } from '../paths';

/**
 * argv of test/fixtures/engine-outcome.mjs in msmtp's shape: it records each mail like record-command.mjs and exits
 * as its first recipient asks (exit-75@x, signal-KILL@x, anything else exits 0).
 */
export function outcomeCommand(recordDir: string): string[] {
  return ['/usr/bin/env', `RECORD_DIR=${recordDir}`, process.execPath, fixture('engine-outcome.mjs'), '-f', '%F', '--'];
}

/**
 * argv of test/fixtures/engine-hang.mjs, a command that never exits: it writes its pid and its helper's to pidFile,
 * and reads its stdin to EOF only when `read` (otherwise the relay's writes back up).
 */
export function hangCommand(pidFile: string, read: boolean): string[] {
  return ['/usr/bin/env', `HANG_PID_FILE=${pidFile}`, `HANG_READ=${read ? 1 : 0}`, process.execPath, fixture('engine-hang.mjs')];
}
