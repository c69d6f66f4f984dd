import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { after, beforeEach, describe, it } from 'node:test';
import { deliverViaCommand, spawnDetached, type Envelope, type SpawnedCommand } from '../src-relay/deliver';
import { createLauncherSpawner, launcherInterpreter } from '../src-relay/spawner-launcher';
import { readPartials, readRecordings, recordCommand } from './helpers/relay-harness';
import { bodyOf, deliveryError } from './helpers/delivery';
import { waitUntil } from './helpers/wait';

const fixtures = resolve(__dirname, '..', '..', 'test', 'fixtures');
const envelope: Envelope = { id: 'l-1', helo: 'client.example', remote: '127.0.0.1', from: 's@example.org', to: ['r1@example.com', 'r2@example.net'] };
const header = 'Received: test\n';
const temp = mkdtempSync(join(tmpdir(), 'launcher-test-'));
const launcher = createLauncherSpawner();
after(() => {
  launcher.close();
  rmSync(temp, { recursive: true, force: true });
});

function tempDir(name: string): string {
  return mkdtempSync(join(temp, `${name}-`));
}

/** Running, and not a zombie waiting for a parent that is gone (the launcher's orphans are reaped by init). */
function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}


/** The exit, once the output has been read to its end too (like a ChildProcess, 'exit' may come first). */
async function exitAndOutputOf(child: SpawnedCommand): Promise<[number | null, NodeJS.Signals | null]> {
  const ended = new Promise((resolvePromise) => child.stdout!.once('end', resolvePromise));
  const [exit] = await Promise.all([exitOf(child), ended]);
  return exit;
}

function exitOf(child: SpawnedCommand): Promise<[number | null, NodeJS.Signals | null]> {
  return new Promise((resolvePromise, reject) => {
    child.once('exit', (code: number | null, signal: NodeJS.Signals | null) => resolvePromise([code, signal]));
    child.once('error', reject);
  });
}

/** The pids of the launcher processes this test process started (python children of ours). */
function launcherPids(): number[] {
  const children = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  return children.map(Number).filter((pid) => {
    try {
      return /python/.test(readFileSync(`/proc/${pid}/comm`, 'utf8')) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('launcher.sock');
    } catch {
      return false;
    }
  });
}

describe('the python launcher spawner', { skip: launcherInterpreter() === null ? 'no python3 here' : false, timeout: 60_000 }, () => {
  // Until the launcher is ready, commands go through Node's spawn: each test starts with it ready.
  beforeEach(() => launcher.prepare());

  it('delivers the header and body byte for byte, argv as built, and reports exit 0', async () => {
    const dir = tempDir('ok');
    const report = await deliverViaCommand(
      { argv: recordCommand(dir), timeoutMs: 5000 },
      envelope,
      bodyOf('Subject: s\r', '\n\r\nline\r\nlone\rcr\r\n'),
      header,
      launcher.spawn,
    );
    assert.equal(report.exitCode, 0);
    const [recording, ...more] = readRecordings(dir);
    assert.equal(more.length, 0);
    assert.deepEqual(recording!.argv, ['-f', 's@example.org', '--', 'r1@example.com', 'r2@example.net']);
    assert.equal(recording!.stdin.toString('latin1'), 'Received: test\nSubject: s\n\nline\nlone\rcr\n');
  });

  it('passes every argv byte as is, with no shell in between', async () => {
    const out = join(tempDir('argv'), 'argv.txt');
    const tricky = ['$(touch /tmp/x)', "it's; `rm -rf`", ' spaced  out ', 'ünï€ødé', '*', ''];
    const child = launcher.spawn([process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.argv.slice(1)))`, ...tricky]);
    child.stdin!.end();
    assert.deepEqual(await exitOf(child), [0, null]);
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), tricky);
  });

  it('reports exit codes and signals exactly, and captures stdout and stderr', async () => {
    for (const code of [0, 1, 69, 75, 255]) {
      const child = launcher.spawn(['/bin/sh', '-c', `echo out-${code}; echo err-${code} >&2; exit ${code}`]);
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stdin!.end();
      assert.deepEqual(await exitAndOutputOf(child), [code, null]);
      assert.match(output, new RegExp(`out-${code}\\n`));
      assert.match(output, new RegExp(`err-${code}\\n`));
    }
    const killed = launcher.spawn(['/bin/sh', '-c', 'kill -TERM $$']);
    killed.stdin!.end();
    assert.deepEqual(await exitOf(killed), [null, 'SIGTERM']);
  });

  it('runs each command as the leader of its own process group, with no signal blocked or ignored', async () => {
    const child = launcher.spawn(['/bin/cat', '/proc/self/stat', '/proc/self/status']);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stdin!.end();
    assert.deepEqual(await exitAndOutputOf(child), [0, null]);
    const [pid, , , ppid, pgid] = output.split('\n')[0]!.replace(/\(.*\)/, 'comm').split(' ');
    assert.equal(Number(pid), child.pid);
    assert.deepEqual(launcherPids(), [Number(ppid)], 'started by the launcher, not by Node');
    assert.equal(Number(pgid), child.pid);
    const mask = (name: string) => BigInt(`0x${new RegExp(`^${name}:\\s+([0-9a-f]+)$`, 'm').exec(output)![1]}`);
    assert.equal(mask('SigBlk'), 0n);
    // Signals 1-31; glibc's posix_spawn leaves its two internal ones (32, 33) ignored, glibc programs reset them.
    assert.equal(mask('SigIgn') & 0x7fffffffn, 0n, `SigIgn ${mask('SigIgn').toString(16)}`);
  });

  it('answers 451 when the command does not exist or is not executable, and reads the whole body anyway', async () => {
    const missing = await deliveryError(
      deliverViaCommand({ argv: [join(temp, 'no-such-command')], timeoutMs: 5000 }, envelope, bodyOf('a\r\n'.repeat(10_000)), header, launcher.spawn),
    );
    assert.equal(missing.code, 451);
    assert.match(missing.message, /ENOENT/);
    const script = join(temp, 'not-executable.sh');
    writeFileSync(script, '#!/bin/sh\nexit 0\n');
    chmodSync(script, 0o644);
    const body = bodyOf('a\r\n'.repeat(10_000));
    const denied = await deliveryError(deliverViaCommand({ argv: [script], timeoutMs: 5000 }, envelope, body, header, launcher.spawn));
    assert.equal(denied.code, 451);
    assert.match(denied.message, /EACCES/);
    assert.equal(body.readableEnded, true);
  });

  it('kills the command before it sees EOF when the body fails mid-mail: no truncated mail is delivered', async () => {
    const dir = tempDir('abort');
    async function* brokenBody(): AsyncGenerator<Buffer> {
      yield Buffer.from('Subject: half\r\n\r\nfirst half\r\n');
      await waitUntil(() => readPartials(dir).some((partial) => partial.length > 0), 10_000, 'the command to get the first half');
      throw new Error('client disconnected');
    }
    const error = await deliveryError(deliverViaCommand({ argv: recordCommand(dir), timeoutMs: 5000 }, envelope, Readable.from(brokenBody()), header, launcher.spawn));
    assert.equal(error.code, 451);
    assert.equal(error.aborted, true);
    await new Promise((r) => setTimeout(r, 300)); // a command that got EOF would have written its record by now
    assert.equal(readRecordings(dir).length, 0, 'nothing was delivered');
    assert.equal(readPartials(dir).length, 1);
  });

  it('kills a command aborted before the launcher confirmed its start, still before it reads EOF', async () => {
    for (let round = 0; round < 10; round++) {
      const dir = tempDir('early');
      const child = launcher.spawn(recordCommand(dir));
      const exit = exitOf(child);
      child.stdin!.write('Subject: early\n\npart of a mail\n');
      child.stdin!.destroy(); // what deliver does on abort, while the pid may be unknown yet
      assert.deepEqual(await exit, [null, 'SIGKILL'], `round ${round}`);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(readRecordings(dir).length, 0, `round ${round}: nothing was delivered`);
    }
  });

  it('kills a command that hangs, with its whole process group, after the delivery timeout', async () => {
    const pidFile = join(tempDir('hang'), 'pids.json');
    async function* body(): AsyncGenerator<Buffer> {
      yield Buffer.from('small mail\r\n');
      await waitUntil(() => existsSync(pidFile), 10_000, 'the command to start');
    }
    const error = await deliveryError(
      deliverViaCommand(
        { argv: ['/usr/bin/env', `HANG_PID_FILE=${pidFile}`, 'HANG_READ=1', process.execPath, join(fixtures, 'engine-hang.mjs')], timeoutMs: 300 },
        envelope,
        Readable.from(body()),
        header,
        launcher.spawn,
      ),
    );
    assert.equal(error.code, 451);
    assert.match(error.message, /timed out/);
    assert.equal(error.report.signal, 'SIGKILL');
    const pids = JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number; helper: number };
    await waitUntil(() => !alive(pids.pid) && !alive(pids.helper), 2000, 'the command and its helper to be gone');
  });

  it('keeps the last words of a failing command for the log (msmtp writes its error just before exiting)', async () => {
    for (const [code, reply] of [[75, 451], [1, 554]] as const) {
      const error = await deliveryError(
        deliverViaCommand(
          { argv: ['/bin/sh', '-c', `cat >/dev/null; echo "msmtp: server said no ($0)" >&2; exit ${code}`, String(code)], timeoutMs: 5000 },
          envelope,
          bodyOf('Subject: s\r\n\r\nbody\r\n'),
          header,
          launcher.spawn,
        ),
      );
      assert.equal(error.code, reply);
      assert.equal(error.report.exitCode, code);
      assert.equal(error.report.output, `msmtp: server said no (${code})`);
    }
  });

  it('answers by the exit status when the command exits before reading a big mail', async () => {
    const big = () => bodyOf(...Array.from({ length: 64 }, () => Buffer.alloc(64 * 1024, 'b')));
    const failed = await deliveryError(deliverViaCommand({ argv: ['/bin/false'], timeoutMs: 5000 }, envelope, big(), header, launcher.spawn));
    assert.equal(failed.code, 554);
    assert.equal(failed.report.exitCode, 1);
    // Exit 0 without reading the mail is no delivery (the engine's rule, msmtpd's answer too).
    const unread = await deliveryError(deliverViaCommand({ argv: ['/bin/true'], timeoutMs: 5000 }, envelope, big(), header, launcher.spawn));
    assert.equal(unread.code, 554);
    assert.match(unread.message, /without reading the whole mail/);
    assert.equal(unread.report.exitCode, 0);
  });

  it('streams a 20 MiB mail through with backpressure, every byte arriving', async () => {
    const out = join(tempDir('big'), 'size.txt');
    const chunk = Buffer.alloc(1024 * 1024, 'x');
    const report = await deliverViaCommand(
      { argv: ['/bin/sh', '-c', `wc -c > ${out}`], timeoutMs: 10_000 },
      envelope,
      bodyOf(...Array.from({ length: 20 }, () => chunk)),
      header,
      launcher.spawn,
    );
    assert.equal(report.exitCode, 0);
    assert.equal(Number(readFileSync(out, 'utf8').trim()), 20 * chunk.length + header.length);
  });

  it('runs commands in parallel, each with its own stdin and exit status', async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const child = launcher.spawn(['/bin/sh', '-c', 'n=$(cat); exit $((n % 7))']);
        let output = '';
        child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stdin!.end(String(i * 11));
        const [code] = await exitAndOutputOf(child);
        return [code, output] as const;
      }),
    );
    assert.deepEqual(results, Array.from({ length: 12 }, (_, i) => [(i * 11) % 7, '']));
  });

  it('fails commands in flight when the launcher dies, then starts a new launcher', async () => {
    const own = launcher.spawn(['/bin/sleep', '30']);
    own.stdin!.end();
    await new Promise<void>((resolvePromise) => own.once('spawn', () => resolvePromise()));
    const sleeper = own.pid!;
    const [first] = launcherPids();
    assert.ok(first, 'a launcher runs');
    const exit = exitOf(own);
    process.kill(first, 'SIGKILL');
    assert.deepEqual(await exit, [null, 'SIGKILL']);
    await waitUntil(() => !alive(sleeper), 2000, 'the orphaned command to be killed');
    await launcher.prepare();
    const [second] = launcherPids();
    assert.ok(second !== undefined && second !== first, 'a new launcher runs');
    const again = launcher.spawn(['/bin/true']);
    again.stdin!.end();
    assert.deepEqual(await exitOf(again), [0, null]);
  });

  it('shares one launcher between spawners; the last to close ends it and removes its socket directory', async () => {
    const first = createLauncherSpawner();
    const second = createLauncherSpawner();
    for (const spawner of [first, second, launcher]) {
      const child = spawner.spawn(['/bin/true']);
      child.stdin!.end();
      assert.deepEqual(await exitOf(child), [0, null]);
    }
    const pids = launcherPids();
    assert.equal(pids.length, 1, 'one launcher for the three spawners');
    const pid = pids[0]!;
    const socketPath = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).at(-1)!;
    assert.ok(existsSync(socketPath), socketPath);
    first.close();
    second.close();
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(alive(pid), 'still in use by the third spawner');
    launcher.close();
    await waitUntil(() => !alive(pid), 3000, 'the launcher to exit');
    assert.equal(existsSync(dirname(socketPath)), false, 'the socket directory is gone');
    const again = launcher.spawn(['/bin/true']); // a spawner that let go may start over
    again.stdin!.end();
    assert.deepEqual(await exitOf(again), [0, null]);
  });

  it('removes its socket directory itself when the relay exits without closing it, also mid-command', async () => {
    for (const command of [['/bin/true'], ['/bin/sleep', '0.3']]) {
      // The relay process exits (process.exit, as a crash would) once the command runs or ran; nobody closes.
      const script = `const { readFileSync } = require('fs');
        const { createLauncherSpawner } = require(${JSON.stringify(resolve(__dirname, '..', 'src-relay', 'spawner-launcher.js'))});
        const spawner = createLauncherSpawner();
        spawner.prepare().then(() => {
          const child = spawner.spawn(${JSON.stringify(command)});
          child.once('spawn', () => {
            const pid = Number(readFileSync('/proc/' + process.pid + '/task/' + process.pid + '/children', 'utf8').trim().split(' ')[0]);
            const socket = readFileSync('/proc/' + pid + '/cmdline', 'utf8').split('\\0').filter(Boolean).at(-1);
            process.stdout.write(JSON.stringify({ pid, socket }));
            process.exit(0);
          });
          child.stdin.end();
        });`;
      const { pid, socket } = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 })) as { pid: number; socket: string };
      assert.match(socket, /launcher\.sock$/);
      await waitUntil(() => !alive(pid), 3000, 'the orphaned launcher to notice EOF and exit');
      assert.equal(existsSync(dirname(socket)), false, `${command.join(' ')}: the socket directory is gone`);
    }
  });

  it('leaves a relay process free to exit when no command is pending', () => {
    const script = `const { createLauncherSpawner } = require(${JSON.stringify(resolve(__dirname, '..', 'src-relay', 'spawner-launcher.js'))});
      const spawner = createLauncherSpawner();
      spawner.prepare().then(() => {
        const child = spawner.spawn(['/bin/echo', 'hello']);
        let out = child.constructor.name + ': ';
        child.stdout.on('data', (d) => (out += d));
        child.stdout.on('end', () => process.stdout.write(out));
        child.stdin.end();
      });`;
    const output = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(output, 'LaunchedCommand: hello\n');
  });

  it('gives the command the environment of the relay exactly, also under the C locale', () => {
    const script = `const { createLauncherSpawner } = require(${JSON.stringify(resolve(__dirname, '..', 'src-relay', 'spawner-launcher.js'))});
      const spawner = createLauncherSpawner();
      spawner.prepare().then(() => {
        const child = spawner.spawn(['/usr/bin/env', '-0']);
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stdout.on('end', () => process.stdout.write(JSON.stringify({ via: child.constructor.name, seen: out.split('\\0').filter(Boolean).sort(), own: Object.entries(process.env).map(([k, v]) => k + '=' + v).sort() })));
        child.stdin.end();
      });`;
    for (const locale of [{ LANG: 'C' }, { LC_ALL: 'C.UTF-8', LANG: 'de_DE.UTF-8' }, {}]) {
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), ...locale, ODD: 'a b\tc' };
      const { via, seen, own } = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000, env })) as { via: string; seen: string[]; own: string[] };
      assert.equal(via, 'LaunchedCommand');
      assert.deepEqual(seen, own, JSON.stringify(locale));
    }
  });

  it('falls back to Node spawn where python3 is missing', () => {
    assert.equal(createLauncherSpawner(null).spawn, spawnDetached);
  });
});
