import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { attachEngineLog, formatLogLine, LogOpenError, oneLine, openLogSink, type LogSink, type SinkOptions } from '../src-relay/log';
import { createRelay } from '../src-relay/index';
import { readText } from './helpers/cli-process';
import { waitUntil } from './helpers/wait';
import { connectSmtp } from './helpers/smtp-client';

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
