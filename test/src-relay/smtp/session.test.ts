// The SMTP dialogue over real sockets: extensions, AUTH and its throttle, HTTP refusal, SIZE, STARTTLS, errors.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { describeEvent, type RelayEvent, type RelayOptions } from '../../../src-relay/index';
import { faultyRelayForSuite, isMailTo } from '../../helpers/relay/faulty-relay';
import { bigBody, dataBlock, openToData, sendMail } from '../../helpers/smtp/mail';
import { waitUntil } from '../../helpers/wait';
import { withRelay as withHarness, type RelayHarness } from '../../helpers/relay/relay-harness';
import type { SmtpTestClient } from '../../helpers/smtp/smtp-client';

const USER = 'relay-user';
const PASSWORD = 'S3cret-pässword';
const fast = { commandTimeoutMs: 5000, dataTimeoutMs: 5000, deliveryTimeoutMs: 5000 };
const withAuth: Partial<RelayOptions> = { ...fast, auth: { user: USER, password: PASSWORD }, authFailureDelayMs: 50 };

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const plain = (user: string, password: string, authzid = '') => b64(`${authzid}\0${user}\0${password}`);

function withRelay(
  options: Partial<RelayOptions>,
  body: (relay: RelayHarness, open: () => Promise<SmtpTestClient>) => Promise<void>,
): Promise<void> {
  return withHarness({ options }, body);
}

async function ehlo(client: SmtpTestClient, name = 'client.example') {
  const reply = await client.command(`EHLO ${name}`);
  assert.equal(reply.code, 250);
  return reply;
}

describe('SMTP dialogue', () => {
  it('advertises the extensions mail clients expect, and no STARTTLS or AUTH unless configured', async () => {
    await withRelay({ ...fast, maxMessageBytes: 12345 }, async (_relay, open) => {
      const client = await open();
      assert.match(client.greeting!.lines[0]!, /ESMTP/);
      const reply = await ehlo(client);
      for (const extension of ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'SIZE 12345']) {
        assert.ok(reply.lines.includes(extension), `${extension} in ${reply.lines.join(', ')}`);
      }
      assert.ok(!reply.lines.some((l) => l.startsWith('AUTH') || l === 'STARTTLS'));
      assert.equal((await client.command('STARTTLS')).code, 502);
      assert.equal((await client.command(`AUTH PLAIN ${plain(USER, PASSWORD)}`)).code, 503);
      assert.equal((await client.command('HELO again.example')).code, 250);
    });
  });

  it('keeps the session through RSET, NOOP, VRFY, HELP, unknown and out-of-order commands; quit in lower case', async () => {
    await withRelay({ ...fast, maxErrors: 50 }, async (relay, open) => {
      const client = await open();
      assert.equal((await client.command('MAIL FROM:<s@x>')).code, 503, 'MAIL before EHLO');
      await ehlo(client);
      assert.equal((await client.command('NOOP')).code, 250);
      assert.equal((await client.command('VRFY root')).code, 252);
      assert.equal((await client.command('HELP')).code, 214);
      assert.equal((await client.command('XYZZY')).code, 500);
      assert.equal((await client.command('DATA')).code, 503);
      assert.equal((await client.command('RCPT TO:<r@y>')).code, 503);
      assert.equal((await client.command('MAIL FROM:<s@x>')).code, 250);
      assert.equal((await client.command('MAIL FROM:<s@x>')).code, 503, 'nested MAIL');
      assert.equal((await client.command('RCPT TO:<r@y>')).code, 250);
      assert.equal((await client.command('RSET')).code, 250);
      assert.equal((await client.command('DATA')).code, 503, 'RSET cleared the transaction');
      assert.equal((await client.command('MAIL FROM:<s@x> SIZE=10 BODY=8BITMIME')).code, 250);
      assert.equal((await client.command('RCPT TO:<r@y> NOTIFY=NEVER')).code, 555);
      assert.equal((await client.command('RCPT TO:<>')).code, 501);
      assert.equal((await client.command('RCPT TO:<postmaster>')).code, 250);
      assert.equal((await client.command('DATA x')).code, 501);
      assert.equal((await client.command('DATA')).code, 354);
      client.send(dataBlock('Subject: after errors\r\n\r\nok\r\n'));
      assert.equal((await client.readReply()).code, 250);
      assert.equal((await client.command('quit')).code, 221);
      await client.expectClosed();
      assert.deepEqual(relay.recordings()[0]!.argv, ['-f', 's@x', '--', 'postmaster']);
    });
  });

  it('closes with 421 after maxErrors bad commands', async () => {
    await withRelay({ ...fast, maxErrors: 3 }, async (_relay, open) => {
      const client = await open();
      assert.equal((await client.command('BAD1')).code, 500);
      assert.equal((await client.command('BAD2')).code, 500);
      client.send('BAD3\r\n');
      const [last, closing] = await client.readReplies(2);
      assert.equal(last!.code, 500);
      assert.equal(closing!.code, 421);
      await client.expectClosed();
    });
  });

  it('refuses a MAIL whose SIZE parameter is above the limit with 552, and an unknown parameter with 555', async () => {
    await withRelay({ ...fast, maxMessageBytes: 1000 }, async (_relay, open) => {
      const client = await open();
      await ehlo(client);
      assert.equal((await client.command('MAIL FROM:<s@x> SIZE=1001')).code, 552);
      assert.equal((await client.command('MAIL FROM:<s@x> SIZE=99999999999999999999')).code, 552);
      assert.equal((await client.command('MAIL FROM:<s@x> SIZE=abc')).code, 501);
      assert.equal((await client.command('MAIL FROM:<s@x> FOO=bar')).code, 555);
      assert.equal((await client.command('MAIL FROM:<s@x> SIZE=1000')).code, 250);
    });
  });

  it('answers an HTTP request with 421 and closes, delivering nothing (a browser POST to the port)', async () => {
    await withRelay(fast, async (relay, open) => {
      const client = await open();
      const form = 'EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nSubject: from a web page\r\n\r\nspam\r\n.\r\nQUIT\r\n';
      client.send(`POST / HTTP/1.1\r\nHost: 127.0.0.1:${relay.port}\r\nContent-Type: text/plain\r\nContent-Length: ${form.length}\r\n\r\n${form}`);
      const reply = await client.readReply();
      assert.equal(reply.code, 421);
      assert.match(reply.lines[0]!, /not a web server/);
      assert.equal(await client.expectClosed(), '', 'nothing after the 421');
      const end = await relay.waitForEvent((e) => e.type === 'session-close');
      assert.equal(end.type === 'session-close' && end.reason, 'not-smtp');
      assert.equal(relay.recordings().length + relay.partials().length, 0, 'no command ran');
    });
  });

  it('answers an HTTP header line in the middle of a session with 421 too', async () => {
    await withRelay(fast, async (_relay, open) => {
      const client = await open();
      await ehlo(client);
      assert.equal((await client.command('Host: 127.0.0.1')).code, 421);
      await client.expectClosed();
    });
  });
});

describe('AUTH', () => {
  it('requires AUTH before MAIL (530) but allows EHLO, NOOP, RSET; PLAIN with an initial response works', async () => {
    await withRelay(withAuth, async (relay, open) => {
      const client = await open();
      const reply = await ehlo(client);
      assert.ok(reply.lines.includes('AUTH PLAIN LOGIN'));
      assert.equal((await client.command('MAIL FROM:<s@x>')).code, 530);
      assert.equal((await client.command('RCPT TO:<r@y>')).code, 530);
      assert.equal((await client.command('NOOP')).code, 250);
      assert.equal((await client.command('RSET')).code, 250);
      assert.equal((await client.command(`AUTH PLAIN ${plain(USER, PASSWORD)}`)).code, 235);
      assert.equal((await client.command(`AUTH PLAIN ${plain(USER, PASSWORD)}`)).code, 503, 'once is enough');
      const replies = await sendMail(client, 's@x', ['r@y'], 'Subject: authed\r\n\r\nhi\r\n');
      assert.equal(replies.final?.code, 250);
      assert.match(relay.recordings()[0]!.stdin.toString(), /with ESMTPA id /);
      const authEvent = await relay.waitForEvent((e) => e.type === 'auth');
      assert.deepEqual(authEvent.type === 'auth' && [authEvent.user, authEvent.ok], [USER, true]);
    });
  });

  it('refuses DATA, VRFY and HELP before AUTH with 530, and allows HELO, NOOP, RSET and QUIT', async () => {
    await withRelay(withAuth, async (relay, open) => {
      const client = await open();
      assert.equal((await client.command('HELO client.example')).code, 250);
      assert.equal((await client.command('DATA')).code, 530);
      assert.equal((await client.command('VRFY root')).code, 530);
      assert.equal((await client.command('HELP')).code, 530);
      assert.equal((await client.command('NOOP')).code, 250);
      assert.equal((await client.command('RSET')).code, 250);
      assert.equal((await client.command('QUIT')).code, 221);
      await client.expectClosed();
      assert.equal(relay.recordings().length + relay.partials().length, 0, 'no command ran');
    });
  });

  it('PLAIN without an initial response answers "334 " and takes the next line; the authzid is ignored', async () => {
    await withRelay(withAuth, async (_relay, open) => {
      const client = await open();
      await ehlo(client);
      const challenge = await client.command('AUTH PLAIN');
      assert.equal(challenge.raw, '334 \r\n');
      assert.equal((await client.command(plain(USER, PASSWORD, 'someone-else'))).code, 235);
    });
  });

  it('LOGIN asks for the user name and the password in base64', async () => {
    await withRelay(withAuth, async (_relay, open) => {
      const client = await open();
      await ehlo(client);
      const first = await client.command('AUTH LOGIN');
      assert.equal(first.code, 334);
      assert.equal(Buffer.from(first.lines[0]!, 'base64').toString(), 'Username:');
      const second = await client.command(b64(USER));
      assert.equal(Buffer.from(second.lines[0]!, 'base64').toString(), 'Password:');
      assert.equal((await client.command(b64(PASSWORD))).code, 235);
      assert.equal((await client.command('MAIL FROM:<s@x>')).code, 250);
    });
  });

  it('a wrong password gets 535 and the session may try again; "*" cancels with 501; bad base64 is 501', async () => {
    await withRelay(withAuth, async (relay, open) => {
      const client = await open();
      await ehlo(client);
      assert.equal((await client.command(`AUTH PLAIN ${plain(USER, 'wrong')}`)).code, 535);
      assert.equal((await client.command('AUTH PLAIN')).code, 334);
      assert.equal((await client.command('*')).code, 501);
      assert.equal((await client.command('AUTH PLAIN not*base64')).code, 501);
      assert.equal((await client.command('AUTH CRAM-MD5')).code, 504);
      assert.equal((await client.command(`AUTH PLAIN ${plain(USER, PASSWORD)}`)).code, 235);
      assert.equal(relay.relay.stats().authFailures, 1);
    });
  });

  it('closes the session with 421 after three failed attempts', async () => {
    await withRelay(withAuth, async (_relay, open) => {
      const client = await open();
      await ehlo(client);
      assert.equal((await client.command(`AUTH PLAIN ${plain(USER, 'one')}`)).code, 535);
      assert.equal((await client.command(`AUTH PLAIN ${plain('root', PASSWORD)}`)).code, 535);
      client.send(`AUTH PLAIN ${plain(USER, 'three')}\r\n`);
      const [failed, closing] = await client.readReplies(2);
      assert.equal(failed!.code, 535);
      assert.equal(closing!.code, 421);
      await client.expectClosed();
    });
  });

  it('serialises parallel guesses after a failure: 8 wrong passwords take 8 delays, not one', async () => {
    const delay = 100;
    await withRelay({ ...withAuth, authFailureDelayMs: delay }, async (relay, open) => {
      const first = await open();
      await ehlo(first);
      assert.equal((await first.command(`AUTH PLAIN ${plain(USER, 'guess-0')}`)).code, 535);
      const guessers = await Promise.all(Array.from({ length: 8 }, () => open()));
      await Promise.all(guessers.map((c) => ehlo(c)));
      const started = Date.now();
      const replies = await Promise.all(guessers.map((c, i) => c.command(`AUTH PLAIN ${plain(USER, `guess-${i + 1}`)}`, 5000)));
      const took = Date.now() - started;
      assert.deepEqual(replies.map((r) => r.code), Array(8).fill(535));
      // msmtpd's flat per-session delay lets all 8 through in about one delay (its figure: docs/benchmark.md).
      assert.ok(took >= 7 * delay, `8 parallel guesses took ${took} ms; a flat delay would take ~${delay} ms`);
      assert.ok(took < 8 * delay + 1500, `took ${took} ms`);
      const delays = relay.events.flatMap((e) => (e.type === 'auth' ? [e.delayedMs] : [])).slice(1).sort((a, b) => a - b);
      assert.ok(delays[7]! >= 7 * delay, `the last guess waited ${delays[7]} ms`);
    });
  });

  it('never puts the password, plain or base64, into an event', async () => {
    await withRelay(withAuth, async (relay, open) => {
      const client = await open();
      await ehlo(client);
      // Each step must get its reply: were the flow to break early, no secret would reach an event and the check
      // below would pass for nothing.
      assert.equal((await client.command(`AUTH PLAIN ${plain(USER, `${PASSWORD}x`)}`)).code, 535);
      assert.equal((await client.command('AUTH LOGIN')).code, 334);
      assert.equal((await client.command(b64(USER))).code, 334);
      assert.equal((await client.command(b64(PASSWORD))).code, 235);
      assert.equal((await sendMail(client, 's@x', ['r@y'], 'x')).final?.code, 250);
      const authEvent = await relay.waitForEvent((e) => e.type === 'auth' && e.ok);
      assert.deepEqual(authEvent.type === 'auth' && [authEvent.user, authEvent.ok], [USER, true]);
      const all = JSON.stringify(relay.events);
      for (const secret of [PASSWORD, b64(PASSWORD), plain(USER, `${PASSWORD}x`), 'S3cret']) {
        assert.ok(!all.includes(secret), `found ${secret} in the events`);
      }
    });
  });
});

/** A minimal line reader over a TLS socket (the test client's parser works on the plain socket only). */
function tlsDialogue(socket: TLSSocket) {
  let received = '';
  socket.setEncoding('latin1');
  socket.on('data', (text: string) => {
    received += text;
  });
  return {
    async command(line: string, timeoutMs = 5000): Promise<{ code: number; lines: string[] }> {
      socket.write(`${line}\r\n`);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = /^(?:\d{3}-.*\r\n)*(\d{3}) .*\r\n/.exec(received);
        if (match) {
          const text = match[0];
          received = received.slice(text.length);
          return { code: Number(match[1]), lines: text.trimEnd().split('\r\n').map((l) => l.slice(4)) };
        }
        if (Date.now() > deadline) throw new Error(`no reply to ${line} within ${timeoutMs} ms: ${JSON.stringify(received)}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    get unread() {
      return received;
    },
  };
}

describe('STARTTLS', () => {
  let dir = '';
  let tls: { key: string; cert: string };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'relay-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore', timeout: 20_000 });
    tls = { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function upgrade(client: SmtpTestClient): Promise<TLSSocket> {
    const secure = tlsConnect({ socket: client.socket, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('TLS handshake timed out')), 5000);
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        resolve();
      });
      secure.once('error', (error: Error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    return secure;
  }

  it('upgrades with the configured certificate and delivers a mail over TLS (with AUTH after the upgrade)', async () => {
    await withRelay({ ...withAuth, tls }, async (relay, open) => {
      const client = await open();
      const before = await ehlo(client);
      assert.ok(before.lines.includes('STARTTLS'));
      assert.equal((await client.command('STARTTLS')).code, 220);
      const secure = await upgrade(client);
      try {
        assert.equal(secure.getPeerCertificate().subject.CN, 'localhost');
        const dialogue = tlsDialogue(secure);
        const afterTls = await dialogue.command('EHLO client.example');
        assert.equal(afterTls.code, 250);
        assert.ok(!afterTls.lines.includes('STARTTLS'), 'not offered twice');
        assert.equal((await dialogue.command('STARTTLS')).code, 503);
        assert.equal((await dialogue.command(`AUTH PLAIN ${plain(USER, PASSWORD)}`)).code, 235);
        assert.equal((await dialogue.command('MAIL FROM:<s@x>')).code, 250);
        assert.equal((await dialogue.command('RCPT TO:<r@y>')).code, 250);
        assert.equal((await dialogue.command('DATA')).code, 354);
        assert.equal((await dialogue.command('Subject: over tls\r\n\r\nsecret body\r\n.')).code, 250);
        assert.equal((await dialogue.command('QUIT')).code, 221);
      } finally {
        secure.destroy();
      }
      await waitUntil(() => relay.recordings().length === 1, 3000, 'the record');
      assert.match(relay.recordings()[0]!.stdin.toString(), /Subject: over tls\n\nsecret body\n$/);
    });
  });

  it('ends the session and frees the slot when the client never starts the handshake, or sends plaintext instead', async () => {
    await withRelay({ ...fast, commandTimeoutMs: 300, tls }, async (relay, open) => {
      const silent = await open();
      await ehlo(silent);
      assert.equal((await silent.command('STARTTLS')).code, 220);
      const garbage = await open();
      await ehlo(garbage);
      assert.equal((await garbage.command('STARTTLS')).code, 220);
      garbage.send('EHLO not-tls\r\n');
      await garbage.expectClosed(3000);
      await silent.expectClosed(3000);
      await waitUntil(() => relay.relay.stats().activeSessions === 0, 3000, 'both slots to be free');
      const next = await open();
      assert.equal(next.greeting?.code, 220);
      assert.equal(relay.events.filter((e) => e.type === 'error').length, 0, 'no session crashed');
    });
  });

  it('discards commands pipelined in plaintext after STARTTLS', async () => {
    await withRelay({ ...fast, tls }, async (relay, open) => {
      const client = await open();
      await ehlo(client);
      client.send('STARTTLS\r\nEHLO injected\r\nMAIL FROM:<injected@x>\r\nRCPT TO:<victim@y>\r\n');
      assert.equal((await client.readReply()).code, 220);
      const secure = await upgrade(client);
      try {
        const dialogue = tlsDialogue(secure);
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(dialogue.unread, '', 'no reply to the injected commands');
        assert.equal((await dialogue.command('RCPT TO:<r@y>')).code, 503, 'the injected MAIL was not taken');
        assert.equal((await dialogue.command('EHLO real')).code, 250);
        assert.equal((await dialogue.command('MAIL FROM:<s@x>')).code, 250);
      } finally {
        secure.destroy();
      }
      const errors = relay.events.filter((e): e is Extract<RelayEvent, { type: 'client-error' }> => e.type === 'client-error');
      assert.deepEqual(errors.map((e) => e.command), ['RCPT']);
    });
  });
});

describe('the client misbehaves, beside a healthy mail', () => {
  const faults = faultyRelayForSuite();

  it('resets the connection (RST) in the middle of a 2 MiB mail: nothing delivered, the command killed before EOF, slot freed', { timeout: 20_000 }, async () => {
    const recipient = 'reset-mid-data@hard.test';
    await faults.withHealthyNeighbour('reset-mid-data', async () => {
      const client = await openToData(faults.harness.port, recipient);
      const body = bigBody(2 * 1024 * 1024);
      client.send(body.subarray(0, body.length / 2));
      await waitUntil(() => faults.commandPids('reset-mid-data').length > 0, 5000, 'the command to start');
      client.socket.resetAndDestroy();
    });
    const event = await faults.harness.waitForEvent(isMailTo(recipient));
    assert.equal(event.outcome, 'aborted');
    assert.match(describeEvent(event).message, /aborted/);
    assert.match(event.detail ?? '', /killed/);
    assert.deepEqual(faults.recordedFor(recipient), [], 'a truncated mail was delivered');
    await waitUntil(() => faults.harness.relay.stats().activeSessions === 0, 3000, 'the slot to be free');
  });
});
