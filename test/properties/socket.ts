import { connect, type Socket } from 'node:net';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { bodyLines, interestingByte } from './arbitraries';
import type { RelayProcess } from '../helpers/relay/relay-process';
import { isDeliveredReply, parseTranscript } from '../helpers/smtp/replies';
import { crlfToLf, decodeDataStream, encodeDataBody, splitAt } from './smtp-model';
import type { Recording } from '../helpers/relay/relay-harness';
import { settle } from '../helpers/wait';

/**
 * A socket-level fuzzer: valid SMTP dialogues, mutated (commands dropped, duplicated, swapped, junk inserted), sent
 * pipelined in random chunks at random paces, ended by QUIT, a half-close, a close or a reset, against a relay in
 * its own process with the record command. The oracle needs no second SMTP server: it knows every byte sent, so it
 * can list every mail the relay could rightly deliver (the bytes after each DATA line, up to a CRLF.CRLF).
 */

type Ending = 'wait-close' | 'half-close' | 'destroy' | 'reset';

interface MailShape {
  recipients: number;
  lines: Buffer[];
}

interface Mutation {
  op: 'drop' | 'dup' | 'swap' | 'junk';
  at: number;
  junk: Buffer;
}

export interface SessionShape {
  mails: MailShape[];
  mutations: Mutation[];
  cuts: number[];
  pace: 'burst' | 'yield' | 'sleep';
  ending: Ending;
  /** Where a destroy/reset cuts the stream, as a fraction of its length. */
  abortAt: number;
}

const junk = fc.oneof(
  fc.array(interestingByte, { maxLength: 30 }).map((bytes) => Buffer.from(bytes)),
  fc.constantFrom('XYZZY\r\n', 'RSET\r\n', 'NOOP\n', '.\r\n', '\r\n.\r\n', 'DATA\r\n', 'MAIL FROM:<-oQ/tmp@x>\r\n', 'RCPT TO:<a b@c>\r\n', 'GET / HTTP/1.1\r\n', '\0\r\n', 'x'.repeat(3000) + '\r\n').map((s) => Buffer.from(s, 'latin1')),
);

const sessionShape: fc.Arbitrary<SessionShape> = fc.record({
  mails: fc.array(fc.record({ recipients: fc.integer({ min: 1, max: 3 }), lines: bodyLines }), { minLength: 1, maxLength: 3 }),
  mutations: fc.oneof(
    { weight: 1, arbitrary: fc.constant<Mutation[]>([]) },
    { weight: 2, arbitrary: fc.array(fc.record({ op: fc.constantFrom('drop', 'dup', 'swap', 'junk'), at: fc.nat(), junk }), { minLength: 1, maxLength: 3 }) },
  ),
  cuts: fc.array(fc.nat(), { maxLength: 20 }),
  pace: fc.constantFrom('burst', 'yield', 'sleep'),
  ending: fc.oneof(
    { weight: 4, arbitrary: fc.constant<Ending>('wait-close') },
    { weight: 2, arbitrary: fc.constant<Ending>('half-close') },
    { weight: 1, arbitrary: fc.constant<Ending>('destroy') },
    { weight: 1, arbitrary: fc.constant<Ending>('reset') },
  ),
  abortAt: fc.double({ min: 0, max: 1, noNaN: true }),
});

/** The units of a session on the wire, mutated: each a command line, a DATA body with its end marker, or junk. */
export function sessionBytes(shape: SessionShape, index: number): Buffer {
  const units: Buffer[] = [Buffer.from(`EHLO fuzz${index}.test\r\n`)];
  shape.mails.forEach((mail, m) => {
    units.push(Buffer.from(`MAIL FROM:<${sender(index)}>\r\n`));
    for (let r = 0; r < mail.recipients; r++) units.push(Buffer.from(`RCPT TO:<r${index}.${m}.${r}@fuzz.test>\r\n`));
    units.push(Buffer.from('DATA\r\n'));
    units.push(encodeDataBody([Buffer.from(`Message-ID: <${index}.${m}@fuzz.test>`), ...mail.lines]));
  });
  units.push(Buffer.from('QUIT\r\n'));
  for (const mutation of shape.mutations) {
    const at = mutation.at % units.length;
    if (mutation.op === 'drop') units.splice(at, 1);
    else if (mutation.op === 'dup') units.splice(at, 0, units[at]!);
    else if (mutation.op === 'swap' && at + 1 < units.length) [units[at], units[at + 1]] = [units[at + 1]!, units[at]!];
    else if (mutation.op === 'junk') units.splice(at, 0, mutation.junk);
  }
  return Buffer.concat(units);
}

export function sender(index: number): string {
  return `s${index}@fuzz.test`;
}

/**
 * Every mail the relay could rightly deliver from these bytes: for each line that could be a DATA command, the
 * body up to the first `.` CRLF at a line start, as the command would receive it (LF line ends).
 */
function candidateMails(sent: Buffer): Buffer[] {
  const candidates: Buffer[] = [];
  let lineStart = 0;
  for (;;) {
    const newline = sent.indexOf(0x0a, lineStart);
    if (newline < 0) break;
    const line = sent.subarray(lineStart, newline).toString('latin1').replace(/\r$/, '');
    lineStart = newline + 1;
    if (/^DATA(\s.*)?$/i.test(line)) {
      const decoded = decodeDataStream(sent.subarray(lineStart));
      if (decoded.ended) candidates.push(crlfToLf(decoded.body));
    }
  }
  return candidates;
}

const RECEIVED = /^Received: [^\n]*\n\t[^\n]*\n\t[^\n]*\n/;

export interface SessionOutcome {
  index: number;
  shape: SessionShape;
  sent: Buffer;
  transcript: string;
  aborted: boolean;
  /** The server closed before the bound (always true for aborted sessions: the client closed). */
  closedInTime: boolean;
  ms: number;
}

/** Runs one planned session against the relay; every wait is bounded by closeBoundMs. */
async function runSession(port: number, shape: SessionShape, index: number, closeBoundMs: number): Promise<SessionOutcome> {
  const started = Date.now();
  const all = sessionBytes(shape, index);
  const aborted = shape.ending === 'destroy' || shape.ending === 'reset';
  const limit = aborted ? Math.floor(shape.abortAt * all.length) : all.length;
  const toSend = all.subarray(0, limit);
  const socket: Socket = connect({ host: '127.0.0.1', port });
  let transcript = '';
  let closed = false;
  let failed = false;
  const closedPromise = new Promise<void>((resolve) => {
    socket.on('close', () => {
      closed = true;
      resolve();
    });
  });
  socket.on('error', () => {
    failed = true; // EPIPE/ECONNRESET once the server hung up: the client just stops
  });
  socket.setEncoding('latin1');
  socket.on('data', (text: string) => {
    transcript += text;
  });
  await new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('error', resolve);
  });
  let sentBytes = 0;
  for (const chunk of splitAt(toSend, shape.cuts.map((n) => (toSend.length > 0 ? n % toSend.length : 0)))) {
    if (failed || closed) break;
    if (!socket.write(chunk)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closedPromise, sleep(closeBoundMs)]);
    sentBytes += chunk.length;
    if (shape.pace === 'yield') await nextTurn();
    else if (shape.pace === 'sleep') await sleep(1);
  }
  const sent = toSend.subarray(0, sentBytes);
  if (aborted) {
    if (shape.ending === 'reset') socket.resetAndDestroy();
    else socket.destroy();
    await closedPromise;
    return { index, shape, sent, transcript, aborted, closedInTime: true, ms: Date.now() - started };
  }
  if (shape.ending === 'half-close') socket.end();
  let timer: NodeJS.Timeout | undefined;
  const inTime = await Promise.race([
    closedPromise.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), closeBoundMs);
    }),
  ]);
  clearTimeout(timer);
  socket.destroy();
  return { index, shape, sent, transcript, aborted, closedInTime: inTime, ms: Date.now() - started };
}

export interface FuzzReport {
  sessions: number;
  aborted: number;
  candidates: number;
  deliveredReplies: number;
  recordings: number;
  longestSessionMs: number;
  failures: string[];
}

/** Checks each session's transcript and the recordings against what its bytes allow. */
export function judge(outcomes: readonly SessionOutcome[], recordings: readonly Recording[]): FuzzReport {
  const failures: string[] = [];
  const bySender = new Map<string, Recording[]>();
  for (const recording of recordings) {
    const from = recording.argv[1] ?? '';
    bySender.set(from, [...(bySender.get(from) ?? []), recording]);
  }
  let candidates = 0;
  let deliveredReplies = 0;
  for (const outcome of outcomes) {
    const where = `session ${outcome.index} (${outcome.shape.ending}, ${outcome.shape.pace}, ${outcome.shape.mutations.map((m) => m.op).join('+') || 'no mutation'})`;
    const parsed = parseTranscript(outcome.transcript);
    if (parsed.problems.length > 0) failures.push(`${where}: malformed replies: ${parsed.problems.slice(0, 3).join('; ')}`);
    if (!outcome.aborted && parsed.rest !== '') failures.push(`${where}: reply cut off: ${JSON.stringify(parsed.rest.slice(0, 200))}`);
    if (!outcome.closedInTime) failures.push(`${where}: server did not close the session in time (hang)`);
    if (parsed.replies[0] && parsed.replies[0].code !== 220) failures.push(`${where}: greeting ${parsed.replies[0].code}`);
    if (!outcome.aborted && parsed.replies.length === 0) failures.push(`${where}: not a single reply (no greeting)`);
    const delivered = parsed.replies.filter(isDeliveredReply).length;
    deliveredReplies += delivered;
    const possible = candidateMails(outcome.sent);
    candidates += possible.length;
    const recs = bySender.get(sender(outcome.index)) ?? [];
    if (outcome.aborted ? recs.length < delivered : recs.length !== delivered) {
      failures.push(`${where}: ${recs.length} mails recorded but ${delivered} acknowledged with 250`);
    }
    const unmatched = [...possible];
    for (const recording of recs) {
      const header = RECEIVED.exec(recording.stdin.toString('latin1'));
      if (!header) {
        failures.push(`${where}: recording without our Received header`);
        continue;
      }
      const body = recording.stdin.subarray(Buffer.byteLength(header[0], 'latin1'));
      const match = unmatched.findIndex((candidate) => candidate.equals(body));
      if (match < 0) {
        failures.push(`${where}: a recorded mail is not any complete mail the client sent (truncated or altered): ${JSON.stringify(body.toString('latin1').slice(0, 120))}`);
      } else {
        unmatched.splice(match, 1);
      }
      const rcpts = recording.argv.slice(3);
      const sentText = outcome.sent.toString('latin1');
      for (const rcpt of rcpts) if (!sentText.includes(`RCPT TO:<${rcpt}>`)) failures.push(`${where}: recipient ${rcpt} was never sent`);
    }
  }
  const known = new Set(outcomes.map((o) => sender(o.index)));
  for (const [from, recs] of bySender) if (!known.has(from)) failures.push(`${recs.length} recording(s) from unknown sender ${from}`);
  return {
    sessions: outcomes.length,
    aborted: outcomes.filter((o) => o.aborted).length,
    candidates,
    deliveredReplies,
    recordings: recordings.length,
    longestSessionMs: Math.max(0, ...outcomes.map((o) => o.ms)),
    failures,
  };
}

export interface FuzzRunOptions {
  sessions: number;
  concurrency: number;
  seed: number;
  /** Bound for the server to close a session once the client is done (QUIT, half-close or silence). */
  closeBoundMs: number;
}

/** Plans `sessions` sessions from the seed, runs them `concurrency` at a time, and judges the lot. */
export async function fuzzRelay(relay: RelayProcess, options: FuzzRunOptions): Promise<FuzzReport> {
  const shapes = fc.sample(sessionShape, { numRuns: options.sessions, seed: options.seed });
  const outcomes: SessionOutcome[] = [];
  let next = 0;
  const worker = async () => {
    while (next < shapes.length) {
      const index = next++;
      outcomes.push(await runSession(relay.port, shapes[index]!, index, options.closeBoundMs));
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  // Mails whose client left right after the dot may still be with the command: wait until the engine is idle.
  await settle(() => relay.stats(), (stats) => stats.activeSessions === 0, options.closeBoundMs);
  outcomes.sort((a, b) => a.index - b.index);
  return judge(outcomes, relay.recordings());
}
