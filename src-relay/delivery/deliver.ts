import { spawn } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { classifyCommandFailure } from './msmtp-failures';
import { PIPED, SmtpError } from '../smtp/reply';
import {
  type AccountAttention, type DeliveryFailure, type DeliveryOutcome, type DeliveryReport, type Envelope, type FailureStage,
} from '../smtp/handler';

export interface DeliveryCommand {
  /** argv template: the first '%F' becomes the envelope sender; the recipients are appended. */
  readonly argv: readonly string[];
  /** The command may go this long without progress (reading its input, or exiting once it has it all). */
  readonly timeoutMs: number;
}

export function commandFailure(reply: SmtpError, report: DeliveryReport, stage: FailureStage, reason: string, detail?: string,
  account?: AccountAttention): DeliveryFailure {
  return { status: 'failed', reply, report, cause: 'command', stage, reason, ...(detail ? { detail } : {}), ...(account ? { account } : {}) };
}

/** Where a copy of what the command is fed goes (the outbox's MailCopy), so a failed mail can be kept. */
export interface MailCopyTarget {
  add(chunk: Buffer): Promise<void> | void;
}

const OUTPUT_TAIL_BYTES = 2048;
/** How long to wait, after the command exited, for the rest of what it wrote. */
const OUTPUT_GRACE_MS = 200;

/** The null sender, as msmtpd passes it to the command. */
export const NULL_SENDER = 'MAILER-DAEMON';

export function buildArgv(template: readonly string[], envelope: Pick<Envelope, 'from' | 'to'>): string[] {
  const sender = envelope.from === '' ? NULL_SENDER : envelope.from;
  let replaced = false;
  const argv = template.map((arg) => {
    if (replaced || !arg.includes('%F')) return arg;
    replaced = true;
    return arg.replace('%F', () => sender);
  });
  return [...argv, ...envelope.to];
}

/** Our own trace header, with LF line ends like the body the command gets. */
export function receivedHeader(envelope: Envelope, hostname: string, date?: Date): string {
  const remote = envelope.remote.replace(/[^0-9A-Fa-f.:]/g, '');
  return (
    `Received: from ${sanitizeHelo(envelope.helo)} ([${remote}])\n` +
    `\tby ${hostname} (msmtp-relay) with ${envelope.user ? 'ESMTPA' : 'ESMTP'} id ${envelope.id};\n` +
    `\t${date ? rfc5322Date(date) : currentDate()}\n`
  );
}

/** The date of this second, formatted once per second rather than once per mail. */
let dateCache = { second: NaN, text: '' };
function currentDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateCache.second) dateCache = { second, text: rfc5322Date(new Date(now)) };
  return dateCache.text;
}

/** msmtpd's rule: keep a HELO name made of A-Z a-z 0-9 . : - (optionally in brackets), else say 'invalid'. */
export function sanitizeHelo(helo: string): string {
  if (helo === '') return 'unknown';
  return /^\[?[A-Za-z0-9.:-]+\]?$/.test(helo) ? helo : 'invalid';
}

export function rfc5322Date(date: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const zone = `${sign}${pad(Math.floor(Math.abs(offset) / 60))}${pad(Math.abs(offset) % 60)}`;
  return `${days[date.getDay()]}, ${pad(date.getDate())} ${months[date.getMonth()]} ${date.getFullYear()} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ${zone}`;
}

/**
 * The reply for a command that exited non-zero or was killed. msmtp's failure table (failure-class.ts) decides
 * whether the mail may still go out later (451, and the outbox keeps it) or never will (554); msmtpd's wording.
 */
export function exitFailure(report: DeliveryReport, detail?: string): DeliveryFailure {
  const judged = judgeCommand(report, (reason) => `Pipe command reported error ${report.signal
    ? `${128 + (osConstants.signals[report.signal] ?? 0)} (killed by ${report.signal})`
    : `${report.exitCode}: ${reason}`}`);
  return commandFailure(judged.reply, report, judged.stage, judged.reason, detail, judged.account);
}

/** A command that could not start is a setting to fix (msmtp not installed, a wrong path): the same table decides. */
function spawnFailure(report: DeliveryReport, error: Error): Judged {
  const { code, errno } = error as NodeJS.ErrnoException;
  const withErrno = { ...report, exitCode: report.exitCode ?? (errno !== undefined ? -Math.abs(errno) : null) };
  return judgeCommand(withErrno, () => `Pipe command failed to execute (${code ?? error.message})`);
}

interface Judged {
  reply: SmtpError;
  stage: FailureStage;
  reason: string;
  account?: AccountAttention;
}

/** msmtp's failure table decides 451 (the mail may still go out, and the outbox keeps it) or 554 (it never will). */
function judgeCommand(report: DeliveryReport, words: (reason: string) => string): Judged {
  const judged = classifyCommandFailure(report);
  const text = words(judged.reason);
  const reply = judged.temporary ? new SmtpError(451, [4, 3, 0], text) : new SmtpError(554, [5, 3, 0], text);
  return { reply, stage: judged.stage, reason: judged.reason, ...(judged.account ? { account: judged.account } : {}) };
}

/** Turns CRLF into LF across chunk boundaries (a CR that ends one chunk is held until the next). */
export class CrlfToLf {
  private heldCr = false;

  convert(chunk: Buffer): Buffer {
    const input = this.heldCr ? Buffer.concat([CR_BUFFER, chunk]) : chunk;
    this.heldCr = input.length > 0 && input[input.length - 1] === 0x0d;
    const body = this.heldCr ? input.subarray(0, input.length - 1) : input;
    let at = body.indexOf(CRLF);
    if (at < 0) return body;
    const parts: Buffer[] = [];
    let from = 0;
    while (at >= 0) {
      parts.push(body.subarray(from, at));
      from = at + 1; // keep the LF, drop the CR
      at = body.indexOf(CRLF, from);
    }
    parts.push(body.subarray(from));
    return Buffer.concat(parts);
  }

  /** What is still held at the end of the body (a lone final CR). */
  flush(): Buffer {
    const rest = this.heldCr ? CR_BUFFER : Buffer.alloc(0);
    this.heldCr = false;
    return rest;
  }
}

const CR_BUFFER = Buffer.from('\r');
const CRLF = Buffer.from('\r\n');

/**
 * What deliverViaCommand needs of a started command: a ChildProcess is one. It emits 'exit' (code, signal), and
 * 'error' with `pid` still undefined when the command could not be started.
 */
export interface SpawnedCommand extends EventEmitter {
  readonly pid?: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  kill(signal?: NodeJS.Signals | number): boolean;
  /**
   * What the command wrote on stdout and stderr, complete once it exited, where the spawner captured it itself
   * (the launcher does): then deliver reads no stream, and nothing at all when the command said nothing.
   */
  capturedOutput?(): Buffer;
}

/** Starts the command; the seam where a cheaper way to start processes can be put. */
export type CommandSpawner = (argv: readonly string[]) => SpawnedCommand;

/** Its own process group, so a kill reaches whatever the command starts (a script's `cat` holds stdin too). */
export const spawnDetached: CommandSpawner = (argv) =>
  spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], detached: true, shell: false, windowsHide: true });

/**
 * Streams one mail into the command: our Received header, then the body with LF line ends, with backpressure.
 * Delivered only after the command exited 0 having read it all. If the body fails (client gone, silent, or over the
 * size limit) the command's process group is killed before its stdin is closed, so it never sees a truncated mail as
 * complete. With a copy, every byte the command is fed is copied too, and the body is read to its end even when the
 * command gives up early: a mail the command could not send is then complete in the copy.
 */
export async function deliverViaCommand(
  command: DeliveryCommand,
  envelope: Envelope,
  body: Readable,
  header: string,
  spawner: CommandSpawner = spawnDetached,
  copy: MailCopyTarget | null = null,
): Promise<DeliveryOutcome> {
  const child = spawner(buildArgv(command.argv, envelope));
  const output = new OutputTail(OUTPUT_TAIL_BYTES);
  const captured = child.capturedOutput ? () => child.capturedOutput!() : null;
  if (!captured) {
    child.stdout?.on('data', (chunk: Buffer) => output.add(chunk));
    child.stderr?.on('data', (chunk: Buffer) => output.add(chunk));
  }
  const exit = waitForExit(child);
  const report = (): DeliveryReport =>
    ({ exitCode: child.exitCode, signal: child.signalCode, output: captured ? outputText(captured(), OUTPUT_TAIL_BYTES) : output.text() });

  const stdin = child.stdin!;
  let stdinBroken = false;
  stdin.on('error', () => {
    stdinBroken = true; // EPIPE: the command stopped reading; its exit status will tell why
  });
  const watchdog = new Watchdog(command.timeoutMs, () => killGroup(child));
  const feed = async (data: Buffer) => {
    const copying = copy?.add(data);
    if (copying) await copying;
    if (stdinBroken) return;
    await writeWithBackpressure(stdin, data, () => stdinBroken, exit, watchdog);
    if (watchdog.fired) stdinBroken = true; // stalled and killed: the rest of the body is only read (and copied)
  };

  try {
    const converter = new CrlfToLf();
    // The header goes with the first piece of the body: one write to the command for a small mail, not two.
    let headerBytes: Buffer | null = Buffer.from(header);
    for await (const chunk of body) {
      if (child.exitCode !== null || child.signalCode !== null) stdinBroken = true; // gone before the end of the mail
      const data = converter.convert(chunk as Buffer);
      await feed(headerBytes ? Buffer.concat([headerBytes, data]) : data);
      headerBytes = null;
    }
    if (headerBytes) await feed(headerBytes);
    const rest = converter.flush();
    await copy?.add(rest);
    if (!stdinBroken) stdin.end(rest);
  } catch (error) {
    killGroup(child);
    stdin.destroy();
    const spawnError = await exit.then((r) => r.spawnError);
    const reason = error instanceof Error ? error.message : String(error);
    if (spawnError) {
      const judged = spawnFailure(report(), spawnError);
      return { status: 'failed', reply: judged.reply, report: report(), cause: 'input', stage: judged.stage, reason: judged.reason, detail: spawnError.message };
    }
    if (error instanceof SmtpError) return inputFailure(error, report(), `${reason}; the command was killed`);
    return inputFailure(new SmtpError(451, [4, 3, 0], 'Mail aborted'), report(),
      `${reason}; the command was killed before it saw the end of the mail`);
  }

  watchdog.arm();
  const result = await exit;
  watchdog.disarm();
  if (!captured) await outputDrained(child, OUTPUT_GRACE_MS);
  if (result.spawnError) {
    const judged = spawnFailure(report(), result.spawnError);
    return commandFailure(judged.reply, report(), judged.stage, judged.reason, result.spawnError.message);
  }
  if (watchdog.fired) {
    return commandFailure(new SmtpError(451, [4, 4, 1], 'Pipe command timed out'), report(), 'timeout', 'delivery command timed out',
      `no progress for ${command.timeoutMs} ms; killed`);
  }
  if (result.code !== 0) return exitFailure(report());
  if (stdinBroken) {
    // Success claimed for a mail it never read to the end: not a delivery (msmtpd also answers 554 here).
    return commandFailure(new SmtpError(554, [5, 3, 0], 'Pipe command exited without reading the whole mail'), report(), 'command',
      'delivery command did not read the whole mail', 'the command closed its input before the end of the mail, then exited 0');
  }
  return { status: 'delivered', reply: PIPED, report: report() };
}

function inputFailure(reply: SmtpError, report: DeliveryReport, detail: string): DeliveryFailure {
  return { status: 'failed', reply, report, cause: 'input', stage: 'unknown', reason: reply.message, detail };
}

/**
 * 'exit' can come before the last bytes of stderr are read (msmtp's error message is written just before it exits);
 * wait briefly for both pipes to close, but not for a grandchild that keeps them open.
 */
function outputDrained(child: SpawnedCommand, graceMs: number): Promise<void> {
  const streams = [child.stdout, child.stderr].filter((stream): stream is NonNullable<typeof stream> => !!stream && !stream.destroyed && !stream.readableEnded);
  if (streams.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    let open = streams.length;
    const timer = setTimeout(resolve, graceMs);
    for (const stream of streams) {
      stream.once('close', () => {
        open -= 1;
        if (open === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
    }
  });
}

interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: Error;
}

/** Resolves on exit (not 'close': a background grandchild may hold stdout open forever) or on a spawn failure. */
function waitForExit(child: SpawnedCommand): Promise<ExitResult> {
  return new Promise((resolve) => {
    child.once('exit', (code: number | null, signal: NodeJS.Signals | null) => resolve({ code, signal }));
    child.on('error', (error: Error) => {
      if (child.pid === undefined) resolve({ code: null, signal: null, spawnError: error });
    });
  });
}

async function writeWithBackpressure(
  stdin: Writable,
  data: Buffer,
  broken: () => boolean,
  exit: Promise<ExitResult>,
  watchdog: Watchdog,
): Promise<void> {
  if (data.length === 0 || broken()) return;
  if (stdin.write(data)) return;
  watchdog.arm();
  await Promise.race([
    new Promise<void>((resolve) => {
      const done = () => {
        stdin.off('drain', done);
        stdin.off('close', done);
        resolve();
      };
      stdin.on('drain', done);
      stdin.on('close', done);
    }),
    exit,
  ]);
  watchdog.disarm();
}

export function killGroup(child: SpawnedCommand): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL'); // not a group leader (a custom spawner): kill the process itself
  }
}

/** Fires once the command made no progress for the timeout; armed only while we wait on the command. */
class Watchdog {
  fired = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly timeoutMs: number, private readonly onFire: () => void) {}

  arm(): void {
    this.disarm();
    this.timer = setTimeout(() => {
      this.fired = true;
      this.onFire();
    }, this.timeoutMs);
  }

  disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** The last bytes a chatty command wrote; everything before is dropped, so a flood costs no memory. */
class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit: number) {}

  add(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size - this.chunks[0]!.length >= this.limit) this.size -= this.chunks.shift()!.length;
  }

  text(): string {
    return outputText(Buffer.concat(this.chunks, this.size), this.limit);
  }
}

/** The last `limit` bytes of what a command wrote, as text for the log: no trailing space, no control characters. */
function outputText(all: Buffer, limit: number): string {
  if (all.length === 0) return '';
  return all.subarray(Math.max(0, all.length - limit)).toString('utf8').replace(/\s+$/, '').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '?');
}
