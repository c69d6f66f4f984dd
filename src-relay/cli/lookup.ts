/**
 * --lookup-account=ADDRESS: finds the address's outgoing server and prints the settings an account would get, with
 * where they came from and the provider's advice. It never logs in and never writes a file.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from './getopt';
import { AddressError, lookupAccount, type AccountSettings, type LookupFound, type LookupSeams, type TlsMode } from '../index';

/** sysexits.h: the address is not one (EX_USAGE), nothing was found (EX_UNAVAILABLE). */
export const EXIT_USAGE = 64;
export const EXIT_NOT_FOUND = 69;

/**
 * TEST SEAM, never for use outside the tests: the path of a JSON file that points every network step of the lookup
 * at loopback servers ({ "connectTo": { "host:port": "127.0.0.1:port" }, "caFile", "dnsServers", "ispdbBase",
 * "stepTimeoutMs", "totalTimeoutMs" }). While it is set, a name the file does not map is refused, so the lookup
 * cannot reach the internet.
 */
export const TEST_SEAMS_ENV = 'MSMTP_RELAY_TEST_LOOKUP_SEAMS';

/** The --account-* options: they replace what the lookup found (the same names as --add-account's). */
export interface AccountOverrides {
  host?: string;
  port?: number;
  tls?: TlsMode;
  user?: string;
  tlsTrustFile?: string;
}

export const ACCOUNT_OPTIONS = [
  { name: 'lookup-account', takesValue: true, value: 'address', text: "find the address's outgoing server, print the settings an account would get, and exit" },
  { name: 'account-host', takesValue: true, value: 'host', text: "the account's SMTP server, instead of the one found" },
  { name: 'account-port', takesValue: true, value: 'number', text: "the account's SMTP port, instead of the one found" },
  { name: 'account-tls', takesValue: true, value: 'tls|starttls', text: 'TLS from the first byte (tls) or STARTTLS, instead of what was found' },
  { name: 'account-user', takesValue: true, value: 'name', text: 'the login name, instead of the one found' },
  { name: 'account-tls-trust-file', takesValue: true, value: 'file', text: 'a CA or certificate file msmtp should trust (Proton Mail Bridge)' },
] as const;

/** The --account-* values, checked. */
export function parseAccountOverrides(value: (name: string) => string | undefined): AccountOverrides {
  const overrides: AccountOverrides = {};
  const host = value('account-host');
  if (host !== undefined) {
    if (!/^[A-Za-z0-9.:[\]-]{1,253}$/.test(host)) throw new UsageError(`invalid --account-host '${host}'`);
    overrides.host = host;
  }
  const port = value('account-port');
  if (port !== undefined) {
    const number = /^\d{1,5}$/.test(port) ? Number(port) : NaN;
    if (!(number >= 1 && number <= 65535)) throw new UsageError(`invalid --account-port '${port}' (a number from 1 to 65535 is required)`);
    overrides.port = number;
  }
  const tls = value('account-tls');
  if (tls !== undefined) {
    if (tls !== 'tls' && tls !== 'starttls') throw new UsageError(`invalid --account-tls '${tls}' (tls or starttls)`);
    overrides.tls = tls;
  }
  const user = value('account-user');
  if (user !== undefined) {
    if (user === '' || /[\0-\x1f\x7f]/.test(user)) throw new UsageError('invalid --account-user: empty or with control characters');
    overrides.user = user;
  }
  const trust = value('account-tls-trust-file');
  if (trust !== undefined) {
    if (trust === '' || /[\0-\x1f\x7f]/.test(trust)) throw new UsageError('invalid --account-tls-trust-file');
    overrides.tlsTrustFile = trust;
  }
  return overrides;
}

export async function runLookup(address: string, overrides: AccountOverrides, write: (text: string) => void): Promise<number> {
  let result;
  try {
    result = await lookupAccount(address, testSeams());
  } catch (error) {
    if (error instanceof AddressError) {
      process.stderr.write(`msmtp-relay: --lookup-account: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
  if (!result.found) {
    const lines = [`No settings found for ${address}.`, ...result.tried.map((line) => `tried: ${line}`), ...result.warnings.map((line) => `warning: ${line}`)];
    if (overrides.host === undefined) {
      write(`${lines.join('\n')}\nGive them with --account-host, --account-port, --account-tls and --account-user.\n`);
      return EXIT_NOT_FOUND;
    }
    write(`${lines.join('\n')}\n${describeSettings(given(address, overrides), 'given on the command line')}`);
    return 0;
  }
  write(describeFound(result, applyOverrides(result.settings, overrides)));
  return 0;
}

function applyOverrides(found: AccountSettings, overrides: AccountOverrides): AccountSettings {
  return { ...found, ...overrides };
}

/** Settings only from the options, when the lookup found nothing: implicit TLS on 465 unless told otherwise. */
function given(address: string, overrides: AccountOverrides): AccountSettings {
  const tls = overrides.tls ?? (overrides.port === 587 ? 'starttls' : 'tls');
  return { address, host: overrides.host!, port: overrides.port ?? (tls === 'tls' ? 465 : 587), tls, user: overrides.user ?? address, ...(overrides.tlsTrustFile ? { tlsTrustFile: overrides.tlsTrustFile } : {}) };
}

function describeSettings(settings: AccountSettings, source: string): string {
  const lines = [
    `address: ${settings.address}`,
    `host: ${settings.host}`,
    `port: ${settings.port}`,
    `tls: ${settings.tls}`,
    `user: ${settings.user}`,
    `tls_trust_file: ${settings.tlsTrustFile ?? '(the system\'s certificates)'}`,
    ...(settings.tlsFingerprint ? [`tls_fingerprint: ${settings.tlsFingerprint}`] : []),
    `source: ${source}`,
  ];
  return `${lines.join('\n')}\n`;
}

function describeFound(result: LookupFound, settings: AccountSettings): string {
  const lines = [
    ...(result.providerName ? [`provider: ${result.providerName}`] : []),
    `confirm: ${result.needsConfirmation ? `yes, ${result.confirmReason ?? 'check these settings before sending a password'}` : 'no'}`,
    ...(result.passwordNeverWorks ? ['password: this provider refuses passwords from mail programs; msmtp Relay cannot sign in'] : []),
    ...(result.appPasswordUrl ? [`app password: ${result.appPasswordUrl}`] : []),
    ...(result.enableAccessFirst ? [`enable first: ${result.enableAccessFirst}${result.enableAccessUrl ? ` (${result.enableAccessUrl})` : ''}`] : []),
    ...(result.needsTrust && !settings.tlsTrustFile ? ['trust: give the certificate with --account-tls-trust-file'] : []),
    ...result.notes.map((note) => `note: ${note}`),
    ...result.warnings.map((warning) => `warning: ${warning}`),
  ];
  return `${describeSettings(settings, `${result.source} (${result.sourceDetail})`)}${lines.join('\n')}\n`;
}

/** The seams from the TEST_SEAMS_ENV file; none (the real internet) when it is not set. */
function testSeams(): LookupSeams {
  const file = process.env[TEST_SEAMS_ENV];
  if (!file) return {};
  const spec = JSON.parse(readFileSync(file, 'utf8')) as {
    connectTo?: Record<string, string>;
    caFile?: string;
    dnsServers?: string[];
    ispdbBase?: string;
    stepTimeoutMs?: number;
    totalTimeoutMs?: number;
  };
  const map = spec.connectTo ?? {};
  return {
    connectTo: (host, port) => {
      const to = map[`${host}:${port}`];
      if (!to) throw new Error(`${host}:${port} is not mapped in ${TEST_SEAMS_ENV}`);
      const colon = to.lastIndexOf(':');
      return { host: to.slice(0, colon), port: Number(to.slice(colon + 1)) };
    },
    // Without a list, an empty one would mean the system's resolver: a closed loopback port keeps DNS local.
    dnsServers: spec.dnsServers ?? ['127.0.0.1:1'],
    ...(spec.caFile ? { ca: readFileSync(spec.caFile, 'utf8') } : {}),
    ...(spec.ispdbBase ? { ispdbBase: spec.ispdbBase } : {}),
    ...(spec.stepTimeoutMs ? { stepTimeoutMs: spec.stepTimeoutMs } : {}),
    ...(spec.totalTimeoutMs ? { totalTimeoutMs: spec.totalTimeoutMs } : {}),
  };
}
