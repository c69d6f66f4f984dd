import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { createRelay, type RelayEngine, type RelayEvent, type RelayOptions } from '../../src-relay/index';
import { fuzzRunOptions } from './arbitraries';
import { MemorySession } from '../helpers/relay/memory-session';
import type { ParsedReply } from '../helpers/smtp/replies';

/**
 * Property-based checks of everything in a session that parses client input: command lines, addresses, AUTH
 * payloads (the argv building behind them: deliver.ts; command strings: options.ts). Sessions run on a real engine over in-memory streams
 * (memory-session.ts); a mail that gets through is handed to a real (cheap) command. Each function returns
 * the number of cases it ran.
 */

const REPLY_TIMEOUT_MS = 5000;

/** What a session property did: cases run, and mails delivered along the way (proof that the fuzz reaches DATA). */
export interface FuzzRun {
  cases: number;
  delivered: number;
}

/** A command that records its argv (NUL-separated) and its stdin into files named by its first argument. */
function argvRecorder(dir: string): string[] {
  const script = 'cat > "$0.stdin" && printf "%s\\0" "$@" > "$0.argv"';
  return ['/bin/sh', '-c', script, join(dir, 'last'), '-f', '%F', '--'];
}

function readRecordedArgv(dir: string): string[] {
  const text = readFileSync(join(dir, 'last.argv'), 'utf8');
  return text.split('\0').slice(0, -1);
}

function relayFor(options: Partial<RelayOptions>, run?: FuzzRun): { relay: RelayEngine; events: RelayEvent[] } {
  const relay = createRelay({ port: 0, authFailureDelayMs: 0, commandTimeoutMs: 5000, dataTimeoutMs: 5000, ...options });
  const events: RelayEvent[] = [];
  relay.subscribe((event) => {
    events.push(event);
    if (run && event.type === 'mail' && event.outcome === 'delivered') run.delivered += 1;
  });
  return { relay, events };
}

/** Strings a log line must not carry from a client: line breaks, escapes, NUL (log injection, terminal tricks). */
function assertEventsPrintable(events: readonly RelayEvent[]): void {
  for (const event of events) {
    for (const [key, value] of Object.entries(event)) {
      if (key === 'commandOutput' || key === 'detail') continue; // the command's own words, sanitized separately
      const texts = typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((v) => typeof v === 'string') : [];
      for (const text of texts) {
        assert.ok(!/[\x00-\x1f\x7f]/.test(text), `event ${event.type}.${key} carries a control character: ${JSON.stringify(text)}`);
      }
    }
  }
}

/** Reads one reply and fails the case when there is none. */
async function replyTo(session: MemorySession, what: string): Promise<ParsedReply> {
  const reply = await session.nextReply(REPLY_TIMEOUT_MS);
  assert.ok(reply, `server closed without answering ${JSON.stringify(what.slice(0, 80))}`);
  return reply;
}

/**
 * Drives a session line by line, one reply per line: a 354 is followed by a tiny mail, a 221 or 421 must be
 * followed by the server closing. Ends with QUIT when the session is still open, whose 221 must be the very next
 * reply: a line that had been answered twice would push it back. Returns the replies, greeting first.
 */
async function lockstep(session: MemorySession, lines: readonly Buffer[]): Promise<ParsedReply[]> {
  const replies: ParsedReply[] = [await replyTo(session, 'greeting')];
  assert.equal(replies[0]!.code, 220);
  for (const line of lines) {
    session.send(Buffer.concat([line, Buffer.from('\r\n')]));
    const reply = await replyTo(session, line.toString('latin1'));
    replies.push(reply);
    if (reply.code === 354) {
      session.send('fuzz body\r\n.\r\n');
      const final = await replyTo(session, 'end of data');
      assert.ok(final.code === 250 || final.code >= 400, `odd reply to the end of data: ${final.code}`);
      replies.push(final);
    }
    if (reply.code === 221 || reply.code === 421) {
      assert.equal(await session.nextReply(REPLY_TIMEOUT_MS), null, 'server went on after a closing reply');
      return replies;
    }
  }
  if (replies[replies.length - 1]!.code === 334) {
    // A SASL exchange is waiting for an answer: QUIT would be taken as one. Cancel it first.
    session.send('*\r\n');
    replies.push(await replyTo(session, 'the SASL cancel'));
  }
  session.send('QUIT\r\n');
  const bye = await replyTo(session, 'QUIT');
  assert.equal(bye.code, 221, `QUIT answered ${bye.code}: a reply count out of step`);
  assert.equal(await session.nextReply(REPLY_TIMEOUT_MS), null);
  return replies;
}

async function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const verbs = ['EHLO', 'HELO', 'MAIL', 'RCPT', 'DATA', 'RSET', 'NOOP', 'VRFY', 'HELP', 'STARTTLS', 'AUTH', 'QUIT', 'BDAT', 'ETRN'];
const wellFormed = fc.constantFrom(
  'EHLO client.example', 'HELO client', 'MAIL FROM:<a@example.org>', 'MAIL FROM:<>', 'RCPT TO:<b@example.org>',
  'RCPT TO:<c@example.org>', 'DATA', 'RSET', 'NOOP', 'VRFY root', 'HELP', 'STARTTLS', 'AUTH PLAIN AGEAYg==',
  'MAIL FROM:<a@example.org> SIZE=100 BODY=8BITMIME', 'MAIL FROM:<@relay.example:a@example.org>',
);
const asciiText = fc.string({ unit: 'binary-ascii', maxLength: 80 });
const unicodeText = fc.string({ unit: 'binary', maxLength: 40 });

/** Command lines: well-formed ones, verbs with junk, raw bytes, NUL, 8-bit, overlong, HTTP look-alikes, QUIT. */
const commandLine: fc.Arbitrary<Buffer> = fc
  .oneof(
    { weight: 8, arbitrary: wellFormed },
    { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...verbs), fc.constantFrom(' ', '', '  ', '\t'), asciiText).map(([v, s, t]) => `${v}${s}${t}`) },
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom('MAIL FROM:', 'RCPT TO:', 'mail from:', 'RCPT TO: '), unicodeText, fc.constantFrom('', ' SIZE=x', ' BODY=7BIT', ' FOO=\x01', ' SIZE=99999999999999999999999')).map(([v, a, p]) => `${v}<${a}>${p}`) },
    { weight: 3, arbitrary: asciiText },
    { weight: 2, arbitrary: unicodeText },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 60 }).map((bytes) => Buffer.from(bytes).toString('latin1')) },
    { weight: 1, arbitrary: fc.integer({ min: 2040, max: 5000 }).map((n) => 'NOOP '.padEnd(n, 'x')) },
    { weight: 1, arbitrary: fc.constantFrom('GET / HTTP/1.1', 'POST /x HTTP/1.0', 'Host: 127.0.0.1', 'QUIT', 'quit') },
  )
  .map((text) => Buffer.from(text.replace(/[\r\n]/g, ' '), /[^\x00-\xff]/.test(text) ? 'utf8' : 'latin1'));

/** The steps of a valid transaction, in order; the fuzz weaves them between random lines so mails do get through. */
const SKELETON = ['EHLO fuzz.example', 'MAIL FROM:<s@example.org>', 'RCPT TO:<r@example.org>', 'DATA'];

const fuzzedDialogue = fc
  .array(fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 3, arbitrary: commandLine }), { minLength: 1, maxLength: 30, size: 'medium' })
  .map((items) => {
    let step = 0;
    return items.map((item) => item ?? Buffer.from(SKELETON[step++ % SKELETON.length]!));
  });

/**
 * Random command lines never crash a session nor leave it hanging; each gets exactly one well-formed reply, and
 * what the session logs from them holds no control characters.
 */
export async function everyCommandGetsOneReply(numRuns: number, seed?: number): Promise<FuzzRun> {
  const run: FuzzRun = { cases: 0, delivered: 0 };
  await inTempDir('relay-fuzz-cmd-', (dir) =>
    fc.assert(
      fc.asyncProperty(fuzzedDialogue, async (lines) => {
        run.cases += 1;
        const { relay, events } = relayFor({ command: argvRecorder(dir), maxErrors: 1000 }, run);
        const session = new MemorySession(relay);
        try {
          await lockstep(session, lines);
          await bounded(session.ended, REPLY_TIMEOUT_MS, 'the session');
          assert.deepEqual(session.unreadReplies(), []);
          assert.ok(!events.some((e) => e.type === 'error'), `engine error: ${JSON.stringify(events.find((e) => e.type === 'error'))}`);
          assertEventsPrintable(events);
        } finally {
          session.end();
        }
      }),
      fuzzRunOptions(numRuns, seed),
    ),
  );
  return run;
}

/** Runs `body` with a fresh temporary directory, removed afterwards whatever happens. */
async function inTempDir(prefix: string, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Addresses: anything at all, with the dangerous shapes (leading '-', control characters, shell syntax) well represented. */
const address = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'binary-ascii', maxLength: 40 }),
  fc.tuple(fc.constantFrom('-', '--', '-f', '$(', '`', ';', '|', "'", '"', '\\', '*', '~', '%F', ' '), fc.string({ maxLength: 20 })).map(([a, b]) => `${a}${b}@example.org`),
  fc.tuple(fc.string({ maxLength: 20 }), fc.constantFrom('\x00', '\x01', '\t', '\x1b[31m', '\x7f', '\r'), fc.string({ maxLength: 10 })).map(([a, c, b]) => `${a}${c}${b}@x`),
  fc.constantFrom('a@b', 'user+tag@example.org', 'o\'brien@example.org', '"quoted string"@example.org', 'a@[127.0.0.1]', 'ünï@exämple.org'),
).filter((text) => !text.startsWith('@') && !/[\r\n<>]/.test(text));

/**
 * Whatever address a client sends, it either is refused with a 5xx or reaches the command as exactly one argv
 * element, unchanged; a leading '-' or a control character is always refused. Checked through a real session and
 * a real command that records its argv.
 */
export async function addressesReachArgvIntact(numRuns: number, seed?: number): Promise<FuzzRun> {
  const run: FuzzRun = { cases: 0, delivered: 0 };
  await inTempDir('relay-fuzz-addr-', (dir) =>
    fc.assert(
      fc.asyncProperty(address, fc.array(address, { minLength: 1, maxLength: 4 }), async (from, to) => {
        run.cases += 1;
        rmSync(join(dir, 'last.argv'), { force: true });
        const { relay, events } = relayFor({ command: argvRecorder(dir), maxErrors: 1000 }, run);
        const session = new MemorySession(relay);
        try {
          assert.equal((await replyTo(session, 'greeting')).code, 220);
          session.send('EHLO fuzz\r\n');
          assert.equal((await replyTo(session, 'EHLO')).code, 250);
          session.send(Buffer.from(`MAIL FROM:<${from}>\r\n`, 'utf8'));
          const mail = await replyTo(session, 'MAIL');
          const accepted: string[] = [];
          const rcptCodes: number[] = [];
          for (const rcpt of to) {
            session.send(Buffer.from(`RCPT TO:<${rcpt}>\r\n`, 'utf8'));
            const reply = await replyTo(session, 'RCPT');
            rcptCodes.push(reply.code);
            if (reply.code === 250) accepted.push(rcpt);
            else assert.ok(reply.code >= 500, `RCPT <${rcpt}> got ${reply.code}`);
          }
          const dangerous = (text: string) => text.startsWith('-') || /[\x00-\x1f\x7f]/.test(text);
          if (dangerous(from)) assert.notEqual(mail.code, 250, `MAIL accepted ${JSON.stringify(from)}`);
          to.forEach((rcpt, i) => {
            if (dangerous(rcpt)) assert.notEqual(rcptCodes[i], 250, `RCPT accepted ${JSON.stringify(rcpt)}`);
          });
          if (mail.code !== 250) assert.ok(mail.code >= 500, `MAIL got ${mail.code}`);
          if (mail.code === 250 && accepted.length > 0) {
            session.send('DATA\r\n');
            assert.equal((await replyTo(session, 'DATA')).code, 354);
            session.send('x\r\n.\r\n');
            assert.equal((await replyTo(session, 'end of data')).code, 250);
            const argv = readRecordedArgv(dir);
            assert.deepEqual(argv, ['-f', from === '' ? 'MAILER-DAEMON' : from, '--', ...accepted]);
          }
          for (const event of events) {
            if (event.type === 'client-error' || event.type === 'mail') assertEventsPrintable([event]);
          }
          session.send('QUIT\r\n');
          await bounded(session.ended, REPLY_TIMEOUT_MS, 'the session');
        } finally {
          session.end();
        }
      }),
      fuzzRunOptions(numRuns, seed),
    ),
  );
  return run;
}


const USER = 'fuzz-user';

/**
 * One AUTH attempt (or stray command) as the generator made it. `expect` is set when the lines are a complete,
 * well-formed dialogue whose outcome is known in advance: it holds only when the attempt starts at a command prompt
 * (an earlier junk dialogue may still be waiting for an answer, and then these lines are that answer).
 */
interface AuthAttempt {
  lines: readonly string[];
  expect?: 'right' | 'wrong';
}

/** The mail commands that must get a 530 before authentication, exactly as the generator sends them. */
const MAIL_BEFORE_AUTH = new Set(['MAIL FROM:<a@b>', 'RCPT TO:<c@d>', 'DATA']);

/** AUTH attempts: random payloads, wrong and right credentials, cancels, LOGIN dialogues with junk answers. */
function authAttempts(password: string): fc.Arbitrary<AuthAttempt[]> {
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const junk = fc.oneof(fc.string({ unit: 'binary-ascii', maxLength: 40 }), fc.base64String({ maxLength: 40 }), fc.constantFrom('*', '=', ''));
  const attempt: fc.Arbitrary<AuthAttempt> = fc.oneof(
    junk.map((j) => ({ lines: [`AUTH PLAIN ${j}`] })),
    junk.map((j) => ({ lines: ['AUTH PLAIN', j] })),
    // Printable ASCII without NUL, so the blob always decodes to three fields: the outcome is decided by the values.
    fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 })).map(([u, p]): AuthAttempt => ({
      lines: [`AUTH PLAIN ${b64(`\0${u}\0${p}`)}`], expect: u === USER && p === password ? 'right' : 'wrong',
    })),
    fc.tuple(junk, junk).map(([u, p]) => ({ lines: ['AUTH LOGIN', u, p] })),
    junk.map((j) => ({ lines: [`AUTH LOGIN ${j}`, j] })),
    fc.constant<AuthAttempt>({ lines: [`AUTH PLAIN ${b64(`\0${USER}\0${password}`)}`], expect: 'right' }),
    fc.constant<AuthAttempt>({ lines: ['AUTH LOGIN', b64(USER), b64(password)], expect: 'right' }),
    fc.constant<AuthAttempt>({ lines: ['AUTH LOGIN', b64(USER), b64(`${password}x`)], expect: 'wrong' }),
    fc.string({ unit: 'binary-ascii', maxLength: 12 }).map((m) => ({ lines: [`AUTH ${m}`] })),
    fc.constantFrom(['MAIL FROM:<a@b>'], ['RCPT TO:<c@d>'], ['DATA'], ['NOOP'], ['RSET'], ['EHLO again']).map((lines) => ({ lines })),
  );
  return fc.array(attempt, { maxLength: 12 });
}

/** The reply each sent line got, in order (lockstep adds the end-of-data reply after a 354); undefined once closed. */
function repliesByLine(sentCount: number, replies: readonly ParsedReply[]): (ParsedReply | undefined)[] {
  const byLine: (ParsedReply | undefined)[] = [];
  let next = 1; // replies[0] is the greeting
  for (let i = 0; i < sentCount; i += 1) {
    const reply = replies[next];
    byLine.push(reply);
    next += reply?.code === 354 ? 2 : 1;
  }
  return byLine;
}

/** How many right and wrong dialogues a run checked against its expected reply (so the checks cannot go idle). */
export interface AuthFuzzRun extends FuzzRun {
  rightChecked: number;
  wrongChecked: number;
  mailRefusedChecked: number;
}

/**
 * Walks the dialogue with its own auth state: a right answer given at a command prompt before authentication must
 * get 235 (PLAIN) or 334, 334, 235 (LOGIN); a wrong one 535 (or 334, 334, 535); once authenticated, AUTH gets 503;
 * MAIL, RCPT and DATA before a 235 get 530. State follows the replies only where the outcome is not predicted (junk).
 */
function checkAuthDialogue(attempts: readonly AuthAttempt[], sentReplies: readonly (ParsedReply | undefined)[], run: AuthFuzzRun): void {
  let authenticated = false;
  let line = 0;
  for (const attempt of attempts) {
    for (let k = 0; k < attempt.lines.length; k += 1, line += 1) {
      const reply = sentReplies[line + 1]; // sentReplies[0] answers the opening EHLO
      if (reply === undefined) return; // the session closed
      const previous = sentReplies[line];
      const atPrompt = previous?.code !== 334;
      const text = attempt.lines[k]!;
      const where = `line ${line + 1} ${JSON.stringify(text.slice(0, 60))}`;
      if (k === 0 && atPrompt && attempt.expect !== undefined) {
        if (authenticated) {
          assert.equal(reply.code, 503, `${where}: AUTH after a 235 must be refused as a bad sequence`);
        } else {
          const final = attempt.expect === 'right' ? 235 : 535;
          const codes = attempt.lines.map((_, j) => sentReplies[line + 1 + j]?.code);
          const wanted = [...attempt.lines.slice(1).map(() => 334), final];
          assert.deepEqual(codes, wanted, `${where}: a ${attempt.expect} ${attempt.lines.length > 1 ? 'LOGIN' : 'PLAIN'} answer before authentication`);
          if (attempt.expect === 'right') run.rightChecked += 1;
          else run.wrongChecked += 1;
        }
      }
      if (atPrompt && !authenticated && MAIL_BEFORE_AUTH.has(text)) {
        assert.equal(reply.code, 530, `${where}: a mail command before authentication`);
        run.mailRefusedChecked += 1;
      }
      if (reply.code === 235) {
        assert.ok(!authenticated, `${where}: a second 235 in one session`);
        authenticated = true;
      }
    }
  }
}

/**
 * With AUTH on, random AUTH payloads each get one reply and never end the session early (the failure limit is set
 * high here); mail commands before success get 530; a right answer always authenticates, a wrong one never does.
 */
export async function authPayloadsAreHandled(numRuns: number, seed?: number): Promise<AuthFuzzRun> {
  const run: AuthFuzzRun = { cases: 0, delivered: 0, rightChecked: 0, wrongChecked: 0, mailRefusedChecked: 0 };
  const password = 'pw-Fuzz-3141';
  await inTempDir('relay-fuzz-auth-', (dir) =>
    fc.assert(
      fc.asyncProperty(authAttempts(password), async (attempts) => {
        run.cases += 1;
        const lines = attempts.flatMap((attempt) => attempt.lines).map((line) => line.replace(/[\r\n]/g, ' '));
        const { relay, events } = relayFor({
          command: argvRecorder(dir), maxErrors: 1000, maxAuthFailures: 1000, auth: { user: USER, password },
        }, run);
        const session = new MemorySession(relay);
        try {
          const replies = await lockstep(session, [Buffer.from('EHLO fuzz'), ...lines.map((line) => Buffer.from(line, 'latin1'))]);
          await bounded(session.ended, REPLY_TIMEOUT_MS, 'the session');
          const codes = new Set(replies.map((reply) => reply.code));
          for (const code of codes) assert.ok([220, 221, 235, 250, 252, 214, 334, 354, 451, 500, 501, 502, 503, 504, 530, 535, 555].includes(code), `unexpected reply ${code}`);
          const successes = events.filter((e) => e.type === 'auth' && e.ok).length;
          assert.equal(successes, replies.filter((reply) => reply.code === 235).length);
          const authenticatedAt = replies.findIndex((reply) => reply.code === 235);
          const before = authenticatedAt < 0 ? replies : replies.slice(0, authenticatedAt);
          assert.ok(!before.some((reply) => reply.code === 354), 'DATA accepted before authentication');
          const sentReplies = repliesByLine(lines.length + 1, replies);
          assert.equal(sentReplies[0]?.code, 250, 'the opening EHLO');
          checkAuthDialogue(attempts, sentReplies, run);
          assertEventsPrintable(events);
        } finally {
          session.end();
        }
      }),
      fuzzRunOptions(numRuns, seed),
    ),
  );
  return run;
}
