/**
 * msmtp's configuration file as msmtp 1.8 reads it (src/conf.c, read_conffile): one command per line, the first word
 * is the command and the rest, trimmed of blanks, its argument; an argument wholly enclosed in double quotes loses
 * them and nothing else (there are no escapes); only whole-line comments exist; CRLF line ends are accepted; a
 * command before any `account` or `defaults` line opens an account named "default" (msmtp 1.2 compatibility);
 * `account NAME : A, B` starts from `defaults` and takes what A and B set themselves, in that order.
 */

/**
 * msmtp reads a line with fgets into 501 bytes (LINEBUFSIZE) and refuses the whole file when 500 bytes came without
 * the newline: a line may hold at most 500 bytes counting its line end ("\r\n" counts two), 499 without one.
 */
export const MSMTP_LINE_BYTES = 500;

/** Whether msmtp reads this line, written with this line end. */
export function lineFits(text: string, eol: '\n' | '\r\n'): boolean {
  return Buffer.byteLength(text + eol, 'utf8') <= MSMTP_LINE_BYTES;
}

export const BLOCK_BEGIN = '# msmtp-relay: begin account ';
export const BLOCK_END = '# msmtp-relay: end account ';

export interface MsmtprcLine {
  /** 1-based, as msmtp counts them in its errors. */
  readonly number: number;
  /** The line without its line end. */
  readonly text: string;
  /** Byte-exact offsets in the file's text, the line end included in `end`. */
  readonly start: number;
  readonly end: number;
}

export interface MsmtprcAccount {
  readonly name: string;
  /** The line of its `account` command (0 for the implicit "default" account opened by a command). */
  readonly line: number;
  /** Every setting as msmtp ends up with it: from `defaults` at the time, the inherited accounts, its own lines. */
  readonly settings: ReadonlyMap<string, string>;
  /** The app's block this account sits in, if the app wrote it. */
  readonly block?: AppBlock;
}

/** A block of lines the app wrote, from its begin marker to its end marker (both included). */
export interface AppBlock {
  /** The account name in the markers. */
  readonly name: string;
  readonly firstLine: number;
  readonly lastLine: number;
  /** Byte-exact offsets of the block in the file's text, the last line end included. */
  readonly start: number;
  readonly end: number;
}

export interface MsmtprcModel {
  readonly text: string;
  /** The line end to use for new lines: the file's own (the first line's), LF for an empty file. */
  readonly eol: '\n' | '\r\n';
  readonly lines: readonly MsmtprcLine[];
  /** Every account in the order msmtp keeps them (the order in which it looks for a From address). */
  readonly accounts: readonly MsmtprcAccount[];
  readonly blocks: readonly AppBlock[];
  /** The settings `defaults` holds at the end of the file: what a new account appended there starts from. */
  readonly defaultsAtEnd: ReadonlyMap<string, string>;
  /** Why msmtp would refuse this file, when the model sees it; the file is then not to be written. */
  readonly problem?: string;
}

/** msmtp's trim_string: blanks are space and tab only; a wholly double-quoted argument loses its quotes. */
export function msmtpArgument(raw: string): string {
  const trimmed = raw.replace(/^[ \t]+|[ \t]+$/g, '');
  return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"') ? trimmed.slice(1, -1) : trimmed;
}

/** The command and its argument, or null for a blank or comment line (msmtp's get_cmd). */
export function splitCommand(text: string): { command: string; argument: string } | null {
  const start = /^[ \t]*/.exec(text)![0].length;
  if (start === text.length || text[start] === '#') return null;
  const rest = text.slice(start);
  const length = /^[^ \t]*/.exec(rest)![0].length;
  return { command: rest.slice(0, length), argument: msmtpArgument(rest.slice(length)) };
}

export function splitLines(text: string): MsmtprcLine[] {
  const lines: MsmtprcLine[] = [];
  let start = 0;
  while (start < text.length) {
    const newline = text.indexOf('\n', start);
    const end = newline < 0 ? text.length : newline + 1;
    const body = text.slice(start, newline < 0 ? end : newline);
    lines.push({ number: lines.length + 1, text: body.endsWith('\r') && newline >= 0 ? body.slice(0, -1) : body, start, end });
    start = end;
  }
  return lines;
}

interface OpenAccount {
  name: string;
  line: number;
  settings: Map<string, string>;
  /** What it set itself or took from the accounts it names: what `account X : this` inherits (msmtp's mask). */
  own: Map<string, string>;
}

export function parseMsmtprc(text: string): MsmtprcModel {
  const lines = splitLines(text);
  const eol = /\r\n/.test(text.slice(0, (text.indexOf('\n') + 1) || text.length)) ? '\r\n' : '\n';
  const blocks = findBlocks(lines);
  const accounts: OpenAccount[] = [];
  const defaults = new Map<string, string>();
  let current: OpenAccount | 'defaults' | null = null;
  let problem: string | undefined;
  if (text.startsWith('\uFEFF')) problem = 'the file starts with a byte order mark (BOM), which msmtp cannot read; save it as UTF-8 without BOM';
  for (const line of lines) {
    if (problem) break;
    // The last line without a line end counts as if it had "\n" (fgets stops at the end of the file).
    if (Buffer.byteLength(text.slice(line.start, line.end), 'utf8') + (text.endsWith('\n') || line.end < text.length ? 0 : 1) > MSMTP_LINE_BYTES) {
      problem = `line ${line.number} is longer than msmtp's limit (${MSMTP_LINE_BYTES - 1} characters)`;
      break;
    }
    const parsed = splitCommand(line.text);
    if (!parsed) continue;
    const { command, argument } = parsed;
    if (command === 'eval') {
      problem = `line ${line.number}: 'eval' lines are read by running a command; msmtp Relay does not edit such a file`;
      break;
    }
    if (current === null && command !== 'account' && command !== 'defaults') {
      current = { name: 'default', line: 0, settings: new Map(defaults), own: new Map() };
      accounts.push(current);
    }
    if (command === 'defaults') {
      current = 'defaults';
    } else if (command === 'account') {
      const opened = openAccount(argument, line.number, accounts, defaults);
      if (typeof opened === 'string') {
        problem = opened;
        break;
      }
      accounts.push(opened);
      current = opened;
    } else if (current === 'defaults') {
      defaults.set(command, argument);
    } else if (current) {
      current.settings.set(command, argument);
      current.own.set(command, argument);
    }
  }
  return {
    text,
    eol,
    lines,
    accounts: accounts.map(({ name, line, settings }) => {
      const block = blocks.find((b) => line >= b.firstLine && line <= b.lastLine);
      return block ? { name, line, settings, block } : { name, line, settings };
    }),
    blocks,
    defaultsAtEnd: defaults,
    ...(problem ? { problem } : {}),
  };
}

function openAccount(argument: string, line: number, accounts: readonly OpenAccount[], defaults: ReadonlyMap<string, string>):
OpenAccount | string {
  const colon = argument.indexOf(':');
  const name = colon < 0 ? argument : msmtpArgument(argument.slice(0, colon));
  const parents: OpenAccount[] = [];
  if (colon >= 0) {
    for (const parentName of argument.slice(colon + 1).split(',').map(msmtpArgument)) {
      const parent = accounts.find((account) => account.name === parentName);
      if (!parent) return `line ${line}: account ${parentName || '(empty)'} not (yet) defined`;
      parents.push(parent);
    }
  }
  if (name === '') return `line ${line}: missing account name`;
  if (/[:,]/.test(name)) return `line ${line}: an account name must not contain colons or commas`;
  if (accounts.some((account) => account.name === name)) return `line ${line}: account ${name} was already defined`;
  const settings = new Map(defaults);
  const own = new Map<string, string>();
  for (const parent of parents) {
    for (const [key, value] of parent.own) {
      settings.set(key, value);
      own.set(key, value);
    }
  }
  return { name, line, settings, own };
}

/** The app's marked blocks; a begin marker without its end marker makes no block (the user edited it by hand). */
function findBlocks(lines: readonly MsmtprcLine[]): AppBlock[] {
  const blocks: AppBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const begin = lines[i]!;
    if (!begin.text.startsWith(BLOCK_BEGIN)) continue;
    const name = begin.text.slice(BLOCK_BEGIN.length);
    for (let j = i + 1; j < lines.length; j++) {
      const text = lines[j]!.text;
      if (text.startsWith(BLOCK_BEGIN)) break;
      if (text === `${BLOCK_END}${name}`) {
        blocks.push({ name, firstLine: begin.number, lastLine: lines[j]!.number, start: begin.start, end: lines[j]!.end });
        i = j;
        break;
      }
    }
  }
  return blocks;
}

/** The account msmtp picks for an envelope-from address, as find_account_by_envelope_from does (no globbing here). */
export function accountsForAddress(model: MsmtprcModel, address: string): MsmtprcAccount[] {
  return model.accounts.filter((account) => {
    const from = account.settings.get('from');
    return from !== undefined && from.toLowerCase() === address.toLowerCase();
  });
}
