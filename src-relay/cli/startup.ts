import { fstatSync, readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { CliConfig } from './args';
import {
  findExecutable, findPassword, OptionError, PasswordError, resolveOptions, type PasswordSource, type RelayOptions,
} from '../index';
import { LogOpenError, openLogSink, type LogSink } from './log';

/** Anything that keeps the relay from starting; the CLI prints the message and exits 3. */
export class StartupError extends Error {
  override name = 'StartupError';
}

/** What the CLI has once everything the command line names was checked, read and looked up. */
export interface Startup {
  readonly config: CliConfig;
  readonly options: RelayOptions;
  readonly sink: LogSink;
  readonly passwordSource?: PasswordSource;
  /** One line for the operator, on stderr unless stderr is the SMTP client (inetd). */
  readonly reportProblem: (message: string) => void;
}

/**
 * Cheap checks first (log file, TLS files, the command), then the password, which may mean a prompt: nobody types
 * a password only to learn that the log path was wrong.
 */
export async function prepareStartup(config: CliConfig, program: string): Promise<Startup> {
  const stderrIsClient = config.inetd && sameFile(2, 1);
  const reportProblem = (message: string) => {
    if (!stderrIsClient) process.stderr.write(`${program}: ${message}\n`);
  };
  let sink: LogSink;
  try {
    sink = await openLogSink(config.log, { ident: program, pid: process.pid, reportProblem });
  } catch (error) {
    if (error instanceof LogOpenError) throw new StartupError(error.message);
    throw error;
  }
  try {
    const tls = readTls(config);
    checkCommand(config.command[0]!);
    let auth: RelayOptions['auth'];
    let passwordSource: PasswordSource | undefined;
    if (config.auth) {
      const found = await findPassword(config.auth.user, {
        ...(config.auth.passwordEval !== undefined ? { passwordEval: config.auth.passwordEval } : {}),
        interactive: !config.inetd, // in inetd mode stdin is the client: never prompt, never read it
      });
      auth = { user: config.auth.user, password: found.password };
      passwordSource = found.source;
    }
    const options = resolveOptions({
      host: config.host,
      port: config.port,
      command: config.command,
      maxSessions: config.maxSessions,
      maxMessageBytes: config.maxMessageBytes,
      maxRecipients: config.maxRecipients,
      deliveryTimeoutMs: config.deliveryTimeoutMs,
      authFailureDelayMs: config.authFailureDelayMs,
      ...(config.idleTimeoutMs !== undefined ? { commandTimeoutMs: config.idleTimeoutMs, dataTimeoutMs: config.idleTimeoutMs } : {}),
      ...(auth ? { auth } : {}),
      ...(tls ? { tls } : {}),
    });
    return { config, options, sink, reportProblem, ...(passwordSource ? { passwordSource } : {}) };
  } catch (error) {
    const message = error instanceof StartupError || error instanceof PasswordError ? error.message
      : error instanceof OptionError ? `invalid option: ${error.message}`
      : null;
    if (message === null) throw error;
    sink.write('error', message);
    await sink.close();
    throw new StartupError(message);
  }
}

/** Read once at start-up, so a wrong path or a key that does not match the certificate fails now, not at STARTTLS. */
function readTls(config: CliConfig): RelayOptions['tls'] {
  if (config.tlsCertPath === undefined || config.tlsKeyPath === undefined) return undefined;
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new StartupError(`cannot read TLS ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  };
  const tls = { cert: read('certificate', config.tlsCertPath), key: read('key', config.tlsKeyPath) };
  try {
    createSecureContext(tls);
  } catch (error) {
    throw new StartupError(`invalid TLS certificate or key: ${error instanceof Error ? error.message : String(error)}`);
  }
  return tls;
}

/** A typo in --command would otherwise turn every mail into a 451; msmtpd would start and fail each one. */
function checkCommand(program: string): void {
  if (findExecutable(program) !== null) return;
  const where = program.includes('/') ? '' : ' in PATH';
  throw new StartupError(`cannot find the delivery command '${program}'${where} (install msmtp, or see --command)`);
}

/** True when two descriptors are the same open file (xinetd hands the socket in as stdin, stdout and stderr). */
function sameFile(a: number, b: number): boolean {
  try {
    const first = fstatSync(a);
    const second = fstatSync(b);
    return first.dev === second.dev && first.ino === second.ino;
  } catch {
    return false;
  }
}
