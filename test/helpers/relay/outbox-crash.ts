import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForSmtp } from '../ports';
import { cliPath, commandString } from './cli-process';
import { writeMsmtprc } from '../programs/msmtprc';
import { startSink, type SmtpSink } from '../smtp/smtp-sink';
import { submitMail } from './outbox-relay';

export interface CrashRunOptions {
  mails: number;
  clients: number;
  /** SIGKILL the relay this many times, spread over the run (each once a share of the mails got their 250, after a random delay). */
  kills: number;
  /** The provider goes down and up at random moments, this far apart on average. */
  flapEveryMs: number;
  /** Bound on the whole run. */
  timeoutMs: number;
  log?: (line: string) => void;
}

export interface CrashRunResult {
  acked: number;
  /** Mails acked (250) that never reached the sink: must be 0. */
  lost: number[];
  /** Extra copies of acked mails that reached the sink. */
  duplicates: number;
  kills: number;
  flaps: number;
  /** Mails a restarted relay found in flight and flagged "may have been sent already". */
  recovered: number;
  queuedReplies: number;
  seconds: number;
}

/**
 * The outbox's crash test: clients send numbered mails through the real CLI relay (with --queue and the real msmtp)
 * while the provider goes up and down and the relay is killed with SIGKILL at random moments and restarted on its
 * spool. A client resends a mail until it got a 250, as mail programs do. Every mail that got a 250 must reach the
 * provider at least once; the duplicates are counted. Everything is on loopback and bounded in time.
 */
export async function runCrashTest(options: CrashRunOptions): Promise<CrashRunResult> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const work = mkdtempSync(join(tmpdir(), 'outbox-crash-'));
  const spool = join(work, 'spool');
  const logFile = join(work, 'relay.log');
  const providerPort = await freePort();
  const relayPort = await freePort();
  const msmtprc = writeMsmtprc({ port: providerPort });
  const args = [
    `--port=${relayPort}`, `--queue=${spool}`, '--queue-retry=0.2', '--queue-retry-max=1', `--log=${logFile}`,
    `--command=${commandString(msmtprc.command)}`,
  ];
  const current: { relay: ChildProcess | null } = { relay: null };
  const startRelay = async () => {
    current.relay = spawn(process.execPath, [cliPath, ...args], { stdio: 'ignore' });
    await waitForSmtp(relayPort, 10_000);
  };

  let sink: SmtpSink | null = await startSink({ port: providerPort });
  const received = new Map<number, number>();
  const sinks: SmtpSink[] = [sink];
  const count = () => {
    received.clear();
    for (const each of sinks) {
      for (const mail of each.mails) {
        const seq = Number(/^X-Seq: (\d+)/m.exec(mail.raw.toString('latin1'))?.[1]);
        received.set(seq, (received.get(seq) ?? 0) + 1);
      }
    }
  };

  let kills = 0;
  let flaps = 0;
  let queuedReplies = 0;
  const acked = new Set<number>();
  let stopChaos = false;
  await startRelay();
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const jitter = (mean: number) => mean * (0.5 + Math.random());

  const killer = (async () => {
    for (let round = 1; round <= options.kills && !stopChaos && Date.now() < deadline; round++) {
      while (acked.size < (options.mails * round) / (options.kills + 1) && !stopChaos && Date.now() < deadline) await pause(20);
      await pause(Math.random() * 300);
      if (stopChaos) break;
      const relay = current.relay!;
      relay.kill('SIGKILL');
      kills += 1;
      await new Promise((resolve) => (relay.exitCode !== null || relay.signalCode !== null ? resolve(null) : relay.once('exit', resolve)));
      await startRelay();
    }
  })();
  const flapper = (async () => {
    while (!stopChaos && Date.now() < deadline) {
      await pause(jitter(options.flapEveryMs));
      if (stopChaos) break;
      if (sink) {
        await sink.close();
        sink = null;
      } else {
        sink = await startSink({ port: providerPort });
        sinks.push(sink);
      }
      flaps += 1;
    }
  })();

  let next = 0;
  const client = async () => {
    while (next < options.mails && Date.now() < deadline) {
      const seq = next++;
      for (let attempt = 0; Date.now() < deadline; attempt++) {
        try {
          const reply = await submitMail(relayPort, { to: `crash${seq}@outbox.test`, body: `X-Seq: ${seq}\nSubject: crash ${seq}\n\nmail ${seq}` });
          if (reply.code === 250) {
            acked.add(seq);
            if (/Queued as/.test(reply.raw)) queuedReplies += 1;
            break;
          }
        } catch {
          // the relay was killed under us: try again, as a mail program would
        }
        await pause(50);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.clients }, client));
    stopChaos = true;
    await Promise.all([killer, flapper]);
    if (!sink) {
      sink = await startSink({ port: providerPort });
      sinks.push(sink);
    }
    // The provider is up for good: everything kept must drain by itself.
    for (;;) {
      count();
      const missing = [...acked].filter((seq) => !received.has(seq));
      const spoolEmpty = readdirSync(spool).every((name) => !name.endsWith('.json'));
      if ((missing.length === 0 && spoolEmpty) || Date.now() > deadline) break;
      await pause(200);
    }
    count();
    const lost = [...acked].filter((seq) => !received.has(seq)).sort((a, b) => a - b);
    let duplicates = 0;
    for (const seq of acked) duplicates += Math.max(0, (received.get(seq) ?? 0) - 1);
    const log = readFileSync(logFile, 'utf8');
    const recovered = (log.match(/found in flight after a crash/g) ?? []).length;
    options.log?.(`crash run: ${acked.size} acked (${queuedReplies} queued), ${lost.length} lost, ${duplicates} duplicates, ${kills} kills, ${flaps} provider flaps, ${recovered} recovered in flight`);
    return { acked: acked.size, lost, duplicates, kills, flaps, recovered, queuedReplies, seconds: (Date.now() - started) / 1000 };
  } finally {
    stopChaos = true;
    current.relay?.kill('SIGKILL');
    await sink?.close();
    msmtprc.remove();
    rmSync(work, { recursive: true, force: true });
  }
}
