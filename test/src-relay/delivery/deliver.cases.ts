import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, it } from 'node:test';
import { deliverViaCommand, type CommandSpawner } from '../../../src-relay/delivery/deliver';
import { waitUntil } from '../../helpers/wait';
import { hangCommand } from '../../helpers/programs/fixture-commands';
import { readPartials, readRecordings, recordCommand } from '../../helpers/relay/relay-harness';
import { type DeliveryOutcome, type DeliveryReport, type Envelope } from '../../../src-relay/smtp/handler';

/**
 * deliverViaCommand's promises that hold whichever spawner starts the command (Node's spawn or the python
 * launcher): registered once per spawner, so neither path can drift from the other unnoticed.
 */

const envelope: Envelope = { id: 's-1', helo: 'client.example', remote: '127.0.0.1', from: 's@example.org', to: ['r1@example.com', 'r2@example.net'] };
const header = 'Received: test\n';

/**
 * Running, and not a zombie waiting for a parent that is gone: a killed command's orphans (the launcher's, or a
 * command's helper) are reaped by init whenever it gets to it, and a zombie runs no code any more.
 */
export function running(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** A body whose rest is held back until the command wrote its pid file, so a slow start cannot eat the timeout. */
export async function* afterPidFile(pidFile: string, first: Buffer, rest: Buffer[]): AsyncGenerator<Buffer> {
  yield first;
  await waitUntil(() => existsSync(pidFile), 10_000, 'the command to start');
  yield* rest;
}

/** Registers the shared cases in the caller's suite, so its hooks (the launcher's prepare) run before each. */
export function registerSpawnerCases(spawner: CommandSpawner): void {
  const temp = mkdtempSync(join(tmpdir(), 'spawner-cases-'));
  after(() => rmSync(temp, { recursive: true, force: true }));
  const tempDir = (name: string) => mkdtempSync(join(temp, `${name}-`));

  it('streams the header and the body with LF line ends, argv as built, and resolves after exit 0', async () => {
    const dir = tempDir('ok');
    const report = await deliveredReport(deliverViaCommand(
      { argv: recordCommand(dir), timeoutMs: 5000 },
      envelope,
      bodyOf('Subject: s\r', '\n\r\nline\r\nlone\rcr\r\n'),
      header,
      spawner,
    ));
    assert.equal(report.exitCode, 0);
    const [recording, ...more] = readRecordings(dir);
    assert.equal(more.length, 0);
    assert.deepEqual(recording!.argv, ['-f', 's@example.org', '--', 'r1@example.com', 'r2@example.net']);
    assert.equal(recording!.stdin.toString('latin1'), 'Received: test\nSubject: s\n\nline\nlone\rcr\n');
  });

  it('answers 554 when the command does not exist or is not executable (a setting to fix), and reads the whole body anyway', async () => {
    const missing = await deliveryError(
      deliverViaCommand({ argv: [join(temp, 'no-such-command')], timeoutMs: 5000 }, envelope, bodyOf('a\r\n'.repeat(10_000)), header, spawner),
    );
    assert.equal(missing.code, 554);
    assert.match(missing.message, /ENOENT/);

    const script = join(tempDir('noexec'), 'not-executable.sh');
    writeFileSync(script, '#!/bin/sh\nexit 0\n');
    chmodSync(script, 0o644);
    const body = bodyOf('a\r\n'.repeat(10_000));
    const denied = await deliveryError(deliverViaCommand({ argv: [script], timeoutMs: 5000 }, envelope, body, header, spawner));
    assert.equal(denied.code, 554);
    assert.match(denied.message, /EACCES/);
    assert.equal(body.readableEnded, true, 'the body was read to its end, so the dialogue stays in step');
  });

  it('kills the command before it sees EOF when the body fails mid-mail: no truncated mail is delivered', async () => {
    const dir = tempDir('abort');
    async function* brokenBody(): AsyncGenerator<Buffer> {
      yield Buffer.from('Subject: half\r\n\r\nfirst half\r\n');
      await waitUntil(() => readPartials(dir).some((partial) => partial.length > 0), 10_000, 'the command to get the first half');
      throw new Error('client disconnected');
    }
    const error = await deliveryError(deliverViaCommand({ argv: recordCommand(dir), timeoutMs: 5000 }, envelope, Readable.from(brokenBody()), header, spawner));
    assert.equal(error.code, 451);
    assert.equal(error.aborted, true);
    await new Promise((r) => setTimeout(r, 300)); // a command that got EOF would have written its record by now
    assert.equal(readRecordings(dir).length, 0, 'nothing was delivered');
    assert.equal(readPartials(dir).length, 1);
  });

  it('kills a command that hangs after reading its input, with its whole process group, and answers 451', async () => {
    const pidFile = join(tempDir('hang'), 'pids.json');
    const started = Date.now();
    const error = await deliveryError(
      deliverViaCommand(
        { argv: hangCommand(pidFile, true), timeoutMs: 300 },
        envelope,
        Readable.from(afterPidFile(pidFile, Buffer.from('small mail\r\n'), [])),
        header,
        spawner,
      ),
    );
    const took = Date.now() - started;
    assert.equal(error.code, 451);
    assert.match(error.message, /timed out/);
    assert.equal(error.report.signal, 'SIGKILL');
    assert.ok(took >= 290 && took < 5000, `took ${took} ms`);
    const pids = JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number; helper: number };
    await waitUntil(() => !running(pids.pid) && !running(pids.helper), 2000, 'the command and its helper to be gone');
  });

  it('kills a command that stops reading a big mail once it made no progress for the timeout', async () => {
    const pidFile = join(tempDir('stall'), 'pids.json');
    const started = Date.now();
    const error = await deliveryError(
      deliverViaCommand(
        { argv: hangCommand(pidFile, false), timeoutMs: 300 },
        envelope,
        Readable.from(afterPidFile(pidFile, Buffer.from('start\r\n'), Array.from({ length: 64 }, () => Buffer.alloc(64 * 1024, 'm')))),
        header,
        spawner,
      ),
    );
    assert.equal(error.code, 451);
    assert.ok(Date.now() - started < 3000);
    const pids = JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number; helper: number };
    await waitUntil(() => !running(pids.pid) && !running(pids.helper), 2000, 'the command and its helper to be gone');
  });

  it('keeps the last words of a failing command for the log (msmtp writes its error just before exiting)', async () => {
    for (const [code, reply] of [[75, 451], [1, 554]] as const) {
      const error = await deliveryError(
        deliverViaCommand(
          { argv: ['/bin/sh', '-c', `cat >/dev/null; echo "msmtp: server said no ($0)" >&2; exit ${code}`, String(code)], timeoutMs: 5000 },
          envelope,
          bodyOf('Subject: s\r\n\r\nbody\r\n'),
          header,
          spawner,
        ),
      );
      assert.equal(error.code, reply);
      assert.equal(error.report.exitCode, code);
      assert.equal(error.report.output, `msmtp: server said no (${code})`);
    }
  });

  it('answers by the exit status when the command exits before reading a big mail', async () => {
    const big = () => bodyOf(...Array.from({ length: 64 }, () => Buffer.alloc(64 * 1024, 'b')));
    const failed = await deliveryError(deliverViaCommand({ argv: ['/bin/false'], timeoutMs: 5000 }, envelope, big(), header, spawner));
    assert.equal(failed.code, 554);
    assert.equal(failed.report.exitCode, 1);
    // Exit 0 without reading the mail is no delivery: 554 (msmtpd's answer too), never a 250 for a lost mail.
    const unread = await deliveryError(deliverViaCommand({ argv: ['/bin/true'], timeoutMs: 5000 }, envelope, big(), header, spawner));
    assert.equal(unread.code, 554);
    assert.match(unread.message, /without reading the whole mail/);
    assert.equal(unread.report.exitCode, 0);
  });
}

/** A mail body as the engine's reader would hand it on, from strings (latin1) or buffers. */
export function bodyOf(...chunks: (string | Buffer)[]): Readable {
  return Readable.from(chunks.map((chunk) => (typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk)));
}

/** The DeliveryError a delivery must fail with; fails the test if it succeeds or fails otherwise. */
/** A failed delivery as tests read it: the reply's code and text, the command's report, and whether the input broke. */
export interface FailureView {
  code: number;
  message: string;
  report: DeliveryReport;
  /** The mail never arrived whole (cause 'input'): the command was killed before it saw an end. */
  aborted: boolean;
  detail?: string;
}

/** The failure a delivery must end in; fails the test if it was delivered. */
export async function deliveryError(promise: Promise<DeliveryOutcome>): Promise<FailureView> {
  const outcome = await promise;
  if (outcome.status === 'delivered') assert.fail('the delivery succeeded');
  return {
    code: outcome.reply.code,
    message: outcome.reply.message,
    report: outcome.report,
    aborted: outcome.cause === 'input',
    ...(outcome.detail ? { detail: outcome.detail } : {}),
  };
}

/** The report of a delivery that must have succeeded. */
export async function deliveredReport(promise: Promise<DeliveryOutcome>): Promise<DeliveryReport> {
  const outcome = await promise;
  if (outcome.status !== 'delivered') assert.fail(`the delivery failed: ${outcome.reply.code} ${outcome.reply.message}`);
  return outcome.report;
}
