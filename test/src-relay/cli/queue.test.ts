import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../../helpers/ports';
import { CliProcess, assertOneErrorLine, commandString, runCli, waitForLogLine } from '../../helpers/relay/cli-process';
import { queueIdOf, submitMail } from '../../helpers/relay/outbox-relay';
import { readRecordings, recordCommand } from '../../helpers/relay/relay-harness';
import { waitUntil } from '../../helpers/wait';

const temp = mkdtempSync(join(tmpdir(), 'cli-queue-'));
after(() => rmSync(temp, { recursive: true, force: true }));
let counter = 0;
const freshDir = (name: string) => {
  const dir = join(temp, `${name}-${(counter += 1)}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};
const claims = (spool: string) => readdirSync(spool).filter((name) => name.includes('.json.flight.'));
const kept = (spool: string) => readdirSync(spool).filter((name) => name.endsWith('.json'));

/**
 * A delivery command in msmtp's place: while FLAG exists it reads the mail and fails as msmtp does when the provider
 * is down (exit 75); without FLAG it saves the mail to OUT and then hangs, so the relay can be killed in flight.
 */
function flakyCommand(flag: string, out: string): string[] {
  const script = 'if [ -e "$0" ]; then cat >/dev/null; echo "msmtp: cannot connect to 127.0.0.1, port 1: Connection refused" >&2; exit 75; fi; cat > "$1"; exec sleep 30';
  return ['/bin/sh', '-c', script, flag, out];
}

describe('msmtp-relay --queue: the queue tools and a crash in flight', () => {
  it('lists a kept mail, flushes through the running relay (SIGUSR1), and after a SIGKILL in flight sends it again, flagged', async () => {
    const dir = freshDir('crash');
    const spool = join(dir, 'spool');
    const flag = join(dir, 'provider-down');
    const out = join(dir, 'first-try.eml');
    const log = join(dir, 'relay.log');
    const records = freshDir('records');
    writeFileSync(flag, '');
    const port = await freePort();
    const queue = [`--queue=${spool}`, '--queue-retry=10m', `--log=${log}`];
    const first = await CliProcess.listening(port, [...queue, `--command=${commandString(flakyCommand(flag, out))}`]);
    let second: CliProcess | null = null;
    try {
      const id = queueIdOf(await submitMail(port, { to: 'kept@cli.test', body: 'Subject: cli kept\n\nx' }));

      const listed = await runCli([`--queue=${spool}`, '--queue-list']);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, new RegExp(`^${id}  waiting  age \\d+s  attempts 1  next try in (9|10)m$`, 'm'));
      assert.match(listed.stdout, /^ {2}from sender@outbox\.test to kept@cli\.test {2}subject "cli kept"$/m);
      assert.match(listed.stdout, /^ {2}last error: mail server refused the connection$/m);

      rmSync(flag);
      const flushed = await runCli([`--queue=${spool}`, '--queue-flush']);
      assert.equal(flushed.code, 0, flushed.stderr);
      assert.match(flushed.stdout, new RegExp(`asked the relay on .* \\(pid ${first.pid}\\) to send every waiting mail now`));
      await waitForLogLine(log, /SIGUSR1 received: sending every waiting mail now/);
      // The retry got the whole mail and hangs: SIGKILL now, while the mail is marked in flight.
      await waitUntil(() => existsSync(out) && claims(spool).length === 1, 10_000, 'the retry to be in flight');
      first.child.kill('SIGKILL');
      await first.exited(5000);
      spawnSync('pkill', ['-KILL', '-f', out]);

      const afterCrash = await runCli([`--queue=${spool}`, '--queue-list']);
      assert.equal(afterCrash.code, 0, afterCrash.stderr);
      assert.match(afterCrash.stdout, new RegExp(`^${id}  waiting \\(may have been sent already\\)`, 'm'));

      second = await CliProcess.listening(port, [...queue, `--command=${commandString(recordCommand(records))}`]);
      await waitUntil(() => readRecordings(records).length === 1, 10_000, 'the restarted relay to send the mail');
      const text = readRecordings(records)[0]!.stdin.toString('latin1');
      assert.match(text, /^Message-ID: <[0-9A-F]{12}\./);
      assert.match(text, /\nSubject: cli kept\n/);
      await waitForLogLine(log, new RegExp(`\\[outbox ${id}\\] .* sent on attempt 3 \\(it was in flight when a relay stopped: it may have been sent already\\)`));
      assert.deepEqual(kept(spool), []);
      assert.equal((await second.stop()).code, 0);
    } finally {
      first.kill();
      second?.kill();
      spawnSync('pkill', ['-KILL', '-f', out]);
    }
  });

  it('--queue-flush without a running relay sends the mails itself: exit 0 when all went, 1 when some wait', async () => {
    const dir = freshDir('flush');
    const spool = join(dir, 'spool');
    const flag = join(dir, 'provider-down');
    const records = freshDir('records');
    writeFileSync(flag, '');
    const port = await freePort();
    const relay = await CliProcess.listening(port, [`--queue=${spool}`, '--queue-retry=10m', `--command=${commandString(flakyCommand(flag, join(dir, 'x')))}`]);
    try {
      queueIdOf(await submitMail(port, { to: 'one@cli.test', body: 'Subject: one\n\nx' }));
      queueIdOf(await submitMail(port, { to: 'two@cli.test', body: 'Subject: two\n\nx' }));
    } finally {
      assert.equal((await relay.stop()).code, 0);
    }
    const stillDown = await runCli([`--queue=${spool}`, '--queue-flush', `--command=${commandString(flakyCommand(flag, join(dir, 'x')))}`]);
    assert.equal(stillDown.code, 1, stillDown.stderr);
    assert.equal(stillDown.stdout, '0 sent, 2 still waiting, 0 failed\n');
    const sent = await runCli([`--queue=${spool}`, '--queue-flush', `--command=${commandString(recordCommand(records))}`]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(sent.stdout, '2 sent, 0 still waiting, 0 failed\n');
    assert.deepEqual(readRecordings(records).map((recording) => recording.argv.at(-1)).sort(), ['one@cli.test', 'two@cli.test']);
    const empty = await runCli([`--queue=${spool}`, '--queue-list']);
    assert.equal(empty.stdout, 'the outbox is empty\n');
  });

  it('--queue-remove deletes a kept mail (exit 0) and says so when there is none (exit 1)', async () => {
    const dir = freshDir('remove');
    const spool = join(dir, 'spool');
    const flag = join(dir, 'provider-down');
    writeFileSync(flag, '');
    const port = await freePort();
    const relay = await CliProcess.listening(port, [`--queue=${spool}`, '--queue-retry=10m', `--command=${commandString(flakyCommand(flag, join(dir, 'x')))}`]);
    let id: string;
    try {
      id = queueIdOf(await submitMail(port, { to: 'gone@cli.test', body: 'Subject: gone\n\nx' }));
    } finally {
      await relay.stop();
    }
    const removed = await runCli([`--queue=${spool}`, `--queue-remove=${id}`]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, `removed ${id}\n`);
    assert.deepEqual(readdirSync(spool).filter((name) => name.startsWith(id)), []);
    const again = await runCli([`--queue=${spool}`, `--queue-remove=${id}`]);
    assert.equal(again.code, 1);
    assert.match(again.stdout, new RegExp(`^no mail ${id} waiting in `));
  });

  it('checks ids and addresses where the spool is read, not only at the door (issue #16, 5)', async () => {
    const dir = freshDir('hostile-spool');
    const spool = join(dir, 'spool');
    const records = freshDir('records');
    mkdirSync(spool);
    const record = (id: string, fields: Record<string, unknown> = {}) => `${JSON.stringify({
      version: 1, id, from: 'sender@spool.test', to: ['reader@spool.test'], receivedAt: Date.now(), subject: '', addedHeader: '',
      state: 'waiting', attempts: 1, nextAttemptAt: 0, lastAttemptAt: 0, lastError: '', lastOutput: '', lastStage: '', maySendTwice: false, ...fields,
    })}\n`;
    // Files outside the spool that look like a kept mail named x.
    writeFileSync(join(dir, 'x.json'), record('x'));
    writeFileSync(join(dir, 'x.eml'), 'Subject: outside the spool\n\nprivate\n');
    const removed = await runCli([`--queue=${spool}`, '--queue-remove=../x']);
    assert.equal(removed.code, 1, removed.stderr);
    assert.ok(existsSync(join(dir, 'x.json')) && existsSync(join(dir, 'x.eml')), '--queue-remove ../x deleted files outside the spool');
    // In the spool: a record whose id points outside it, and records with addresses the SMTP session refuses.
    writeFileSync(join(spool, 'AAAA01.json'), record('../x'));
    writeFileSync(join(spool, 'AAAA01.eml'), 'Subject: a\n\nx\n');
    writeFileSync(join(spool, 'AAAA02.json'), record('AAAA02', { to: ['--help'] }));
    writeFileSync(join(spool, 'AAAA02.eml'), 'Subject: b\n\nx\n');
    writeFileSync(join(spool, 'AAAA03.json'), record('AAAA03', { from: '-X/tmp/log', to: ['ok@spool.test'] }));
    writeFileSync(join(spool, 'AAAA03.eml'), 'Subject: c\n\nx\n');
    writeFileSync(join(spool, 'AAAA04.json'), record('AAAA04', { to: ['a@b\u0085c'] }));
    writeFileSync(join(spool, 'AAAA04.eml'), 'Subject: d\n\nx\n');
    writeFileSync(join(spool, 'AAAA05.json'), record('AAAA05'));
    writeFileSync(join(spool, 'AAAA05.eml'), 'Subject: the one good mail\n\nx\n');
    const flushed = await runCli([`--queue=${spool}`, '--queue-flush', `--command=${commandString(recordCommand(records))}`]);
    assert.equal(flushed.code, 0, flushed.stderr);
    const sent = readRecordings(records);
    assert.deepEqual(sent.map((recording) => recording.argv.slice(-3)), [['sender@spool.test', '--', 'reader@spool.test']]);
    assert.match(sent[0]!.stdin.toString(), /the one good mail/);
    assert.equal(readFileSync(join(dir, 'x.eml'), 'utf8'), 'Subject: outside the spool\n\nprivate\n');
    assert.ok(existsSync(join(dir, 'x.json')));
  });

  it('--queue-flush signals only a process proven to be a relay on the spool, never a pid the spool names (issue #16, 6)', async () => {
    const dir = freshDir('signal');
    const spool = join(dir, 'spool');
    const records = freshDir('records');
    const flag = join(dir, 'provider-down');
    writeFileSync(flag, '');
    const port = await freePort();
    // An inetd-style relay run keeps one mail; no daemon runs afterwards.
    const relay = await CliProcess.listening(port, [`--queue=${spool}`, '--queue-retry=10m', `--command=${commandString(flakyCommand(flag, join(dir, 'x')))}`]);
    try {
      queueIdOf(await submitMail(port, { to: 'waiting@cli.test', body: 'Subject: waiting\n\nx' }));
    } finally {
      assert.equal((await relay.stop()).code, 0);
    }
    // A live process that is no relay, registered under its real pid and start time, claiming to take the signal.
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const stat = readFileSync(`/proc/${sleeper.pid}/stat`, 'utf8');
      const start = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]).toString(36);
      writeFileSync(join(spool, 'relays', `${sleeper.pid}.${start}`), 'SIGUSR1\n');
      const flushed = await runCli([`--queue=${spool}`, '--queue-flush', `--command=${commandString(recordCommand(records))}`]);
      assert.equal(flushed.code, 0, flushed.stderr);
      assert.equal(flushed.stdout, '1 sent, 0 still waiting, 0 failed\n', 'it sent the mail itself instead of signalling');
      await new Promise((done) => setTimeout(done, 300));
      assert.equal(sleeper.exitCode, null);
      assert.equal(sleeper.signalCode, null, 'the sleep was signalled');
      assert.equal(process.kill(sleeper.pid!, 0), true);
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('refuses queue tools without --queue, two tools at once, and a bad duration, with one line and exit 3', async () => {
    for (const [args, message] of [
      [['--queue-list'], /--queue-list needs --queue=DIR/],
      [['--queue=/tmp/x', '--queue-list', '--queue-flush'], /cannot be combined/],
      [['--queue=/tmp/x', '--queue-retry=soon'], /invalid --queue-retry 'soon'/],
    ] as const) {
      const result = await runCli(args);
      assert.equal(result.code, 3, `${args.join(' ')}: ${result.stderr}`);
      assert.match(assertOneErrorLine(result.stderr), message);
    }
    const file = join(freshDir('notdir'), 'file');
    writeFileSync(file, '');
    const notFolder = await runCli([`--queue=${file}`, '--queue-list']);
    assert.equal(notFolder.code, 3);
    assert.match(assertOneErrorLine(notFolder.stderr), /cannot use the queue folder .*: (EEXIST|ENOTDIR)/);
  });
});

describe('msmtp-relay --inetd --queue', () => {
  it('keeps a mail that cannot go out now in the spool, where a daemon on the same spool sends it', async () => {
    const dir = freshDir('inetd');
    const spool = join(dir, 'spool');
    const flag = join(dir, 'provider-down');
    const records = freshDir('records');
    writeFileSync(flag, '');
    const session = 'EHLO inetd.test\r\nMAIL FROM:<s@inetd.test>\r\nRCPT TO:<r@inetd.test>\r\nDATA\r\nSubject: inetd\r\n\r\nx\r\n.\r\nQUIT\r\n';
    const inetd = await runCli(['--inetd', `--queue=${spool}`, `--command=${commandString(flakyCommand(flag, join(dir, 'x')))}`], { input: session });
    assert.equal(inetd.code, 0, inetd.stderr);
    assert.match(inetd.stdout, /\r\n250 2\.0\.0 Queued as [0-9A-F]{12}: mail server refused the connection; will retry\r\n221 /);
    assert.equal(kept(spool).length, 1);
    const port = await freePort();
    const daemon = await CliProcess.listening(port, [`--queue=${spool}`, `--command=${commandString(recordCommand(records))}`]);
    try {
      await waitUntil(() => readRecordings(records).length === 1, 10_000, 'the daemon to send the kept mail');
      assert.deepEqual(kept(spool), []);
    } finally {
      await daemon.stop();
    }
  });
});
