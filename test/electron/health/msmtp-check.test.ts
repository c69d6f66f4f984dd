import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkCommand, msmtpAccounts, msmtpConfigFiles, parseMsmtpAccounts } from '../../../electron/health/msmtp-check';
import { findExecutable } from '../../../src-relay/index';
import { tempDir } from '../../helpers/app/app-env';
import { makeFifo, releaseFifo, within } from '../../helpers/programs/fifo';

describe('msmtp check', { timeout: 20_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let home: string;
  before(async () => {
    dir = await tempDir('check');
    home = join(dir.path, 'home');
    await mkdir(join(home, '.config', 'msmtp'), { recursive: true });
    await writeFile(join(home, '.msmtprc'), [
      '# personal accounts',
      'defaults',
      'auth on',
      'tls on',
      'from me@example.org',
      '',
      'account personal',
      'host smtp.example.org',
      '',
      'account work',
      'host smtp.work.example',
      'from "Me Work <me@work.example>"',
      '',
      'account backup : work',
      'host smtp.backup.example',
      '',
      'account default : personal',
    ].join('\n'));
    await writeFile(join(home, '.config', 'msmtp', 'config'), 'account xdg\n  from xdg@example.net\n');
  });
  after(() => dir.remove());

  it('runs the real msmtp --version and lists the accounts of the one file msmtp reads (~/.msmtprc first)', async () => {
    const result = await checkCommand('msmtp -f %F --', { home, env: { ...process.env, XDG_CONFIG_HOME: '' } });
    assert.equal(result.ok, true, JSON.stringify(result));
    if (!result.ok) return;
    const expected = execFileSync('msmtp', ['--version'], { encoding: 'utf8' }).split('\n')[0]!.trim();
    assert.equal(result.version, expected);
    assert.match(result.version, /^msmtp version \d+\.\d+/);
    assert.equal(result.program, 'msmtp');
    assert.deepEqual(result.accounts, [
      { file: '~/.msmtprc', account: 'personal', from: 'me@example.org' },
      { file: '~/.msmtprc', account: 'work', from: 'Me Work <me@work.example>' },
      { file: '~/.msmtprc', account: 'backup', from: 'Me Work <me@work.example>' },
      { file: '~/.msmtprc', account: 'default', from: 'me@example.org' },
    ]);
    // msmtp reads ~/.msmtprc and ignores the XDG file while it exists; msmtp --pretend agrees.
    const pretend = execFileSync('msmtp', ['--pretend', '-f', 'xdg@example.net'], { encoding: 'utf8', env: { ...process.env, HOME: home, XDG_CONFIG_HOME: '' } });
    assert.match(pretend, /using account default from .*\.msmtprc/);
    const elsewhere = await checkCommand('msmtp', { home, env: { ...process.env, XDG_CONFIG_HOME: join(dir.path, 'home', 'cfg') } });
    assert.deepEqual(elsewhere.accounts.map((account) => account.file), Array(4).fill('~/.msmtprc'));
  });

  it('says plainly when the program is missing', async () => {
    const missing = await checkCommand('/nonexistent/msmtp -f %F --', { home });
    assert.deepEqual(missing.ok, false);
    assert.equal(!missing.ok && missing.error, '/nonexistent/msmtp was not found');
    assert.equal(missing.accounts.length, 4, 'the accounts are listed even when the program is missing');

    const notInPath = await checkCommand('msmtp -f %F --', { home, env: { PATH: join(dir.path, 'empty-bin') } });
    assert.equal(!notInPath.ok && notInPath.error,
      'msmtp was not found in PATH (install msmtp, e.g. "sudo apt install msmtp" or "brew install msmtp")');
  });

  it('reports a program that fails, is not executable, or a command that cannot be parsed', async () => {
    const failing = await checkCommand('false -f %F --', { home });
    assert.match(!failing.ok ? failing.error : '', /^'false --version' exited with 1(: |$)/);

    const script = join(dir.path, 'not-executable');
    await writeFile(script, '#!/bin/sh\necho hi\n');
    await chmod(script, 0o644);
    const denied = await checkCommand(`${script} -f %F --`, { home });
    assert.match(!denied.ok ? denied.error : '', /is not executable \(permission denied\)/);

    const complaining = join(dir.path, 'complains');
    await writeFile(complaining, '#!/bin/sh\necho "msmtp: unknown option --version" >&2\nexit 64\n');
    await chmod(complaining, 0o755);
    const said = await checkCommand(complaining, { home });
    assert.equal(!said.ok && said.error, `'${complaining} --version' exited with 64: msmtp: unknown option --version`);

    const slow = join(dir.path, 'slow');
    await writeFile(slow, '#!/bin/sh\nexec sleep 10\n');
    await chmod(slow, 0o755);
    const timedOut = await checkCommand(slow, { home, timeoutMs: 300 });
    assert.equal(!timedOut.ok && timedOut.error, `'${slow} --version' did not finish within 300 ms`);

    const shell = await checkCommand('msmtp -f %F -- && rm -rf ~', { home });
    assert.match(!shell.ok ? shell.error : '', /shell operator '&&' is not supported/);
    assert.equal(shell.ok === false && shell.program, undefined);
  });

  it('never runs a shell: metacharacters reach the program as plain argv', async () => {
    const marker = join(dir.path, 'should-not-exist');
    const result = await checkCommand(`'echo;touch ${marker}'`, { home });
    assert.equal(result.ok, false);
    assert.throws(() => execFileSync('test', ['-e', marker]), 'no shell ran the touch');
  });

  it('finds programs on PATH without running them', () => {
    assert.equal(findExecutable('msmtp'), execFileSync('sh', ['-c', 'command -v msmtp'], { encoding: 'utf8' }).trim());
    assert.equal(findExecutable('msmtp', { PATH: join(dir.path, 'nowhere') }), null);
    assert.equal(findExecutable(process.execPath), process.execPath);
    assert.equal(findExecutable(join(dir.path, 'not-executable')), null);
    assert.equal(findExecutable(dir.path), null, 'a directory is not a program');
  });

  it('reads the XDG file when there is no ~/.msmtprc', async () => {
    const xdgOnly = join(dir.path, 'xdg-only');
    await mkdir(join(xdgOnly, '.config', 'msmtp'), { recursive: true });
    await writeFile(join(xdgOnly, '.config', 'msmtp', 'config'), 'account xdg\n  from xdg@example.net\n');
    const result = await checkCommand('msmtp -f %F --', { home: xdgOnly, env: { ...process.env, XDG_CONFIG_HOME: '' } });
    assert.deepEqual(result.accounts, [{ file: '~/.config/msmtp/config', account: 'xdg', from: 'xdg@example.net' }]);
  });

  it('reads msmtp\'s file safely: a FIFO is refused at once, a symlink into a dotfiles folder is followed (issue #16, 1)', async () => {
    const fifoHome = join(dir.path, 'fifo-home');
    await mkdir(fifoHome, { recursive: true });
    makeFifo(join(fifoHome, '.msmtprc'));
    try {
      assert.deepEqual(await within(3000, msmtpAccounts({ home: fifoHome, env: {} })), []);
    } finally {
      releaseFifo(join(fifoHome, '.msmtprc'));
    }
    const linkHome = join(dir.path, 'link-home');
    await mkdir(join(linkHome, 'dotfiles'), { recursive: true });
    await writeFile(join(linkHome, 'dotfiles', 'msmtprc'), 'account linked\nfrom linked@example.org\n');
    await symlink(join(linkHome, 'dotfiles', 'msmtprc'), join(linkHome, '.msmtprc'));
    assert.deepEqual(await msmtpAccounts({ home: linkHome, env: {} }), [{ file: join(linkHome, '.msmtprc'), account: 'linked', from: 'linked@example.org' }]);
  });

  it('knows where msmtp keeps user configuration', () => {
    assert.deepEqual(msmtpConfigFiles({}, '/home/me'), ['/home/me/.msmtprc', '/home/me/.config/msmtp/config']);
    assert.deepEqual(msmtpConfigFiles({ XDG_CONFIG_HOME: '/cfg' }, '/home/me'), ['/home/me/.msmtprc', '/cfg/msmtp/config']);
  });

  it('parses account blocks: defaults, inheritance, comments, quotes, CRLF', () => {
    const text = 'account a\r\nfrom a@x\r\n# from commented@x\r\naccount b : a\r\naccount c\r\n';
    assert.deepEqual(parseMsmtpAccounts(text, 'f'), [
      { file: 'f', account: 'a', from: 'a@x' },
      { file: 'f', account: 'b', from: 'a@x' },
      { file: 'f', account: 'c' },
    ]);
    // A command before any account opens msmtp's implicit account "default" (msmtp 1.2 compatibility).
    assert.deepEqual(parseMsmtpAccounts('from orphan@x\n', 'f'), [{ file: 'f', account: 'default', from: 'orphan@x' }]);
  });
});
