import {
  chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync,
  writeFileSync, writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { attachEngineLog, formatLogLine, LogOpenError, oneLine, openLogSink, type LogSink, type SinkOptions } from '../../../src-relay/cli/log';
import { quote } from 'shell-quote';
import { freePort } from '../../helpers/ports';
import { createRelay } from '../../../src-relay/index';
import { CliProcess, readText } from '../../helpers/relay/cli-process';
import { bigBody, healthyMail, mailTo } from '../../helpers/smtp/mail';
import { readRecordings, recordCommand } from '../../helpers/relay/relay-harness';
import { mountTinyTmpfs } from '../../helpers/programs/tmpfs';
import { waitUntil } from '../../helpers/wait';
import { connectSmtp } from '../../helpers/smtp/smtp-client';

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'msmtp-relay-log-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function sinkOptions(problems: string[] = []): SinkOptions {
  return { ident: 'msmtp-relay', pid: 4242, reportProblem: (message) => problems.push(message) };
}

describe('log line format', () => {
  test("msmtpd's file format, local time", () => {
    const date = new Date(2026, 10, 25, 2, 30, 2);
    assert.equal(formatLogLine(date, 'msmtp-relay', 11212, 'info', 'starting SMTP session'),
      '2026-11-25 02:30:02 msmtp-relay[11212] info: starting SMTP session\n');
    assert.equal(formatLogLine(new Date(2027, 0, 3, 14, 5, 9), 'msmtp-relay', 1, 'error', 'x'), '2027-01-03 14:05:09 msmtp-relay[1] error: x\n');
  });

  test('a multi-line command error stays on one line; control characters cannot forge lines', () => {
    assert.equal(oneLine('msmtp: cannot connect\nmsmtp: could not send mail\n'), 'msmtp: cannot connect | msmtp: could not send mail | ');
    assert.equal(oneLine('a\r\n2026-11-25 00:00:00 msmtp-relay[1] info: forged'), 'a | 2026-11-25 00:00:00 msmtp-relay[1] info: forged');
    assert.equal(oneLine('bell\x07 esc\x1b[2J'), 'bell? esc?[2J');
    assert.equal(oneLine('tab\tkept'), 'tab\tkept');
  });
});

describe('--log=FILE', () => {
  test('each line is on disk as soon as it is written, appended to what was there', async () => {
    const path = join(tmp, 'append.log');
    writeFileSync(path, 'an older line\n');
    const sink = await openLogSink({ kind: 'file', path }, sinkOptions());
    sink.write('info', 'first');
    assert.match(readFileSync(path, 'utf8'), /^an older line\n.* msmtp-relay\[4242\] info: first\n$/);
    sink.write('error', 'second');
    assert.match(readFileSync(path, 'utf8').split('\n')[2]!, / msmtp-relay\[4242\] error: second$/);
    await sink.close();
  });

  test('a removed log file is created again; a rotated one is followed by a new file', async () => {
    const path = join(tmp, 'rotate.log');
    const problems: string[] = [];
    const sink = await openLogSink({ kind: 'file', path }, sinkOptions(problems));
    sink.write('info', 'before removal');
    unlinkSync(path);
    sink.write('info', 'after removal');
    assert.match(readFileSync(path, 'utf8'), /^[^\n]*after removal\n$/);
    renameSync(path, `${path}.1`);
    sink.write('info', 'after rotation');
    assert.match(readFileSync(path, 'utf8'), /^[^\n]*after rotation\n$/);
    assert.match(readFileSync(`${path}.1`, 'utf8'), /^[^\n]*after removal\n$/);
    assert.deepEqual(problems, []);
    await sink.close();
  });

  test('a full disk is reported once and never throws', async () => {
    const problems: string[] = [];
    const sink = await openLogSink({ kind: 'file', path: '/dev/full' }, sinkOptions(problems));
    for (let i = 0; i < 5; i++) sink.write('info', `line ${i}`);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^cannot write to log file \/dev\/full: ENOSPC/);
    await sink.close();
  });

  test('a path that cannot be opened for appending is a start-up error', async () => {
    await assert.rejects(openLogSink({ kind: 'file', path: '/nonexistent/dir/log' }, sinkOptions()),
      (error) => error instanceof LogOpenError && /^cannot open log file \/nonexistent\/dir\/log: ENOENT/.test(error.message));
    await assert.rejects(openLogSink({ kind: 'file', path: tmp }, sinkOptions()),
      (error) => error instanceof LogOpenError && /EISDIR/.test(error.message));
  });

  test('engine events become lines while the session is still open', async () => {
    const path = join(tmp, 'engine.log');
    const sink = await openLogSink({ kind: 'file', path }, sinkOptions());
    const engine = createRelay({ host: '127.0.0.1', port: 0, command: ['true'] });
    const detach = attachEngineLog(engine, sink);
    const { port } = await engine.start();
    const client = await connectSmtp(port);
    try {
      await waitUntil(() => /connection from 127\.0\.0\.1/.test(readText(path)), 2000, 'the session-open line');
      assert.equal((await client.command('BOGUS')).code, 500);
      await waitUntil(() => / error: \[[^\]]+\] BOGUS: 500/.test(readText(path)), 2000, 'the client-error line');
    } finally {
      client.destroy();
      await engine.stop();
      detach();
      await sink.close();
    }
    assert.match(readText(path), /info: listening on 127\.0\.0\.1:\d+\n/);
    assert.match(readText(path), /info: relay stopped\n$/);
  });
});

describe('--log=syslog', () => {
  let bin: string;
  let records: string;
  let savedPath: string | undefined;
  before(() => {
    bin = join(tmp, 'bin');
    records = join(tmp, 'logger-records');
    mkdirSync(bin);
    mkdirSync(records);
    // Records how it was started and every line it was given, then behaves like logger reading stdin.
    writeFileSync(join(bin, 'logger'), `#!/bin/sh\nprintf '%s\\n' "$*" > '${records}'/$$.args\nexec cat > '${records}'/$$.lines\n`);
    chmodSync(join(bin, 'logger'), 0o755);
    savedPath = process.env.PATH;
  });
  after(() => {
    process.env.PATH = savedPath;
  });

  test('one long-lived logger per priority, facility mail, ident with our pid; close() delivers the last lines', async () => {
    process.env.PATH = `${bin}:${savedPath}`;
    let sink: LogSink | undefined;
    try {
      sink = await openLogSink({ kind: 'syslog' }, sinkOptions());
      for (let i = 0; i < 20; i++) sink.write('info', `info line ${i}`);
      sink.write('error', 'an error\nwith two lines');
      sink.write('info', 'last line');
      await sink.close();
    } finally {
      process.env.PATH = savedPath;
    }
    const started = readdirSync(records).filter((name) => name.endsWith('.args'));
    assert.equal(started.length, 2, 'two logger processes for 23 lines');
    const runs = started.map((name) => ({
      args: readFileSync(join(records, name), 'utf8').trim(),
      lines: readFileSync(join(records, name.replace('.args', '.lines')), 'utf8'),
    }));
    const info = runs.find((run) => run.args.includes('mail.info'))!;
    const error = runs.find((run) => run.args.includes('mail.err'))!;
    assert.equal(info.args, '-t msmtp-relay --id=4242 -p mail.info --size 8192');
    assert.equal(error.args, '-t msmtp-relay --id=4242 -p mail.err --size 8192');
    assert.equal(info.lines.split('\n').length, 22, 'twenty-one lines and the final newline');
    assert.ok(info.lines.endsWith('info line 19\nlast line\n'));
    assert.equal(error.lines, 'an error | with two lines\n');
  });

  test('no logger program: a start-up error, not silence', async () => {
    process.env.PATH = records; // a directory without any logger
    try {
      await assert.rejects(openLogSink({ kind: 'syslog' }, sinkOptions()),
        (error) => error instanceof LogOpenError && /^cannot start 'logger' for --log=syslog: .*ENOENT/.test(error.message));
    } finally {
      process.env.PATH = savedPath;
    }
  });
});

describe('the CLI with --log=FILE while mails flow', () => {
  const logLine = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d msmtp-relay\[\d+\] (info|error): \S/;

  /** One mail through the CLI, QUIT included; returns the reply to the end of data. */
  async function mailVia(port: number, recipient: string): Promise<number> {
    const { client, reply } = await mailTo(port, recipient, bigBody(20_000, recipient));
    try {
      assert.equal((await client.command('QUIT')).code, 221);
    } finally {
      client.destroy();
    }
    return reply.code;
  }

  test('its disk fills up while mails flow: every mail still 250, said once on stderr, logging resumes when there is room', { timeout: 30_000 }, async (t) => {
    const parent = mkdtempSync(join(tmpdir(), 'relay-logfull-'));
    const records = mkdtempSync(join(tmpdir(), 'relay-logfull-records-'));
    const tiny = mountTinyTmpfs(parent, '64k');
    if (!tiny) {
      rmSync(parent, { recursive: true, force: true });
      rmSync(records, { recursive: true, force: true });
      t.skip('mounting a tmpfs needs root (cli.test.ts covers --log=/dev/full)');
      return;
    }
    const logPath = join(tiny.dir, 'relay.log');
    const port = await freePort();
    const cli = await CliProcess.listening(port, [`--log=${logPath}`, `--command=${quote(recordCommand(records))}`]);
    try {
      assert.equal(await mailVia(port, 'before-full@hard.test'), 250);
      // Fill the file system to the last byte.
      const filler = join(tiny.dir, 'filler');
      const fd = openSync(filler, 'w');
      const block = Buffer.alloc(4096, 'f');
      for (let size = block.length; size > 0; ) {
        try {
          writeSync(fd, block, 0, size);
        } catch {
          size = size === 1 ? 0 : Math.floor(size / 2);
        }
      }
      closeSync(fd);
      // The log file's last page may still have room: keep mails flowing, four at a time, until the log hits the wall.
      let sent = 0;
      for (let batch = 0; batch < 10 && !/cannot write to log file/.test(cli.stderr); batch++) {
        const codes = await Promise.all(Array.from({ length: 4 }, () => mailVia(port, `while-full-${sent++}@hard.test`)));
        assert.deepEqual(codes, [250, 250, 250, 250]);
      }
      const complaints = cli.stderr.split('\n').filter((line) => /cannot write to log file/.test(line));
      assert.equal(complaints.length, 1, `stderr: ${cli.stderr}`);
      assert.match(complaints[0]!, /ENOSPC|no space/i);
      rmSync(filler);
      assert.equal(await mailVia(port, 'after-room@hard.test'), 250);
      await waitUntil(() => readFileSync(logPath, 'utf8').includes('after-room@hard.test'), 3000, 'logging to resume');
      assert.equal(readRecordings(records).length, sent + 2, 'every mail was delivered, log or no log');
      assert.equal((await cli.stop()).code, 0);
      const lines = readFileSync(logPath, 'utf8').split('\n').filter(Boolean);
      for (const line of lines) assert.match(line, logLine, 'a log line was cut by the full disk and glued to the next');
    } finally {
      cli.kill();
      tiny.unmount();
      rmSync(parent, { recursive: true, force: true });
      rmSync(records, { recursive: true, force: true });
    }
  });

  test('is removed while the relay runs: mails still 250, the next line creates it again', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-logrm-'));
    const logPath = join(dir, 'relay.log');
    const port = await freePort();
    const cli = await CliProcess.listening(port, [`--log=${logPath}`, `--command=${quote(recordCommand(dir))}`]);
    try {
      assert.equal(await mailVia(port, 'first@hard.test'), 250);
      await waitUntil(() => readFileSync(logPath, 'utf8').includes('first@hard.test'), 3000, 'the first mail in the log');
      rmSync(logPath);
      const healthy = healthyMail(port);
      assert.equal(await mailVia(port, 'second@hard.test'), 250);
      await healthy.done;
      healthy.check(readRecordings(dir));
      await waitUntil(() => existsSync(logPath) && readFileSync(logPath, 'utf8').includes('second@hard.test'), 3000, 'a new log file');
      assert.doesNotMatch(readFileSync(logPath, 'utf8'), /first@hard\.test/);
      assert.equal((await cli.stop()).code, 0);
      assert.equal(cli.stderr, '', 'a removed log file is not a problem to report');
    } finally {
      cli.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
