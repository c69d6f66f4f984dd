import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRelay, type RelayEngine, type RelayEvent, type RelayOptions } from '../../../src-relay/index';

import { fixture } from '../paths';
import { EventLog } from './event-log';
import { connectSmtp, type SmtpTestClient } from '../smtp/smtp-client';

const recordCommandPath = fixture('record-command.mjs');

export interface RecordBehaviour {
  /** Exit code of the command (default 0). */
  exitCode?: number;
  /** Milliseconds the command waits after its stdin ended, before it exits. */
  sleepMs?: number;
}

/**
 * argv template of test/fixtures/record-command.mjs, shaped like msmtp's (`-f %F --`, recipients appended).
 * The settings travel as `env NAME=value` words, so each relay has its own record dir and no shell is involved.
 */
export function recordCommand(recordDir: string, behaviour: RecordBehaviour = {}): string[] {
  return [
    '/usr/bin/env',
    `RECORD_DIR=${recordDir}`,
    `RECORD_EXIT=${behaviour.exitCode ?? 0}`,
    `RECORD_SLEEP_MS=${behaviour.sleepMs ?? 0}`,
    process.execPath,
    recordCommandPath,
    '-f',
    '%F',
    '--',
  ];
}

/** What one run of the record command saw, once its stdin reached EOF. */
export interface Recording {
  readonly argv: readonly string[];
  readonly stdin: Buffer;
  readonly pid: number;
  readonly startedAt: number;
  readonly endedAt: number;
}

/** Completed recordings in a directory, oldest first. */
export function readRecordings(recordDir: string): Recording[] {
  return readdirSync(recordDir)
    .filter((name) => name.endsWith('.json'))
    .map((name) => {
      const data = JSON.parse(readFileSync(join(recordDir, name), 'utf8')) as Omit<Recording, 'stdin'> & { stdin: string };
      return { ...data, stdin: Buffer.from(data.stdin, 'base64') };
    })
    .sort((a, b) => a.startedAt - b.startedAt || a.pid - b.pid);
}

/** Runs of the record command that started but never saw EOF on stdin (killed, or still running). */
export function readPartials(recordDir: string): Buffer[] {
  return readdirSync(recordDir)
    .filter((name) => name.endsWith('.partial'))
    .sort()
    .map((name) => readFileSync(join(recordDir, name)));
}

export interface HarnessOptions {
  /** Engine options; host and port default to 127.0.0.1:0, the command to the record command. */
  options?: Partial<RelayOptions>;
  /** How the record command behaves (ignored when options.command is given). */
  record?: RecordBehaviour;
}

export interface RelayHarness {
  readonly relay: RelayEngine;
  readonly port: number;
  /** Every event the engine emitted since start, in order. */
  readonly events: RelayEvent[];
  readonly recordDir: string;
  recordings(): Recording[];
  partials(): Buffer[];
  /** Resolves with the first event (already seen or future) that matches; rejects after timeoutMs. */
  waitForEvent<T extends RelayEvent>(match: (event: RelayEvent) => event is T, timeoutMs?: number): Promise<T>;
  waitForEvent(match: (event: RelayEvent) => boolean, timeoutMs?: number): Promise<RelayEvent>;
  /** Stops the engine (bounded) and removes the record dir. Safe to call twice. */
  close(): Promise<void>;
}

/** Starts a relay engine in this process on 127.0.0.1:<ephemeral>, recording its events. */
export async function startRelayHarness(harness: HarnessOptions = {}): Promise<RelayHarness> {
  const recordDir = mkdtempSync(join(tmpdir(), 'relay-records-'));
  const log = new EventLog();
  const relay = createRelay({
    host: '127.0.0.1',
    port: 0,
    command: recordCommand(recordDir, harness.record),
    ...harness.options,
  });
  const unsubscribe = relay.subscribe(log.record);
  let address: { host: string; port: number };
  try {
    address = await relay.start();
  } catch (error) {
    unsubscribe();
    rmSync(recordDir, { recursive: true, force: true });
    throw error;
  }

  let closed = false;
  return {
    relay,
    port: address.port,
    events: log.events,
    recordDir,
    recordings: () => readRecordings(recordDir),
    partials: () => readPartials(recordDir),
    waitForEvent(match: (event: RelayEvent) => boolean, timeoutMs = 5000): Promise<RelayEvent> {
      return log.waitFor(match, timeoutMs);
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await relay.stop(1000);
      } finally {
        unsubscribe();
        rmSync(recordDir, { recursive: true, force: true });
      }
    },
  };
}

/** Runs body with a fresh relay and closes every client it opened and the relay afterwards, whatever happened. */
export async function withRelay(
  options: HarnessOptions,
  body: (relay: RelayHarness, open: () => Promise<SmtpTestClient>) => Promise<void>,
): Promise<void> {
  const relay = await startRelayHarness(options);
  const clients: SmtpTestClient[] = [];
  const open = async () => {
    const client = await connectSmtp(relay.port);
    clients.push(client);
    return client;
  };
  try {
    await body(relay, open);
  } finally {
    for (const client of clients) client.destroy();
    await relay.close();
  }
}
