import { spawn } from 'node:child_process';

export interface MsmtpRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface MsmtpRunOptions {
  /** The msmtp program (default: msmtp from PATH), the same the relay's delivery command runs. */
  readonly msmtp?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly input?: string;
  readonly timeoutMs?: number;
}

/**
 * Runs msmtp with argv (no shell), as the relay does: no -C, so msmtp reads the user's own file. It runs in a new
 * session without a controlling terminal, so a missing password makes it fail instead of prompting on /dev/tty.
 */
export function runMsmtp(args: readonly string[], options: MsmtpRunOptions = {}): Promise<MsmtpRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.msmtp ?? 'msmtp', args, {
      // msmtp's words are parsed: English ones (LC_ALL=C also makes gettext ignore LANGUAGE).
      env: { ...(options.env ?? process.env), LC_ALL: 'C' }, stdio: ['pipe', 'pipe', 'pipe'], detached: true, windowsHide: true,
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.stdin.on('error', () => undefined);
    child.on('error', (error) => { clearTimeout(timer); reject(error); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    child.stdin.end(options.input ?? '');
  });
}

export type PretendResult =
  | { readonly ok: true; readonly account: string; readonly file: string }
  | { readonly ok: false; readonly error: string };

/** The account msmtp picks for this envelope sender, from `msmtp --pretend -f ADDRESS` ("using account N from F"). */
export async function pretendAccount(address: string, options: MsmtpRunOptions = {}): Promise<PretendResult> {
  let ran: MsmtpRun;
  try {
    ran = await runMsmtp(['--pretend', '-f', address], options);
  } catch (error) {
    return { ok: false, error: `msmtp could not be run: ${(error as Error).message}` };
  }
  if (ran.code !== 0) {
    const said = ran.stderr.split('\n').map((line) => line.trim()).filter(Boolean).join('; ');
    return { ok: false, error: said || `msmtp --pretend exited ${ran.code}` };
  }
  const using = /^using account (.+) from (.+)$/m.exec(ran.stdout);
  if (!using) return { ok: false, error: 'msmtp --pretend named no account from a file' };
  return { ok: true, account: using[1]!, file: using[2]! };
}
