import type { MsmtpFigures, MsmtpSample, SideSpec } from './msmtp-rows';
import { CEILING, CEILING_SHELL, msmtpRows } from './msmtp-rows';
import { median } from './stats';

/** The goals of issue 15, judged in every run (not on medians): a noisy run that misses counts as a miss. */
export const msmtpGoals = {
  minThroughputRatio: 1.1,
  maxOwnCpuMsPerMail: 0.8,
} as const;

/** Sides judged against msmtpd; the others are shown for comparison only. */
const JUDGED = new Set(['relay', 'desktop']);

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

/** "median (min–max)" of one figure over the runs. */
function spread(values: number[], digits: number): string {
  if (values.length === 0) return 'n/a';
  const m = fixed(median(values), digits);
  if (values.length === 1) return m;
  return `${m} (${fixed(Math.min(...values), digits)}–${fixed(Math.max(...values), digits)})`;
}

function runVerdict(sample: MsmtpSample, msmtpd: MsmtpSample | undefined): string[] {
  const misses: string[] = [];
  if (!msmtpd) return ['no msmtpd figure'];
  if (sample.rate / msmtpd.rate < msmtpGoals.minThroughputRatio) misses.push(`${fixed(sample.rate / msmtpd.rate, 2)}×`);
  if (sample.p99 > msmtpd.p99) misses.push(`p99 ${fixed(sample.p99, 1)} > ${fixed(msmtpd.p99, 1)}`);
  if (sample.cpu.ownMs > msmtpGoals.maxOwnCpuMsPerMail) misses.push(`CPU ${fixed(sample.cpu.ownMs, 2)} ms`);
  return misses;
}

/**
 * What a relay that cost nothing would reach against msmtpd in each run: msmtpd's time per mail less the shell's
 * share (msmtp alone through /bin/sh -c, less msmtp alone), as a ratio of mails/s.
 */
function bestRelayNote(label: string, msmtpd: MsmtpSample[], alone: MsmtpSample[], throughShell: MsmtpSample[]): string {
  const best = msmtpd.map((sample, run) => {
    const msmtpdMs = 1000 / sample.rate;
    const shellMs = 1000 / (throughShell[run]?.rate ?? NaN) - 1000 / (alone[run]?.rate ?? NaN);
    return msmtpdMs / (msmtpdMs - shellMs);
  });
  const reachable = best.filter((ratio) => ratio >= msmtpGoals.minThroughputRatio).length;
  return `${label}: ${best.map((r) => `${fixed(r, 2)}×`).join(' ')}, ${msmtpGoals.minThroughputRatio}× within reach in ${reachable} of ${best.length} runs`;
}

/** The table of the real-msmtp rows, one line per row and server, with the goal judged run by run. */
export function msmtpReport(figures: MsmtpFigures, sides: readonly SideSpec[]): { lines: string[]; failures: number } {
  const header = ['Row', 'Server', 'RSS MiB', 'mails/s', 'ratio to msmtpd, per run', 'ratio to the ceiling', 'p50 ms', 'p99 ms', 'CPU ms/mail: server', 'CPU ms/mail: launcher', 'CPU ms/mail: tree', 'Goal, per run'];
  const rows: string[][] = [];
  let failures = 0;
  const bestRelayNotes: string[] = [];
  for (const [rowIndex, row] of msmtpRows.entries()) {
    const bySide = figures.rows[rowIndex]!;
    const msmtpd = bySide['msmtpd'] ?? [];
    const ceiling = bySide[CEILING] ?? [];
    bestRelayNotes.push(bestRelayNote(row.label, msmtpd, ceiling, bySide[CEILING_SHELL] ?? []));
    for (const side of sides) {
      const samples = bySide[side.key] ?? [];
      const ratios = samples.map((sample, run) => sample.rate / (msmtpd[run]?.rate ?? NaN));
      const toCeiling = samples.map((sample, run) => sample.rate / (ceiling[run]?.rate ?? NaN));
      let goal = '';
      if (JUDGED.has(side.key)) {
        const verdicts = samples.map((sample, run) => runVerdict(sample, msmtpd[run]));
        const met = verdicts.filter((misses) => misses.length === 0).length;
        if (met < samples.length || samples.length === 0) failures += 1;
        goal = `${met}/${samples.length} met` + (met < samples.length ? `: ${verdicts.filter((m) => m.length > 0).map((m) => m.join(', ')).join('; ')}` : '');
      }
      rows.push([
        row.label,
        side.label,
        fixed(median(samples.map((s) => s.rssMiB)), 0),
        spread(samples.map((s) => s.rate), 0),
        side.key === 'msmtpd' ? '—' : ratios.map((r) => `${fixed(r, 2)}×`).join(' '),
        side.key === CEILING ? '—' : toCeiling.map((r) => `${fixed(r, 2)}×`).join(' '),
        spread(samples.map((s) => s.p50), 1),
        spread(samples.map((s) => s.p99), 1),
        spread(samples.map((s) => s.cpu.ownMs), 2) + (side.key === 'msmtpd' ? ' ¹' : side.key === CEILING ? ' ²' : ''),
        JUDGED.has(side.key) ? spread(samples.map((s) => s.cpu.helpersMs), 2) : '',
        spread(samples.map((s) => s.cpu.treeMs), 2),
        goal,
      ]);
    }
  }
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((cells) => [...cells[column]!].length)));
  const line = (cells: string[]) => `| ${cells.map((cell, column) => cell + ' '.repeat(widths[column]! - [...cell].length)).join(' | ')} |`;
  const lines = [
    line(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
    '',
    `Goal (issue 15), judged in every run: ≥ ${msmtpGoals.minThroughputRatio}× msmtpd's mails/s, p99 ≤ msmtpd's, ` +
      `the relay process ≤ ${msmtpGoals.maxOwnCpuMsPerMail} ms CPU per mail. Figures: median (min–max) over the runs.`,
    '¹ msmtpd\'s listening process only; its session forks (which speak SMTP) and their commands are in the tree.',
    '² The ceiling: msmtp started straight from a python loop (posix_spawn, the mail on a pipe), as many at a time as ' +
      'the row has sessions, no SMTP; "server" is the loop, the tree adds msmtp; its latency is start to exit. ' +
      'Through /bin/sh -c: the same loop, each msmtp started by a shell, as msmtpd\'s popen does.',
    '',
    'The best any relay can reach, run by run: msmtpd without its shell (the same SMTP dialogue, no shell, and no cost',
    'of its own): per mail, msmtpd\'s time less what /bin/sh -c adds to msmtp alone (times per mail are 1 / mails/s):',
    ...bestRelayNotes.map((note) => `- ${note}`),
    '',
    `Fresh from start (each relay's first ${msmtpRows[0]!.label}, before its warm-up; not judged):`,
    ...sides.filter((side) => figures.fresh[side.key]).map((side) => {
      const fresh = figures.fresh[side.key]!;
      return `- ${side.label}: ${fixed(fresh.rate, 0)} mails/s, p99 ${fixed(fresh.p99, 1)} ms, CPU ${fixed(fresh.cpu.ownMs, 2)} ms/mail`;
    }),
    '',
  ];
  return { lines, failures };
}
