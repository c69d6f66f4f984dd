import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestMsmtprc {
  /** The config file; msmtp refuses one that others may read, hence mode 0600. */
  readonly path: string;
  /** argv template for the relay: real msmtp with this config, envelope sender from %F. */
  readonly command: readonly string[];
  /** Removes the file and its temporary directory. */
  remove(): void;
}

export interface MsmtprcOptions {
  /** The SMTP server msmtp delivers to: the test's sink on 127.0.0.1. */
  port: number;
  /** Sender used when msmtp is run without -f. */
  from?: string;
  /** msmtprc commands that replace or add to the account's (e.g. { host: 'nowhere.invalid', tls: 'on' }). */
  settings?: Readonly<Record<string, string>>;
}

/**
 * Writes an msmtprc for the real msmtp that sends to a local sink: no TLS, no AUTH (unless `settings` says), and no
 * headers added by msmtp (From/Date/Message-ID), so the sink receives exactly what the relay handed to msmtp.
 */
export function writeMsmtprc(options: MsmtprcOptions): TestMsmtprc {
  const dir = mkdtempSync(join(tmpdir(), 'msmtprc-'));
  const path = join(dir, 'msmtprc');
  const account = new Map<string, string>([
    ['host', '127.0.0.1'],
    ['port', String(options.port)],
    ['domain', 'msmtp.test'],
    ['auth', 'off'],
    ['tls', 'off'],
    ['tls_starttls', 'off'],
    ['from', options.from ?? 'default@example.org'],
    ['set_from_header', 'off'],
    ['set_date_header', 'off'],
    ['set_msgid_header', 'off'],
  ]);
  for (const [command, value] of Object.entries(options.settings ?? {})) account.set(command, value);
  const lines = [
    'defaults',
    'syslog off',
    `timeout ${account.get('timeout') ?? 10}`,
    '',
    'account default',
    ...[...account].filter(([command]) => command !== 'timeout').map(([command, value]) => `${command} ${value}`),
    '',
  ];
  writeFileSync(path, lines.join('\n'), { mode: 0o600 });
  return {
    path,
    command: ['msmtp', '-C', path, '-f', '%F', '--'],
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
