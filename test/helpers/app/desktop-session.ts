/**
 * One user's desktop for the composition-root tests (test/e2e/composition-root-*.test.ts): a home folder with the
 * app's settings (real msmtp to a loopback sink), the app launched in it under the Electron stand-in, and the waits
 * on what the stand-in reports.
 */
import { createKeyringStore } from '../../../src-relay/index';
import { msmtpSettingsFor, refused, tempDir, uniqueUser } from './app-env';
import { desktopEnv, writeAppSettings, type DesktopApp, type StandInState } from './desktop-app';
import { sendWithNodemailer } from '../smtp/mail';
import { writeMsmtprc, type TestMsmtprc } from '../programs/msmtprc';
import { freePort } from '../ports';
import { startSink, type SmtpSink } from '../smtp/smtp-sink';
import { waitUntil } from '../wait';

export const secrets = createKeyringStore();

export interface Desk {
  home: string;
  port: number;
  user: string;
  sink: SmtpSink;
  msmtprc: TestMsmtprc;
  env: NodeJS.ProcessEnv;
}

export const cleanups: Array<() => Promise<unknown>> = [];

/** A user's desktop: a home folder with the app's settings (real msmtp to a sink, whose 250 may come late). */
export async function desk(tag: string, acceptDelayMs = 0): Promise<Desk> {
  const dir = await tempDir(`root-${tag}`);
  const sink = await startSink({ acceptDelayMs });
  const msmtprc = writeMsmtprc({ port: sink.port });
  const port = await freePort();
  const user = uniqueUser(`root-${tag}`);
  await writeAppSettings(dir.path, msmtpSettingsFor(msmtprc.path, port, user));
  cleanups.push(() => dir.remove(), () => sink.close(), async () => msmtprc.remove(), () => secrets.delete(user).catch(() => false));
  return { home: dir.path, port, user, sink, msmtprc, env: desktopEnv(dir.path) };
}

export function started(app: DesktopApp): DesktopApp {
  cleanups.push(() => app.kill());
  return app;
}

export function listening(port: number): Promise<boolean> {
  return refused(port).then((no) => !no);
}

export async function waitForState(app: DesktopApp, what: string, check: (state: StandInState) => boolean, timeoutMs = 60_000): Promise<StandInState> {
  let last: StandInState | null = null;
  await waitUntil(async () => {
    last = await app.state();
    return check(last);
  }, timeoutMs, () => `${what}; journal: ${last?.journal.join(' | ')}\n${app.output()}`);
  return last!;
}

export const liveTray = (state: StandInState) => state.trays.filter((tray) => !tray.destroyed).at(-1);

/** Sends one mail through the relay with the password the app keeps in the key ring; resolves to the reply. */
export async function mail(d: Desk, to = 'someone@example.net'): Promise<string> {
  const pass = await waitUntil(() => secrets.get(d.user), 10_000, 'the password in the key ring');
  return sendWithNodemailer(d.port, { user: d.user, pass }, to);
}

/** Runs the cleanups the tests registered, last first. */
export async function cleanUp(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
}

