/**
 * The package electron-builder makes, built here for real: `electron-builder --dir --linux` with the project's
 * build/electron-builder.yml, offline (`unshare -n`), against a stub Electron distribution: a small executable that
 * carries Electron's fuse wire with Electron's default states, so the fuses electron-builder flips can be read back.
 * Then the app.asar is opened with @electron/asar and checked against what main and preload load at run time.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { extractAll, listPackage, statFile } from '@electron/asar';
import { trayIconFile, type TrayLook } from '../../electron/tray/model';
import { tempDir } from '../helpers/app/app-env';

const root = join(__dirname, '..', '..', '..');

// @electron/fuses' sentinel and wire layout: version 1, length, then one byte per fuse ('0' off, '1' on).
const FUSE_SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
const FUSES = ['runAsNode', 'enableCookieEncryption', 'enableNodeOptionsEnvironmentVariable', 'enableNodeCliInspectArguments',
  'enableEmbeddedAsarIntegrityValidation', 'onlyLoadAppFromAsar', 'loadBrowserProcessSpecificV8Snapshot',
  'grantFileProtocolExtraPrivileges'] as const;
// What a released Electron binary ships with (electron/fuses' README): the states the build must change.
const ELECTRON_DEFAULT_WIRE = '10110001';

function run(program: string, args: string[], env: NodeJS.ProcessEnv, timeout: number): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(program, args, { env, timeout, cwd: root, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

function readFuses(binary: Buffer): Record<(typeof FUSES)[number], string> {
  const at = binary.indexOf(FUSE_SENTINEL);
  assert.ok(at >= 0, 'the fuse sentinel is in the packaged binary');
  const wire = binary.subarray(at + FUSE_SENTINEL.length);
  assert.equal(wire[0], 1, 'fuse wire version 1');
  const states = wire.subarray(2, 2 + wire[1]!).toString('latin1');
  return Object.fromEntries(FUSES.map((name, index) => [name, states[index]])) as Record<(typeof FUSES)[number], string>;
}

const BUILTIN = new Set([...builtinModules, 'electron', 'original-fs']);
const isBuiltin = (spec: string) => spec.startsWith('node:') || BUILTIN.has(spec) || BUILTIN.has(spec.split('/')[0]!);

interface RequireGraph {
  files: Set<string>;
  missing: string[];
  dynamic: string[];
}

/**
 * Every file reachable through require() from the entry points, resolved by Node's own resolver inside the
 * extracted package (so package.json "main" and "exports" count as at run time). A require with a computed name
 * cannot be followed; those are returned for the caller to account for.
 */
async function requireGraph(appDir: string, entries: string[]): Promise<RequireGraph> {
  const graph: RequireGraph = { files: new Set(), missing: [], dynamic: [] };
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (graph.files.has(file)) continue;
    graph.files.add(file);
    if (!file.endsWith('.js')) continue;
    const text = await readFile(file, 'utf8');
    const where = relative(appDir, file);
    // import('./x.js') of a string too: the engine loads its account lookup on first use (accounts/lookup-entry.ts).
    // Only of a string: x509 has methods named import (`import(data, options) {`).
    const imports = [...text.matchAll(/(?<![.\w$])import\(\s*((['"])[^'"]+\2)\s*\)/g)];
    for (const match of [...text.matchAll(/\brequire\(\s*([^)]*?)\s*\)/g), ...imports]) {
      const argument = match[1]!;
      const literal = /^(['"])([^'"]+)\1$/.exec(argument);
      if (!literal) {
        graph.dynamic.push(`${where}: require(${argument})`);
        continue;
      }
      const spec = literal[2]!;
      if (isBuiltin(spec)) continue;
      try {
        const resolved = createRequire(file).resolve(spec);
        assert.ok(resolved.startsWith(appDir + sep), `${where} requires ${spec} from outside the package: ${resolved}`);
        queue.push(resolved);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
        // A require inside try/catch for an optional module is legal; the report names it so it can be judged.
        graph.missing.push(`${where}: ${spec}`);
      }
    }
  }
  return graph;
}

/** The renderer's ES module graph from index.html's scripts (relative imports only: the page loads nothing else). */
async function rendererGraph(uiDir: string): Promise<{ files: Set<string>; missing: string[] }> {
  const html = await readFile(join(uiDir, 'index.html'), 'utf8');
  const queue = [...html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g)].map((match) => join(uiDir, match[1]!));
  const files = new Set<string>();
  const missing: string[] = [];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      missing.push(relative(uiDir, file));
      continue;
    }
    files.add(file);
    for (const match of text.matchAll(/(?:\bimport|\bexport)\s[^'"]*?from\s*['"]([^'"]+)['"]|\bimport\s*\(?\s*['"]([^'"]+)['"]/g)) {
      const spec = (match[1] ?? match[2])!;
      assert.ok(spec.startsWith('.'), `${relative(uiDir, file)} imports ${spec}, which the page cannot load`);
      queue.push(join(dirname(file), spec));
    }
  }
  return { files, missing };
}

describe('packaging', { timeout: 240_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let build: { code: number; output: string };
  let unpacked: string;
  let asar: string;
  let appDir: string;
  let listing: string[];

  before(async () => {
    dir = await tempDir('packaging');
    const stub = join(dir.path, 'electron-dist');
    await mkdir(join(stub, 'resources'), { recursive: true });
    const binary = Buffer.concat([
      Buffer.from('#!/bin/sh\necho "stand-in for Electron in the packaging test; it does not run the app" >&2\nexit 1\n# '),
      Buffer.from(FUSE_SENTINEL, 'latin1'),
      Buffer.from([1, ELECTRON_DEFAULT_WIRE.length]),
      Buffer.from(`${ELECTRON_DEFAULT_WIRE}\n`, 'latin1'),
    ]);
    await writeFile(join(stub, 'electron'), binary);
    await chmod(join(stub, 'electron'), 0o755);
    await writeFile(join(stub, 'version'), `${(JSON.parse(await readFile(join(root, 'node_modules', 'electron', 'package.json'), 'utf8')) as { version: string }).version}`);

    const output = join(dir.path, 'dist');
    const builder = join(root, 'node_modules', 'electron-builder', 'cli.js');
    const env = { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1', ELECTRON_BUILDER_CACHE: join(dir.path, 'cache'), CI: '' };
    build = await run('unshare', ['-n', process.execPath, builder, '--config', 'build/electron-builder.yml', '--dir', '--linux',
      '--publish', 'never', `-c.electronDist=${stub}`, `-c.directories.output=${output}`], env, 180_000);
    unpacked = join(output, 'linux-unpacked');
    asar = join(unpacked, 'resources', 'app.asar');
    if (build.code === 0) {
      listing = listPackage(asar, { isPack: false });
      appDir = join(dir.path, 'app');
      extractAll(asar, appDir);
    }
  });
  after(() => dir.remove());

  it('builds offline against the stub Electron, without rebuilding native modules', () => {
    assert.equal(build.code, 0, build.output);
    assert.match(build.output, /using custom unpacked Electron distribution/);
    assert.doesNotMatch(build.output, /@electron\/rebuild|installing native dependencies/, 'npmRebuild: false');
    assert.doesNotMatch(build.output, /downloading/i);
  });

  it('flips the fuses: no RunAsNode, NODE_OPTIONS or --inspect, the app only from the asar', async () => {
    const fuses = readFuses(await readFile(join(unpacked, 'msmtp-relay')));
    assert.deepEqual(fuses, {
      runAsNode: '0',
      enableCookieEncryption: '0',
      enableNodeOptionsEnvironmentVariable: '0',
      enableNodeCliInspectArguments: '0',
      enableEmbeddedAsarIntegrityValidation: '0',
      onlyLoadAppFromAsar: '1',
      loadBrowserProcessSpecificV8Snapshot: '0',
      grantFileProtocolExtraPrivileges: '0',
    });
  });

  it('holds everything main and preload require at run time', async () => {
    const manifest = JSON.parse(await readFile(join(appDir, 'package.json'), 'utf8')) as { main: string };
    const main = join(appDir, manifest.main);
    const preload = join(appDir, 'out', 'electron', 'glue', 'preload.js');
    const graph = await requireGraph(appDir, [main, preload]);
    assert.deepEqual(graph.missing, [], 'every static require resolves inside the package');
    // The one computed require is keytar's addon loader; the next test checks the addon it loads.
    assert.deepEqual(graph.dynamic, ["node_modules/@github/keytar/lib/keytar.js: require(path + '/keytar.node')"]);
    const reached = [...graph.files].map((file) => relative(appDir, file));
    for (const expected of ['out/electron/glue/main.js', 'out/electron/glue/preload.js', 'out/src-relay/index.js',
      'node_modules/@github/keytar/lib/keytar.js', 'node_modules/shell-quote/index.js', 'node_modules/electron-log/main.js',
      'out/src-relay/accounts/lookup.js', 'node_modules/fast-xml-parser/lib/fxp.cjs']) {
      assert.ok(reached.includes(expected), `${expected} is reached (${reached.length} files)`);
    }
  });

  it('holds the settings page with every module it imports, and every tray and window icon', async () => {
    const ui = await rendererGraph(join(appDir, 'out', 'ui', 'renderer'));
    assert.deepEqual(ui.missing, []);
    assert.ok(ui.files.size >= 2, `index.html's scripts and their imports (${ui.files.size})`);
    const looks: TrayLook[] = ['running', 'stopped', 'error'];
    for (const platform of ['linux', 'win32', 'darwin'] as NodeJS.Platform[]) {
      for (const look of looks) assert.ok(listing.includes(`/assets/${trayIconFile(look, platform)}`), `${platform} ${look}`);
    }
    assert.ok(listing.includes('/assets/icon.png'));
  });

  it("unpacks keytar's addon, and the packaged keytar loads it and reaches the key ring", async () => {
    const addon = '/node_modules/@github/keytar/build/Release/keytar.node';
    const prebuilt = `/node_modules/@github/keytar/prebuilds/${process.platform}-${process.arch}/keytar.node`;
    const present = [addon, prebuilt].filter((file) => listing.includes(file));
    assert.ok(present.length > 0, 'an addon for this platform is in the package');
    for (const file of present) {
      assert.equal((statFile(asar, file.slice(1)) as { unpacked?: boolean }).unpacked, true, `${file} is outside the asar`);
      const bytes = await readFile(join(unpacked, 'resources', 'app.asar.unpacked', file));
      assert.equal(bytes.subarray(0, 4).toString('latin1'), '\x7fELF', `${file} is a native library`);
    }
    // Node-API: the addon Electron would load is the one Node loads here, from the unpacked folder.
    const keytar = createRequire(__filename)(join(unpacked, 'resources', 'app.asar.unpacked', 'node_modules', '@github', 'keytar')) as
      typeof import('@github/keytar');
    const account = `packaging-${process.pid}`;
    await keytar.setPassword('msmtp-relay-packaging-test', account, 'secret');
    try {
      assert.equal(await keytar.getPassword('msmtp-relay-packaging-test', account), 'secret');
    } finally {
      await keytar.deletePassword('msmtp-relay-packaging-test', account);
    }
  });

  it('ships no tests, benchmarks, sources or source maps of its own', () => {
    const own = listing.filter((entry) => !entry.startsWith('/node_modules/'));
    assert.deepEqual(own.filter((entry) => /^\/out\/(test|bench)(\/|$)|^\/(test|bench|src-relay|electron|renderer|scripts|build)(\/|$)/.test(entry)), []);
    assert.deepEqual(own.filter((entry) => /\.(ts|map|tsbuildinfo)$/.test(entry)), []);
    assert.deepEqual(listing.filter((entry) => /\.test\.js$/.test(entry)), []);
    assert.ok(own.includes('/out/electron/glue/main.js') && own.includes('/out/src-relay/cli/main.js'));
  });
});
