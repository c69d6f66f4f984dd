/**
 * `npm run bench`: msmtp-relay against Debian's msmtpd, side by side, same delivery command, same client.
 * First the rows with the real msmtp as the command (bench/msmtp-rows.ts), then the engine-only rows with
 * drain.sh. Options: --msmtp-runs=N (default 3), --runs=N (drain rows, default 3; each figure is the median,
 * latencies are pooled over the runs; runs that would take the whole past TIME_BUDGET_MS are skipped, and the
 * report says so), --only=msmtp|drain, --spawner=NAME (how msmtp-relay starts the command in the drain rows:
 * default, node or launcher; see bench/relay-server.ts).
 * Everything it starts runs in its own process group and is killed at the end, also on Ctrl-C or an error.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import type { LoadJob, LoadResult } from './load-client';
import { PeakSampler, readResidency, resetPeak } from './memory';
import { ResidentWorker, runWorker } from './processes';
import { printReport, type Measurements, type ServerFigures } from './report';
import { msmtpReport } from './msmtp-report';
import { measureMsmtpRows, msmtpSides } from './msmtp-rows';
import { MSMTPD, msmtpd, msmtpRelay, type RunningServer } from './servers';
import { msmtpInstalled } from './sink';
import type { SpawnJob } from './spawn-rate';
import { percentile } from './stats';

const repoRoot = resolve(__dirname, '..', '..');
const drainScript = join(repoRoot, 'bench', 'fixtures', 'drain.sh');
const providerScript = join(repoRoot, 'bench', 'fixtures', 'provider.sh');
/** Mails kept while the provider is down, then flushed, per run. */
const OUTBOX_KEPT_MAILS = 500;
const commandArgv = [drainScript, '-f', '%F', '--'];
const loadClientScript = join(__dirname, 'load-client.js');
const spawnRateWorker = join(__dirname, 'spawn-rate.js');
const WORKER_TIMEOUT_MS = 90_000;
const LARGE_MAIL_BYTES = 50 * 1024 * 1024;
/** The drain part stays under about 4 minutes on a slow machine by doing fewer runs (the real-msmtp part comes on top). */
const TIME_BUDGET_MS = 3.75 * 60_000;

interface ThroughputRow {
  readonly label: string;
  /** Where a mail's latency starts: MAIL FROM, or connect() when each mail has its own connection. */
  readonly latencyFrom: 'MAIL' | 'connect';
  readonly job: (port: number) => LoadJob;
}

const throughputRows: readonly ThroughputRow[] = [
  { label: '1 session × 1000 mails', latencyFrom: 'MAIL', job: (port) => ({ kind: 'sessions', port, sessions: 1, mailsPerSession: 1000 }) },
  { label: '8 sessions × 250 mails', latencyFrom: 'MAIL', job: (port) => ({ kind: 'sessions', port, sessions: 8, mailsPerSession: 250 }) },
  {
    label: '200 connections × 1 mail, 16 at a time',
    latencyFrom: 'connect',
    job: (port) => ({ kind: 'connections', port, total: 200, concurrency: 16 }),
  },
];

/**
 * Before measuring, msmtp-relay runs the load of every row twice (6400 mails): a fresh Node process runs its first
 * few thousand mails partly in the interpreter while the JIT compiles, and its compiler threads take CPU from the
 * commands; each new pattern of load (one session after eight) sets off more compiling. A relay that has been up a
 * while runs compiled code. The same goes for the client, which is one resident process for the whole bench.
 * msmtpd (C, a fork per connection) gets 20 mails, to fill the page cache.
 */
const RELAY_WARM_UP_PASSES = 2;
const msmtpdWarmUp = (port: number): LoadJob => ({ kind: 'sessions', port, sessions: 1, mailsPerSession: 20 });

let loadClient: ResidentWorker<LoadJob, LoadResult> | null = null;

function option(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  return process.argv.find((arg) => arg.startsWith(prefix))?.slice(prefix.length) ?? fallback;
}

async function load(job: LoadJob): Promise<LoadResult> {
  loadClient ??= new ResidentWorker<LoadJob, LoadResult>(loadClientScript);
  const result = await loadClient.run(job, WORKER_TIMEOUT_MS);
  if (result.errors.length > 0) throw new Error(`load client: ${result.errors.slice(0, 3).join('; ')}`);
  return result;
}

/** A server for one measurement; release() stops it if it was started just for that measurement. */
interface Lease {
  readonly server: RunningServer;
  release: () => Promise<void>;
}

/**
 * msmtpd is started afresh for each measurement, so slots it leaked in one (reference §0.4) cannot slow the next;
 * msmtp-relay runs all measurements of a run in one process, as a relay that stays up does.
 */
async function leaseMsmtpd(): Promise<Lease> {
  const server = await msmtpd.start(commandArgv);
  try {
    await load(msmtpdWarmUp(server.port));
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { server, release: () => server.stop() };
}

async function measure<T>(lease: () => Promise<Lease>, what: (server: RunningServer) => Promise<T>): Promise<T> {
  const { server, release } = await lease();
  try {
    return await what(server);
  } finally {
    await release();
  }
}

function emptyFigures(): ServerFigures {
  return { rates: [], mailLatencies: [], greetingLatencies: [], refused: 0 };
}

async function measureLargeMail(server: RunningServer): Promise<{ peakKiB: number; growthKiB: number; seconds: number }> {
  await new Promise((resolve) => setTimeout(resolve, 500)); // let the garbage of what ran before settle
  const idle = readResidency(server.pid);
  if (!idle) throw new Error('server process gone');
  for (const pid of server.mailHandlerPids()) resetPeak(pid);
  const sampler = new PeakSampler(() => server.mailHandlerPids());
  const result = await load({ kind: 'large', port: server.port, bytes: LARGE_MAIL_BYTES });
  const peakKiB = sampler.stop();
  return { peakKiB, growthKiB: peakKiB - idle.rssKiB, seconds: result.elapsedMs / 1000 };
}

function describeMachine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  let msmtpdVersion = 'msmtpd';
  try {
    msmtpdVersion = execFileSync(MSMTPD, ['--version'], { encoding: 'utf8' }).split('\n')[0]!.trim();
  } catch {
    // the check in main() reports a missing msmtpd
  }
  return `Node ${process.version}, ${msmtpdVersion}, ${cpu} × ${cpus().length}, Linux`;
}

async function spawnRates(spawner: 'node' | 'launcher'): Promise<[number, number]> {
  const rate = async (total: number, parallel: number) =>
    (await runWorker<{ perSecond: number }>(spawnRateWorker, { argv: commandArgv, total, parallel, spawner } satisfies SpawnJob, WORKER_TIMEOUT_MS)).perSecond;
  return [await rate(500, 1), await rate(1000, 8)];
}

/** Throughput rows (indexes into throughputRows) measured again with the outbox on, every mail delivered. */
const OUTBOX_ROWS = [0, 1] as const;

/**
 * The outbox rows of one run: msmtp-relay with --queue on the rows where every mail goes through (to compare with
 * it off), then mails/s into the spool while the provider is down, and mails/s out of it once the provider is back
 * (SIGUSR1, as `--queue-flush` does).
 */
async function measureOutbox(m: Measurements, say: (text: string) => void, tag: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bench-outbox-'));
  try {
    const withOutbox = await msmtpRelay('default', [`--queue=${join(work, 'on')}`]).start(commandArgv);
    try {
      for (let pass = 0; pass < RELAY_WARM_UP_PASSES; pass++) {
        for (const row of throughputRows) await load(row.job(withOutbox.port));
      }
      for (const index of OUTBOX_ROWS) {
        const result = await load(throughputRows[index]!.job(withOutbox.port));
        const rate = result.mails / (result.elapsedMs / 1000);
        m.outbox.on[index]!.push(rate);
        say(`${tag} ${throughputRows[index]!.label}: relay with the outbox on ${rate.toFixed(1)} mails/s`);
      }
    } finally {
      await withOutbox.stop();
    }
    const down = join(work, 'provider-down');
    const spool = join(work, 'kept');
    writeFileSync(down, '');
    const keeping = await msmtpRelay('default', [`--queue=${spool}`, '--queue-retry=1h']).start([providerScript, down, '-f', '%F', '--']);
    try {
      const kept = await load({ kind: 'sessions', port: keeping.port, sessions: 1, mailsPerSession: OUTBOX_KEPT_MAILS });
      const waiting = () => readdirSync(spool).filter((name) => name.endsWith('.json')).length;
      if (waiting() !== OUTBOX_KEPT_MAILS) throw new Error(`outbox: ${waiting()} mails kept of ${OUTBOX_KEPT_MAILS}`);
      m.outbox.keepRates.push(kept.mails / (kept.elapsedMs / 1000));
      rmSync(down);
      const flushStarted = Date.now();
      process.kill(keeping.pid, 'SIGUSR1');
      while (waiting() > 0) {
        if (Date.now() - flushStarted > WORKER_TIMEOUT_MS) throw new Error(`outbox: ${waiting()} mails still kept after the flush`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      m.outbox.flushRates.push(OUTBOX_KEPT_MAILS / ((Date.now() - flushStarted) / 1000));
      say(`${tag} outbox: kept ${m.outbox.keepRates.at(-1)!.toFixed(1)} mails/s while the provider was down, ` +
        `flushed ${m.outbox.flushRates.at(-1)!.toFixed(1)} mails/s after`);
    } finally {
      await keeping.stop();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (!existsSync(MSMTPD)) throw new Error(`${MSMTPD} is missing: apt-get install msmtp-mta`);
  const only = option('only', 'all');
  const say = (text: string) => process.stderr.write(`${text}\n`);
  const started = Date.now();
  let msmtpLines: string[] = [];
  let msmtpFailures = 0;
  if (only !== 'drain') {
    if (!msmtpInstalled()) throw new Error('/usr/bin/msmtp is missing: apt-get install msmtp');
    const sides = msmtpSides();
    const figures = await measureMsmtpRows(Math.max(1, Math.min(10, Number(option('msmtp-runs', '3')) || 3)), sides, load, say);
    ({ lines: msmtpLines, failures: msmtpFailures } = msmtpReport(figures, sides));
    if (only === 'msmtp') {
      await loadClient?.close();
      say(`measured in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
      process.stdout.write(`${msmtpHeading()}\n${msmtpLines.join('\n')}\n${msmtpVerdict(msmtpFailures)}\n`);
      return;
    }
  }
  const runs = Math.max(1, Math.min(10, Number(option('runs', '3')) || 3));
  const relay = msmtpRelay(option('spawner', 'default'));
  const measurements: Measurements = {
    machine: describeMachine(),
    command: `${drainScript} -f %F --`,
    relayDescription: relay.description,
    msmtpdDescription: msmtpd.description,
    runs,
    rows: throughputRows.map((row) => ({ label: row.label, latencyFrom: row.latencyFrom, relay: emptyFigures(), msmtpd: emptyFigures() })),
    greeting: { relay: emptyFigures(), msmtpd: emptyFigures() },
    largeMail: { relay: [], msmtpd: [] },
    spawnCeiling: { sequential: [], parallel8: [] },
    launcherRate: { sequential: [], parallel8: [] },
    outbox: { rows: OUTBOX_ROWS.map((index) => throughputRows[index]!.label), on: OUTBOX_ROWS.map(() => []), keepRates: [], flushRates: [], keptMails: OUTBOX_KEPT_MAILS },
  };

  const drainStarted = Date.now();
  for (let run = 0; run < runs; run++) {
    const perRun = (Date.now() - drainStarted) / Math.max(1, run);
    if (run > 0 && Date.now() - drainStarted + perRun > TIME_BUDGET_MS) {
      say(`stopping after ${run} runs to stay within ${TIME_BUDGET_MS / 60_000} minutes`);
      measurements.runs = run;
      break;
    }
    const tag = `run ${run + 1}/${runs}`;
    const relayServer = await relay.start(commandArgv);
    try {
      for (let pass = 0; pass < RELAY_WARM_UP_PASSES; pass++) {
        for (const row of throughputRows) await load(row.job(relayServer.port));
      }
      const leaseRelay = async (): Promise<Lease> => ({ server: relayServer, release: async () => {} });
      // Alternate who goes first, so neither server always runs on a machine the other just warmed (or heated).
      const sides = [['relay', leaseRelay], ['msmtpd', leaseMsmtpd]] as const;
      const order = run % 2 === 0 ? sides : [...sides].reverse();
      for (const [index, row] of throughputRows.entries()) {
        for (const [side, lease] of order) {
          const figures = measurements.rows[index]![side];
          const result = await measure(lease, (server) => load(row.job(server.port)));
          const rate = result.mails / (result.elapsedMs / 1000);
          figures.rates.push(rate);
          figures.mailLatencies.push(...result.mailLatenciesMs);
          figures.refused += result.refused;
          say(`${tag} ${row.label}: ${side} ${rate.toFixed(1)} mails/s, p99 ${percentile(result.mailLatenciesMs, 99).toFixed(2)} ms`);
        }
      }
      for (const [side, lease] of order) {
        const greetings = await measure(lease, (server) => load({ kind: 'greetings', port: server.port, total: 200 }));
        measurements.greeting[side].greetingLatencies.push(...greetings.greetingLatenciesMs);
        const large = await measure(lease, measureLargeMail);
        measurements.largeMail[side].push(large);
        say(`${tag} ${side}: greeting p99 ${percentile(greetings.greetingLatenciesMs, 99).toFixed(2)} ms; ` +
          `50 MiB mail: peak ${(large.peakKiB / 1024).toFixed(1)} MiB, growth ${(large.growthKiB / 1024).toFixed(1)} MiB`);
      }
    } finally {
      await relayServer.stop();
    }
    if (option('spawner', 'default') === 'default') await measureOutbox(measurements, say, tag);
    const [sequential, parallel8] = await spawnRates('node');
    measurements.spawnCeiling.sequential.push(sequential);
    measurements.spawnCeiling.parallel8.push(parallel8);
    const [launcherSequential, launcherParallel8] = await spawnRates('launcher');
    measurements.launcherRate.sequential.push(launcherSequential);
    measurements.launcherRate.parallel8.push(launcherParallel8);
    say(`${tag} raw runs/s: Node spawn ${sequential.toFixed(1)} (8 in parallel ${parallel8.toFixed(1)}), ` +
      `launcher ${launcherSequential.toFixed(1)} (${launcherParallel8.toFixed(1)})`);
  }
  await loadClient?.close();
  say(`measured in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  if (msmtpLines.length > 0) process.stdout.write(`${msmtpHeading()}\n${msmtpLines.join('\n')}\n${msmtpVerdict(msmtpFailures)}\n\n`);
  process.stdout.write('## The engine alone: drain.sh as the command\n\n');
  printReport(measurements);
}

function msmtpHeading(): string {
  return `## With the real msmtp — ${new Date().toISOString().slice(0, 10)}, ${describeMachine()}\n` +
    'command for both: /usr/bin/msmtp -C <msmtprc> -f %F -- (to bench/fixtures/smtp-sink.py on 127.0.0.1); one client process, no pipelining\n';
}

function msmtpVerdict(failures: number): string {
  return failures === 0 ? 'Goal met in every run, on both rows, for the CLI and the desktop-sized relay.' : `${failures} row(s) missed the goal in at least one run.`;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  // process.exit, not exitCode: the resident client and any server still up would keep the bench alive (the
  // 'exit' handler of processes.ts kills every process group it started).
  process.exit(2);
});
