import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTracked, stopTracked } from './processes';

const sinkScript = resolve(__dirname, '..', '..', 'bench', 'fixtures', 'smtp-sink.py');
const MSMTP = '/usr/bin/msmtp';

/** The fast loopback SMTP server (bench/fixtures/smtp-sink.py) and an msmtp configuration that sends to it. */
export interface MsmtpTarget {
  readonly sinkPort: number;
  /** The delivery command both servers run: the real msmtp, its configuration given with -C. */
  readonly commandArgv: readonly string[];
  stop(): Promise<void>;
}

/** The system's python3 first: a version manager's shim on PATH costs a slow start and nothing else. */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export async function startMsmtpTarget(): Promise<MsmtpTarget> {
  const child = startTracked(PYTHON, [sinkScript]);
  const port = await new Promise<number>((resolvePort, reject) => {
    let text = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      const match = /listening (\d+)/.exec(text);
      if (match) resolvePort(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`smtp-sink.py exited with ${code}`)));
  });
  // A throwaway configuration: no TLS, no auth, no log, to the sink. msmtp refuses a file others may read.
  const home = mkdtempSync(join(tmpdir(), 'bench-msmtp-'));
  const config = join(home, 'msmtprc');
  writeFileSync(config, [
    'defaults', 'auth off', 'tls off', 'syslog off',
    'account bench', 'host 127.0.0.1', `port ${port}`, 'from bench@example.com',
    'account default : bench', '',
  ].join('\n'));
  chmodSync(config, 0o600);
  return {
    sinkPort: port,
    commandArgv: [MSMTP, '-C', config, '-f', '%F', '--'],
    stop: async () => {
      await stopTracked(child);
      rmSync(home, { recursive: true, force: true });
    },
  };
}

export function msmtpInstalled(): boolean {
  return existsSync(MSMTP);
}
