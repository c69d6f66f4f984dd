import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { deliverViaCommand, spawnDetached, type SpawnedCommand } from '../../../src-relay/delivery/deliver';
import { LAUNCHER_SOURCE, createLauncherSpawner, launcherInterpreter } from '../../../src-relay/delivery/launcher';
import { readRecordings, recordCommand } from '../../helpers/relay/relay-harness';
import { bodyOf, deliveredReport, registerSpawnerCases, running } from './deliver.cases';
import { REPO_ROOT } from '../../helpers/paths';
import { waitUntil } from '../../helpers/wait';
import { type Envelope } from '../../../src-relay/smtp/handler';

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

  registerSpawnerCases(launcher.spawn);

  it('runs src-relay/delivery/launcher.py as the build copied it, a file python3 compiles', () => {
    const source = join(REPO_ROOT, 'src-relay', 'delivery', 'launcher.py');
    // py_compile exits 1 on a syntax error; its cache goes to a temporary folder, not next to the source.
    execFileSync('python3', ['-m', 'py_compile', source], { env: { ...process.env, PYTHONPYCACHEPREFIX: tempDir('pycache') } });
    assert.equal(readFileSync(LAUNCHER_SOURCE, 'utf8'), readFileSync(source, 'utf8'), 'out/src-relay/delivery/launcher.py is not the current source');
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

  it('streams a 20 MiB mail through with backpressure, every byte arriving', async () => {
    const out = join(tempDir('big'), 'size.txt');
    const chunk = Buffer.alloc(1024 * 1024, 'x');
    const report = await deliveredReport(deliverViaCommand(
      { argv: ['/bin/sh', '-c', `wc -c > ${out}`], timeoutMs: 10_000 },
      envelope,
      bodyOf(...Array.from({ length: 20 }, () => chunk)),
      header,
      launcher.spawn,
    ));
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
    await waitUntil(() => !running(sleeper), 2000, 'the orphaned command to be killed');
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
    assert.ok(running(pid), 'still in use by the third spawner');
    launcher.close();
    await waitUntil(() => !running(pid), 3000, 'the launcher to exit');
    assert.equal(existsSync(dirname(socketPath)), false, 'the socket directory is gone');
    const again = launcher.spawn(['/bin/true']); // a spawner that let go may start over
    again.stdin!.end();
    assert.deepEqual(await exitOf(again), [0, null]);
  });

  it('removes its socket directory itself when the relay exits without closing it, also mid-command', async () => {
    for (const command of [['/bin/true'], ['/bin/sleep', '0.3']]) {
      // The relay process exits (process.exit, as a crash would) once the command runs or ran; nobody closes.
      const script = `const { readFileSync } = require('fs');
        const { createLauncherSpawner } = require(${JSON.stringify(resolve(__dirname, '..', '..', '..', 'src-relay', 'delivery', 'launcher.js'))});
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
      await waitUntil(() => !running(pid), 3000, 'the orphaned launcher to notice EOF and exit');
      assert.equal(existsSync(dirname(socket)), false, `${command.join(' ')}: the socket directory is gone`);
    }
  });

  it('leaves a relay process free to exit when no command is pending', () => {
    const script = `const { createLauncherSpawner } = require(${JSON.stringify(resolve(__dirname, '..', '..', '..', 'src-relay', 'delivery', 'launcher.js'))});
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
    const script = `const { createLauncherSpawner } = require(${JSON.stringify(resolve(__dirname, '..', '..', '..', 'src-relay', 'delivery', 'launcher.js'))});
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
