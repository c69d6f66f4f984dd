// One case for every msmtpd 1.8.23 defect listed in ../shared/reference/msmtpd-behavior.md (sections 0, 3-7, 9, 17),
// each asserting the fixed behaviour, over real sockets with a real child process as the delivery command.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RelayEvent } from '../../src-relay/index';
import { outcomeCommand } from '../helpers/programs/fixture-commands';
import { dataBlock, sendMail } from '../helpers/smtp/mail';
import { waitUntil } from '../helpers/wait';
import { readRecordings, withRelay } from '../helpers/relay/relay-harness';
import type { SmtpTestClient } from '../helpers/smtp/smtp-client';

type MailEvent = Extract<RelayEvent, { type: 'mail' }>;
const isMail = (event: RelayEvent): event is MailEvent => event.type === 'mail';


async function greeted(open: () => Promise<SmtpTestClient>): Promise<SmtpTestClient> {
  const client = await open();
  assert.equal(client.greeting?.code, 220);
  assert.equal((await client.command('EHLO client.example')).code, 250);
  return client;
}

const fast = { commandTimeoutMs: 5000, dataTimeoutMs: 5000, deliveryTimeoutMs: 5000 };

describe('msmtpd defects, fixed', () => {
  it('answers a fully pipelined EHLO/MAIL/RCPT/RCPT/DATA in one write, every reply in order', async () => {
    await withRelay({ options: fast }, async (relay, open) => {
      const client = await open();
      client.send('EHLO c\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<r1@example.com>\r\nRCPT TO:<r2@example.com>\r\nDATA\r\n');
      const replies = await client.readReplies(5);
      assert.deepEqual(replies.map((r) => r.code), [250, 250, 250, 250, 354]);
      assert.ok(replies[0]!.lines.includes('PIPELINING'));
      // The body of msmtpd's transcript (section 17): dot-stuffed lines come out unstuffed, with LF line ends.
      client.send('Subject: pipelined\r\n\r\nline one\r\n..leading dot line\r\n...\r\nlast line\r\n.\r\n');
      assert.equal((await client.readReply()).code, 250);
      const [recording] = relay.recordings();
      assert.deepEqual(recording!.argv, ['-f', 's@example.org', '--', 'r1@example.com', 'r2@example.com']);
      assert.match(recording!.stdin.toString(), /^Received: from c \(\[127\.0\.0\.1\]\)\n\tby localhost \(msmtp-relay\) with ESMTP id \S+;\n\t.+\n/);
      assert.match(recording!.stdin.toString(), /\nSubject: pipelined\n\nline one\n\.leading dot line\n\.\.\nlast line\n$/);
    });
  });

  it('sends the 250 and then the 221 when "." and QUIT arrive in one packet; the mail is delivered once', async () => {
    await withRelay({ options: fast }, async (relay, open) => {
      const client = await greeted(open);
      client.send('MAIL FROM:<s@x>\r\nRCPT TO:<r@y>\r\nDATA\r\n');
      assert.deepEqual((await client.readReplies(3)).map((r) => r.code), [250, 250, 354]);
      client.send('Subject: dot-quit\r\n\r\nbody\r\n.\r\nQUIT\r\n');
      const [done, bye] = await client.readReplies(2);
      assert.equal(done!.code, 250);
      assert.equal(bye!.code, 221);
      await client.expectClosed();
      assert.equal(relay.recordings().length, 1);
      assert.match(relay.recordings()[0]!.stdin.toString(), /\nSubject: dot-quit\n\nbody\n$/);
    });
  });

  it('takes DATA and the body sent before the 354 and delivers the whole mail', async () => {
    await withRelay({ options: fast }, async (relay, open) => {
      const client = await greeted(open);
      assert.equal((await client.command('MAIL FROM:<s@x>')).code, 250);
      assert.equal((await client.command('RCPT TO:<r@y>')).code, 250);
      client.send('DATA\r\nSubject: early\r\n\r\nsent before the 354\r\n.\r\n');
      assert.deepEqual((await client.readReplies(2)).map((r) => r.code), [354, 250]);
      const [recording] = relay.recordings();
      assert.match(recording!.stdin.toString(), /\nSubject: early\n\nsent before the 354\n$/);
      assert.doesNotMatch(recording!.stdin.toString(), /\r/);
    });
  });

  it('kills the command before it sees EOF when the client drops mid-DATA: nothing is delivered', async () => {
    await withRelay({ options: fast }, async (relay, open) => {
      const client = await greeted(open);
      client.send('MAIL FROM:<s@x>\r\nRCPT TO:<r@y>\r\nDATA\r\n');
      assert.deepEqual((await client.readReplies(3)).map((r) => r.code), [250, 250, 354]);
      client.send('Subject: TRUNC-close\r\n\r\nfirst part of the body\r\nsecond line without end');
      // The command already holds the partial mail (msmtpd's case); only then does the client vanish.
      await waitUntil(() => relay.partials().some((p) => p.includes('first part of the body')), 5000, 'the partial body to reach the command');
      client.destroy();
      const event = await relay.waitForEvent(isMail);
      assert.equal(event.outcome, 'aborted');
      assert.equal(relay.recordings().length, 0, 'the command never saw the end of its input');
      assert.equal(relay.partials().length, 1, 'the killed command left its partial record');
      await waitUntil(() => relay.relay.stats().activeSessions === 0, 2000, 'the session to end');
      assert.equal(relay.relay.stats().mailsAborted, 1);
    });
  });

  it('answers 451 after a half-close mid-DATA, kills the command and logs the mail as aborted', async () => {
    await withRelay({ options: fast }, async (relay, open) => {
      const client = await greeted(open);
      client.send('MAIL FROM:<s@x>\r\nRCPT TO:<r@y>\r\nDATA\r\n');
      assert.deepEqual((await client.readReplies(3)).map((r) => r.code), [250, 250, 354]);
      client.send('Subject: TRUNC-shutdown\r\n\r\nfirst part of the body\r\nsecond line without end');
      await waitUntil(() => relay.partials().some((p) => p.includes('first part of the body')), 5000, 'the partial body to reach the command');
      client.end();
      const reply = await client.readReply();
      assert.equal(reply.code, 451);
      assert.match(reply.lines[0]!, /nothing was delivered/);
      await client.expectClosed();
      const event = await relay.waitForEvent(isMail);
      assert.equal(event.outcome, 'aborted');
      assert.match(event.detail ?? '', /killed/);
      assert.equal(relay.recordings().length, 0);
    });
  });

  it('delivers nothing when the client closes right after the 354', async () => {
    await withRelay({ options: fast }, async (relay, open) => {
      const client = await greeted(open);
      client.send('MAIL FROM:<s@x>\r\nRCPT TO:<r@y>\r\nDATA\r\n');
      assert.deepEqual((await client.readReplies(3)).map((r) => r.code), [250, 250, 354]);
      client.destroy();
      const event = await relay.waitForEvent(isMail);
      assert.equal(event.outcome, 'aborted');
      assert.equal(relay.recordings().length, 0);
    });
  });

  it('accepts the first 100 of 150 recipients, answers 452 to the rest and delivers to exactly those 100 in order', async () => {
    await withRelay({ options: fast }, async (relay, open) => {
      const client = await greeted(open);
      const recipients = Array.from({ length: 150 }, (_, i) => `recipient-number-${String(i).padStart(3, '0')}@example.com`);
      client.send(`MAIL FROM:<s@x>\r\n${recipients.map((r) => `RCPT TO:<${r}>\r\n`).join('')}DATA\r\n`);
      const replies = await client.readReplies(152);
      assert.equal(replies[0]!.code, 250);
      assert.deepEqual(replies.slice(1, 101).map((r) => r.code), Array(100).fill(250));
      assert.deepEqual(replies.slice(101, 151).map((r) => r.code), Array(50).fill(452));
      assert.equal(replies[151]!.code, 354);
      client.send(dataBlock('Subject: many\r\n\r\nhi\r\n'));
      assert.equal((await client.readReply()).code, 250);
      const [recording] = relay.recordings();
      assert.deepEqual(recording!.argv, ['-f', 's@x', '--', ...recipients.slice(0, 100)]);
    });
  });

  it('frees every slot when 16 sessions close at once, ten rounds running; the 17th gets 421 at once', async () => {
    await withRelay({ options: fast }, async (relay, open) => {
      for (let round = 0; round < 10; round++) {
        const clients = await Promise.all(Array.from({ length: 16 }, () => open()));
        assert.deepEqual(clients.map((c) => c.greeting?.code), Array(16).fill(220), `round ${round}: all 16 greeted`);
        assert.equal(relay.relay.stats().activeSessions, 16);
        const started = Date.now();
        const extra = await open();
        assert.equal(extra.greeting?.code, 421, `round ${round}: the 17th is refused`);
        assert.ok(Date.now() - started < 1000, 'refused at once, not left waiting');
        await extra.expectClosed();
        for (const client of clients) client.destroy();
        await waitUntil(() => relay.relay.stats().activeSessions === 0, 3000, `round ${round}: all slots free`);
      }
      assert.equal(relay.relay.stats().refusedSessions, 10);
      assert.equal(relay.relay.stats().totalSessions, 160);
    });
  });

  it('closes idle sockets with 421 after commandTimeoutMs and frees their slots', async () => {
    await withRelay({ options: { ...fast, commandTimeoutMs: 300 } }, async (relay, open) => {
      const clients = await Promise.all(Array.from({ length: 16 }, () => open()));
      const started = Date.now();
      const replies = await Promise.all(clients.map((c) => c.readReply(3000)));
      assert.deepEqual(replies.map((r) => r.code), Array(16).fill(421));
      const took = Date.now() - started;
      assert.ok(took >= 250 && took < 2000, `timed out after ${took} ms`);
      await Promise.all(clients.map((c) => c.expectClosed()));
      await waitUntil(() => relay.relay.stats().activeSessions === 0, 2000, 'the slots to be free');
      const next = await open();
      assert.equal(next.greeting?.code, 220);
    });
  });

  it('closes a client silent mid-DATA with 421 after dataTimeoutMs, kills the command, delivers nothing', async () => {
    await withRelay({ options: { ...fast, dataTimeoutMs: 400 } }, async (relay, open) => {
      const client = await greeted(open);
      client.send('MAIL FROM:<s@x>\r\nRCPT TO:<r@y>\r\nDATA\r\n');
      assert.deepEqual((await client.readReplies(3)).map((r) => r.code), [250, 250, 354]);
      client.send('Subject: silent\r\n\r\nthen nothing');
      await waitUntil(() => relay.partials().some((p) => p.includes('Subject: silent')), 5000, 'the partial body to reach the command');
      const started = Date.now();
      const reply = await client.readReply(3000);
      assert.equal(reply.code, 421);
      assert.ok(Date.now() - started < 2000);
      await client.expectClosed();
      const event = await relay.waitForEvent(isMail);
      assert.equal(event.outcome, 'aborted');
      assert.equal(relay.recordings().length, 0);
      await waitUntil(() => relay.relay.stats().activeSessions === 0, 2000, 'the slot to be free');
    });
  });
  it('passes shell metacharacters in addresses to the command as literal argv entries and runs nothing', async () => {
    const markerDir = mkdtempSync(join(tmpdir(), 'relay-marker-'));
    const marker = join(markerDir, 'MARKER');
    try {
      await withRelay({ options: fast }, async (relay, open) => {
        const client = await greeted(open);
        const touch = `touch\${IFS}${marker}`; // no space: an address may not hold one, ${IFS} stands in for it
        const from = `a;${touch};@example.org`;
        const recipients = [`$(${touch})@example.org`, `\`${touch}\`@example.org`, `a|${touch}@x`, "a'b@x", 'a&b*c?@x'];
        const replies = await sendMail(client, from, recipients, 'Subject: metachars\r\n\r\nbody\r\n');
        assert.equal(replies.mail.code, 250);
        assert.deepEqual(replies.rcpts.map((r) => r.code), Array(recipients.length).fill(250));
        assert.equal(replies.final?.code, 250);
        const [recording] = relay.recordings();
        assert.deepEqual(recording!.argv, ['-f', from, '--', ...recipients]);
        assert.equal(existsSync(marker), false, 'no shell ran any of it');
      });
    } finally {
      rmSync(markerDir, { recursive: true, force: true });
    }
  });

  it('refuses a leading "-" at MAIL and RCPT with 501 and the session goes on', async () => {
    await withRelay({ options: fast }, async (relay, open) => {
      const client = await greeted(open);
      assert.equal((await client.command('MAIL FROM:<-oQ/tmp/x@example.org>')).code, 501);
      assert.equal((await client.command('MAIL FROM:<a-b@example.org>')).code, 250);
      assert.equal((await client.command('RCPT TO:<-x@example.org>')).code, 501);
      assert.equal((await client.command('RCPT TO:<--@example.org>')).code, 501);
      assert.equal((await client.command('RCPT TO:<ok@example.org>')).code, 250);
      assert.equal((await client.command('DATA')).code, 354);
      client.send(dataBlock('x'));
      assert.equal((await client.readReply()).code, 250);
      assert.deepEqual(relay.recordings()[0]!.argv, ['-f', 'a-b@example.org', '--', 'ok@example.org']);
    });
  });

  it('maps exit 0/75/69/1/SIGKILL to 250/451/451/554/451 and keeps the session for the next mail', async () => {
    const recordDir = mkdtempSync(join(tmpdir(), 'relay-outcome-'));
    try {
      await withRelay({ options: { ...fast, command: outcomeCommand(recordDir) } }, async (harness, open) => {
        const client = await greeted(open);
        const cases: [string, number, RegExp][] = [
          ['exit-0@x', 250, /piped/],
          ['exit-75@x', 451, /error 75\b/],
          ['exit-69@x', 451, /error 69\b/],
          ['exit-1@x', 554, /error 1\b/],
          ['signal-KILL@x', 451, /error 137\b/],
          ['exit-0@x', 250, /piped/],
        ];
        for (const [rcpt, code, text] of cases) {
          const replies = await sendMail(client, 's@x', [rcpt], `Subject: ${rcpt}\r\n\r\nbody\r\n`);
          assert.equal(replies.final?.code, code, rcpt);
          assert.match(replies.final.lines[0]!, text, rcpt);
        }
        assert.equal((await client.command('QUIT')).code, 221);
        assert.equal(readRecordings(recordDir).length, cases.length, 'the command got every mail, in full');
        const outcomes = harness.events.filter(isMail).map((e) => e.outcome);
        assert.deepEqual(outcomes, ['delivered', 'temp-failed', 'temp-failed', 'failed', 'temp-failed', 'delivered']);
        assert.equal(harness.relay.stats().mailsDelivered, 2);
        assert.equal(harness.relay.stats().mailsFailed, 4);
      });
    } finally {
      rmSync(recordDir, { recursive: true, force: true });
    }
  });

  it('answers a two-mail session pipelined in one write, the first mail failing, every reply in order', async () => {
    const recordDir = mkdtempSync(join(tmpdir(), 'relay-outcome-'));
    try {
      await withRelay({ options: { ...fast, command: outcomeCommand(recordDir) } }, async (_harness, open) => {
        const client = await open();
        client.send(
          'EHLO c\r\nMAIL FROM:<s@x>\r\nRCPT TO:<exit-75@x>\r\nDATA\r\nSubject: one\r\n\r\nfirst\r\n.\r\n' +
          'MAIL FROM:<s@x>\r\nRCPT TO:<r@y>\r\nDATA\r\nSubject: two\r\n\r\nsecond\r\n.\r\nQUIT\r\n',
        );
        const replies = await client.readReplies(10);
        assert.deepEqual(replies.map((r) => r.code), [250, 250, 250, 354, 451, 250, 250, 354, 250, 221]);
        await client.expectClosed();
      });
    } finally {
      rmSync(recordDir, { recursive: true, force: true });
    }
  });

  it('starts the command without the listening or the client socket among its file descriptors', async () => {
    // sh here is the test's own command, as a user could configure one; the relay itself never uses a shell.
    const command = ['/bin/sh', '-c', 'cat >/dev/null; ls -l /proc/self/fd >&2'];
    await withRelay({ options: { ...fast, command } }, async (relay, open) => {
      const client = await greeted(open);
      assert.equal((await sendMail(client, 's@x', ['r@y'], 'x')).final?.code, 250);
      const event = await relay.waitForEvent(isMail);
      const fds = [...(event.commandOutput ?? '').matchAll(/ (\d+) -> (\S+)/g)].map((m) => ({ fd: Number(m[1]), target: m[2]! }));
      assert.ok(fds.some((f) => f.fd === 0), `ls output parsed: ${event.commandOutput}`);
      // 0-2 are the pipes to the relay; msmtpd's command also held the listening and the client socket.
      const inheritedSockets = fds.filter((f) => f.fd > 2 && f.target.startsWith('socket:'));
      assert.deepEqual(inheritedSockets, []);
    });
  });

  it('keeps the session after bad commands and a bad RCPT (python smtplib: refused recipient, two mails)', async () => {
    await withRelay({ options: fast }, async (relay) => {
      const script = `
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', ${relay.port}, timeout=10)
code, _ = s.docmd('BOGUS')
assert code == 500, code
code, _ = s.docmd('RCPT TO:<r@y>')
assert code == 503, code
refused = s.sendmail('s@x', ['good1@example.com', '-bad@example.com', 'good2@example.com'], 'Subject: one\\r\\n\\r\\nfirst\\r\\n')
assert list(refused) == ['-bad@example.com'] and refused['-bad@example.com'][0] == 501, refused
refused = s.sendmail('s@x', ['third@example.com'], 'Subject: two\\r\\n\\r\\nsecond\\r\\n')
assert refused == {}, refused
s.quit()
print('ok')
`;
      const output = await new Promise<string>((resolvePromise, reject) => {
        execFile('python3', ['-c', script], { timeout: 15_000 }, (error, stdout, stderr) => {
          if (error) reject(new Error(`python3 failed: ${stderr || error.message}`));
          else resolvePromise(stdout);
        });
      });
      assert.equal(output.trim(), 'ok');
      const recordings = relay.recordings();
      assert.equal(recordings.length, 2);
      assert.deepEqual(recordings[0]!.argv, ['-f', 's@x', '--', 'good1@example.com', 'good2@example.com']);
      assert.deepEqual(recordings[1]!.argv, ['-f', 's@x', '--', 'third@example.com']);
    });
  });

  it('ends DATA only at CRLF.CRLF: a bare-LF dot smuggles nothing', async () => {
    await withRelay({ options: fast }, async (relay, open) => {
      const client = await greeted(open);
      client.send('MAIL FROM:<s@x>\r\nRCPT TO:<r@y>\r\nDATA\r\n');
      assert.deepEqual((await client.readReplies(3)).map((r) => r.code), [250, 250, 354]);
      client.send('Subject: smuggle\r\n\r\nhello\n.\nMAIL FROM:<evil@x>\nRCPT TO:<victim@y>\nDATA\nforged\r.\r\nstill body\r\n.\r\n');
      const reply = await client.readReply();
      assert.equal(reply.code, 250);
      assert.equal((await client.command('NOOP')).code, 250, 'nothing else was answered in between');
      const recordings = relay.recordings();
      assert.equal(recordings.length, 1);
      assert.match(recordings[0]!.stdin.toString('latin1'), /hello\n\.\nMAIL FROM:<evil@x>\nRCPT TO:<victim@y>\nDATA\nforged\r\.\nstill body\n$/);
    });
  });

  it('answers an overlong command line with 500 and a NUL in a command with 501, without closing', async () => {
    await withRelay({ options: fast }, async (relay, open) => {
      const client = await open();
      assert.equal((await client.command(`EHLO ${'x'.repeat(3000)}`)).code, 500);
      assert.equal((await client.command('EHLO a\0b')).code, 501);
      assert.equal((await client.command('EHLO ok.example')).code, 250);
      assert.equal((await client.command(`MAIL FROM:<${'a'.repeat(1022)}@example.org>`)).code, 501);
      const replies = await sendMail(client, 's@x', ['r@y'], 'x');
      assert.equal(replies.final?.code, 250);
      assert.equal(relay.recordings().length, 1);
    });
  });
});
