/**
 * The npm package is the headless CLI: `npm pack`, then the packed package's `bin` run as npm's link would run it,
 * with its dependencies resolved from this checkout's node_modules (an offline `npm install -g` of the tarball needs
 * them in npm's cache, which a test machine without the registry does not have). It answers --version and serves one
 * mail over --inetd through the real msmtp to a loopback sink. The desktop app's command is another name
 * (msmtp-relay-desktop, build/electron-builder.yml; test/e2e/packaging.test.ts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, readdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { tempDir } from '../helpers/app/app-env';
import { commandString } from '../helpers/relay/cli-process';
import { writeMsmtprc } from '../helpers/programs/msmtprc';
import { REPO_ROOT } from '../helpers/paths';
import { startSink } from '../helpers/smtp/smtp-sink';

const run = promisify(execFile);

interface Manifest {
  version: string;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  engines: { node: string };
}

describe('the npm package (the CLI)', { timeout: 180_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let packageDir: string;
  let manifest: Manifest;
  let files: string[];

  before(async () => {
    dir = await tempDir('npm-pack');
    const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', dir.path], { cwd: REPO_ROOT, timeout: 120_000 });
    const tarball = join(dir.path, stdout.trim().split('\n').at(-1)!);
    await run('tar', ['-xzf', tarball, '-C', dir.path]);
    packageDir = join(dir.path, 'package');
    manifest = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as Manifest;
    files = (await run('tar', ['-tzf', tarball])).stdout.trim().split('\n');
    // As `npm install` would lay it out: the package's dependencies beside it.
    await symlink(join(REPO_ROOT, 'node_modules'), join(packageDir, 'node_modules'));
  });
  after(() => dir.remove());

  it('names one command, msmtp-relay, the CLI; no Electron among its dependencies; no tests in it', () => {
    assert.deepEqual(manifest.bin, { 'msmtp-relay': 'out/src-relay/cli/main.js' });
    assert.ok(!('electron' in manifest.dependencies));
    assert.match(manifest.engines.node, /^>=20\./);
    assert.deepEqual(files.filter((file) => /^package\/out\/(test|bench)\//.test(file)), []);
  });

  it('its bin answers --version and serves a mail over --inetd through msmtp', async () => {
    const bin = join(dir.path, 'bin');
    await run('mkdir', ['-p', bin]);
    await symlink(join(packageDir, manifest.bin['msmtp-relay']!), join(bin, 'msmtp-relay'));
    const version = await run(join(bin, 'msmtp-relay'), ['--version']);
    assert.match(version.stdout, new RegExp(manifest.version.replace(/\./g, '\\.')));

    const sink = await startSink();
    const msmtprc = writeMsmtprc({ port: sink.port });
    try {
      const input = 'EHLO cli.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: packed\r\n\r\nfrom the tarball\r\n.\r\nQUIT\r\n';
      const child = execFile(join(bin, 'msmtp-relay'), ['--inetd', '--command', commandString(['msmtp', '-C', msmtprc.path, '-f', '%F', '--'])],
        { timeout: 30_000 });
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => void (output += chunk.toString()));
      child.stdin!.end(input);
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      assert.equal(code, 0, output);
      const [mail] = await sink.waitForMails(1, 10_000);
      assert.deepEqual(mail!.to, ['b@example.net']);
      assert.match(mail!.raw.toString(), /from the tarball/);
    } finally {
      msmtprc.remove();
      await sink.close();
    }
    assert.ok((await readdir(packageDir)).includes('out'));
  });
});
