import {
  arbitraryStreamMatchesModel, bodyRoundTrip, commandLinesInStep, everySplitOfATrickyMail, oversizeStaysInStep,
} from '../properties/wire';
import { saslDecodingIsStrict } from '../properties/auth';
import { argvBuildingIsExact } from '../properties/deliver';
import { commandParsingFailsCleanly, commandParsingRoundTrips } from '../properties/options';
import { addressesReachArgvIntact, authPayloadsAreHandled, everyCommandGetsOneReply } from '../properties/session';
import { startRelayProcess } from '../helpers/relay/relay-process';
import { fuzzRelay } from '../properties/socket';

/** Every fuzz property of the test suite, with many more cases, plus a long socket-level fuzz run. */

export interface FuzzPart {
  name: string;
  cases: number;
  failure: string | null;
}

export interface FuzzAllResult {
  seed: number;
  parts: FuzzPart[];
  socket: { sessions: number; aborted: number; deliveredReplies: number; recordings: number; failures: string[] };
  crashed: string | null;
  engineErrors: number;
}

export async function fuzzAll(scale: number, seed: number): Promise<FuzzAllResult> {
  const n = (base: number) => Math.max(1, Math.round(base * scale));
  const parts: FuzzPart[] = [];
  /** Runs one property; `body` returns the number of cases it ran (a failed one counts none: how many ran is unknown). */
  const run = async (name: string, body: () => Promise<number> | number) => {
    let failure: string | null = null;
    let cases = 0;
    try {
      cases = await body();
    } catch (error) {
      failure = String(error instanceof Error ? error.message : error).split('\n').slice(0, 4).join(' ');
    }
    parts.push({ name, cases, failure });
    process.stderr.write(`  fuzz ${name}: ${cases} cases ${failure ? `FAILED: ${failure}` : 'ok'}\n`);
  };
  await run('reader: dot-stuffed body round trip', () => bodyRoundTrip(n(3000), seed));
  await run('reader: any DATA stream vs model', () => arbitraryStreamMatchesModel(n(20_000), seed));
  await run('reader: command lines in step', () => commandLinesInStep(n(5000), seed));
  await run('reader: oversize mail stays in step', () => oversizeStaysInStep(n(3000), seed));
  await run('reader: every split of a tricky mail', () => everySplitOfATrickyMail());
  await run('session: random command lines', async () => (await everyCommandGetsOneReply(n(1500), seed)).cases);
  await run('session: addresses to argv', async () => (await addressesReachArgvIntact(n(400), seed)).cases);
  await run('session: AUTH payloads', async () => (await authPayloadsAreHandled(n(1000), seed)).cases);
  await run('argv building', () => argvBuildingIsExact(n(5000), seed));
  await run('command string round trip', () => commandParsingRoundTrips(n(5000), seed));
  await run('command string refusals', () => commandParsingFailsCleanly(n(5000), seed));
  await run('SASL decoding', () => saslDecodingIsStrict(n(5000), seed));

  const relay = await startRelayProcess({ options: { commandTimeoutMs: 1500, dataTimeoutMs: 1500, deliveryTimeoutMs: 10_000 } });
  try {
    const report = await fuzzRelay(relay, { sessions: n(500), concurrency: 8, seed, closeBoundMs: 20_000 });
    const stats = await relay.stats();
    const failures = [...report.failures];
    if (stats.mailsDelivered !== report.recordings) failures.push(`engine counted ${stats.mailsDelivered} deliveries, ${report.recordings} recorded`);
    parts.push({ name: 'socket: mutated sessions', cases: report.sessions, failure: failures.length ? failures.slice(0, 3).join(' | ') : null });
    process.stderr.write(`  fuzz socket: ${report.sessions} sessions, ${failures.length} failures\n`);
    const exited = relay.exited();
    return {
      seed,
      parts,
      socket: { sessions: report.sessions, aborted: report.aborted, deliveredReplies: report.deliveredReplies, recordings: report.recordings, failures },
      crashed: exited ? JSON.stringify(exited) : null,
      engineErrors: relay.events.filter((event) => event.type === 'error').length,
    };
  } finally {
    await relay.stop();
  }
}
