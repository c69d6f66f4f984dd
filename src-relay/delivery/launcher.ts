import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { spawnDetached, type CommandSpawner, type SpawnedCommand } from './deliver';
import { findExecutable, isExecutableFile } from './executable';

/** A command the launcher has not confirmed by then means the launcher is stuck: it is killed and restarted. */
const START_TIMEOUT_MS = 10_000;
/** After this many launchers died on us, Node's own spawn takes over for good (at once if one never got ready). */
const MAX_LAUNCHER_FAILURES = 3;
/** sockaddr_un holds 104 (macOS) to 108 (Linux) bytes. */
const MAX_SOCKET_PATH = 100;

/**
 * The launcher's python source, src-relay/launcher.py, which the build copies next to this file. It is read as text
 * and run with `python3 -c`: fs reads it from inside a packaged app's archive, where python could not open it.
 */
export const LAUNCHER_SOURCE = join(__dirname, 'launcher.py');
let launcherText: string | undefined;
function launcherScript(): string {
  launcherText ??= readFileSync(LAUNCHER_SOURCE, 'utf8');
  return launcherText;
}

export interface LauncherSpawner {
  /** Starts a command through the launcher, or with Node's own spawn where there is none or it keeps failing. */
  readonly spawn: CommandSpawner;
  /**
   * Starts the launcher ahead of the first command (otherwise the first spawn does, and goes through Node's
   * spawn meanwhile). Resolves once the launcher is ready, or known not to be; never rejects.
   */
  prepare(): Promise<void>;
  /**
   * Lets go of the launcher. It is shared by the engines of one process (tests run hundreds of them); the last
   * spawner to let go ends it, killing what still runs. The spawner may be used again afterwards.
   */
  close(): void;
}

/**
 * The engine's default way to start delivery commands: through a small long-lived python3 process (see
 * launcher.py) instead of forking the relay. Same guarantees as spawnDetached: argv only, its own process
 * group, the exact exit code or signal, its output captured; and the mail's end (EOF) reaches the command only
 * when the stdin stream is ended, never because of an abort. Where python3 is missing, and on macOS and Windows
 * (where libuv already spawns without copying the process), it is Node's own spawn.
 */
export function createLauncherSpawner(python: string | null = launcherInterpreter()): LauncherSpawner {
  if (python === null) return { spawn: spawnDetached, prepare: async () => {}, close: () => {} };
  let launcher: Launcher | null = null;
  const acquire = (): Launcher => (launcher ??= sharedLauncher(python, +1));
  return {
    spawn: (argv) => {
      const own = acquire();
      return own.usable && argv.every((arg) => !arg.includes('\0')) ? own.spawn(argv) : spawnDetached(argv);
    },
    prepare: async () => {
      const own = acquire();
      if (own.usable && own.ensureRunning()) await own.whenSettled;
    },
    close: () => {
      if (launcher) sharedLauncher(python, -1);
      launcher = null;
    },
  };
}

const shared = new Map<string, { launcher: Launcher; users: number }>();

/** The process's launcher for this interpreter, counting its users; the last one to leave closes it. */
function sharedLauncher(python: string, change: 1 | -1): Launcher {
  const entry = shared.get(python) ?? { launcher: new Launcher(python), users: 0 };
  shared.set(python, entry);
  entry.users += change;
  if (entry.users <= 0) {
    shared.delete(python);
    entry.launcher.close();
  }
  return entry.launcher;
}

/**
 * python3 where the launcher pays off: platforms whose libuv forks to spawn (Linux, the BSDs). The system's first:
 * it starts several times faster than a version manager's shim on PATH such as pyenv's (docs/benchmark.md).
 */
export function launcherInterpreter(): string | null {
  if (process.platform === 'win32' || process.platform === 'darwin') return null;
  return ['/usr/bin/python3', '/usr/local/bin/python3'].find(isExecutableFile) ?? findExecutable('python3');
}

class Launcher {
  private child: ChildProcess | null = null;
  private dir: string | null = null;
  private socketPath = '';
  private ready = false;
  private closing = false;
  private failures = 0;
  private sequence = 0;
  private pendingOutput = '';
  private readonly commands = new Map<string, LaunchedCommand>();
  private stuckTimer: NodeJS.Timeout | null = null;
  /** Commands by pid, from their "S" on: exits are reported by pid. */
  private readonly running = new Map<number, LaunchedCommand>();
  /** Resolves when the current launcher is ready or gone. */
  whenSettled: Promise<void> = Promise.resolve();
  private settle: () => void = () => {};

  constructor(private readonly python: string) {}

  get usable(): boolean {
    return this.failures < MAX_LAUNCHER_FAILURES;
  }

  /** Through the launcher once it is ready; before that with Node's spawn, no waiting. */
  spawn(argv: readonly string[]): SpawnedCommand {
    if (!this.ensureRunning() || !this.ready) return spawnDetached(argv);
    const id = String((this.sequence += 1));
    const command = new LaunchedCommand(argv, id, {
      done: () => {
        this.commands.delete(id);
        this.updateRef();
      },
    });
    this.commands.set(id, command);
    this.updateRef();
    this.stuckTimer ??= setTimeout(this.checkStarts, START_TIMEOUT_MS).unref();
    command.connect(this.socketPath);
    return command;
  }

  /**
   * One timer for all commands waiting for their start report (not one per mail): a command the launcher has not
   * confirmed for START_TIMEOUT_MS means it is stuck, and it is killed (then restarted). Unref'd: pending commands
   * keep the process alive through the launcher's pipes (updateRef).
   */
  private readonly checkStarts = (): void => {
    this.stuckTimer = null;
    const now = Date.now();
    let oldest = Infinity;
    for (const command of this.commands.values()) {
      if (command.starting) oldest = Math.min(oldest, command.requestedAt);
    }
    if (oldest === Infinity) return;
    if (now - oldest >= START_TIMEOUT_MS) {
      this.child?.kill('SIGKILL');
      return;
    }
    this.stuckTimer = setTimeout(this.checkStarts, oldest + START_TIMEOUT_MS - now).unref();
  };

  close(): void {
    const child = this.child;
    if (!child) return;
    this.closing = true;
    child.stdin?.end(); // EOF: the launcher removes its socket and exits
    this.lost(child);
  }

  /** Starts the launcher unless it runs; false when it cannot run here (then Node's spawn is used). */
  ensureRunning(): boolean {
    if (this.child) return true;
    this.closing = false;
    try {
      this.dir = mkdtempSync(join(tmpdir(), 'msmtp-relay-')); // mode 0700: only this user may ask for a command
    } catch {
      this.failures = MAX_LAUNCHER_FAILURES;
      return false;
    }
    this.socketPath = join(this.dir, 'launcher.sock');
    if (this.socketPath.length > MAX_SOCKET_PATH) {
      this.failures = MAX_LAUNCHER_FAILURES;
      rmSync(this.dir, { recursive: true, force: true });
      this.dir = null;
      return false;
    }
    // Its own process group: a Ctrl-C meant for the relay must not take the launcher away from mails in flight.
    const child = spawn(this.python, ['-I', '-c', launcherScript(), this.socketPath], { stdio: ['pipe', 'pipe', 'ignore'], detached: true });
    this.child = child;
    this.ready = false;
    this.pendingOutput = '';
    this.whenSettled = new Promise((resolve) => (this.settle = resolve));
    child.stdout.setEncoding('utf8').on('data', (text: string) => this.receive(text));
    child.stdin.on('error', () => {}); // EPIPE when the launcher died; its exit is handled below
    child.stdin.write(lengthPrefixed(environmentEntries())); // what the commands get, exactly as Node's spawn would
    child.once('error', () => this.lost(child));
    child.once('exit', () => this.lost(child));
    child.unref();
    this.updateRef();
    return true;
  }

  /** Keeps the event loop alive only while starting or while commands are pending: a relay that is done can exit. */
  private updateRef(): void {
    const child = this.child;
    if (!child) return;
    const needed = !this.ready || this.commands.size > 0;
    // The process too: its death must be seen while commands wait on it, also once their own sockets are closed.
    if (needed) child.ref();
    else child.unref();
    for (const stream of [child.stdout, child.stdin] as (Socket | null)[]) {
      if (needed) stream?.ref();
      else stream?.unref();
    }
  }

  private receive(text: string): void {
    this.pendingOutput += text;
    for (let end = this.pendingOutput.indexOf('\n'); end >= 0; end = this.pendingOutput.indexOf('\n')) {
      const [kind, id, a, b, output] = this.pendingOutput.slice(0, end).split(' ');
      this.pendingOutput = this.pendingOutput.slice(end + 1);
      if (kind === 'R') {
        this.ready = true;
        this.failures = 0;
        this.updateRef();
        this.settle();
        continue;
      }
      if (kind === 'X') {
        const command = this.running.get(Number(id));
        this.running.delete(Number(id));
        command?.exited(Number(a), Number(b), output);
        continue;
      }
      const command = this.commands.get(id ?? '');
      if (!command) {
        // A start nobody waits for (its launcher was given up, its request failed): it must not run on an EOF.
        if (kind === 'S') killProcessGroup(Number(a));
        continue;
      }
      if (kind === 'S') {
        this.running.set(Number(a), command);
        command.started(Number(a));
      } else if (kind === 'F') {
        command.failed(Number(a));
      }
    }
  }

  /** The launcher is gone (or being closed): what it ran can no longer report, so it is stopped and failed. */
  private lost(child: ChildProcess): void {
    if (this.child !== child) return;
    // One that never got ready will not get better (no python 3.8, no socket): Node's spawn from now on.
    if (!this.closing) this.failures = this.ready ? this.failures + 1 : MAX_LAUNCHER_FAILURES;
    this.child = null;
    this.ready = false;
    this.settle();
    child.stdin?.destroy();
    for (const command of [...this.commands.values()]) command.launcherLost();
    this.commands.clear();
    this.running.clear();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }
}

interface LaunchedCommandHooks {
  /** The command is settled (exited or failed to start): the launcher forgets it. */
  done(): void;
}

type State = 'starting' | 'running' | 'exited' | 'failed';

/**
 * One command started by the launcher, shaped like a ChildProcess for deliverViaCommand. One Unix socket per
 * command: its stdin (the mail goes in). What the command writes on stdout and stderr the launcher reads and
 * reports with the exit (launcher.py says why); `stdout` is made only for a caller that asks for it.
 */
class LaunchedCommand extends EventEmitter implements SpawnedCommand {
  pid: number | undefined = undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly stdin: Writable;
  readonly stderr = null;
  private readonly input: Socket;
  private output: Buffer = EMPTY;
  private outputStream: PassThrough | null = null;
  private state: State = 'starting';
  private stdinEnded = false;
  private abortPending = false;
  private pendingSignal: NodeJS.Signals | number | null = null;
  /** When the launcher was asked to start it (Date.now()). */
  readonly requestedAt = Date.now();

  constructor(private readonly argv: readonly string[], private readonly id: string, private readonly hooks: LaunchedCommandHooks) {
    super();
    this.input = new Socket({ allowHalfOpen: true });
    this.input.on('error', () => {
      // EPIPE/ECONNRESET once the command is gone; the exit status from the launcher tells what happened.
    });
    this.stdin = new Writable({
      highWaterMark: 64 * 1024,
      // The mail may flow before the start is confirmed: the request's length prefix keeps it apart.
      write: (chunk: Buffer, _encoding, callback) => this.whenOpen(() => this.input.write(chunk, callback), callback),
      writev: (chunks, callback) =>
        this.whenOpen(() => {
          this.input.cork(); // one syscall for what piled up while the previous write was in flight
          chunks.forEach(({ chunk }, index) => this.input.write(chunk as Buffer, index === chunks.length - 1 ? callback : undefined));
          this.input.uncork();
        }, callback),
      final: (callback) => {
        this.stdinEnded = true; // a complete mail: its EOF may reach the command
        // Once all is written, our end is closed: what was sent stays queued for the command, then it reads EOF.
        // Nothing more comes back on this socket, and without this its close is one more wake-up per mail.
        this.whenOpen(() => this.input.end(() => {
          this.input.destroy();
          callback();
        }), callback);
      },
      destroy: (error, callback) => {
        // deliver destroys stdin without ending it only to abort: the command must die before it sees EOF.
        if (!this.stdinEnded && !error) this.abort();
        callback(error);
      },
    });
  }

  /** Not yet confirmed started by the launcher. */
  get starting(): boolean {
    return this.state === 'starting';
  }

  /** What the command wrote on stdout and stderr, as a stream that ends once it exited (for callers that read it). */
  get stdout(): PassThrough {
    if (!this.outputStream) {
      this.outputStream = new PassThrough();
      if (this.state === 'exited' || this.state === 'failed') this.outputStream.end(this.output);
    }
    return this.outputStream;
  }

  /** Everything the command wrote (its tail), complete once it exited: deliver reads this instead of a stream. */
  capturedOutput(): Buffer {
    return this.output;
  }

  /**
   * Sends the request on the command's input connection: the argv, then at once the mail (the socket queues it
   * until connected, and the length prefix keeps the two apart).
   */
  connect(socketPath: string): void {
    this.input.connect(socketPath);
    this.input.write(lengthPrefixed([this.id, ...this.argv].join('\0')));
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.state === 'starting') {
      this.pendingSignal = signal;
      return true;
    }
    if (this.state !== 'running' || this.pid === undefined) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  started(pid: number): void {
    if (this.state !== 'starting') return;
    this.state = 'running';
    this.pid = pid;
    this.emit('spawn');
    if (this.abortPending) {
      this.abort();
      return;
    }
    if (this.pendingSignal !== null) this.kill(this.pendingSignal);
  }

  /** posix_spawn failed (no such file, not executable...): deliver reads an error with no pid as just that. */
  failed(errno: number): void {
    if (this.state !== 'starting') return;
    const code = Object.entries(osConstants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
    this.fail(Object.assign(new Error(`spawn ${this.argv[0]} ${code}`), { code, errno: -errno, syscall: `spawn ${this.argv[0]}`, path: this.argv[0] }));
  }

  /** The launcher reports the exit with all the command wrote (hex, '-' for nothing). */
  exited(code: number, signalNumber: number, outputHex = '-'): void {
    if (this.state !== 'running') return;
    this.state = 'exited';
    if (outputHex !== '-') this.output = Buffer.from(outputHex, 'hex');
    const signal = signalNumber === 0 ? null : signalName(signalNumber);
    this.exitCode = signal ? null : code;
    this.signalCode = signal;
    this.hooks.done();
    this.outputStream?.end(this.output);
    this.emit('exit', this.exitCode, this.signalCode);
  }

  launcherLost(): void {
    if (this.state === 'starting') {
      this.fail(Object.assign(new Error('the command launcher ended'), { code: 'ELAUNCHER' }));
    } else if (this.state === 'running') {
      killProcessGroup(this.pid!);
      this.closeSockets();
      this.exited(0, osConstants.signals.SIGKILL);
    }
  }

  private fail(error: Error): void {
    this.state = 'failed';
    this.closeSockets();
    this.hooks.done();
    this.outputStream?.end();
    this.emit('error', error);
  }

  private whenOpen(run: () => void, callback: (error?: Error | null) => void): void {
    if (this.state === 'starting' || this.state === 'running') run();
    else callback(Object.assign(new Error('the command is not running'), { code: 'EPIPE' }));
  }

  /** Kills the command's group first, then drops the connection: the command never reads a clean EOF. */
  private abort(): void {
    if (this.state === 'starting') {
      this.abortPending = true;
      return;
    }
    if (this.state === 'running') killProcessGroup(this.pid!);
    this.closeSockets();
  }

  private closeSockets(): void {
    this.input.destroy();
  }
}

/** process.env as Node's spawn passes it (entries holding a NUL cannot be passed at all). */
function environmentEntries(): string {
  return Object.entries(process.env)
    .filter((entry): entry is [string, string] => entry[1] !== undefined && !`${entry[0]}${entry[1]}`.includes('\0'))
    .map(([name, value]) => `${name}=${value}`)
    .join('\0');
}

const EMPTY = Buffer.alloc(0);

function lengthPrefixed(text: string): Buffer {
  const payload = Buffer.from(text);
  return Buffer.concat([Buffer.from(payload.length.toString(16).padStart(8, '0')), payload]);
}

/** SIGKILL to the command's process group (the command leads it), or to the process if there is no group. */
function killProcessGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL'); // no such group: the process alone, if it is still there
    } catch {
      // already gone
    }
  }
}

function signalName(number: number): NodeJS.Signals {
  const entry = Object.entries(osConstants.signals).find(([, n]) => n === number);
  return (entry?.[0] ?? 'SIGKILL') as NodeJS.Signals;
}
