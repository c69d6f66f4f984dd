/**
 * The bench's rows with what a user runs: the real msmtp as the command of both servers, sending to the fast
 * loopback sink (bench/sink.ts), msmtp-relay and msmtpd measured interleaved in every run, the order rotated from
 * run to run, next to the ceiling: msmtp started straight from a loop with no SMTP at all (bench/msmtp-alone.ts).
 * Per side and run: mails/s, p50/p99 (MAIL..250; for the ceiling, start..exit), and CPU per mail of the server
 * process and of its whole process tree (launcher and commands, or msmtpd's session forks and their shells).
 */
import { cpuPerMail, sampleCpu, type CpuSample } from './cpu';
import { readResidency } from './memory';
import { BENCH_RECIPIENT, BENCH_SENDER, type LoadJob, type LoadResult } from './load-client';
import { commandForOneMail, runAlone } from './msmtp-alone';
import { commandLine, msmtpd, msmtpRelay, type RunningServer, type ServerKind } from './servers';
import { startMsmtpTarget, type MsmtpTarget } from './sink';
import { percentile } from './stats';

/** The desktop app's main process is several times the CLI's size: the relay is measured at that size too. */
export const DESKTOP_BALLAST_MIB = 150;

export interface MsmtpRow {
  readonly label: string;
  readonly sessions: number;
  readonly mailsPerSession: number;
}

export const msmtpRows: readonly MsmtpRow[] = [
  { label: '1 session × 300 mails', sessions: 1, mailsPerSession: 300 },
  { label: '8 sessions × 50 mails', sessions: 8, mailsPerSession: 50 },
];

const rowJob = (row: MsmtpRow, port: number): LoadJob => ({ kind: 'sessions', port, sessions: row.sessions, mailsPerSession: row.mailsPerSession });

export interface SideSpec {
  readonly key: string;
  /** For the table. */
  readonly label: string;
  /**
   * A server, or msmtp with no server: 'alone' (the ceiling), or 'alone-sh', through `/bin/sh -c` as msmtpd's popen
   * starts it (the shell is the one thing msmtpd does per mail that a relay need not).
   */
  readonly kind: ServerKind | Alone;
  /** msmtpd is started afresh for each measurement (it leaks session slots); a relay stays up for the whole bench. */
  readonly freshPerMeasurement: boolean;
}

type Alone = 'alone' | 'alone-sh';
const isAlone = (kind: ServerKind | Alone): kind is Alone => kind === 'alone' || kind === 'alone-sh';

/** The keys of msmtp alone in the figures: straight, and through the shell. */
export const CEILING = 'alone';
export const CEILING_SHELL = 'alone-sh';

export function msmtpSides(): SideSpec[] {
  return [
    { key: 'relay', label: 'msmtp-relay (CLI)', kind: msmtpRelay('default'), freshPerMeasurement: false },
    { key: 'desktop', label: `msmtp-relay, ${DESKTOP_BALLAST_MIB} MiB heap`, kind: msmtpRelay('default', [], DESKTOP_BALLAST_MIB), freshPerMeasurement: false },
    { key: 'desktop-node', label: `… same, Node's spawn`, kind: msmtpRelay('node', [], DESKTOP_BALLAST_MIB), freshPerMeasurement: false },
    { key: 'msmtpd', label: 'msmtpd', kind: msmtpd, freshPerMeasurement: true },
    { key: CEILING, label: 'msmtp alone, no SMTP (ceiling)', kind: 'alone', freshPerMeasurement: true },
    { key: CEILING_SHELL, label: '… same, through /bin/sh -c', kind: 'alone-sh', freshPerMeasurement: true },
  ];
}

/** One measurement of one server on one row. */
export interface MsmtpSample {
  rate: number;
  p50: number;
  p99: number;
  cpu: CpuSample;
  /** Resident size of the server process after the row (msmtpd: its listening process). */
  rssMiB: number;
}

export interface MsmtpFigures {
  /** rows[row][sideKey]: one sample per run. */
  readonly rows: Record<string, MsmtpSample[]>[];
  /** Per relay: its first mails after start (the first row's load), before the warm-up: a relay fresh from start. */
  readonly fresh: Record<string, MsmtpSample>;
}

type Load = (job: LoadJob) => Promise<LoadResult>;

/**
 * A relay stays up for the whole bench, as a relay does, and runs this much before it is measured (after its first
 * mails, which are measured on their own): a fresh Node process runs its first few thousand mails partly in the
 * interpreter while the JIT compiles (the relay's CPU per mail fell from about 2 ms in its first 300 mails to about
 * 0.65 ms after some 4000, measured on this VM), and each new pattern of load sets off more compiling.
 */
const WARM_UP: readonly MsmtpRow[] = [
  { label: 'warm-up', sessions: 8, mailsPerSession: 200 },
  { label: 'warm-up', sessions: 1, mailsPerSession: 300 },
  { label: 'warm-up', sessions: 8, mailsPerSession: 200 },
  { label: 'warm-up', sessions: 1, mailsPerSession: 300 },
];
/** msmtpd (C, a fork per connection) gets a few mails, to fill the page cache. */
const MSMTPD_WARM_UP: MsmtpRow = { label: 'warm-up', sessions: 1, mailsPerSession: 10 };
/** Generous: a row takes seconds. */
const ALONE_TIMEOUT_MS = 120_000;

async function measureServer(server: RunningServer, row: MsmtpRow, load: Load): Promise<MsmtpSample> {
  const before = sampleCpu(server.pid);
  const result = await load(rowJob(row, server.port));
  const after = sampleCpu(server.pid);
  return {
    rate: result.mails / (result.elapsedMs / 1000),
    p50: percentile(result.mailLatenciesMs, 50),
    p99: percentile(result.mailLatenciesMs, 99),
    cpu: cpuPerMail(before, after, result.mails),
    rssMiB: (readResidency(server.pid)?.rssKiB ?? NaN) / 1024,
  };
}

async function measureAlone(target: MsmtpTarget, row: MsmtpRow, kind: Alone): Promise<MsmtpSample> {
  const command = commandForOneMail(target.commandArgv, BENCH_SENDER, BENCH_RECIPIENT);
  const argv = kind === 'alone' ? command : ['/bin/sh', '-c', commandLine(command)];
  const result = await runAlone({ argv, mails: row.sessions * row.mailsPerSession, parallel: row.sessions }, ALONE_TIMEOUT_MS);
  return {
    rate: result.mails / (result.elapsedMs / 1000),
    p50: percentile(result.latenciesMs, 50),
    p99: percentile(result.latenciesMs, 99),
    cpu: { ownMs: result.ownMs / result.mails, helpersMs: 0, treeMs: (result.ownMs + result.commandsMs) / result.mails },
    rssMiB: NaN,
  };
}

/** Starts every relay once, measures its first mails, warms it; then `runs` runs of every row on every side, interleaved. */
export async function measureMsmtpRows(runs: number, sides: readonly SideSpec[], load: Load, say: (text: string) => void): Promise<MsmtpFigures> {
  const figures: MsmtpFigures = { rows: msmtpRows.map(() => Object.fromEntries(sides.map((side) => [side.key, []]))), fresh: {} };
  const target = await startMsmtpTarget();
  const resident = new Map<string, RunningServer>();
  try {
    for (const side of sides) {
      if (side.freshPerMeasurement || isAlone(side.kind)) continue;
      const server = await side.kind.start(target.commandArgv);
      resident.set(side.key, server);
      figures.fresh[side.key] = await measureServer(server, msmtpRows[0]!, load);
      say(`msmtp ${side.label}: fresh from start ${describe(figures.fresh[side.key]!)}; warming up`);
      for (const row of WARM_UP) await load(rowJob(row, server.port));
    }
    for (let run = 0; run < runs; run++) {
      // Rotate who goes first, so no side always runs right after the same other one.
      const order = sides.map((_, index) => sides[(index + run) % sides.length]!);
      for (const [rowIndex, row] of msmtpRows.entries()) {
        for (const side of order) {
          const sample = await measureSide(side, row, target, resident, load);
          figures.rows[rowIndex]![side.key]!.push(sample);
          say(`msmtp run ${run + 1}/${runs} ${row.label}: ${side.label} ${describe(sample)}`);
        }
      }
    }
  } finally {
    for (const server of resident.values()) await server.stop();
    await target.stop();
  }
  return figures;
}

async function measureSide(side: SideSpec, row: MsmtpRow, target: MsmtpTarget, resident: Map<string, RunningServer>, load: Load): Promise<MsmtpSample> {
  if (isAlone(side.kind)) return measureAlone(target, row, side.kind);
  const server = resident.get(side.key) ?? (await side.kind.start(target.commandArgv));
  try {
    if (side.freshPerMeasurement) await load(rowJob(MSMTPD_WARM_UP, server.port));
    return await measureServer(server, row, load);
  } finally {
    if (side.freshPerMeasurement) await server.stop();
  }
}

function describe(sample: MsmtpSample): string {
  return `${sample.rate.toFixed(1)} mails/s, p50 ${sample.p50.toFixed(1)} p99 ${sample.p99.toFixed(1)} ms, ` +
    `CPU/mail ${sample.cpu.ownMs.toFixed(2)} own ${sample.cpu.helpersMs.toFixed(2)} launcher ${sample.cpu.treeMs.toFixed(2)} tree`;
}
