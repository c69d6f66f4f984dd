/**
 * Health checks against the real machine: a real program holding the port (named from /proc, and by lsof), the
 * next free port in one click, no keyring (a process without a session bus), msmtp not on PATH (the install line
 * from this machine's /etc/os-release), and the real msmtp refusing a missing, empty or too-open configuration.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { chmod, chown, cp, mkdir, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../../helpers/ports';
import { AppCommands } from '../../../electron/core/commands';
import {
  desktopName, installLine, keyringProblem, msmtpConfigProblem, noTrayProblem, parseOsRelease, readOsRelease,
} from '../../../electron/health/problems';
import { HealthMonitor } from '../../../electron/health/monitor';
import { findPortHolder, nextFreePort, parseLsof, parseNetstatPid } from '../../../electron/health/port-holder';
import { pretendArgv, probeMsmtp } from '../../../electron/health/msmtp-pretend';
import { createSettingsStore } from '../../../electron/core/settings';
import { createXdgAutostart } from '../../../electron/desktop/autostart';
import { trayModel } from '../../../electron/tray/model';
import { createKeyringStore } from '../../../src-relay/index';
import { settingsFor, tempDir, uniqueUser } from '../../helpers/app/app-env';
import { REPO_ROOT } from '../../helpers/paths';
import { holdPort } from '../../helpers/programs/port-holder';
import { waitUntil } from '../../helpers/wait';
import { createAppCore, type AppCore } from '../../../electron/core/app-core';
import { UNSET_SETTINGS, startWith } from '../../helpers/app/app-core';

const run = promisify(execFile);
const secrets = createKeyringStore();
const OUT = join(__dirname, '..', '..', '..');

describe('health checks', { timeout: 60_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const children: ChildProcess[] = [];
  const users: string[] = [];
  before(async () => {
    dir = await tempDir('health');
  });
  after(async () => {
    for (const child of children) child.kill();
    await Promise.all(users.map((user) => secrets.delete(user).catch(() => false)));
    await dir?.remove();
  });

  it('names the program holding a port from /proc/net/tcp and tcp6, as lsof does', async () => {
    const v4 = await holdPort('127.0.0.1');
    const v6 = await holdPort('::1');
    children.push(v4.child, v6.child);
    for (const { child, port } of [v4, v6]) {
      const found = await findPortHolder(port);
      assert.equal(found?.pid, child.pid);
      assert.equal(found?.name, 'node');
      assert.match(found?.commandLine ?? '', /createServer/);
      const { stdout } = await run('lsof', ['-nP', `-iTCP:${port}`, '-sTCP:LISTEN', '-Fpc'], { encoding: 'utf8' });
      assert.deepEqual(parseLsof(stdout), { pid: child.pid, name: 'node' });
    }
    assert.equal(await findPortHolder(await freePort()), null, 'nobody holds a free port');
  });

  it('reads the pid from netstat -ano output (the Windows way)', () => {
    const sample = [
      'Active Connections', '',
      '  Proto  Local Address          Foreign Address        State           PID',
      '  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1060',
      '  TCP    127.0.0.1:2500         0.0.0.0:0              LISTENING       4242',
      '  TCP    127.0.0.1:2500         127.0.0.1:50000        ESTABLISHED     4242',
    ].join('\r\n');
    assert.equal(parseNetstatPid(sample, 2500), 4242);
    assert.equal(parseNetstatPid(sample, 25), null);
  });

  it('finds the next free port, skipping one that is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as { port: number }).port;
    try {
      const next = await nextFreePort('127.0.0.1', taken - 1);
      assert.ok(next !== null && next > taken, `got ${next}, ${taken} is taken`);
    } finally {
      blocker.close();
    }
  });

  it('port in use: the window and the tray name the holder; the fix moves the relay to the next free port', async () => {
    const busy = await holdPort('127.0.0.1');
    children.push(busy.child);
    const user = uniqueUser('health-port');
    users.push(user);
    const mails = join(dir.path, 'mails-port');
    await mkdir(mails);
    const core = createAppCore({ settings: UNSET_SETTINGS, secrets, engineOptions: { stopGraceMs: 2000 } });
    const store = createSettingsStore(join(dir.path, 'data-port'));
    const settings = settingsFor(mails, busy.port, user);
    await store.save(settings);
    const controller = new AppCommands({
      app: core, store, secrets, autostart: createXdgAutostart(join(dir.path, 'autostart'), ['/bin/true']),
      writeClipboard: () => undefined, openLogFile: async () => '', chooseFile: async () => null,
    });
    core.settings.replace(settings);
    const monitor = new HealthMonitor({ status: core.status, settings: () => controller.current(), os: await readOsRelease(), secretServiceRunning: async () => true });
    const unwatch = monitor.watch();
    try {
      await startWith(core, settings);
      const status = await waitUntil(() => (core.status.current().problems?.length ? core.status.current() : null), 10_000, 'a port problem');
      const problem = status.problems![0]!;
      assert.equal(problem.kind, 'port-in-use');
      assert.equal(problem.title, `Port ${busy.port} is in use by node (pid ${busy.child.pid})`);
      assert.equal(problem.fix?.action, 'use-port');
      const tray = trayModel(status);
      assert.equal(tray.look, 'error');
      assert.ok(tray.items.some((item) => item.kind === 'label' && item.label === `Problem: ${problem.title}`));

      const fix = problem.fix;
      const result = await controller.applyFix({ action: 'use-port', port: fix.port });
      assert.equal(result.ok, true, JSON.stringify(result));
      assert.equal(core.status.current().state, 'running');
      assert.equal(core.status.current().port, fix.port);
      assert.equal(controller.current().port, fix.port, 'the saved settings (and so the setup pane) follow');
      assert.equal((await controller.clientSetup()).port, fix.port);
      await waitUntil(() => !core.status.current().problems, 5000, 'the problem to clear');
    } finally {
      unwatch();
      await core.relay.shutdown();
    }
  });

  it('msmtp not installed: the install line for this OS, from /etc/os-release', async () => {
    const os = await readOsRelease();
    assert.ok(os, 'this test machine has /etc/os-release');
    const user = uniqueUser('health-missing');
    users.push(user);
    const core = createAppCore({ settings: UNSET_SETTINGS, secrets });
    const settings = { ...settingsFor(dir.path, 0, user), command: 'msmtp -f %F --' };
    const monitor = new HealthMonitor({ status: core.status, settings: () => settings, os, secretServiceRunning: async () => true });
    const unwatch = monitor.watch();
    const savedPath = process.env.PATH;
    process.env.PATH = join(dir.path, 'empty-bin');
    try {
      await startWith(core, settings);
    } finally {
      process.env.PATH = savedPath;
    }
    try {
      const status = await waitUntil(() => (core.status.current().problems?.length ? core.status.current() : null), 5000, 'an msmtp problem');
      const problem = status.problems![0]!;
      assert.equal(problem.kind, 'msmtp-missing');
      assert.equal(problem.title, 'msmtp is not installed (msmtp was not found in PATH)');
      const expected = installLine('linux', os, { debian: 'msmtp', fedora: 'msmtp', arch: 'msmtp', suse: 'msmtp', alpine: 'msmtp', brew: 'msmtp' });
      assert.equal(problem.steps[0], expected);
      if ([os.id, ...os.idLike].includes('debian')) assert.equal(problem.steps[0], 'sudo apt install msmtp');
      assert.match(problem.detail, new RegExp(`On ${os.prettyName.replace(/[()]/g, '\\$&')}:`));
      assert.equal(trayModel(status).look, 'error');
    } finally {
      unwatch();
      await core.relay.shutdown();
    }
  });

  it('install lines per distribution and macOS', () => {
    const pkg = { debian: 'a', fedora: 'b', arch: 'c', suse: 'd', alpine: 'e', brew: 'f' };
    assert.equal(installLine('linux', parseOsRelease('ID=ubuntu\nID_LIKE=debian\n'), pkg), 'sudo apt install a');
    assert.equal(installLine('linux', parseOsRelease('ID="fedora"\n'), pkg), 'sudo dnf install b');
    assert.equal(installLine('linux', parseOsRelease('ID=manjaro\nID_LIKE=arch\n'), pkg), 'sudo pacman -S c');
    assert.equal(installLine('linux', parseOsRelease('ID="opensuse-tumbleweed"\nID_LIKE="opensuse suse"\n'), pkg), 'sudo zypper install d');
    assert.equal(installLine('darwin', null, pkg), 'brew install f');
    assert.equal(installLine('win32', null, pkg), null);
  });

  it('no keyring: a relay without a session bus says which desktop this is, what to start, and offers Retry', async () => {
    // A separate process whose libsecret finds no D-Bus: the real failure, not a stand-in.
    const script = `
      const { createAppCore } = require(${JSON.stringify(join(OUT, 'electron', 'core', 'app-core.js'))});
      const { HealthMonitor } = require(${JSON.stringify(join(OUT, 'electron', 'health', 'monitor.js'))});
      const { readOsRelease } = require(${JSON.stringify(join(OUT, 'electron', 'health', 'problems.js'))});
      const { createKeyringStore } = require(${JSON.stringify(join(OUT, 'src-relay', 'secrets.js'))});
      (async () => {
        const settings = { command: ${JSON.stringify(process.execPath)} + ' -e 0', host: '127.0.0.1', port: 0, user: 'nobody-here', launchAtLogin: false, keepUnsent: false, tls: false, notifications: false };
        const core = createAppCore({ settings, secrets: createKeyringStore() });
        const monitor = new HealthMonitor({ status: core.status, settings: () => settings, os: await readOsRelease(), secretServiceRunning: async () => false });
        monitor.watch();
        await core.relay.start();
        for (let i = 0; i < 100 && !core.status.current().problems; i += 1) await new Promise((r) => setTimeout(r, 20));
        console.log(JSON.stringify(core.status.current()));
        await core.relay.shutdown();
      })();`;
    for (const [desktop, expect] of [['ubuntu:GNOME', /GNOME Keyring: sudo apt install gnome-keyring/], ['KDE', /KDE Wallet/]] as const) {
      const { stdout } = await run(process.execPath, ['-e', script], {
        encoding: 'utf8', timeout: 20_000,
        env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus', XDG_CURRENT_DESKTOP: desktop },
      });
      const status = JSON.parse(stdout) as ReturnType<AppCore['status']['current']>;
      assert.equal(status.state, 'error');
      assert.equal(status.errorKind, 'keyring');
      const problem = status.problems![0]!;
      assert.equal(problem.kind, 'no-keyring');
      assert.equal(problem.title, 'No keyring (Secret Service) is running');
      assert.match(problem.detail, new RegExp(`^This is ${desktop === 'KDE' ? 'KDE' : 'GNOME'} on `));
      assert.match(problem.detail, /Could not connect/);
      assert.ok(problem.steps.some((step) => expect.test(step)), problem.steps.join(' | '));
      assert.ok(problem.steps.some((step) => /KeePassXC/.test(step)));
      assert.deepEqual(problem.fix, { action: 'retry', label: 'Retry' });
    }
  });

  it('keyring words without a desktop name, and the desktop names', () => {
    const problem = keyringProblem({ platform: 'linux', env: {}, os: parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'), secretServiceRunning: false, error: 'x' });
    assert.match(problem.detail, /^No desktop is named \(XDG_CURRENT_DESKTOP is not set\) on Debian GNU\/Linux 12/);
    assert.match(problem.steps[0]!, /no D-Bus session/);
    assert.equal(desktopName({ XDG_CURRENT_DESKTOP: 'ubuntu:GNOME' }), 'GNOME');
    assert.equal(desktopName({ XDG_CURRENT_DESKTOP: 'X-Cinnamon' }), 'Cinnamon');
  });

  it('no tray on GNOME: explains the AppIndicator extension with this distribution\'s package', async () => {
    const problem = noTrayProblem({ XDG_CURRENT_DESKTOP: 'GNOME' }, parseOsRelease('ID=debian\n'));
    assert.equal(problem.kind, 'no-tray');
    assert.match(problem.title, /^GNOME shows no tray icons/);
    assert.equal(problem.steps[0], 'sudo apt install gnome-shell-extension-appindicator');
    assert.match(problem.steps[1]!, /gnome-extensions enable appindicatorsupport@rgcjonas\.gmail\.com/);
    // In the window only: the tray cannot show it, and it does not turn the tray red.
    const status = { state: 'running' as const, host: '127.0.0.1', port: 2500, mailsToday: 0, notices: [], problems: [problem] };
    assert.equal(trayModel(status).look, 'running');
  });

  describe('msmtp configuration, as the real msmtp sees it (msmtp --pretend)', () => {
    const probeIn = async (home: string) => probeMsmtp(['msmtp', '-f', '%F', '--'], undefined, { env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config') } });

    it('builds the dry-run argv from the delivery command', () => {
      assert.deepEqual(pretendArgv(['msmtp', '-a', 'work', '-f', '%F', '--'], undefined, 'r@x'), ['msmtp', '--pretend', '-a', 'work', '--', 'r@x']);
      assert.deepEqual(pretendArgv(['msmtp', '-f', '%F', '--'], 'a@b.c', 'r@x'), ['msmtp', '--pretend', '-f', 'a@b.c', '--', 'r@x']);
    });

    it('the chown and chmod it suggests quote the path: bash runs them on exactly that file (issue #16)', async () => {
      const marker = join(dir.path, 'suggested-MARK');
      const file = `/home/me/my rc $(touch ${marker}) \`touch ${marker}\` 'q' "d" !x;#`;
      const said = (words: string) => ({ ok: false, exitCode: 78, said: [`${file}: contains secrets and therefore must ${words}`], problem: 'permissions' as const, problemFile: file });
      const steps = [
        ...msmtpConfigProblem(said('be owned by you'), '~/.msmtprc')!.steps,
        ...msmtpConfigProblem(said('have no more than user read/write permissions'), '~/.msmtprc')!.steps,
        // No file named by msmtp: the user's own, whose ~/ the shell must still expand.
        ...msmtpConfigProblem({ ...said('have no more than user read/write permissions'), problemFile: undefined }, "~/my dir/it's rc")!.steps,
      ];
      // sudo, chown and chmod stand in as functions that print the argv bash gave them.
      const prelude = 'sudo() { "$@"; }; chown() { printf "%s\\0" chown "$@"; }; chmod() { printf "%s\\0" chmod "$@"; }; ';
      const argvs = [];
      for (const step of steps) {
        const { stdout } = await promisify(execFile)('bash', ['--norc', '--noprofile', '-i', '-c', `${prelude}${step}`], { env: { ...process.env, HOME: '/home/me', USER: 'me' } });
        argvs.push(stdout.split('\0').slice(0, -1));
      }
      assert.deepEqual(argvs, [['chown', 'me', file], ['chmod', '600', file], ['chmod', '600', file], ['chmod', '600', "/home/me/my dir/it's rc"]]);
      await assert.rejects(stat(marker), /ENOENT/);
    });

    it('checks the sender the relay uses: $& and other replace patterns stay as written (issue #16)', () => {
      for (const from of ["a$&b$'c$`d$$e@x", '$1@x']) {
        assert.deepEqual(pretendArgv(['msmtp', '-f', '%F', '--'], from, 'r@x'), ['msmtp', '--pretend', '-f', from, '--', 'r@x']);
        assert.deepEqual(pretendArgv(['msmtp', '--from=%F', '--'], from, 'r@x'), ['msmtp', '--pretend', `--from=${from}`, '--', 'r@x']);
      }
      // As the relay does: only the first %F is the sender.
      assert.deepEqual(pretendArgv(['msmtp', '-f', '%F', '-X', '/log/%F', '--'], 'a@b', 'r@x'), ['msmtp', '--pretend', '-f', 'a@b', '-X', '/log/%F', '--', 'r@x']);
    });

    it('no configuration file: points to ~/.msmtprc and offers the Accounts pane\'s Add form', async () => {
      const home = join(dir.path, 'home-none');
      await mkdir(home);
      const probe = await probeIn(home);
      assert.equal(probe.problem, 'no-config');
      assert.deepEqual(probe.said, ['account default not found: no configuration file available']);
      const user = uniqueUser('health-cfg');
      const core = createAppCore({ settings: UNSET_SETTINGS, secrets });
      const settings = { ...settingsFor(dir.path, 0, user), command: 'msmtp -f %F --' };
      const monitor = new HealthMonitor({ status: core.status, settings: () => settings, os: null, home, env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config') }, secretServiceRunning: async () => true });
      await monitor.checkMsmtp();
      const problem = core.status.current().problems![0]!;
      assert.equal(problem.kind, 'msmtp-no-config');
      assert.match(problem.detail, /msmtp said: "account default not found: no configuration file available"\. Add your mail account: .* writes ~\/\.msmtprc for msmtp\./);
      assert.deepEqual(problem.opens, { pane: 'accounts', form: 'add', label: 'Add an account' });
      assert.equal(problem.sample, undefined, 'no sample file to edit by hand');
      assert.equal(trayModel(core.status.current()).look, 'error', 'the tray shows it as its error state');
    });

    it('no account: names the file msmtp read', async () => {
      const home = join(dir.path, 'home-empty');
      await mkdir(home);
      await writeFile(join(home, '.msmtprc'), 'defaults\ntls on\n', { mode: 0o600 });
      const probe = await probeIn(home);
      assert.equal(probe.problem, 'no-account');
      assert.equal(probe.problemFile, join(home, '.msmtprc'));
    });

    it('a good configuration: msmtp names the account it would use, and nothing is a problem', async () => {
      const home = join(dir.path, 'home-good');
      await mkdir(home);
      await writeFile(join(home, '.msmtprc'), 'account personal\nhost 127.0.0.1\nfrom ann@example.org\n\naccount work\nhost 127.0.0.1\nfrom ann@work.example\n\naccount default : personal\n', { mode: 0o600 });
      const byDefault = await probeIn(home);
      assert.equal(byDefault.ok, true);
      assert.equal(byDefault.account, 'default');
      const bySender = await probeMsmtp(['msmtp', '-f', '%F', '--'], 'ann@work.example', { env: { ...process.env, HOME: home } });
      assert.equal(bySender.ok, true);
      assert.equal(bySender.file, join(home, '.msmtprc'));
      assert.ok(bySender.account === 'work' || bySender.account === 'default', `msmtp chose ${bySender.account}`);
    });

    it('permissions: msmtp (as an ordinary user) refuses a config others can read; the fix makes it 0600', async () => {
      // msmtp skips the check for root, so this runs the probe as "nobody" in a home of its own.
      const home = join(dir.path, 'home-open');
      await mkdir(home);
      await chmod(dir.path, 0o755);
      const file = join(home, '.msmtprc');
      await writeFile(file, 'account a\nhost 127.0.0.1\nfrom a@example.org\nauth on\nuser a\npassword not-a-real-one\naccount default : a\n');
      const { stdout: uid } = await run('id', ['-u', 'nobody'], { encoding: 'utf8' });
      const { stdout: gid } = await run('id', ['-g', 'nobody'], { encoding: 'utf8' });
      await chown(home, Number(uid), Number(gid));
      await chown(file, Number(uid), Number(gid));
      await chmod(file, 0o644);
      // The compiled code where "nobody" can read it: the checkout may sit below a folder only root may enter (CI's
      // clone, a mktemp -d). It needs one package.
      const app = join(dir.path, 'app');
      await cp(OUT, join(app, 'out'), { recursive: true });
      await cp(join(REPO_ROOT, 'node_modules', 'shell-quote'), join(app, 'node_modules', 'shell-quote'), { recursive: true });
      await run('chmod', ['-R', 'a+rX', app]);
      const script = `
        const { HealthMonitor } = require(${JSON.stringify(join(app, 'out', 'electron', 'health', 'monitor.js'))});
        const problems = [];
        const status = { setProblems: (source, list) => problems.push(...list), onStatus: () => () => undefined, current: () => ({}) };
        const monitor = new HealthMonitor({ status, settings: () => ({ command: 'msmtp -f %F --' }), os: null, home: ${JSON.stringify(home)}, secretServiceRunning: async () => true });
        monitor.checkMsmtp().then(async () => {
          const before = problems.splice(0);
          const fixed = await monitor.fixPermissions();
          console.log(JSON.stringify({ before, fixed, after: problems }));
        });`;
      const { stdout } = await run('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'env', `HOME=${home}`, `PATH=${process.env.PATH}`, process.execPath, '-e', script], { encoding: 'utf8', timeout: 20_000 });
      const { before: found, fixed, after: remaining } = JSON.parse(stdout) as { before: { kind: string; title: string; detail: string; fix: { action: string } }[]; fixed: string; after: unknown[] };
      assert.equal(found[0]!.kind, 'msmtp-permissions');
      assert.equal(found[0]!.title, `msmtp refuses ${file} because of its permissions`);
      assert.match(found[0]!.detail, new RegExp(`msmtp said: "${file.replace(/[.]/g, '\\.')}: contains secrets and therefore must have no more than user read/write permissions"`));
      assert.equal(found[0]!.fix.action, 'fix-permissions');
      assert.equal(fixed, file);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.deepEqual(remaining, [], 'msmtp accepts it now');
    });
  });
});
