import type { AccountAttention, FailureStage } from '../smtp/handler';
import { constants as osConstants } from 'node:os';

/**
 * Whether a failed delivery is worth keeping and retrying, decided from msmtp's own words. The table of cases, with
 * the exit status and words msmtp 1.8.23 gives for each, is in docs/outbox.md; test/failure-class.test.ts runs
 * the real msmtp for every row.
 *
 * The order of evidence: an SMTP reply code that msmtp quotes from the server (`server message: 451 ...`) decides
 * temporary (4xx) or permanent (5xx), because msmtp's exit status flattens them (a 554 after the final dot exits
 * 69, like a 451). Without one, msmtp's words decide (they tell a missing configuration file from a time-out, both
 * exit 74), and without known words the exit status does. Words are matched in English; under another locale the
 * reply code and the exit status still decide, and the stage is 'unknown'.
 */

export interface FailureClass {
  /** Keep and retry (true), or reject with 5xx (false). */
  temporary: boolean;
  /** Where msmtp's dialogue failed. */
  stage: FailureStage;
  /** A few words for the 250 Queued reply and the UI, e.g. 'mail server unreachable'. */
  reason: string;
  /** The provider's own reply when msmtp quoted one ('451 4.3.0 try later'). */
  serverReply?: string;
  /** What the user can do next, one sentence. */
  advice: string;
  /**
   * Set when the msmtp account itself needs the user (the provider refused its login, or msmtp has no password for
   * it): the mail is kept (temporary) instead of refused, and sent once the account is fixed.
   */
  account?: AccountAttention;
}


/** What the engine knows of a failed command: exit status or signal, and the tail of its stderr+stdout. */
export interface CommandFailureReport {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly output: string;
}

/** A stage as a person reads it, for "<stage> failed: ...". */
export const STAGE_LABELS: Readonly<Record<FailureStage, string>> = {
  lookup: 'Name lookup',
  connect: 'Connect',
  greeting: 'Greeting',
  ehlo: 'EHLO',
  starttls: 'STARTTLS',
  tls: 'TLS',
  auth: 'Login',
  'mail-from': 'Sender (MAIL FROM)',
  'rcpt-to': 'Recipient (RCPT TO)',
  data: 'DATA',
  'end-of-data': 'Sending the mail',
  timeout: 'Waiting for the server',
  command: 'Delivery command',
  unknown: 'Delivery',
};

const RETRY = 'the relay tries again later';
const CONFIG = "msmtp's configuration";

/** One kind of msmtp failure, known by its words. */
interface Rule {
  readonly words: RegExp;
  readonly stage: FailureStage;
  /** The decision when msmtp quotes no 4xx/5xx reply; undefined: the exit status decides. */
  readonly temporary?: boolean;
  readonly reason: (temporary: boolean, match: RegExpMatchArray) => string;
  readonly advice: (temporary: boolean, match: RegExpMatchArray) => string;
}

const byServer = (deferred: string, refused: string) => (temporary: boolean) => (temporary ? deferred : refused);

const RULES: readonly Rule[] = [
  {
    words: /cannot locate host (\S+): (.*)$/m,
    stage: 'lookup',
    // Offline, or a VPN that is down, looks the same as a typo: keep the mail, the outbox's expiry bounds a typo.
    temporary: true,
    reason: (_t, m) => (/temporar/i.test(m[2]!) ? 'name lookup failed (offline?)' : 'mail server name not found'),
    advice: () => `Check the host name in ${CONFIG} and that you are online (or on your VPN); ${RETRY}.`,
  },
  {
    words: /cannot connect to [^\n]*: (.*)$/m,
    stage: 'connect',
    temporary: true,
    reason: (_t, m) => {
      const why = m[1]!;
      if (/refused/i.test(why)) return 'mail server refused the connection';
      if (/unreachable|no route/i.test(why)) return 'no network';
      if (/timed out/i.test(why)) return 'mail server did not answer the connection';
      return 'could not connect to the mail server';
    },
    advice: (_t, m) => (/unreachable|no route/i.test(m[1]!)
      ? `Check that you are online; ${RETRY}.`
      : `Check the host and port in ${CONFIG}; the server may be down, and ${RETRY}.`),
  },
  {
    words: /proxy failure: /,
    stage: 'connect',
    temporary: true,
    reason: () => 'the proxy failed',
    advice: () => `Check the proxy settings in ${CONFIG}; ${RETRY}.`,
  },
  {
    words: /cannot get initial OK message from server/,
    stage: 'greeting',
    reason: byServer('mail server is busy', 'mail server refused the session'),
    advice: (t) => (t ? `The mail server is busy or shutting down; ${RETRY}.`
      : `The mail server will not talk to this computer; check the host and port in ${CONFIG}, or ask the provider.`),
  },
  {
    words: /does not accept EHLO or HELO/,
    stage: 'ehlo',
    reason: byServer('mail server deferred the greeting', 'mail server refused the greeting'),
    advice: (t) => (t ? `The mail server is busy; ${RETRY}.`
      : `The mail server refuses msmtp's greeting; check the domain setting in ${CONFIG}, or ask the provider.`),
  },
  {
    words: /does not support TLS via the STARTTLS command/,
    stage: 'starttls',
    temporary: false,
    reason: () => 'mail server offers no STARTTLS',
    advice: () => `Check the port and the tls and tls_starttls settings in ${CONFIG}; msmtp will not go on without TLS.`,
  },
  {
    words: /command STARTTLS failed/,
    stage: 'starttls',
    reason: byServer('mail server deferred TLS', 'mail server refused TLS'),
    advice: (t) => (t ? `The mail server cannot start TLS just now; ${RETRY}.`
      : `The mail server refuses STARTTLS; check the port and the tls_starttls setting in ${CONFIG}.`),
  },
  {
    words: /TLS certificate verification failed|certificate[^\n]*(expired|not yet activated|revoked|not trusted)/i,
    stage: 'tls',
    temporary: false,
    reason: () => "mail server's TLS certificate is not trusted",
    advice: () => `Check the host name (it must match the server's certificate) and tls_trust_file in ${CONFIG}.`,
  },
  {
    words: /TLS handshake failed/,
    stage: 'tls',
    temporary: false,
    reason: () => 'TLS handshake failed',
    advice: () => `Check the port and TLS mode in ${CONFIG}: port 465 needs tls_starttls off, port 587 tls_starttls on.`,
  },
  {
    words: /cannot set X509 [^\n]*file|cannot set credentials for TLS|cannot set priorities for TLS/,
    stage: 'tls',
    temporary: false,
    reason: () => 'a TLS setting of msmtp is wrong',
    advice: () => `Check the tls_* settings in ${CONFIG}: a file they name is missing or unreadable, or a value is wrong.`,
  },
  {
    words: /cannot (read from|write to) TLS connection/,
    stage: 'tls',
    temporary: true,
    reason: () => 'connection to the mail server was lost',
    advice: () => `The mail server closed the connection; ${RETRY}.`,
  },
  {
    words: /authentication failed/,
    stage: 'auth',
    // A 5xx (or no reply code) is the account's problem, not the mail's: see ACCOUNT_RULES, which keeps the mail.
    temporary: false,
    reason: byServer('login deferred by the mail server', 'login refused by the mail server'),
    advice: (t) => (t ? `The mail server could not check the login just now; ${RETRY}.`
      : `Check msmtp's user name and password (user, password or passwordeval in ${CONFIG}); some providers need an app password.`),
  },
  {
    words: /cannot read output of '/,
    stage: 'auth',
    // passwordeval fails while the keyring or password manager is locked, which ends by itself.
    temporary: true,
    reason: () => 'msmtp could not get the password',
    advice: () => `The passwordeval command in ${CONFIG} failed: unlock your keyring or password manager, or fix the command; ${RETRY}.`,
  },
  {
    words: /does not support authentication/,
    stage: 'auth',
    temporary: false,
    reason: () => 'mail server offers no login',
    advice: () => `Check the auth, port and TLS settings in ${CONFIG}: this server does not offer that login here.`,
  },
  {
    words: /cannot use a secure authentication method|cannot find a usable authentication method/,
    stage: 'auth',
    temporary: false,
    reason: () => 'no safe login method',
    advice: () => `Turn on TLS in ${CONFIG} (tls on): msmtp does not send a password over a connection without it.`,
  },
  {
    words: /authentication method \S+ (needs a password|needs a user name|not supported)/,
    stage: 'auth',
    temporary: false,
    reason: (_t, m) => (m[1] === 'needs a password' ? 'msmtp has no password' : m[1] === 'needs a user name'
      ? 'msmtp has no user name' : 'login method not supported'),
    advice: () => `Set user and password (or passwordeval) for this account in ${CONFIG}, and check its auth method.`,
  },
  {
    words: /envelope from address (\S+) not accepted/,
    stage: 'mail-from',
    reason: byServer('sender deferred by the mail server', 'sender refused by the mail server'),
    advice: (t) => (t ? `The mail server deferred the sender; ${RETRY}.`
      : `Send from an address this account may use (msmtp's from setting, or your mail client's From).`),
  },
  {
    words: /recipient address (\S+) not accepted/,
    stage: 'rcpt-to',
    reason: byServer('recipient deferred by the mail server', 'recipient refused by the mail server'),
    advice: (t, m) => (t ? `The mail server deferred ${m[1]} (greylisting or a full mailbox); ${RETRY}.`
      : `Check the address ${m[1]}; msmtp sends a mail to all its recipients or to none, so nobody got it.`),
  },
  {
    words: /does not accept mail data/,
    stage: 'data',
    reason: byServer('mail deferred by the mail server', 'mail refused by the mail server'),
    advice: (t) => (t ? `The mail server cannot take the mail just now; ${RETRY}.`
      : 'The mail server refuses to take the mail; see its reply.'),
  },
  {
    words: /did not accept the mail|delivery to one or more recipients failed|could not send mail to all recipients/,
    stage: 'end-of-data',
    reason: byServer('mail deferred by the mail server', 'mail refused by the mail server'),
    advice: (t) => (t ? `The mail server cannot take the mail just now; ${RETRY}.`
      : 'The mail server refuses this mail (its content, size or a policy); see its reply.'),
  },
  {
    words: /network (read|write) error: the operation timed out/,
    stage: 'timeout',
    // Even after the final dot: the server may have the mail, but a duplicate is better than a loss.
    temporary: true,
    reason: () => 'mail server stopped answering',
    advice: () => `${capitalise(RETRY)}; if it repeats, check the host, port and TLS mode in ${CONFIG}.`,
  },
  {
    words: /the server sent an empty reply|network (read|write) error|connection reset/,
    stage: 'unknown',
    temporary: true,
    reason: () => 'connection to the mail server was lost',
    advice: () => `The mail server closed the connection; ${RETRY}.`,
  },
  {
    words: /the server sent an invalid reply/,
    stage: 'unknown',
    temporary: false,
    reason: () => 'mail server sent an invalid reply',
    advice: () => `Check the host and port in ${CONFIG}: what answers there does not speak SMTP.`,
  },
  {
    words: /account \S+ not found|: line \d+: |^msmtp: [^\n:]*\/[^\n:]*: (No such file or directory|Permission denied)|must have no more than user read\/write permissions|must be owned by you/m,
    stage: 'command',
    temporary: false,
    reason: () => "msmtp's configuration has an error",
    advice: () => `Fix what msmtp names in its configuration file (msmtp --serverinfo checks it).`,
  },
  {
    words: /no recipients found|unrecognized option|invalid option|too many arguments|invalid mail address|envelope-from address is missing/,
    stage: 'command',
    temporary: false,
    reason: () => 'msmtp was called wrongly',
    advice: () => "Check the relay's delivery command: msmtp -f %F -- (the recipients follow).",
  },
];

/**
 * Failures that no retry fixes but the user can, after which every kept mail can go: the provider refused the login
 * (the password changed, an app password is needed) or msmtp has no password (the key ring item is gone). Keeping
 * the mail, rather than refusing it with 554, is what lets the account be fixed without losing what was sent.
 */
const ACCOUNT_RULES: readonly { readonly words: RegExp; readonly reason: AccountAttention['reason'] }[] = [
  { words: /authentication failed/, reason: 'login-refused' },
  { words: /authentication method \S+ needs a password/, reason: 'no-password' },
];
/** msmtp's closing line names the account: "msmtp: could not send mail (account NAME from FILE)". */
const ACCOUNT_NAME = /^msmtp: could not send mail \(account (.+) from .+\)$/m;

/** sysexits.h: the exit statuses that are temporary when msmtp's words do not say otherwise (msmtpd's set). */
const TEMPORARY_EXITS = new Set([68, 69, 71, 73, 74, 75]);
const EXIT_NAMES: Readonly<Record<number, string>> = {
  64: 'EX_USAGE', 65: 'EX_DATAERR', 66: 'EX_NOINPUT', 67: 'EX_NOUSER', 68: 'EX_NOHOST', 69: 'EX_UNAVAILABLE',
  70: 'EX_SOFTWARE', 71: 'EX_OSERR', 72: 'EX_OSFILE', 73: 'EX_CANTCREAT', 74: 'EX_IOERR', 75: 'EX_TEMPFAIL',
  76: 'EX_PROTOCOL', 77: 'EX_NOPERM', 78: 'EX_CONFIG',
};
/** Signals that stop a process from outside (the relay's own time-out uses SIGKILL); the rest are crashes. */
const STOP_SIGNALS = new Set(['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT']);
/** A reply msmtp quotes: "msmtp: server message: 451 4.3.0 text", also in msmtp's translations. */
const SERVER_MESSAGE = /^msmtp: [^:\n]*:\s*([2-5]\d\d)(?:([ -])(.*))?$/;

/**
 * Temporary or permanent, and where, for a delivery command that did not exit 0. A report with exit status 0 is
 * not a failure and throws: the engine decides what a success that is not one means.
 */
export function classifyCommandFailure(report: CommandFailureReport): FailureClass {
  if (report.signal) return signalFailure(report.signal);
  if (report.exitCode === 0) throw new RangeError('classifyCommandFailure: exit status 0 is not a failure');
  const start = startFailure(report.exitCode);
  if (start) return start;
  const exitCode = report.exitCode!;

  const lines = report.output.split('\n');
  const reply = quotedReply(lines);
  const codeSays = reply && reply.code >= 400 ? reply.code < 500 : undefined;
  // msmtp's own lines only: a server's text ("550 relaying denied, authentication failed") must not set the stage.
  const rule = findRule(lines.filter((line) => !SERVER_MESSAGE.test(line.trim())).join('\n'));
  if (rule) {
    const own = lines.filter((line) => !SERVER_MESSAGE.test(line.trim())).join('\n');
    const accountRule = codeSays === true ? undefined : ACCOUNT_RULES.find((candidate) => candidate.words.test(own));
    if (accountRule) return withReply(accountFailure(accountRule.reason, ACCOUNT_NAME.exec(report.output)?.[1]), reply);
    const temporary = codeSays ?? rule.rule.temporary ?? TEMPORARY_EXITS.has(exitCode);
    return withReply({
      temporary,
      stage: rule.rule.stage,
      reason: rule.rule.reason(temporary, rule.match),
      advice: reply?.code === 530 ? `The mail server wants a login: turn on auth (with user and password) in ${CONFIG}.`
        : rule.rule.advice(temporary, rule.match),
    }, reply);
  }
  const temporary = codeSays ?? TEMPORARY_EXITS.has(exitCode);
  const name = EXIT_NAMES[exitCode];
  return withReply({
    temporary,
    stage: 'unknown',
    reason: reply ? byServer('mail deferred by the mail server', 'mail refused by the mail server')(temporary)
      : `delivery command failed (exit ${exitCode}${name ? ` ${name}` : ''})`,
    advice: temporary ? `${capitalise(RETRY)}; the log has the delivery command's own words.`
      : "The log has the delivery command's own words; fix what they name and send the mail again.",
  }, reply);
}

function accountFailure(reason: AccountAttention['reason'], name: string | undefined): FailureClass {
  const account = name ? `msmtp's account ${name}` : "msmtp's account";
  const advice = reason === 'login-refused'
    ? `Fix the password of ${account} (some providers need an app password); the mail is kept and goes out once the account is fixed.`
    : `Store the password of ${account} again (msmtp-relay --add-account, or the app's Accounts pane); the mail is kept until then.`;
  return {
    temporary: true,
    stage: 'auth',
    reason: reason === 'login-refused' ? 'login refused by the mail server: the account needs attention'
      : 'msmtp has no password: the account needs attention',
    advice,
    account: name ? { reason, name, advice } : { reason, advice },
  };
}

/**
 * One line for a person: the stage, then msmtp's own words, e.g.
 * "Connect failed: msmtp: cannot connect to 127.0.0.1, port 25: Connection refused".
 */
export function describeFailure(report: CommandFailureReport, failure = classifyCommandFailure(report)): string {
  const label = STAGE_LABELS[failure.stage];
  const words = report.signal ? undefined : keyLine(report.output);
  if (!words) return `${label} failed: ${failure.reason}`;
  return `${label} failed: ${words}${failure.serverReply ? `; server message: ${failure.serverReply}` : ''}`;
}

interface QuotedReply {
  readonly code: number;
  readonly text: string;
}

/** The server's reply msmtp quoted, all its lines made one: '550 5.1.1 No such user. Check the address'. */
function quotedReply(lines: readonly string[]): QuotedReply | null {
  const found = lines.map((line) => SERVER_MESSAGE.exec(line.trim())).filter((m): m is RegExpExecArray => m !== null);
  if (found.length === 0) return null;
  const code = Number(found[found.length - 1]![1]);
  const texts = found.filter((m) => Number(m[1]) === code).map((m) => (m[3] ?? '').trim());
  const enhanced = /^[245]\.\d{1,3}\.\d{1,3}\b/.exec(texts[0] ?? '')?.[0];
  const words = texts.map((text) => (enhanced && text.startsWith(enhanced) ? text.slice(enhanced.length).trim() : text));
  return { code, text: [String(code), enhanced, words.filter(Boolean).join(' ')].filter(Boolean).join(' ') };
}

function findRule(output: string): { rule: Rule; match: RegExpMatchArray } | null {
  for (const rule of RULES) {
    const match = output.match(rule.words);
    if (match) return { rule, match };
  }
  return null;
}

function withReply(failure: FailureClass, reply: QuotedReply | null): FailureClass {
  return reply ? { ...failure, serverReply: reply.text } : failure;
}

/** msmtp's first line that says what went wrong (not a quoted reply, not the closing "could not send mail"). */
function keyLine(output: string): string | undefined {
  const lines = output.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !SERVER_MESSAGE.test(line)
    && !/^msmtp: could not send mail \(account /.test(line));
  return lines.find((line) => line.startsWith('msmtp: ')) ?? lines[0];
}

function signalFailure(signal: string): FailureClass {
  if (STOP_SIGNALS.has(signal)) {
    return {
      temporary: true,
      stage: 'command',
      reason: `msmtp was stopped (${signal})`,
      advice: `${capitalise(RETRY)}; if it repeats, the mail server may take the connection and never answer (over TLS msmtp waits past its own time-out until the relay's stops it).`,
    };
  }
  return {
    temporary: true,
    stage: 'command',
    reason: `msmtp crashed (${signal})`,
    advice: `${capitalise(RETRY)}; if it repeats, reinstall or update msmtp.`,
  };
}

/**
 * A command that did not start: node reports the errno as a negative exit status (spawn ENOENT is -2), a shell
 * wrapper as 127 (not found) or 126 (not executable), and null when nothing is known.
 */
function startFailure(exitCode: number | null): FailureClass | null {
  const errno = osConstants.errno;
  if (exitCode === -errno.ENOENT || exitCode === -errno.ENOTDIR || exitCode === 127) {
    return {
      temporary: false,
      stage: 'command',
      reason: 'command not found',
      advice: "Install msmtp, or give the delivery command's full path in the relay's settings.",
    };
  }
  if (exitCode === -errno.EACCES || exitCode === -errno.ENOEXEC || exitCode === -errno.EPERM || exitCode === 126) {
    return {
      temporary: false,
      stage: 'command',
      reason: 'command cannot be run',
      advice: "Check the delivery command's path and permissions: it must be an executable program.",
    };
  }
  if (exitCode === null || exitCode < 0) {
    // Out of processes, memory or file descriptors: that passes.
    return {
      temporary: true,
      stage: 'command',
      reason: 'command could not be started',
      advice: `${capitalise(RETRY)}; if it repeats, the system is short of memory or processes.`,
    };
  }
  return null;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
