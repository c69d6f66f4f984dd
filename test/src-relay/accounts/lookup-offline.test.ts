import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { OUT_DIR } from '../../helpers/paths';

/**
 * The bundled table must answer with no network at all: the lookup runs in a private network namespace
 * (`unshare -n`, root; `unshare -rn` maps the user to root in a user namespace elsewhere), where not even
 * loopback is up, with the default seams: the real internet, which is not there.
 */
const unshare = ['-n', '-rn'].find((flag) => spawnSync('unshare', [flag, 'true']).status === 0);

test('gmail.com is answered from the bundled table inside a network namespace, quickly', { skip: unshare ? false : 'unshare cannot make a network namespace here' }, () => {
  const index = join(OUT_DIR, 'src-relay', 'index.js');
  const script = `const { lookupAccount } = require(${JSON.stringify(index)});
    const started = Date.now();
    lookupAccount('someone@gmail.com').then((result) => console.log(JSON.stringify({ ...result, ms: Date.now() - started })));`;
  const run = spawnSync('unshare', [unshare!, process.execPath, '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(run.status, 0, run.stderr);
  const result = JSON.parse(run.stdout) as { found: boolean; source: string; settings: { host: string; port: number }; ms: number };
  assert.equal(result.found, true);
  assert.equal(result.source, 'bundled');
  assert.deepEqual([result.settings.host, result.settings.port], ['smtp.gmail.com', 465]);
  assert.ok(result.ms < 3_000, `took ${result.ms} ms`);
  // And the namespace really is offline: a step that needs the network finds nothing there.
  const offline = spawnSync('unshare', [unshare!, process.execPath, '-e', `require(${JSON.stringify(index)}).lookupAccount('someone@example.com', { stepTimeoutMs: 1000, totalTimeoutMs: 5000 })
    .then((result) => console.log(JSON.stringify(result)))`], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(offline.status, 0, offline.stderr);
  assert.equal((JSON.parse(offline.stdout) as { found: boolean }).found, false);
});
