/**
 * The ceiling of the real-msmtp rows: msmtp started straight from a small python loop (bench/fixtures/msmtp-alone.py),
 * no SMTP and no server, as many at a time as the row has sessions. Any server does this much per mail and more, so
 * its mails/s bound what a relay can reach against msmtpd on this machine, measured in the same run.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { PYTHON } from './sink';

const aloneScript = resolve(__dirname, '..', '..', 'bench', 'fixtures', 'msmtp-alone.py');

export interface AloneJob {
  /** The delivery command with the sender and recipient filled in, as the servers run it. */
  readonly argv: readonly string[];
  readonly mails: number;
  readonly parallel: number;
}

export interface AloneResult {
  readonly mails: number;
  readonly elapsedMs: number;
  /** Per mail, from the start of the command to its exit. */
  readonly latenciesMs: number[];
  /** CPU of the loop itself. */
  readonly ownMs: number;
  /** CPU of all the commands it reaped. */
  readonly commandsMs: number;
}

/** The server's command for one mail from the load client's sender to its recipient (as %F and the RCPT fill it). */
export function commandForOneMail(commandArgv: readonly string[], sender: string, recipient: string): string[] {
  return [...commandArgv.map((arg) => (arg === '%F' ? sender : arg)), recipient];
}

export function runAlone(job: AloneJob, timeoutMs: number): Promise<AloneResult> {
  return new Promise((resolveResult, reject) => {
    execFile(PYTHON, [aloneScript, JSON.stringify(job)], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`msmtp-alone.py: ${error.message} ${stderr.trim()}`));
      else resolveResult(JSON.parse(stdout) as AloneResult);
    });
  });
}
