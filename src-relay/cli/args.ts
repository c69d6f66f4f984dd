import { getoptLong, UsageError, type LongOption } from './getopt';
import { parseLogTarget, type LogTarget } from './log';
import { DEFAULT_COMMAND, OptionError, defaultOptions, defaultOutboxTiming, isListenHost, parseCommand } from '../index';

/** Everything the command line says, checked; nothing read from disk or the key ring yet. */
export interface CliConfig {
  version: boolean;
  help: boolean;
  inetd: boolean;
  host: string;
  port: number;
  log: LogTarget;
  /** The --command text as given (for messages) and its argv. */
  commandText: string;
  command: string[];
  auth?: { user: string; passwordEval?: string };
  maxSessions: number;
  maxMessageBytes: number;
  maxRecipients: number;
  /** Only when given: the engine's RFC 5321 defaults apply otherwise. */
  idleTimeoutMs?: number;
  deliveryTimeoutMs: number;
  authFailureDelayMs: number;
  tlsCertPath?: string;
  tlsKeyPath?: string;
  /** --queue=DIR: keep mail that cannot go out now in this spool and retry it. */
  queueDir?: string;
  queueRetryMs: number;
  queueRetryMaxMs: number;
  queueLifetimeMs: number;
  /** A queue tool instead of the relay (each needs --queue). */
  queueTool?: { kind: 'list' } | { kind: 'flush' } | { kind: 'remove'; id: string };
  /** An msmtp account tool instead of the relay (see account.ts). */
  accountTool?: AccountTool;
}

/** --add-account and the server settings given with it; what is not given is found (when a finder exists). */
export type AccountTool =
  | {
    kind: 'add'; address: string; host?: string; port?: number; tls?: 'tls' | 'starttls'; user?: string;
    trustFile?: string; fingerprint?: string;
  }
  | {
    /** --lookup-account: find and print the settings; the --account-* values replace what is found. */
    kind: 'lookup'; address: string; host?: string; port?: number; tls?: 'tls' | 'starttls'; user?: string;
    trustFile?: string; fingerprint?: string;
  }
  | { kind: 'remove'; address: string }
  | { kind: 'list' };

interface OptionDoc extends LongOption {
  readonly value?: string;
  readonly text: string;
}

/** The option table: the getopt definitions and the --help text in one place. */
export const OPTIONS: readonly OptionDoc[] = [
  { name: 'version', takesValue: false, text: 'print version information and exit' },
  { name: 'help', takesValue: false, text: 'print this help and exit' },
  { name: 'inetd', takesValue: false, text: 'serve one SMTP session on stdin/stdout, for inetd or socket activation' },
  { name: 'interface', takesValue: true, value: 'ip', text: `listen on this numeric IPv4 or IPv6 address, or localhost for 127.0.0.1 and ::1 (default ${defaultOptions.host})` },
  { name: 'port', takesValue: true, value: 'number', text: `listen on this port (default ${defaultOptions.port})` },
  { name: 'log', takesValue: true, value: 'none|syslog|FILE', text: 'where to log: nowhere (default), syslog (facility mail), or append to FILE' },
  { name: 'command', takesValue: true, value: 'cmd', text: `delivery command (default '${DEFAULT_COMMAND}'); %F is the sender, recipients are appended; run without a shell` },
  { name: 'auth', takesValue: true, value: 'user[,passwordeval]', text: 'require AUTH with this user; the password comes from passwordeval, else the key ring, else a prompt' },
  { name: 'max-sessions', takesValue: true, value: 'n', text: `sessions at once; more get 421 (default ${defaultOptions.maxSessions})` },
  { name: 'max-message-size', takesValue: true, value: 'bytes', text: `largest mail, e.g. 25M (default ${defaultOptions.maxMessageBytes / 1024 / 1024}M)` },
  { name: 'max-recipients', takesValue: true, value: 'n', text: `recipients per mail; more get 452 (default ${defaultOptions.maxRecipients})` },
  { name: 'timeout', takesValue: true, value: 'seconds', text: 'close a client silent this long (default 300 between commands, 180 in DATA)' },
  { name: 'command-timeout', takesValue: true, value: 'seconds', text: `kill a delivery command stuck this long; the client gets 451 (default ${defaultOptions.deliveryTimeoutMs / 1000})` },
  { name: 'auth-delay', takesValue: true, value: 'seconds', text: `spacing of AUTH attempts for a minute after a failure (default ${defaultOptions.authFailureDelayMs / 1000})` },
  { name: 'tls-cert', takesValue: true, value: 'file', text: 'PEM certificate (chain); STARTTLS is offered when --tls-key is given too' },
  { name: 'tls-key', takesValue: true, value: 'file', text: 'PEM private key for --tls-cert' },
  { name: 'queue', takesValue: true, value: 'dir', text: 'keep mail that cannot go out now (offline, server down, 4xx) in this folder, answer 250 and retry it' },
  { name: 'queue-retry', takesValue: true, value: 'duration', text: `first retry after this long, doubling each time (default ${defaultOutboxTiming.retryInitialMs / 1000}s)` },
  { name: 'queue-retry-max', takesValue: true, value: 'duration', text: `longest wait between retries (default ${defaultOutboxTiming.retryMaxMs / 60_000}m)` },
  { name: 'queue-lifetime', takesValue: true, value: 'duration', text: `give a kept mail up after this long (default ${defaultOutboxTiming.lifetimeMs / 86_400_000}d); it moves to the failed list` },
  { name: 'queue-list', takesValue: false, text: 'list the mails kept in --queue and exit' },
  { name: 'queue-flush', takesValue: false, text: 'send every waiting mail in --queue now (a running relay on it is asked to) and exit' },
  { name: 'queue-remove', takesValue: true, value: 'id', text: 'delete a kept mail from --queue and exit' },
  { name: 'add-account', takesValue: true, value: 'address', text: "add (or update) msmtp's account for this address: check the login, store the password (stdin, or a prompt) in the key ring, write msmtp's file, and exit" },
  { name: 'account-host', takesValue: true, value: 'host', text: "the provider's SMTP server for --add-account" },
  { name: 'account-port', takesValue: true, value: 'number', text: 'its port (default 465 with --account-tls=tls, else 587)' },
  { name: 'account-tls', takesValue: true, value: 'tls|starttls', text: 'TLS from the first byte (port 465) or STARTTLS (port 587; the default unless the port is 465)' },
  { name: 'account-user', takesValue: true, value: 'user', text: 'the login name (default: the address)' },
  { name: 'account-tls-trust-file', takesValue: true, value: 'file', text: "a CA file to trust instead of the system's (e.g. Proton Bridge's certificate)" },
  { name: 'account-tls-fingerprint', takesValue: true, value: 'sha256', text: "pin the server certificate's SHA-256 fingerprint instead" },
  { name: 'remove-account', takesValue: true, value: 'address', text: "remove the account the app wrote for this address, and its key ring item, and exit" },
  { name: 'lookup-account', takesValue: true, value: 'address', text: "find the address's outgoing server, print the settings an account would get (--account-* replace them), and exit; never logs in" },
  { name: 'list-accounts', takesValue: false, text: "list the accounts msmtp reads, in its order, and where each password comes from, and exit" },
];

/** Parses and checks the whole command line; throws UsageError with msmtpd-like one-line texts. */
export function parseCliArgs(args: readonly string[]): CliConfig {
  const given = getoptLong(args, OPTIONS);
  const value = (name: string) => given.get(name);
  const config: CliConfig = {
    version: given.has('version'),
    help: given.has('help'),
    inetd: given.has('inetd'),
    host: parseInterface(value('interface') ?? defaultOptions.host),
    port: value('port') === undefined ? defaultOptions.port : parsePort(value('port')!),
    log: parseLogTarget(value('log') ?? 'none'),
    commandText: value('command') ?? DEFAULT_COMMAND,
    command: parseCommandOption(value('command') ?? DEFAULT_COMMAND),
    maxSessions: parseCount('max-sessions', value('max-sessions'), defaultOptions.maxSessions),
    maxMessageBytes: parseSize(value('max-message-size'), defaultOptions.maxMessageBytes),
    maxRecipients: parseCount('max-recipients', value('max-recipients'), defaultOptions.maxRecipients),
    deliveryTimeoutMs: parseSeconds('command-timeout', value('command-timeout'), defaultOptions.deliveryTimeoutMs, false),
    authFailureDelayMs: parseSeconds('auth-delay', value('auth-delay'), defaultOptions.authFailureDelayMs, true),
    queueRetryMs: parseDuration('queue-retry', value('queue-retry'), defaultOutboxTiming.retryInitialMs),
    queueRetryMaxMs: parseDuration('queue-retry-max', value('queue-retry-max'), defaultOutboxTiming.retryMaxMs),
    queueLifetimeMs: parseDuration('queue-lifetime', value('queue-lifetime'), defaultOutboxTiming.lifetimeMs),
  };
  if (value('queue') !== undefined) config.queueDir = value('queue')!;
  const tools = [
    given.has('queue-list') ? { kind: 'list' as const } : null,
    given.has('queue-flush') ? { kind: 'flush' as const } : null,
    value('queue-remove') !== undefined ? { kind: 'remove' as const, id: value('queue-remove')! } : null,
  ].filter((tool) => tool !== null);
  if (tools.length > 1) throw new UsageError('--queue-list, --queue-flush and --queue-remove cannot be combined');
  if (tools[0]) {
    if (config.queueDir === undefined) throw new UsageError(`--queue-${tools[0].kind} needs --queue=DIR`);
    config.queueTool = tools[0];
  }
  const accountTool = parseAccountTool(given);
  if (accountTool) {
    if (tools[0]) throw new UsageError(`--queue-${tools[0].kind} and the account options cannot be combined`);
    config.accountTool = accountTool;
  }
  if (value('auth') !== undefined) config.auth = parseAuth(value('auth')!);
  if (value('timeout') !== undefined) config.idleTimeoutMs = parseSeconds('timeout', value('timeout'), 0, false);
  const cert = value('tls-cert');
  const key = value('tls-key');
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--tls-cert and --tls-key must be given together');
  if (cert !== undefined && key !== undefined) {
    config.tlsCertPath = cert;
    config.tlsKeyPath = key;
  }
  return config;
}

const ACCOUNT_SETTINGS = ['account-host', 'account-port', 'account-tls', 'account-user', 'account-tls-trust-file', 'account-tls-fingerprint'];

function parseAccountTool(given: ReadonlyMap<string, string>): AccountTool | undefined {
  const chosen = ['add-account', 'lookup-account', 'remove-account', 'list-accounts'].filter((name) => given.has(name));
  if (chosen.length > 1) throw new UsageError(`--${chosen[0]} and --${chosen[1]} cannot be combined`);
  const settings = ACCOUNT_SETTINGS.filter((name) => given.has(name));
  const withSettings = chosen[0] === 'add-account' || chosen[0] === 'lookup-account';
  if (!withSettings && settings.length > 0) throw new UsageError(`--${settings[0]} needs --add-account=ADDRESS`);
  if (chosen[0] === 'list-accounts') return { kind: 'list' };
  if (chosen[0] === 'remove-account') return { kind: 'remove', address: given.get('remove-account')! };
  if (!withSettings) return undefined;
  const tool: AccountTool = chosen[0] === 'add-account'
    ? { kind: 'add', address: given.get('add-account')! }
    : { kind: 'lookup', address: given.get('lookup-account')! };
  const tls = given.get('account-tls');
  if (tls !== undefined && tls !== 'tls' && tls !== 'starttls') throw new UsageError(`invalid --account-tls '${tls}' (tls or starttls)`);
  const port = given.get('account-port');
  if (port !== undefined) tool.port = parsePort(port);
  if (tls !== undefined) tool.tls = tls;
  if (given.has('account-host')) tool.host = given.get('account-host')!;
  if (given.has('account-user')) tool.user = given.get('account-user')!;
  if (given.has('account-tls-trust-file')) tool.trustFile = given.get('account-tls-trust-file')!;
  if (given.has('account-tls-fingerprint')) tool.fingerprint = given.get('account-tls-fingerprint')!;
  return tool;
}

function parseInterface(text: string): string {
  if (!isListenHost(text)) throw new UsageError(`invalid interface '${text}' (localhost, or a numeric IPv4 or IPv6 address)`);
  return text;
}

/** Unlike msmtpd's atoi, which turns `abc` into port 0 and 70000 into 4464, only 1-65535 in decimal. */
function parsePort(text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new UsageError(`invalid port '${text}' (a number from 1 to 65535 is required)`);
  return port;
}

function parseCommandOption(text: string): string[] {
  try {
    return parseCommand(text);
  } catch (error) {
    throw new UsageError(`invalid --command: ${error instanceof OptionError ? error.message.replace(/^command: /, '') : String(error)}`);
  }
}

/** msmtpd: the user is everything before the first comma, the rest is the passwordeval shell command. */
function parseAuth(text: string): { user: string; passwordEval?: string } {
  const comma = text.indexOf(',');
  const user = comma < 0 ? text : text.slice(0, comma);
  if (user === '') throw new UsageError('invalid --auth: empty user name');
  if (/[\0-\x1f\x7f]/.test(user)) throw new UsageError('invalid --auth: control characters in the user name');
  if (comma < 0) return { user };
  const passwordEval = text.slice(comma + 1);
  if (passwordEval.trim() === '') throw new UsageError('invalid --auth: empty passwordeval command after the comma');
  return { user, passwordEval };
}

function parseCount(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const count = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  if (!(count >= 1)) throw new UsageError(`invalid --${name} '${text}' (a whole number of at least 1 is required)`);
  return count;
}

const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** Bytes, with an optional K, M or G (powers of 1024). */
function parseSize(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const match = /^(\d{1,12})([KMG]?)i?B?$/i.exec(text);
  const bytes = match ? Number(match[1]) * SIZE_UNITS[match[2]!.toUpperCase()]! : NaN;
  if (!(bytes >= 1 && Number.isSafeInteger(bytes))) {
    throw new UsageError(`invalid --max-message-size '${text}' (bytes, optionally with K, M or G, e.g. 25M)`);
  }
  return bytes;
}

/** Seconds (fractions allowed) to whole milliseconds; zero only where it means "off". */
function parseSeconds(name: string, text: string | undefined, fallbackMs: number, zeroAllowed: boolean): number {
  if (text === undefined) return fallbackMs;
  const seconds = /^\d{1,7}(\.\d{1,3})?$/.test(text) ? Number(text) : NaN;
  const ms = Math.round(seconds * 1000);
  if (!(ms >= (zeroAllowed ? 0 : 1))) {
    throw new UsageError(`invalid --${name} '${text}' (a number of seconds${zeroAllowed ? '' : ' above 0'} is required)`);
  }
  return ms;
}

const DURATION_UNITS: Record<string, number> = { '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration: seconds, or a number with s, m, h or d ("90", "90s", "15m", "5d"). */
function parseDuration(name: string, text: string | undefined, fallbackMs: number): number {
  if (text === undefined) return fallbackMs;
  const match = /^(\d{1,7}(?:\.\d{1,3})?)([smhd]?)$/.exec(text);
  const ms = match ? Math.round(Number(match[1]) * DURATION_UNITS[match[2]!]!) : NaN;
  if (!(ms >= 1)) throw new UsageError(`invalid --${name} '${text}' (a duration above 0: seconds, or with s, m, h or d, e.g. 90s, 15m, 5d)`);
  return ms;
}

export function helpText(program: string): string {
  const width = Math.max(...OPTIONS.map((option) => optionLabel(option).length));
  const lines = OPTIONS.map((option) => `  ${optionLabel(option).padEnd(width)}  ${option.text}`);
  return [
    `Usage: ${program} [option...]`,
    'A local SMTP server that hands each mail to a command (msmtp by default); a drop-in for msmtpd.',
    'Options (unambiguous prefixes work; --opt=value or --opt value):',
    ...lines,
    'Exit status: 0 after a clean stop (SIGTERM/SIGINT) or a normal --inetd session, 1 for a failed --inetd',
    'session, 3 for a bad option or a start-up failure.',
    'Queue tools: --queue-list exits 0; --queue-flush exits 0 when nothing is left waiting (or a running relay was',
    'asked to flush), 1 when mails are still waiting or failed; --queue-remove exits 0 when the mail was deleted,',
    '1 when there is no such mail or it is being sent right now; all exit 3 when the folder cannot be used.',
    'SIGUSR1 makes a running relay with --queue retry every waiting mail at once.',
    'Account tools exit 0 when done, 64 for a wrong option or value, 65 when the provider refused the login, 66',
    'when the trust file cannot be read, 68 when the host is not found, 69 when the server offers no usable login or',
    'the key ring cannot be used, 73 when msmtp\'s file cannot be changed, 74 when nothing answers on that port,',
    '75 when the server deferred the login, 76 for a TLS problem (wrong mode for the port, untrusted certificate),',
    '78 when msmtp would not use the written account (the change is undone). See docs/accounts.md.',
    '--lookup-account exits 0 when settings were found (or given with --account-host), 69 when none were found,',
    '64 when the address is not one or an option is wrong; it never logs in and writes nothing.',
  ].join('\n');
}

function optionLabel(option: OptionDoc): string {
  return option.value ? `--${option.name}=${option.value}` : `--${option.name}`;
}
