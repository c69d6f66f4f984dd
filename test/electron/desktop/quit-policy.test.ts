/**
 * QuitPolicy: every way out stops the relay once and then ends the process, including the case that used to leave
 * the app running (a quit with nothing in flight, where the stop resolves at once). The relay is the real RelayHost
 * with the real engine and key ring (inside scripts/with-keyring.sh); a mail held in the delivery command is in flight.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QuitPolicy, closeAction } from '../../../electron/desktop/quit-policy';
import { createKeyringStore } from '../../../src-relay/index';
import { freePort } from '../../helpers/ports';
import { heldCount, refused, settingsFor, sunkMails, tempDir, uniqueUser } from '../../helpers/app/app-env';
import { sendWithNodemailer } from '../../helpers/smtp/mail';
import { waitUntil } from '../../helpers/wait';
import { createAppCore, type AppCore } from '../../../electron/core/app-core';
import { UNSET_SETTINGS, startWith } from '../../helpers/app/app-core';

const secrets = createKeyringStore();
const usersToDelete: string[] = [];

interface Recorded {
  exits: number[];
  lines: string[];
  prevented: number;
}

function policyFor(core: AppCore, limitMs = 20_000): { policy: QuitPolicy; seen: Recorded } {
  const seen: Recorded = { exits: [], lines: [], prevented: 0 };
  const policy = new QuitPolicy({
    shutdown: () => core.relay.shutdown(),
    exit: (code) => seen.exits.push(code),
    log: (level, message) => seen.lines.push(`${level}: ${message}`),
    limitMs,
  });
  return { policy, seen };
}

const quitEvent = (seen: Recorded) => ({ preventDefault: () => void (seen.prevented += 1) });

describe('quit policy', { timeout: 60_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir('quit');
  });
  after(async () => {
    await Promise.all(usersToDelete.map((user) => secrets.delete(user).catch(() => false)));
    await dir.remove();
  });

  async function runningHost(name: string) {
    const mailDir = join(dir.path, name);
    await mkdir(mailDir);
    const user = uniqueUser(`quit-${name}`);
    usersToDelete.push(user);
    const core = createAppCore({ settings: UNSET_SETTINGS, secrets, engineOptions: { stopGraceMs: 15_000, authFailureDelayMs: 0 } });
    const status = await startWith(core, settingsFor(mailDir, await freePort(), user));
    assert.equal(status.state, 'running', status.error);
    return { core, mailDir, user, port: status.port };
  }

  it('a quit with nothing in flight still ends the process: exit(0) once, the port is let go', async () => {
    const { core, port } = await runningHost('idle');
    const { policy, seen } = policyFor(core);
    assert.equal(policy.quitting, false);
    policy.beforeQuit(quitEvent(seen));
    assert.equal(policy.quitting, true);
    await policy.quit('again');
    assert.deepEqual(seen.exits, [0]);
    assert.equal(seen.prevented, 1, "Electron's own quit is always held back; the policy exits by itself");
    assert.equal(policy.state, 'exited');
    assert.ok(await refused(port));
    assert.ok(seen.lines.includes('info: msmtp Relay quit (quit requested)'), seen.lines.join('\n'));
  });

  it('lets the mail in flight finish before exiting; a second quit (or the OS asking again) joins the first', async () => {
    const { core, mailDir, user, port } = await runningHost('busy');
    const pass = (await secrets.get(user))!;
    const inFlight = sendWithNodemailer(port, { user, pass }, 'hold@example.net', 'in flight at quit');
    await waitUntil(async () => (await heldCount(mailDir)) === 1, 5000, 'the held mail to reach the command');

    const { policy, seen } = policyFor(core);
    policy.beforeQuit(quitEvent(seen));
    policy.beforeQuit(quitEvent(seen)); // Cmd+Q pressed twice, or SIGTERM during a tray Quit
    const ending = policy.sessionEnding('the session ends (logoff)');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(seen.exits, [], 'no exit while the mail is in the delivery command');

    await writeFile(join(mailDir, 'release'), '');
    assert.match(await inFlight, /^250/, 'the mail in flight got its 250');
    await ending;
    assert.deepEqual(seen.exits, [0], 'exactly one exit');
    assert.equal(seen.prevented, 2);
    assert.deepEqual((await sunkMails(mailDir)).map((mail) => mail.argv.at(-1)), ['hold@example.net']);
    assert.ok(seen.lines.some((line) => /^info: the session ends \(logoff\): stopping the relay/.test(line)), seen.lines.join('\n'));
  });

  it('a stop that hangs is cut off at the limit with exit(1) and a log line', async () => {
    const seen: Recorded = { exits: [], lines: [], prevented: 0 };
    const policy = new QuitPolicy({
      shutdown: () => new Promise(() => undefined),
      exit: (code) => seen.exits.push(code),
      log: (level, message) => seen.lines.push(`${level}: ${message}`),
      limitMs: 200,
    });
    const started = Date.now();
    await policy.quit('test');
    assert.ok(Date.now() - started >= 190);
    assert.deepEqual(seen.exits, [1]);
    assert.ok(seen.lines.includes('error: the relay did not stop within 200 ms; quitting anyway'), seen.lines.join('\n'));
  });

  it('a stop that fails still exits, with code 1 and the reason in the log', async () => {
    const seen: Recorded = { exits: [], lines: [], prevented: 0 };
    const policy = new QuitPolicy({
      shutdown: async () => {
        throw new Error('listener would not close');
      },
      exit: (code) => seen.exits.push(code),
      log: (level, message) => seen.lines.push(`${level}: ${message}`),
      limitMs: 5000,
    });
    await policy.quit('test');
    assert.deepEqual(seen.exits, [1]);
    assert.ok(seen.lines.includes('error: the relay did not stop cleanly: listener would not close'));
  });

  it('closing the window hides it to the tray, quits where there is no tray, closes while quitting', () => {
    assert.equal(closeAction({ quitting: false, trayShown: true }), 'hide');
    assert.equal(closeAction({ quitting: false, trayShown: false }), 'quit');
    assert.equal(closeAction({ quitting: true, trayShown: true }), 'close');
    assert.equal(closeAction({ quitting: true, trayShown: false }), 'close');
  });
});
