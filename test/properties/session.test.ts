import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRelay, describeEvent, type RelayEvent } from '../../src-relay/index';
import { MemorySession } from '../helpers/relay/memory-session';
import { parseTranscript } from '../helpers/smtp/replies';
import { addressesReachArgvIntact, authPayloadsAreHandled, everyCommandGetsOneReply } from './session';

// Property-based tests of what a session parses (command lines, addresses, AUTH payloads) on a real engine over
// in-memory streams. `npm run stress` runs the same with more cases.

test('random command lines: one well-formed reply each, no crash, no hang, nothing unprintable logged', { timeout: 60_000 }, async () => {
  const run = await everyCommandGetsOneReply(150);
  assert.ok(run.delivered > 0, 'the fuzzed dialogues never got a mail through: the generator lost its skeleton');
});

test('any address is refused with 5xx or reaches the command as one argv element, unchanged', { timeout: 60_000 }, async () => {
  const run = await addressesReachArgvIntact(60);
  assert.ok(run.delivered > 0, 'no generated address was ever accepted: the argv check never ran');
});

test('random AUTH payloads each get one reply; nothing passes before a right answer; a right answer works', { timeout: 60_000 }, async () => {
  const run = await authPayloadsAreHandled(100);
  // The property only predicts outcomes for dialogues that start at a command prompt; make sure some did.
  assert.ok(run.rightChecked > 0, 'no right answer was ever checked for a 235');
  assert.ok(run.wrongChecked > 0, 'no wrong answer was ever checked for a 535');
  assert.ok(run.mailRefusedChecked > 0, 'no mail command before authentication was ever checked for a 530');
});

test('regression: client bytes never put control characters into a log event or a reply', { timeout: 10_000 }, async () => {
  // Found by the command-line fuzz: an unknown verb ("EHLO\t", "\x1b[2J...") went into the log event verbatim, and a
  // MAIL parameter name with control characters was echoed in the 555 reply.
  const relay = createRelay({ port: 0, command: ['/bin/true'] });
  const events: RelayEvent[] = [];
  relay.subscribe((event) => events.push(event));
  const session = new MemorySession(relay);
  // Issue #16: C1 controls (U+0085 NEL, U+009B CSI) in an address, and in a verb, as UTF-8.
  session.send(Buffer.from('EHLO\t\r\n\x1b[2Jfake line\r\nHELO x\r\nMAIL FROM:<a@b> X\x01\x1b=1\r\nMAIL FROM:<a\u0085b\u009b2J@x>\r\nNOOP\u009b\r\nQUIT\r\n', 'utf8'));
  await session.ended;
  const replies = parseTranscript(session.raw);
  assert.deepEqual(replies.problems, []);
  assert.deepEqual(replies.replies.map((reply) => reply.code), [220, 500, 500, 250, 555, 501, 500, 221]);
  const logged = events.filter((e) => e.type === 'client-error').map((e) => describeEvent(e).message);
  assert.equal(logged.length, 5);
  for (const line of logged) assert.doesNotMatch(line, /[\x00-\x1f\x7f-\x9f\u2028\u2029]/);
});
