/**
 * The bench's rows with what a user runs: the real msmtp as the command of both servers, sending to the fast
 * loopback sink (bench/sink.ts), msmtp-relay and msmtpd measured interleaved in every run, the order rotated from
 * run to run. Per server and run: mails/s, p50/p99 (MAIL..250), and CPU per mail of the server process and of its
 * whole process tree (launcher and commands, or msmtpd's session forks and their shells).
 */
import { cpuPerMail, sampleCpu, type CpuSample } from './cpu';
import { readResidency } from './memory';
import type { LoadJob, LoadResult } from './load-client';
import { msmtpd, msmtpRelay, type RunningServer, type ServerKind } from './servers';
import { startMsmtpTarget } from './sink';
import { percentile } from './stats';

/** The desktop app's main process is several times the CLI's size: the relay is measured at that size too. */
export const DESKTOP_BALLAST_MIB = 150;

export interface MsmtpRow {
  readonly label: string;
  readonly job: (port: number) => LoadJob;
}

export const msmtpRows: readonly MsmtpRow[] = [
  { label: '1 session × 300 mails', job: (port) => ({ kind: 'sessions', port, sessions: 1, mailsPerSession: 300 }) },
  { label: '8 sessions × 50 mails', job: (port) => ({ kind: 'sessions', port, sessions: 8, mailsPerSession: 50 }) },
];

export interface SideSpec {
  readonly key: string;
  /** For the table. */
  readonly label: string;
  readonly kind: ServerKind;
  /** msmtpd is started afresh for each measurement (it leaks session slots); a relay stays up for the run. */
  readonly freshPerMeasurement: boolean;
}

export function msmtpSides(): SideSpec[] {
  return [
    { key: 'relay', label: 'msmtp-relay (CLI)', kind: msmtpRelay('default'), freshPerMeasurement: false },
    { key: 'desktop', label: `msmtp-relay, ${DESKTOP_BALLAST_MIB} MiB heap`, kind: msmtpRelay('default', [], DESKTOP_BALLAST_MIB), freshPerMeasurement: false },
    { key: 'desktop-node', label: `… same, Node's spawn`, kind: msmtpRelay('node', [], DESKTOP_BALLAST_MIB), freshPerMeasurement: false },
    { key: 'msmtpd', label: 'msmtpd', kind: msmtpd, freshPerMeasurement: true },
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

/** samples[row][sideKey] = one sample per run. */
export type MsmtpFigures = Record<string, MsmtpSample[]>[];

type Load = (job: LoadJob) => Promise<LoadResult>;

/** A relay runs this much first, so its code is compiled before it is measured (msmtpd, C, gets a few mails). */
const warmUp = (port: number): LoadJob[] => [
  { kind: 'sessions', port, sessions: 1, mailsPerSession: 100 },
  { kind: 'sessions', port, sessions: 8, mailsPerSession: 25 },
];
const MSMTPD_WARM_UP = (port: number): LoadJob => ({ kind: 'sessions', port, sessions: 1, mailsPerSession: 10 });

async function measureOnce(server: RunningServer, row: MsmtpRow, load: Load): Promise<MsmtpSample> {
  const before = sampleCpu(server.pid);
  const result = await load(row.job(server.port));
  const after = sampleCpu(server.pid);
  return {
    rate: result.mails / (result.elapsedMs / 1000),
    p50: percentile(result.mailLatenciesMs, 50),
    p99: percentile(result.mailLatenciesMs, 99),
    cpu: cpuPerMail(before, after, result.mails),
    rssMiB: (readResidency(server.pid)?.rssKiB ?? NaN) / 1024,
  };
}

/** `runs` runs; each starts every relay once, then measures every row on every server, interleaved. */
export async function measureMsmtpRows(runs: number, sides: readonly SideSpec[], load: Load, say: (text: string) => void): Promise<MsmtpFigures> {
  const figures: MsmtpFigures = msmtpRows.map(() => Object.fromEntries(sides.map((side) => [side.key, []])));
  const target = await startMsmtpTarget();
  try {
    for (let run = 0; run < runs; run++) {
      const resident = new Map<string, RunningServer>();
      try {
        for (const side of sides.filter((one) => !one.freshPerMeasurement)) {
          const server = await side.kind.start(target.commandArgv);
          resident.set(side.key, server);
          for (const job of warmUp(server.port)) await load(job);
        }
        // Rotate who goes first, so no server always runs right after the same other one.
        const order = sides.map((_, index) => sides[(index + run) % sides.length]!);
        for (const [rowIndex, row] of msmtpRows.entries()) {
          for (const side of order) {
            const server = resident.get(side.key) ?? (await side.kind.start(target.commandArgv));
            try {
              if (side.freshPerMeasurement) await load(MSMTPD_WARM_UP(server.port));
              const sample = await measureOnce(server, row, load);
              figures[rowIndex]![side.key]!.push(sample);
              say(`msmtp run ${run + 1}/${runs} ${row.label}: ${side.label} ${sample.rate.toFixed(1)} mails/s, ` +
                `p50 ${sample.p50.toFixed(1)} p99 ${sample.p99.toFixed(1)} ms, CPU/mail ${sample.cpu.ownMs.toFixed(2)} own ${sample.cpu.treeMs.toFixed(2)} tree`);
            } finally {
              if (side.freshPerMeasurement) await server.stop();
            }
          }
        }
      } finally {
        for (const server of resident.values()) await server.stop();
      }
    }
  } finally {
    await target.stop();
  }
  return figures;
}
