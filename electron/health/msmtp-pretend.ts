/**
 * Asks msmtp itself what it would do, without sending: `msmtp --pretend` loads the configuration as a real send
 * would (same files, same permission check, same account choice by envelope sender) and prints the account it
 * picks, "using account NAME from FILE". Its refusals come back in its own words. Passwords print as "*" there,
 * and nothing of that dump is kept but the account line and the "msmtp: ..." lines.
 */
import { execFile } from 'node:child_process';
import { basename } from 'node:path';
import { buildArgv } from '../../src-relay/index';

export type MsmtpConfigProblem = 'no-config' | 'no-account' | 'permissions' | 'other';

export interface MsmtpProbe {
  ok: boolean;
  exitCode: number | null;
  /** The account msmtp chose for this sender, and the file it is in. */
  account?: string;
  file?: string;
  /** msmtp's own error lines, "msmtp: " prefix removed. */
  said: string[];
  problem?: MsmtpConfigProblem;
  /** The configuration file the problem is about, when msmtp named one. */
  problemFile?: string;
}

export interface ProbeOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Whether a delivery command's program is msmtp (the only one that knows --pretend). */
export function isMsmtp(program: string): boolean {
  return /^msmtp(\.exe)?$/i.test(basename(program));
}

/**
 * The command's argv for a dry run: `--pretend` first, %F replaced by the sender (or the -f pair dropped when
 * there is none, so msmtp falls back to its default account), then the recipient.
 */
export function pretendArgv(template: readonly string[], from: string | undefined, recipient: string): string[] {
  if (from !== undefined) {
    // The relay's own argv for this sender, so the dry run checks exactly what a delivery would run.
    const [program, ...args] = buildArgv(template, { from, to: [recipient] });
    return [program!, '--pretend', ...args];
  }
  const [program, ...rest] = template;
  const args: string[] = [];
  for (let index = 0; index < rest.length; index += 1) {
    const word = rest[index]!;
    if ((word === '-f' || word === '--from') && rest[index + 1] === '%F') {
      index += 1;
      continue;
    }
    if (/^(-f|--from=)%F$/.test(word)) continue;
    args.push(word);
  }
  return [program!, '--pretend', ...args, recipient];
}

export function probeMsmtp(template: readonly string[], from: string | undefined, options: ProbeOptions = {}): Promise<MsmtpProbe> {
  const [program, ...args] = pretendArgv(template, from, 'msmtp-relay-check@localhost');
  return new Promise((resolve) => {
    const child = execFile(program!, args, {
      env: options.env ?? process.env, timeout: options.timeoutMs ?? 10_000, shell: false, windowsHide: true, encoding: 'utf8',
      maxBuffer: 256 * 1024,
    }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as NodeJS.ErrnoException).code === 'number' ? Number((error as NodeJS.ErrnoException).code) : null) : 0;
      resolve(readProbe(`${stdout}\n${stderr}`, code));
    });
    child.stdin?.end();
  });
}

/** The parts of `msmtp --pretend` output the app uses. */
export function readProbe(output: string, exitCode: number | null): MsmtpProbe {
  const using = /^using account (.+) from (.+)$/m.exec(output);
  const said = output.split('\n').filter((line) => line.startsWith('msmtp: ')).map((line) => line.slice('msmtp: '.length).trim());
  const probe: MsmtpProbe = {
    ok: exitCode === 0,
    exitCode,
    ...(using ? { account: using[1]!.trim(), file: using[2]!.trim() } : {}),
    said,
  };
  if (probe.ok) return probe;
  const text = said.join('\n');
  // msmtp 1.8's words: "FILE: contains secrets and therefore must have no more than user read/write permissions"
  // (or "... must be owned by you").
  const permissions = /^(.+): contains secrets and therefore must (?:have no more than user read\/write permissions|be owned by you)$/m.exec(text);
  const noAccountIn = /account \S+ not found in (.+)$/m.exec(text);
  if (permissions) return { ...probe, problem: 'permissions', problemFile: permissions[1]! };
  if (/no configuration file available/.test(text)) return { ...probe, problem: 'no-config' };
  if (noAccountIn) return { ...probe, problem: 'no-account', problemFile: noAccountIn[1]!.trim() };
  return { ...probe, problem: 'other' };
}
