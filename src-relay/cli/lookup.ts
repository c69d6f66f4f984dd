/**
 * --lookup-account=ADDRESS: finds the address's outgoing server and prints the settings an account would get, with
 * where they came from and the provider's advice. It never logs in and never writes a file.
 */
import { readFileSync } from 'node:fs';
import type { AccountTool } from './args';
import { AddressError, lookupAccount, type AccountSettings, type LookupFound, type LookupSeams } from '../index';

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

/** The settings given with --account-* (as --add-account takes them). */
type Given = Pick<Extract<AccountTool, { kind: 'lookup' }>, 'host' | 'port' | 'tls' | 'user' | 'trustFile' | 'fingerprint'>;

export async function runLookup(tool: Extract<AccountTool, { kind: 'lookup' }>, write: (text: string) => void): Promise<number> {
  const { address } = tool;
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
    if (tool.host === undefined) {
      write(`${lines.join('\n')}\nGive them with --account-host, --account-port, --account-tls and --account-user.\n`);
      return EXIT_NOT_FOUND;
    }
    write(`${lines.join('\n')}\n${describeSettings(given(address, { ...tool, host: tool.host }), 'given on the command line')}`);
    return 0;
  }
  write(describeFound(result, applyGiven(result.settings, tool)));
  return 0;
}

function applyGiven(found: AccountSettings, tool: Given): AccountSettings {
  return {
    ...found,
    ...(tool.host !== undefined ? { host: tool.host } : {}),
    ...(tool.port !== undefined ? { port: tool.port } : {}),
    ...(tool.tls !== undefined ? { tls: tool.tls } : {}),
    ...(tool.user !== undefined ? { user: tool.user } : {}),
    ...(tool.trustFile !== undefined ? { tlsTrustFile: tool.trustFile } : {}),
    ...(tool.fingerprint !== undefined ? { tlsFingerprint: tool.fingerprint } : {}),
  };
}

/** Settings only from the options, when nothing was found: the defaults --add-account uses (STARTTLS on 587 unless port 465). */
function given(address: string, tool: Given & { host: string }): AccountSettings {
  const tls = tool.tls ?? (tool.port === 465 ? 'tls' : 'starttls');
  return applyGiven({ address, host: tool.host, port: tool.port ?? (tls === 'tls' ? 465 : 587), tls, user: address }, tool);
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

/** What --add-account without --account-host learns from the lookup. */
export type FoundForAdd =
  | { readonly kind: 'found'; readonly settings: AccountSettings; readonly said: string }
  | { readonly kind: 'refused'; readonly message: string };

/**
 * The lookup for --add-account: settings that need no confirmation are used (and printed); settings learnt from
 * unauthenticated DNS, a guess or another host are printed and refused, so that no password goes there unless the
 * user names the server with --account-host; a provider that refuses passwords is refused with its reason.
 */
export async function findForAdd(address: string): Promise<FoundForAdd> {
  const result = await lookupAccount(address, testSeams());
  if (!result.found) {
    return { kind: 'refused', message: `no settings found for ${address} (${result.tried.join('; ') || 'nothing tried'}): give them with --account-host, --account-port, --account-tls and --account-user` };
  }
  const said = describeFound(result, result.settings);
  if (result.passwordNeverWorks) {
    return { kind: 'refused', message: `${said}this provider refuses passwords from mail programs, so msmtp cannot sign in there; nothing was changed` };
  }
  if (result.needsConfirmation) {
    const { host, port, tls, user } = result.settings;
    return {
      kind: 'refused',
      message: `${said}these settings must be confirmed before a password is sent (${result.confirmReason ?? 'they were not found at the mail domain'}); if they are right, run again with --account-host=${host} --account-port=${port} --account-tls=${tls} --account-user=${user}`,
    };
  }
  return { kind: 'found', settings: result.settings, said };
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
