import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startRelayProcess, type RelayProcess } from '../helpers/relay/relay-process';
import { fuzzRelay, judge, sender, sessionBytes, type SessionOutcome, type SessionShape } from './socket';
import type { Recording } from '../helpers/relay/relay-harness';

// Random and mutated SMTP sessions over real sockets against a relay in its own process (a crash would end it).
// The seed is random per run and printed with any failure; FUZZ_SEED=<n> replays one.

const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
let relay: RelayProcess;

before(async () => {
  relay = await startRelayProcess({ options: { commandTimeoutMs: 1500, dataTimeoutMs: 1500, deliveryTimeoutMs: 10_000 } });
});

after(async () => {
  await relay?.stop();
});

test(`mutated sessions: no crash, no hang, valid replies, exactly the complete mails delivered byte-exact (seed ${seed})`, { timeout: 90_000 }, async () => {
  const report = await fuzzRelay(relay, { sessions: 40, concurrency: 4, seed, closeBoundMs: 15_000 });
  assert.deepEqual(report.failures, [], `seed ${seed}`);
  assert.equal(relay.exited(), null, `the relay process died: ${relay.stderr()}`);
  const stats = await relay.stats();
  assert.equal(stats.activeSessions, 0, 'sessions still open after every client left');
  assert.equal(stats.mailsDelivered, report.recordings, 'the engine counted other deliveries than the command recorded');
  assert.ok(report.deliveredReplies > 0, `seed ${seed}: no mail got through at all; the fuzz is not reaching DATA`);
  const errors = relay.events.filter((event) => event.type === 'error');
  assert.deepEqual(errors, [], 'the engine reported internal errors');
  process.stdout.write(`# socket fuzz seed ${seed}: ${JSON.stringify({ ...report, failures: report.failures.length })}\n`);
});

test('the oracle itself: a truncated, altered, duplicated or unacknowledged delivery is caught', () => {
  // Without this, a fuzz run that finds nothing would prove nothing about the checks it did not make.
  const shape: SessionShape = { mails: [{ recipients: 1, lines: [Buffer.from('hello'), Buffer.from('.dot')] }], mutations: [], cuts: [], pace: 'burst', ending: 'destroy', abortAt: 1 };
  const sent = sessionBytes(shape, 0);
  const header = 'Received: from x ([127.0.0.1])\n\tby localhost (msmtp-relay) with ESMTP id 1;\n\tMon, 1 Jan 2024 00:00:00 +0000\n';
  const recording = (body: string): Recording => ({ argv: ['-f', sender(0), '--', 'r0.0.0@fuzz.test'], stdin: Buffer.from(header + body, 'latin1'), pid: 1, startedAt: 0, endedAt: 0 });
  const cutOff: SessionOutcome = { index: 0, shape, sent, transcript: '220 x\r\n', aborted: true, closedInTime: true, ms: 1 };
  const exact = 'Message-ID: <0.0@fuzz.test>\nhello\n.dot\n';
  assert.deepEqual(judge([cutOff], [recording(exact)]).failures, []);
  assert.equal(judge([cutOff], [recording('Message-ID: <0.0@fuzz.test>\nhello\n')]).failures.length, 1, 'truncated');
  assert.equal(judge([cutOff], [recording('Message-ID: <0.0@fuzz.test>\nhello\n..dot\n')]).failures.length, 1, 'not unstuffed');
  assert.equal(judge([cutOff], [recording(exact), recording(exact)]).failures.length, 1, 'delivered twice');
  const beforeTheEnd = { ...cutOff, sent: sent.subarray(0, sent.indexOf('.dot') + 4) };
  assert.equal(judge([beforeTheEnd], [recording(exact)]).failures.length, 1, 'delivered without its end marker');
  const acknowledged = { ...cutOff, aborted: false, transcript: '220 x\r\n250 2.0.0 Ok, mail was piped\r\n' };
  assert.equal(judge([acknowledged], []).failures.length, 1, '250 without a delivery');
  assert.ok(judge([{ ...acknowledged, transcript: '220 x\r\nhello\r\n' }], []).failures.some((f) => /not a reply line/.test(f)), 'malformed reply');
  assert.equal(judge([{ ...acknowledged, transcript: '220 x\r\n', closedInTime: false }], []).failures.length, 1, 'hang');
});
