/**
 * RelayHost with the real engine on 127.0.0.1, the real key ring (run inside scripts/with-keyring.sh, as `npm test`
 * does) and a delivery command that stores each mail: start, mail, restart with a mail in flight, port in use.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createKeyringStore } from '../../../src-relay/index';
import { freePort } from '../../helpers/ports';
import { heldCount, refused, settingsFor, sunkMails, tempDir, uniqueUser } from '../../helpers/app/app-env';
import { sendWithNodemailer } from '../../helpers/smtp/mail';
import { describeProgram, runProgram } from '../../helpers/programs/run-program';
import { waitUntil } from '../../helpers/wait';
import { createAppCore } from '../../../electron/core/app-core';
import { UNSET_SETTINGS, startWith, applyWith } from '../../helpers/app/app-core';

const secrets = createKeyringStore();
const usersToDelete: string[] = [];
const engineOptions = { stopGraceMs: 15_000, authFailureDelayMs: 0 };

describe('RelayHost', { timeout: 60_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir('host');
  });
  after(async () => {
    await Promise.all(usersToDelete.map((user) => secrets.delete(user).catch(() => false)));
    await dir.remove();
  });

  async function hostWithMailDir(name: string, options: { now?: () => number } = {}) {
    const mailDir = join(dir.path, name);
    await (await import('node:fs/promises')).mkdir(mailDir);
    const user = uniqueUser(name);
    usersToDelete.push(user);
    const core = createAppCore({ settings: UNSET_SETTINGS, secrets, engineOptions, ...options });
    return { core, mailDir, user };
  }

  it('starts with a generated password from the key ring, relays a mail and counts it', async () => {
    const { core, mailDir, user } = await hostWithMailDir('basic');
    try {
      const status = await startWith(core, settingsFor(mailDir, 0, user));
      assert.equal(status.state, 'running', status.error);
      assert.equal(status.host, '127.0.0.1');
      assert.ok(status.port > 0);

      const password = await secrets.get(user);
      assert.ok(password && password.length >= 24, 'a strong password was stored on first start');
      assert.match(password, /^[A-Za-z0-9_-]+$/);

      const reply = await sendWithNodemailer(status.port, { user, pass: password }, 'bob@example.net', 'first');
      assert.match(reply, /^250/);
      const mails = await sunkMails(mailDir);
      assert.equal(mails.length, 1);
      assert.deepEqual(mails[0]!.argv, ['-f', 'ann@example.org', '--', 'bob@example.net']);
      assert.match(mails[0]!.body, /Subject: first/);

      const after = await waitUntil(() => (core.status.current().lastMail ? core.status.current() : null), 5000, 'the mail event');
      assert.equal(after.mailsToday, 1);
      assert.equal(after.lastMail!.outcome, 'delivered');
      assert.equal(after.lastMail!.summary, 'to bob@example.net: delivered');
      const lines = core.log.recent().map((entry) => `${entry.kind}/${entry.level}: ${entry.message}`);
      assert.ok(lines.some((line) => /^app\/info: generated a new password for user/.test(line)), lines.join('\n'));
      assert.ok(lines.some((line) => /^relay\/info: listening on 127\.0\.0\.1:\d+/.test(line)), lines.join('\n'));
      assert.ok(lines.some((line) => /^mail\/info: .*mail from ann@example\.org to bob@example\.net .*delivered/.test(line)), lines.join('\n'));
      assert.ok(!lines.some((line) => line.includes(password)), 'the password never appears in the log');

      // A second start reuses the stored password instead of replacing it.
      await core.relay.stop();
      const again = await core.relay.start();
      assert.equal(again.state, 'running');
      assert.equal(await secrets.get(user), password);
    } finally {
      await core.relay.shutdown();
    }
  });

  it('rejects a wrong password and logs the failed AUTH', async () => {
    const { core, mailDir, user } = await hostWithMailDir('badauth');
    try {
      const { port } = await startWith(core, settingsFor(mailDir, 0, user));
      await assert.rejects(sendWithNodemailer(port, { user, pass: 'not-the-password' }, 'bob@example.net'), /535|auth/i);
      await waitUntil(() => core.log.recent().some((e) => e.kind === 'auth' && e.level === 'error'), 5000, 'the auth line');
      assert.equal((await sunkMails(mailDir)).length, 0);
    } finally {
      await core.relay.shutdown();
    }
  });

  it('restarts on a port change while a mail is in flight: that mail is delivered, the new port takes mail', async () => {
    const { core, mailDir, user } = await hostWithMailDir('restart');
    try {
      const first = await startWith(core, settingsFor(mailDir, await freePort(), user));
      assert.equal(first.state, 'running', first.error);
      const pass = (await secrets.get(user))!;
      const inFlight = sendWithNodemailer(first.port, { user, pass }, 'hold@example.net', 'in flight');
      await waitUntil(async () => (await heldCount(mailDir)) === 1, 5000, 'the held mail to reach the command');

      const newPort = await freePort();
      const started = Date.now();
      const moved = await applyWith(core, settingsFor(mailDir, newPort, user));
      assert.ok(Date.now() - started < 2000, 'the new listener does not wait for the old mail');
      assert.equal(moved.state, 'running', moved.error);
      assert.equal(moved.port, newPort);
      assert.ok(await refused(first.port), 'the old port no longer accepts connections');

      assert.match(await sendWithNodemailer(newPort, { user, pass }, 'carl@example.net', 'after restart'), /^250/);
      assert.equal((await sunkMails(mailDir)).length, 1, 'the new port delivered while the old mail is still held');

      await writeFile(join(mailDir, 'release'), '');
      assert.match(await inFlight, /^250/, 'the mail in flight got its 250');
      const recipients = (await sunkMails(mailDir)).map((mail) => mail.argv.at(-1)).sort();
      assert.deepEqual(recipients, ['carl@example.net', 'hold@example.net']);
      await waitUntil(() => core.status.current().mailsToday === 2, 5000, 'both mails counted');
      assert.ok(core.log.recent().some((e) => new RegExp(`relay on 127\\.0\\.0\\.1:${first.port} stopped`).test(e.message)));
    } finally {
      await core.relay.shutdown();
    }
  });

  it('restarts on the same port (user changed) while a mail is in flight', async () => {
    const { core, mailDir, user } = await hostWithMailDir('sameport');
    const otherUser = uniqueUser('sameport2');
    usersToDelete.push(otherUser);
    try {
      const port = await freePort();
      await startWith(core, settingsFor(mailDir, port, user));
      const pass = (await secrets.get(user))!;
      const inFlight = sendWithNodemailer(port, { user, pass }, 'hold@example.net', 'in flight');
      await waitUntil(async () => (await heldCount(mailDir)) === 1, 5000, 'the held mail to reach the command');

      const changed = await applyWith(core, settingsFor(mailDir, port, otherUser));
      assert.equal(changed.state, 'running', changed.error);
      assert.equal(changed.port, port);
      const otherPass = (await secrets.get(otherUser))!;
      assert.ok(otherPass && otherPass !== pass);
      assert.match(await sendWithNodemailer(port, { user: otherUser, pass: otherPass }, 'dan@example.net'), /^250/);
      await assert.rejects(sendWithNodemailer(port, { user, pass }, 'eve@example.net'), /535|auth/i);

      await writeFile(join(mailDir, 'release'), '');
      assert.match(await inFlight, /^250/);
      assert.equal((await sunkMails(mailDir)).length, 2);
    } finally {
      await core.relay.shutdown();
    }
  });

  it("on 'localhost' it listens on both loopbacks and restarts on the same port when the user changes", async () => {
    const { core, mailDir, user } = await hostWithMailDir('bothloopbacks');
    const otherUser = uniqueUser('bothloopbacks2');
    usersToDelete.push(otherUser);
    try {
      const port = await freePort();
      const started = await startWith(core, { ...settingsFor(mailDir, port, user), host: 'localhost' });
      assert.equal(started.state, 'running', started.error);
      assert.ok(core.log.recent().some((entry) => entry.message === `listening on [::1]:${port}`), 'the ::1 listener is logged');
      // Same port, both listeners: the old engine must let go of both before the new one binds.
      const changed = await applyWith(core, { ...settingsFor(mailDir, port, otherUser), host: 'localhost' });
      assert.equal(changed.state, 'running', changed.error);
      const pass = (await secrets.get(otherUser))!;
      for (const [server, to] of [['127.0.0.1', 'v4@example.net'], ['::1', 'v6@example.net']] as const) {
        const sent = await runProgram('swaks', ['--server', server, '--port', String(port), '--auth', 'PLAIN', '--auth-user', otherUser,
          '--auth-password', pass, '--from', 'ann@example.org', '--to', to, '--timeout', '10']);
        assert.equal(sent.code, 0, describeProgram(`swaks on ${server}`, sent));
      }
      assert.deepEqual((await sunkMails(mailDir)).map((mail) => mail.argv.at(-1)), ['v4@example.net', 'v6@example.net']);
    } finally {
      await core.relay.shutdown();
    }
  });

  it('reports a port in use as an error naming the port, and recovers once it is free', async () => {
    const { core, mailDir, user } = await hostWithMailDir('inuse');
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const busyPort = (blocker.address() as { port: number }).port;
    const statuses: string[] = [];
    core.status.onStatus((status) => statuses.push(status.state));
    try {
      const status = await startWith(core, settingsFor(mailDir, busyPort, user));
      assert.equal(status.state, 'error');
      assert.equal(status.errorKind, 'port-in-use');
      assert.match(status.error!, new RegExp(`Port ${busyPort} is already in use`));
      assert.equal(status.port, busyPort);
      assert.ok(statuses.includes('error'), 'listeners heard about the error');
      assert.ok(core.log.recent().some((e) => e.level === 'error' && e.message.includes(String(busyPort))));

      await new Promise<void>((resolve) => blocker.close(() => resolve()));
      const retried = await applyWith(core, settingsFor(mailDir, busyPort, user));
      assert.equal(retried.state, 'running', retried.error);
      assert.equal(retried.error, undefined);
    } finally {
      blocker.close();
      await core.relay.shutdown();
    }
  });

  it('refuses to start when the command is not found, and says so', async () => {
    const { core, user } = await hostWithMailDir('nocommand');
    try {
      const status = await startWith(core, { ...settingsFor(dir.path, 0, user), command: 'msmtp-does-not-exist -f %F --' });
      assert.equal(status.state, 'error');
      assert.equal(status.errorKind, 'command-not-found');
      assert.match(status.error!, /msmtp-does-not-exist was not found in PATH/);
    } finally {
      await core.relay.shutdown();
    }
  });

  it('shows a failed mail as the last result, with what the command said', async () => {
    const { core, mailDir, user } = await hostWithMailDir('failing');
    try {
      const { port } = await startWith(core, settingsFor(mailDir, 0, user));
      const pass = (await secrets.get(user))!;
      await assert.rejects(sendWithNodemailer(port, { user, pass }, 'fail@example.net'), /554/);
      const status = await waitUntil(() => (core.status.current().lastMail ? core.status.current() : null), 5000, 'the failed mail');
      assert.equal(status.state, 'running');
      assert.equal(status.mailsToday, 0);
      assert.equal(status.lastMail!.outcome, 'failed');
      assert.match(status.lastMail!.summary, /^to fail@example\.net: 554.*not accepted by the server/);
      const line = core.log.recent().find((e) => e.kind === 'mail')!;
      assert.equal(line.level, 'error');
      assert.match(line.message, /command said: msmtp: recipient address fail@example\.net not accepted/);
    } finally {
      await core.relay.shutdown();
    }
  });

  it('stop closes the port; shutdown waits for the mail in flight', async () => {
    const { core, mailDir, user } = await hostWithMailDir('shutdown');
    const { port } = await startWith(core, settingsFor(mailDir, 0, user));
    const pass = (await secrets.get(user))!;
    const inFlight = sendWithNodemailer(port, { user, pass }, 'hold@example.net');
    await waitUntil(async () => (await heldCount(mailDir)) === 1, 5000, 'the held mail');
    const shutdown = core.relay.shutdown();
    await waitUntil(() => refused(port), 5000, 'the port to close');
    setTimeout(() => void writeFile(join(mailDir, 'release'), ''), 200);
    await shutdown;
    assert.equal((await sunkMails(mailDir)).length, 1, 'shutdown resolved only after the mail was delivered');
    assert.match(await inFlight, /^250/);
    assert.equal(core.status.current().state, 'stopped');
  });

  it('counts mails per local day', async () => {
    let now = new Date(2030, 0, 1, 23, 59, 0).getTime();
    const { core, mailDir, user } = await hostWithMailDir('days', { now: () => now });
    try {
      const { port } = await startWith(core, settingsFor(mailDir, 0, user));
      const pass = (await secrets.get(user))!;
      await sendWithNodemailer(port, { user, pass }, 'one@example.net');
      await waitUntil(() => core.status.current().mailsToday === 1, 5000, 'the first count');
      now += 2 * 60_000; // past midnight
      assert.equal(core.status.current().mailsToday, 0);
      await sendWithNodemailer(port, { user, pass }, 'two@example.net');
      await waitUntil(() => core.status.current().mailsToday === 1, 5000, 'the new day count');
    } finally {
      await core.relay.shutdown();
    }
  });

  it('keeps the last lines only, and clears them on request', async () => {
    const core = createAppCore({ settings: UNSET_SETTINGS, secrets, logCapacity: 3 });
    for (let i = 1; i <= 5; i += 1) core.log.app('info', `line ${i}`);
    assert.deepEqual(core.log.recent().map((e) => e.message), ['line 3', 'line 4', 'line 5']);
    assert.deepEqual(core.log.recent().map((e) => e.seq), [3, 4, 5]);
    core.log.clear();
    assert.deepEqual(core.log.recent(), []);
  });

  it('without a key ring it stays off and says why (a child process with no D-Bus session)', async () => {
    const script = `
      const { createAppCore } = require(${JSON.stringify(join(__dirname, '..', '..', '..', 'electron', 'core', 'app-core.js'))});
      const { createKeyringStore } = require(${JSON.stringify(join(__dirname, '..', '..', '..', 'src-relay', 'secrets.js'))});
      const settings = { command: process.execPath + ' -e 0', host: '127.0.0.1', port: 0, user: 'nobody-here', launchAtLogin: false, tls: false, notifications: false };
      const core = createAppCore({ settings, secrets: createKeyringStore('msmtp-relay', 8000) });
      core.relay.start()
        .then((status) => { console.log(JSON.stringify(status)); return core.relay.shutdown(); });
    `;
    const env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(dir.path, 'no-bus')}`, DISPLAY: '' };
    const output = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['-e', script], { env, timeout: 20_000 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`${error.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
    const status = JSON.parse(output.trim().split('\n').pop()!) as { state: string; errorKind: string; error: string };
    assert.equal(status.state, 'error');
    assert.equal(status.errorKind, 'keyring');
    assert.match(status.error, /^No keyring: .*The relay does not run without its password\.$/);
  });
});
