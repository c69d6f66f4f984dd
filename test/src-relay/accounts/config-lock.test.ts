import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { lockPathFor, withConfigLock } from '../../../src-relay/accounts/config-lock';

// Changes of msmtp's file are serialised: in one process they queue, between processes a lock file beside the file
// (its owner's pid inside) keeps the second out until the first is done, and a dead owner's lock is taken over.

let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

function rcPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'config-lock-'));
  dirs.push(dir);
  return join(dir, '.msmtprc');
}

test('two changes of one file in one process run one after the other, and the lock file is gone after', async () => {
  const rc = rcPath();
  const steps: string[] = [];
  let releaseFirst!: () => void;
  const first = withConfigLock(rc, async () => {
    steps.push('first begins');
    assert.ok(existsSync(lockPathFor(rc)), 'the lock file exists while a change runs');
    await new Promise<void>((resolve) => (releaseFirst = resolve));
    steps.push('first ends');
  });
  const second = withConfigLock(rc, async () => {
    steps.push('second runs');
    return 'second result';
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(steps, ['first begins'], 'the second waits for the first');
  releaseFirst();
  await first;
  assert.equal(await second, 'second result');
  assert.deepEqual(steps, ['first begins', 'first ends', 'second runs']);
  assert.equal(existsSync(lockPathFor(rc)), false);
});

test('a change that fails releases the lock, and the next one still runs', async () => {
  const rc = rcPath();
  const failing = withConfigLock(rc, async () => {
    throw new Error('the change failed');
  });
  const next = withConfigLock(rc, async () => 'ran');
  await assert.rejects(failing, /the change failed/);
  assert.equal(await next, 'ran');
  assert.equal(existsSync(lockPathFor(rc)), false);
});

test("another live process's lock keeps a change out; once that process is gone its lock is taken over", async () => {
  const rc = rcPath();
  const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    writeFileSync(lockPathFor(rc), `${holder.pid}\n`);
    let ran = false;
    await assert.rejects(
      withConfigLock(rc, async () => {
        ran = true;
      }, { waitMs: 300, retryMs: 20 }),
      (error: Error) => error.name === 'AccountFileError' && error.message.includes(`pid ${holder.pid}`),
    );
    assert.equal(ran, false);
    assert.ok(existsSync(lockPathFor(rc)), "the live holder's lock stays");
  } finally {
    holder.kill('SIGKILL');
    await once(holder, 'exit');
  }
  assert.equal(await withConfigLock(rc, async () => 'taken over', { waitMs: 2000, retryMs: 20 }), 'taken over');
  assert.equal(existsSync(lockPathFor(rc)), false);
});

test('a change waits for a live holder that finishes within the wait', async () => {
  const rc = rcPath();
  // Another process holds the lock for 300 ms, then removes it, as a second msmtp-relay would.
  const holder = spawn(process.execPath, ['-e', `
    const fs = require('node:fs');
    fs.writeFileSync(${JSON.stringify(lockPathFor(rc))}, process.pid + '\\n', { flag: 'wx' });
    process.stdout.write('locked');
    setTimeout(() => fs.unlinkSync(${JSON.stringify(lockPathFor(rc))}), 300);
  `]);
  const exited = once(holder, 'exit');
  await once(holder.stdout, 'data');
  const started = Date.now();
  assert.equal(await withConfigLock(rc, async () => 'after the holder', { waitMs: 5000, retryMs: 20 }), 'after the holder');
  assert.ok(Date.now() - started >= 200, `waited ${Date.now() - started} ms`);
  await exited;
});
