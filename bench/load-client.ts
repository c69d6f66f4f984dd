/**
 * The load generator, run as its own process so that it shares no event loop with msmtp-relay: resident, with jobs
 * and LoadResults as IPC messages (how the bench runs it), or once by hand: `node out/bench/load-client.js
 * '<json LoadJob>'` prints one JSON LoadResult on stdout.
 */
import { performance } from 'node:perf_hooks';
import { RefusedError, SmtpConnection } from './smtp-connection';

export type LoadJob =
  /** `sessions` connections in parallel, each sending `mailsPerSession` mails one after the other. */
  | { kind: 'sessions'; port: number; sessions: number; mailsPerSession: number }
  /**
   * `total` connections with one mail each, at most `concurrency` at a time (a new connection per mail). A mail's
   * latency counts from connect(): msmtpd keeps clients waiting for the greeting while its slots are taken,
   * msmtp-relay greets at once, and MAIL..250 alone would not see that wait.
   */
  | { kind: 'connections'; port: number; total: number; concurrency: number }
  /** `total` connections one after the other: connect, greeting, EHLO, QUIT. */
  | { kind: 'greetings'; port: number; total: number }
  /** One mail of `bytes` bytes. */
  | { kind: 'large'; port: number; bytes: number };

export interface LoadResult {
  mails: number;
  elapsedMs: number;
  /** Per mail: MAIL FROM sent (connect() for kind 'connections') until the 250 after the final dot. */
  mailLatenciesMs: number[];
  /** Per connection: connect() until the 220 greeting. */
  greetingLatenciesMs: number[];
  /** Connections answered 421 (then retried). */
  refused: number;
  errors: string[];
}

const REPLY_TIMEOUT_MS = 30_000;
/** Bounds the retries after 421, so a server that never frees a slot ends the row instead of hanging it. */
const MAX_REFUSALS = 2000;
const REFUSED_BACKOFF_MS = 2;

/** The envelope of every mail the client sends. */
export const BENCH_SENDER = 'sender@example.com';
export const BENCH_RECIPIENT = 'sink@example.com';

function smallMessage(sequence: number): string {
  return (
    'From: Bench Sender <sender@example.com>\r\n' +
    'To: Bench Sink <sink@example.com>\r\n' +
    `Subject: benchmark mail ${sequence}\r\n` +
    `Message-ID: <bench-${process.pid}-${sequence}@example.com>\r\n` +
    '\r\n' +
    'A short mail, like most mails a desktop client sends through a local relay.\r\n'
  );
}

class Run {
  readonly result: LoadResult = { mails: 0, elapsedMs: 0, mailLatenciesMs: [], greetingLatenciesMs: [], refused: 0, errors: [] };
  private sequence = 0;

  constructor(private readonly port: number) {}

  /** Connects, retrying after a 421 (bounded); records the greeting latency. */
  async open(): Promise<SmtpConnection> {
    for (;;) {
      try {
        const connection = await SmtpConnection.open(this.port, REPLY_TIMEOUT_MS);
        this.result.greetingLatenciesMs.push(connection.greetingMs);
        return connection;
      } catch (error) {
        if (!(error instanceof RefusedError) || this.result.refused >= MAX_REFUSALS) throw error;
        this.result.refused += 1;
        await new Promise((resolve) => setTimeout(resolve, REFUSED_BACKOFF_MS));
      }
    }
  }

  /** One transaction, timed from MAIL FROM (or from `started`) to the 250 after the dot. */
  async mail(connection: SmtpConnection, send: (connection: SmtpConnection) => Promise<unknown>, started = performance.now()): Promise<void> {
    await connection.command(`MAIL FROM:<${BENCH_SENDER}>`, 250);
    await connection.command(`RCPT TO:<${BENCH_RECIPIENT}>`, 250);
    await connection.command('DATA', 354);
    await send(connection);
    this.result.mailLatenciesMs.push(performance.now() - started);
    this.result.mails += 1;
  }

  async smallMail(connection: SmtpConnection, started?: number): Promise<void> {
    const sequence = (this.sequence += 1);
    await this.mail(connection, (c) => c.sendMessage(smallMessage(sequence)), started);
  }

  /** Runs `worker` `count` times in parallel; the first failure is recorded, the others still finish. */
  async parallel(count: number, worker: () => Promise<void>): Promise<void> {
    const outcomes = await Promise.allSettled(Array.from({ length: count }, () => worker()));
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') this.result.errors.push(String(outcome.reason instanceof Error ? outcome.reason.message : outcome.reason));
    }
  }
}

/** One connection, `mails` mails; with `timedFromConnect` the first mail's latency includes connect and greeting. */
async function session(run: Run, mails: number, timedFromConnect = false): Promise<void> {
  const opened = performance.now();
  const connection = await run.open();
  try {
    await connection.command('EHLO bench.example.com', 250);
    for (let i = 0; i < mails; i++) await run.smallMail(connection, timedFromConnect && i === 0 ? opened : undefined);
    await connection.quit();
  } finally {
    connection.destroy();
  }
}

export async function runJob(job: LoadJob): Promise<LoadResult> {
  const run = new Run(job.port);
  const started = performance.now();
  try {
    await runKind(run, job);
  } catch (error) {
    run.result.errors.push(error instanceof Error ? error.message : String(error));
  }
  run.result.elapsedMs = performance.now() - started;
  return run.result;
}

async function runKind(run: Run, job: LoadJob): Promise<void> {
  switch (job.kind) {
    case 'sessions':
      await run.parallel(job.sessions, () => session(run, job.mailsPerSession));
      break;
    case 'connections': {
      let left = job.total;
      await run.parallel(job.concurrency, async () => {
        while (left > 0) {
          left -= 1;
          await session(run, 1, true);
        }
      });
      break;
    }
    case 'greetings':
      for (let i = 0; i < job.total; i++) {
        const connection = await run.open();
        try {
          await connection.command('EHLO bench.example.com', 250); // msmtpd answers anything else first with 500
          await connection.quit();
        } finally {
          connection.destroy();
        }
      }
      break;
    case 'large': {
      const connection = await run.open();
      try {
        await connection.command('EHLO bench.example.com', 250);
        await run.mail(connection, (c) => c.sendLargeMessage(job.bytes));
        await connection.quit();
      } finally {
        connection.destroy();
      }
      break;
    }
  }
}

if (require.main === module) {
  if (process.send) {
    // Resident (bench/processes.ts ResidentWorker): jobs arrive as messages, one at a time, results go back.
    process.on('message', (job: LoadJob) => {
      void runJob(job).then((result) => process.send!(result));
    });
    process.on('disconnect', () => process.exit(0));
  } else {
    const job = JSON.parse(process.argv[2] ?? '') as LoadJob;
    runJob(job).then(
      (result) => {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        process.exit(0);
      },
      (error: unknown) => {
        process.stderr.write(`load client failed: ${error instanceof Error ? error.stack : String(error)}\n`);
        process.exit(1);
      },
    );
  }
}
