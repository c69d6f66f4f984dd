/**
 * The desktop app's composition root, run: out/electron/glue/main.js in a child process with everything real (the
 * engine, the key ring of scripts/with-keyring.sh, msmtp delivering to a loopback sink, electron-log, the settings
 * window in headless Chromium with the real preload) except Electron's native layer, which is the stand-in of
 * test/helpers/electron-stand-in/ (its header lists what it implements and from which documentation). The tray host
 * (StatusNotifierWatcher) and logind's LockedHint are python3-dbus fakes on the private session bus.
 * The scenarios are split over composition-root-{start,login,tray,quit}.test.ts, each file within the runner's time bound.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { refused } from '../helpers/app/app-env';
import { launchApp } from '../helpers/app/desktop-app';
import { desk, listening, liveTray, mail, started, waitForState } from '../helpers/app/desktop-session';
import { waitUntil } from '../helpers/wait';
import { useDesktopFakes } from '../helpers/app/desktop-fakes';

describe('composition root: every way out with a mail in flight', { timeout: 420_000 }, () => {
  const fakes = useDesktopFakes();

  describe('every way out with a mail in flight', () => {
    async function inFlight(tag: string, acceptDelayMs: number) {
      await fakes.watcher();
      const d = await desk(tag, acceptDelayMs);
      const app = started(launchApp(d.env, ['--hidden']));
      await waitForState(app, 'the icon', (s) => liveTray(s)?.registrations === 1);
      await waitUntil(() => listening(d.port), 10_000, 'the relay listening');
      const reply = mail(d).then((text) => text, (error: unknown) => `error: ${(error as Error).message}`);
      // The provider has the mail and holds back its 250: msmtp, and so the relay's session, is waiting for it.
      await waitUntil(() => d.sink.mails.length === 1, 10_000, 'the mail at the provider');
      return { d, app, reply };
    }

    it('tray Quit: stops listening at once, the mail finishes, exit 0', async () => {
      const { d, app, reply } = await inFlight('quit-tray', 4000);
      await app.call('tray-menu', 'Quit msmtp Relay');
      await waitUntil(() => refused(d.port), 2000, 'the listener closed at once');
      assert.match(await reply, /^250/);
      assert.deepEqual(await app.exited, { code: 0, signal: null }, app.output());
      assert.equal(d.sink.mails.length, 1);
    });

    it('SIGTERM (a logout, or systemd stopping the session): the same', async () => {
      const { d, app, reply } = await inFlight('quit-term', 4000);
      app.child.kill('SIGTERM');
      await waitUntil(() => refused(d.port), 2000, 'the listener closed at once');
      assert.match(await reply, /^250/);
      assert.deepEqual(await app.exited, { code: 0, signal: null }, app.output());
    });

    it('OS shutdown: the app holds it, and ends by itself within what logind gives (5 s), cutting a mail that takes longer', async () => {
      const { d, app, reply } = await inFlight('quit-shutdown', 9000);
      const startedAt = Date.now();
      assert.deepEqual(await app.call('power', 'shutdown'), { prevented: true });
      await waitUntil(() => refused(d.port), 2000, 'the listener closed at once');
      const exit = await app.exited;
      const took = Date.now() - startedAt;
      assert.deepEqual(exit, { code: 1, signal: null }, `ended by itself, not killed by logind: ${app.output()}`);
      assert.ok(took < 5000, `within logind's delay (${took} ms)`);
      assert.doesNotMatch(await reply, /^250/, 'the cut mail was never accepted: the client keeps it');
    });

    it('the display going away (a logout): the process ends without before-quit; the mail is not accepted, the port is free', async () => {
      const { d, app, reply } = await inFlight('quit-display', 5000);
      await app.call('display-lost').catch(() => undefined);
      assert.deepEqual(await app.exited, { code: 1, signal: null });
      assert.doesNotMatch(await reply, /^250/, 'no 250 for a mail the relay could not finish');
      assert.ok(await refused(d.port));
    });
  });
});
