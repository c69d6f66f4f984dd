import { cpus, loadavg } from 'node:os';
import { runCrashTest } from '../helpers/relay/outbox-crash';
import { fuzzAll } from './fuzz-all';
import { loadRounds } from './load-rounds';
import { soak } from './soak';

/**
 * `npm run stress`: the long hardening runs (soak, connection storms, big fuzz runs) and one table of figures.
 * Environment: STRESS_MAILS (10000), STRESS_CONNECTIONS (200), STRESS_ROUNDS (10), STRESS_FUZZ_SCALE (1),
 * STRESS_SEED (random), STRESS_CRASH_MAILS (1000, the outbox crash run). Exit status 0 only when every check holds.
 */

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

async function main(): Promise<number> {
  const mails = env('STRESS_MAILS', 10_000);
  const connections = env('STRESS_CONNECTIONS', 200);
  const rounds = env('STRESS_ROUNDS', 10);
  const scale = env('STRESS_FUZZ_SCALE', 1);
  const seed = env('STRESS_SEED', Math.floor(Math.random() * 2 ** 31));
  const log = (text: string) => process.stderr.write(`${text}\n`);
  const startedAt = Date.now();

  log(`stress: load, ${connections} connections x ${rounds} rounds against 16 slots`);
  const load = await loadRounds({ connections, rounds, midData: 4 });
  log(`stress: soak, ${mails} mails`);
  const soaked = await soak({ mails, concurrency: 8, mailsPerSession: 10 });
  log(`stress: fuzz, scale ${scale}, seed ${seed}`);
  const fuzz = await fuzzAll(scale, seed);
  const crashMails = env('STRESS_CRASH_MAILS', 1000);
  const crashClients = 8;
  const crashKills = 10;
  log(`stress: outbox crash run, ${crashMails} mails, ${crashClients} clients, ${crashKills} SIGKILLs, provider flapping`);
  const crash = await runCrashTest({ mails: crashMails, clients: crashClients, kills: crashKills, flapEveryMs: 1000, timeoutMs: 600_000, log });

  const kb = (value: number) => `${(value / 1024).toFixed(1)} MiB`;
  const fuzzCases = fuzz.parts.reduce((sum, part) => sum + part.cases, 0);
  const fuzzFailures = fuzz.parts.filter((part) => part.failure);
  const crashes = [load.crashed, soaked.crashed, fuzz.crashed].filter(Boolean).length;
  const maxRss = Math.max(...soaked.samples.map((s) => s.rssKb));
  const expectedRefused = (connections - 16) * rounds;
  const checks: Array<[string, boolean]> = [
    ['16 sessions served in every round', load.heldPerRound.every((held) => held === 16)],
    ['every other connection refused with 421', load.refused === expectedRefused && load.other === 0],
    ['all 16 slots free after every round', load.freeAfterRounds.every((free) => free === 16)],
    ['a full house of 16 mails after the rounds', load.fullHouseDelivered === 16],
    ['relay fds back to the start after the storms', load.fdsEnd <= load.fdsStart],
    ['every soak mail answered 250', soaked.replies250 === soaked.mailsSent && soaked.otherReplies === 0],
    ['every 250 is a mail recorded byte-exact', soaked.recordedIntact === soaked.replies250 && soaked.recorded === soaked.replies250],
    ['the engine counted the same deliveries', soaked.engineDelivered === soaked.replies250],
    // V8 sizes its heap during the first few thousand mails; a leak would keep growing through the second half.
    ['soak RSS flat over the second half (< 16 MiB growth)', soaked.end.rssKb - soaked.half.rssKb < 16 * 1024],
    ['soak fds back to idle', soaked.end.fds <= soaked.idle.fds],
    ['no fuzz failure', fuzzFailures.length === 0],
    ['no engine error event while fuzzing', fuzz.engineErrors === 0],
    ['no crash', crashes === 0],
    ['outbox crash run: every mail got a 250', crash.acked === crashMails],
    ['outbox crash run: every mail that got a 250 reached the provider', crash.lost.length === 0],
    // Per kill: the first tries in flight (one per client) and the outbox's retries in flight (2) may go twice.
    ['outbox crash run: duplicates within kills x (clients + 2)', crash.duplicates <= crash.kills * (crashClients + 2)],
  ];

  const rows: Array<[string, string]> = [
    ['connections per round / rounds', `${connections} / ${rounds} (limit 16 sessions)`],
    ['connections held per round', load.heldPerRound.join(' ')],
    ['421s (expected)', `${load.refused} (${expectedRefused}), slowest ${load.slowestRefusalMs} ms after connect`],
    ['slots free after each round', load.freeAfterRounds.join(' ')],
    ['full house after the rounds', `${load.fullHouseDelivered}/16 mails delivered`],
    ['relay fds, storms start/end', `${load.fdsStart} / ${load.fdsEnd}`],
    ['soak mails sent / 250 replies / recorded byte-exact / engine count', `${soaked.mailsSent} / ${soaked.replies250} / ${soaked.recordedIntact} / ${soaked.engineDelivered}`],
    ['soak sessions, duration', `${soaked.sessions} sessions, ${soaked.seconds.toFixed(1)} s (${(soaked.mailsSent / soaked.seconds).toFixed(0)} mails/s, 8 clients)`],
    ['relay RSS idle / 10% / 50% / end of soak (max)', `${kb(soaked.idle.rssKb)} / ${kb(soaked.warm.rssKb)} / ${kb(soaked.half.rssKb)} / ${kb(soaked.end.rssKb)} (${kb(maxRss)})`],
    ['relay fds idle / 10% / 50% / end of soak', `${soaked.idle.fds} / ${soaked.warm.fds} / ${soaked.half.fds} / ${soaked.end.fds}`],
    ['fuzz cases run', `${fuzzCases} (${fuzz.parts.map((p) => `${p.name} ${p.cases}`).join('; ')})`],
    ['socket fuzz', `${fuzz.socket.sessions} sessions (${fuzz.socket.aborted} cut off by the client), ${fuzz.socket.deliveredReplies} mails acknowledged, ${fuzz.socket.recordings} recorded`],
    ['fuzz failures', fuzzFailures.length === 0 ? '0' : fuzzFailures.map((p) => `${p.name}: ${p.failure}`).join(' | ')],
    ['crashes', String(crashes)],
    ['outbox crash run: mails / acked (kept) / lost / duplicates', `${crashMails} / ${crash.acked} (${crash.queuedReplies} kept) / ${crash.lost.length} / ${crash.duplicates}`],
    ['outbox crash run: SIGKILLs / provider flaps / found in flight / seconds', `${crash.kills} / ${crash.flaps} / ${crash.recovered} / ${crash.seconds.toFixed(0)}`],
  ];

  const out: string[] = [];
  out.push(`msmtp-relay stress, ${new Date().toISOString()}, ${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(1)}, seed ${seed}, ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
  out.push('');
  out.push('| figure | value |');
  out.push('|---|---|');
  for (const [name, value] of rows) out.push(`| ${name} | ${value.replace(/\|/g, '\\|')} |`);
  out.push('');
  for (const [name, ok] of checks) out.push(`${ok ? 'ok  ' : 'FAIL'} ${name}`);
  out.push('');
  out.push(`RSS samples (mails: MiB): ${soaked.samples.map((s) => `${s.mails}:${(s.rssKb / 1024).toFixed(0)}`).join(' ')}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return checks.every(([, ok]) => ok) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`stress: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(2);
  },
);
