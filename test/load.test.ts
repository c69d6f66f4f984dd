import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { bigBody, mailTo } from './helpers/mail';
import { startRelayProcess, type RelayProcess } from './helpers/relay-process';
import { connectSmtp, type SmtpTestClient } from './helpers/smtp-client';
import { settle } from './helpers/wait';
import { loadRounds } from './stress/load-rounds';

// Connection storms against the default limit of 16 sessions, with the relay in its own process so its open file
// descriptors can be counted. msmtpd leaked slots here until it served nobody (reference section 0.4).

let relay: RelayProcess;

before(async () => {
  relay = await startRelayProcess({ options: { maxSessions: 16, commandTimeoutMs: 1500, dataTimeoutMs: 1500 }, quiet: true });
});

after(async () => {
  await relay?.stop();
});

test('200 connections at once, 10 rounds: 16 served, 184 refused with 421 at once, every slot free after each round', { timeout: 90_000 }, async (t) => {
  const result = await loadRounds({ connections: 200, rounds: 10, midData: 4, roundTimeoutMs: 10_000, fdSlack: 2, relay });
  for (const [round, figures] of result.perRound.entries()) {
    const { closeHow } = figures;
    assert.equal(figures.greeted, 16, `round ${round} (${closeHow}): sessions served`);
    assert.equal(figures.refused, 184, `round ${round} (${closeHow}): 421s`);
    assert.equal(figures.other, 0);
    // Over 1 s would mean SYNs were dropped and retried by TCP (a listen backlog smaller than the burst).
    assert.ok(figures.maxRefusalMs < 900, `round ${round}: slowest 421 after ${figures.maxRefusalMs} ms`);
    if (closeHow === 'idle') assert.equal(figures.idleClosed, 16, 'idle sessions closed by the server with 421');
    assert.equal(figures.activeAfter, 0, `round ${round} (${closeHow}): slots still taken`);
    t.diagnostic(`round ${round} (${closeHow}): 16 served, 184 refused, slowest 421 ${figures.maxRefusalMs} ms, slots free`);
  }
  assert.equal(result.statsAfterRounds.refusedSessions, 1840);
  assert.equal(result.statsAfterRounds.mailsAborted, 40, 'the 4 mails cut off per round were counted as aborted');
  assert.equal(result.recordedAfterRounds, 0, 'no cut-off mail was delivered');

  assert.deepEqual(result.fullHouseCodes, Array(16).fill(250));
  assert.equal(result.seventeenthGreeting, 421, 'a 17th session is refused while 16 are open');
  assert.equal(relay.recordings().length, 16);
  const { fdsStart, fdsEnd } = result;
  assert.ok(fdsEnd <= fdsStart + 2, `relay holds ${fdsEnd} fds, ${fdsStart} at start`);
  t.diagnostic(`relay fds: ${fdsStart} at start, ${fdsEnd} after 2000 connections`);
});

test('16 slow-loris clients (a byte every 100 ms) hold the slots only until commandTimeoutMs, then a real mail gets through', { timeout: 30_000 }, async () => {
  await settle(() => relay.stats(), (s) => s.activeSessions === 0, 5000);
  const line = Buffer.from('EHLO slow-loris.example.org-with-a-name-long-enough-to-take-seconds\r\n');
  const clients: SmtpTestClient[] = await Promise.all(Array.from({ length: 16 }, () => connectSmtp(relay.port)));
  const started = Date.now();
  let sent = 0;
  const drip = setInterval(() => {
    sent += 1;
    for (const client of clients) if (!client.isClosed && sent < line.length) client.send(line.subarray(sent - 1, sent));
  }, 100);
  try {
    assert.deepEqual(clients.map((c) => c.greeting?.code), Array(16).fill(220));
    const locked = await connectSmtp(relay.port);
    assert.equal(locked.greeting?.code, 421, 'all slots taken by the slow clients');
    locked.destroy();
    const replies = await Promise.all(clients.map((client) => client.readReply(8000)));
    const took = Date.now() - started;
    assert.deepEqual(replies.map((r) => r.code), Array(16).fill(421));
    assert.ok(took >= 1000 && took < 6000, `cut off after ${took} ms (commandTimeoutMs 1500), bytes still arriving`);
    assert.ok(sent < line.length, 'no line was ever completed');
  } finally {
    clearInterval(drip);
    for (const client of clients) client.destroy();
  }
  await settle(() => relay.stats(), (s) => s.activeSessions === 0, 5000);
  const { client, reply } = await mailTo(relay.port, 'after-loris@hard.test', bigBody(1000));
  client.destroy();
  assert.equal(reply.code, 250);
});
