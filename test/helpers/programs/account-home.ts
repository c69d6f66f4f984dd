import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { msmtpKeyring, runMsmtp, type AccountSeams, type MsmtpKeyring, type MsmtpRun } from '../../../src-relay/index';

/** A private HOME, so ~/.msmtprc is the test's own, with the seams that make the accounts code use it. */
export interface AccountHome {
  readonly home: string;
  readonly rc: string;
  readonly env: NodeJS.ProcessEnv;
  readonly keyring: MsmtpKeyring;
  readonly seams: AccountSeams;
  /**
   * Runs the real msmtp as the relay runs it (no -C): it reads this HOME's file and the session's key ring.
   * Asynchronous: a loopback provider in this process must keep answering.
   */
  msmtp(args: readonly string[], input?: string): Promise<MsmtpRun>;
  remove(): void;
}

let counter = 0;

/** A user name no other test of this run uses: the key ring is shared by the whole run. */
export function uniqueAddress(tag: string): string {
  counter += 1;
  return `${tag}-${process.pid}-${counter}@example.test`;
}

export function accountHome(): AccountHome {
  const home = mkdtempSync(join(tmpdir(), 'accounts-home-'));
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), LC_ALL: 'C' };
  const keyring = msmtpKeyring('linux', env);
  return {
    home,
    rc: join(home, '.msmtprc'),
    env,
    keyring,
    seams: { place: { env, home }, keyring, msmtp: { env }, verifyOptions: { timeoutMs: 5000 } },
    msmtp: (args, input = '') => runMsmtp(args, { env, input, timeoutMs: 30_000 }),
    remove: () => rmSync(home, { recursive: true, force: true }),
  };
}

/** The account and settings the real msmtp reports (`--pretend`) for an envelope sender with this file as ~/.msmtprc. */
export async function msmtpSees(text: string, from: string): Promise<{ code: number | null; out: string }> {
  const home = accountHome();
  try {
    writeFileSync(home.rc, text, { mode: 0o600 });
    const ran = await home.msmtp(['--pretend', '-f', from]);
    return { code: ran.code, out: ran.stdout + ran.stderr };
  } finally {
    home.remove();
  }
}
