import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../ports';
import { Marionette } from './marionette';
import { waitUntil } from '../wait';

/** A headless Thunderbird (Debian's package) on one profile, remote-controlled over Marionette. */
export interface HeadlessThunderbird {
  readonly marionette: Marionette;
  output(): string;
  /** Asks Thunderbird to quit (it then writes prefs.js itself) and waits for the exit; kills it after timeoutMs. */
  quit(timeoutMs?: number): Promise<void>;
  /** For cleanup: kills Thunderbird and its helper processes (its own process group) at once. */
  kill(): void;
}

export async function startThunderbird(profileDir: string, home: string, timeoutMs = 60_000): Promise<HeadlessThunderbird> {
  const port = await freePort();
  // user.js is Thunderbird's own way to set prefs for a start; only remote control and first-run quiet go there.
  await writeFile(join(profileDir, 'user.js'), [
    `user_pref("marionette.port", ${port});`,
    'user_pref("mail.shell.checkDefaultClient", false);',
    'user_pref("mail.provider.suppress_dialog_on_startup", true);',
    'user_pref("mailnews.start_page.enabled", false);',
    '',
  ].join('\n'));
  const child: ChildProcess = spawn('thunderbird', ['--headless', '--marionette', '-remote-allow-system-access', '--no-remote', '--profile', profileDir], {
    env: { ...process.env, HOME: home, MOZ_HEADLESS: '1', MOZ_CRASHREPORTER_DISABLE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = () => {
    if (child.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  let marionette: Marionette | undefined;
  try {
    await waitUntil(async () => {
      if (child.exitCode !== null) throw new Error(`Thunderbird exited (${child.exitCode}): ${output}`);
      try {
        marionette = await Marionette.open(port, 15_000);
        return true;
      } catch {
        return false;
      }
    }, timeoutMs, () => `Thunderbird's Marionette on port ${port}; output: ${output}`);
  } catch (error) {
    kill();
    throw error;
  }
  return {
    marionette: marionette!,
    output: () => output,
    kill,
    async quit(quitTimeoutMs = 30_000) {
      await marionette!.command('Marionette:Quit', { flags: ['eAttemptQuit'] }, quitTimeoutMs).catch(() => undefined);
      marionette!.close();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, quitTimeoutMs)));
      await Promise.race([exited, late]);
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) {
        kill();
        throw new Error(`Thunderbird did not quit within ${quitTimeoutMs} ms; output: ${output}`);
      }
    },
  };
}
