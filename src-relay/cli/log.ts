import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, ftruncateSync, openSync, statSync, writeSync } from 'node:fs';
import { describeEvent, type LogLevel, type RelayEvent } from '../index';

/** Where log lines go: msmtpd's --log=none|syslog|FILE. */
export type LogTarget = { kind: 'none' } | { kind: 'syslog' } | { kind: 'file'; path: string };

export function parseLogTarget(text: string): LogTarget {
  if (text === 'none') return { kind: 'none' };
  if (text === 'syslog') return { kind: 'syslog' };
  return { kind: 'file', path: text };
}

/** Takes one line per call and never throws: a failing log must not take the relay down. */
export interface LogSink {
  write(level: LogLevel, message: string): void;
  /** Flushes and lets go (waits, bounded, for syslog's `logger` to pass its last lines on). */
  close(): Promise<void>;
}

export interface SinkOptions {
  /** The program name in each line: `msmtp-relay[PID]`. */
  ident: string;
  pid: number;
  /** Told once when writing starts failing (disk full, logger gone); the relay keeps serving. */
  reportProblem: (message: string) => void;
  now?: () => Date;
}

/** The log cannot be used at start-up (the CLI exits 3). */
export class LogOpenError extends Error {
  override name = 'LogOpenError';
}

export async function openLogSink(target: LogTarget, options: SinkOptions): Promise<LogSink> {
  switch (target.kind) {
    case 'none':
      return { write: () => undefined, close: async () => undefined };
    case 'file':
      return new FileSink(target.path, options);
    case 'syslog': {
      const sink = new SyslogSink(options);
      await sink.start();
      return sink;
    }
  }
}

/** Every engine event becomes one log line as it happens. Returns the unsubscribe function. */
export function attachEngineLog(engine: { subscribe(listener: (event: RelayEvent) => void): () => void }, sink: LogSink): () => void {
  return engine.subscribe((event) => {
    const { level, message } = describeEvent(event);
    sink.write(level, message);
  });
}

/** msmtpd's file format: `YYYY-MM-DD HH:MM:SS ident[PID] info: message`, local time. */
export function formatLogLine(date: Date, ident: string, pid: number, level: LogLevel, message: string): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp =
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  return `${stamp} ${ident}[${pid}] ${level}: ${oneLine(message)}\n`;
}

/** A command's multi-line error text stays on one log line; other control characters cannot forge lines either. */
export function oneLine(message: string): string {
  return message.replace(/\s*[\r\n]+\s*/g, ' | ').replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '?');
}

/**
 * Appends each line with a synchronous write, so a line is on disk the moment its event happens (msmtpd wrote
 * only when a session ended). A log file that was removed or rotated away is reopened on the next line.
 */
class FileSink implements LogSink {
  private fd: number;
  private identity: { dev: number; ino: number };
  private failing = false;
  private lineCut = false;

  constructor(private readonly path: string, private readonly options: SinkOptions) {
    try {
      this.fd = openSync(path, 'a', 0o640);
    } catch (error) {
      throw new LogOpenError(`cannot open log file ${path}: ${errorText(error)}`);
    }
    this.identity = fileIdentity(fstatSync(this.fd));
  }

  write(level: LogLevel, message: string): void {
    const line = Buffer.from(formatLogLine((this.options.now ?? (() => new Date()))(), this.options.ident, this.options.pid, level, message));
    try {
      this.reopenIfReplaced();
      this.writeWhole(line);
      this.failing = false;
    } catch (error) {
      if (this.failing) return;
      this.failing = true;
      this.options.reportProblem(`cannot write to log file ${this.path}: ${errorText(error)} (the relay keeps running; logging resumes when it can)`);
    }
  }

  /**
   * A full disk can take part of a line before it refuses the rest: that fragment is cut off again, so it is not
   * glued to the next line (or, if even that fails, the next line starts on a fresh line).
   */
  private writeWhole(line: Buffer): void {
    const data = this.lineCut ? Buffer.concat([NEWLINE, line]) : line;
    let written = 0;
    try {
      while (written < data.length) written += writeSync(this.fd, data, written);
      this.lineCut = false;
    } catch (error) {
      if (written > 0) {
        try {
          // Only on failure: the file is opened for append, so the fragment is the last `written` bytes.
          ftruncateSync(this.fd, fstatSync(this.fd).size - written);
        } catch {
          this.lineCut = true;
        }
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    try {
      closeSync(this.fd);
    } catch {
      // closing twice, or a file system gone: nothing left to save
    }
  }

  private reopenIfReplaced(): void {
    const onDisk = statSync(this.path, { throwIfNoEntry: false });
    if (onDisk) {
      const { dev, ino } = fileIdentity(onDisk);
      if (dev === this.identity.dev && ino === this.identity.ino) return;
    }
    const fd = openSync(this.path, 'a', 0o640);
    closeSync(this.fd);
    this.fd = fd;
    this.identity = fileIdentity(fstatSync(fd));
  }
}

const NEWLINE = Buffer.from('\n');

function fileIdentity(stats: { dev: number; ino: number }): { dev: number; ino: number } {
  return { dev: stats.dev, ino: stats.ino };
}

/** How long close() waits for the logger processes to pass on their last lines. */
const LOGGER_EXIT_WAIT_MS = 2000;

/**
 * syslog, facility mail, through util-linux `logger` (Node cannot write to /dev/log, a datagram socket): one
 * long-lived logger per priority reading lines on its stdin, not one process per line.
 */
class SyslogSink implements LogSink {
  private readonly loggers = new Map<LogLevel, ChildProcess>();
  private failing = false;
  private closing = false;

  constructor(private readonly options: SinkOptions) {}

  /** Starts the info logger now, so a missing `logger` program is a start-up error, not a silent nothing. */
  async start(): Promise<void> {
    const logger = this.spawnLogger('info');
    await new Promise<void>((resolve, reject) => {
      logger.once('spawn', resolve);
      logger.once('error', (error) =>
        reject(new LogOpenError(`cannot start 'logger' for --log=syslog: ${errorText(error)} (it comes with util-linux)`)),
      );
    });
  }

  write(level: LogLevel, message: string): void {
    if (this.closing) return;
    const logger = this.loggers.get(level) ?? this.spawnLogger(level);
    logger.stdin!.write(`${oneLine(message)}\n`);
  }

  async close(): Promise<void> {
    this.closing = true;
    const exits = [...this.loggers.values()].map(
      (logger) =>
        new Promise<void>((resolve) => {
          if (logger.exitCode !== null || logger.signalCode !== null) return resolve();
          const timer = setTimeout(() => {
            logger.kill();
            resolve();
          }, LOGGER_EXIT_WAIT_MS);
          logger.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          logger.stdin!.end();
        }),
    );
    await Promise.all(exits);
  }

  private spawnLogger(level: LogLevel): ChildProcess {
    const priority = level === 'error' ? 'mail.err' : 'mail.info';
    const logger = spawn('logger', ['-t', this.options.ident, `--id=${this.options.pid}`, '-p', priority, '--size', '8192'], {
      stdio: ['pipe', 'ignore', 'ignore'], // an inetd stderr may be the client's socket
    });
    this.loggers.set(level, logger);
    logger.stdin.on('error', () => {
      // EPIPE: the logger died; its 'exit' handler below takes care of it
    });
    logger.once('error', (error) => this.lost(level, logger, errorText(error)));
    logger.once('exit', (code, signal) => {
      if (!this.closing) this.lost(level, logger, `logger exited (${signal ?? `status ${code}`})`);
    });
    return logger;
  }

  /** A dead logger is replaced on the next line of its priority; the problem is told once. */
  private lost(level: LogLevel, logger: ChildProcess, why: string): void {
    if (this.loggers.get(level) === logger) this.loggers.delete(level);
    if (this.failing) return;
    this.failing = true;
    this.options.reportProblem(`syslog logging failed: ${why} (the relay keeps running)`);
  }
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    // "ENOENT: no such file or directory, open '/x/log'": the path is already in our own message
    const text = error.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '[^']*'$/, '');
    return code && !text.includes(code) ? `${code}: ${text}` : text;
  }
  return String(error);
}
