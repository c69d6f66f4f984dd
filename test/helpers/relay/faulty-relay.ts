import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { RelayEvent } from '../../../src-relay/index';
import { healthyMail, processAlive } from '../smtp/mail';
import { fixture } from '../paths';
import { readRecordings, startRelayHarness, type RelayHarness, type Recording } from './relay-harness';
import { waitUntil } from '../wait';

export type MailEvent = Extract<RelayEvent, { type: 'mail' }>;
export const isMailTo = (recipient: string) => (event: RelayEvent): event is MailEvent => event.type === 'mail' && event.to.includes(recipient);

/**
 * A relay whose delivery command is test/fixtures/faulty-command.mjs: it crashes, hangs, stops reading, exits early
 * or floods its output as the mail's recipient asks, and records what it was given. Each fault runs beside a
 * healthy mail, which must be served as usual.
 */
export interface FaultyRelay {
  readonly harness: RelayHarness;
  /** Every mail the command was given in full. */
  recordings(): Recording[];
  recordedFor(recipient: string): Recording[];
  /** Pids of every command run for this fault (the fixture leaves pid-<pid> files naming the fault). */
  commandPids(fault: string): number[];
  /** Runs a fault beside a healthy mail; then checks the healthy one, and that the fault's command ran and none is left. */
  withHealthyNeighbour(fault: string, work: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

async function startFaultyRelay(): Promise<FaultyRelay> {
  const recordDir = mkdtempSync(join(tmpdir(), 'relay-faults-'));
  const harness = await startRelayHarness({
    options: {
      command: ['/usr/bin/env', `RECORD_DIR=${recordDir}`, 'FLOOD_MB=16', process.execPath, fixture('faulty-command.mjs'), '-f', '%F', '--'],
      deliveryTimeoutMs: 800,
      commandTimeoutMs: 5000,
      dataTimeoutMs: 3000,
    },
  });
  const commandPids = (fault: string) =>
    readdirSync(recordDir)
      .filter((name) => name.startsWith('pid-') && readFileSync(join(recordDir, name), 'utf8') === fault)
      .map((name) => Number(name.slice(4)));
  return {
    harness,
    recordings: () => readRecordings(recordDir),
    commandPids,
    recordedFor: (recipient) => readRecordings(recordDir).filter((recording) => recording.argv.includes(recipient)),
    async withHealthyNeighbour(fault, work) {
      const healthy = healthyMail(harness.port);
      await Promise.all([work(), healthy.done]);
      healthy.check(readRecordings(recordDir));
      // "every command is gone" holds for an empty list too: without a pid seen, it proves nothing.
      assert.ok(commandPids(fault).length > 0, `no ${fault} command ran`);
      await waitUntil(() => commandPids(fault).every((pid) => !processAlive(pid)), 3000, `every ${fault} command to be gone`);
    },
    async close() {
      await harness.close();
      rmSync(recordDir, { recursive: true, force: true });
    },
  };
}

/** The faulty relay of the calling suite: started before its tests, closed after them. */
export function faultyRelayForSuite(): FaultyRelay {
  let started: FaultyRelay | undefined;
  before(async () => {
    started = await startFaultyRelay();
  });
  after(() => started?.close());
  const relay = () => {
    if (!started) throw new Error('the faulty relay starts in the suite\'s before()');
    return started;
  };
  return {
    get harness() {
      return relay().harness;
    },
    recordings: () => relay().recordings(),
    recordedFor: (recipient) => relay().recordedFor(recipient),
    commandPids: (fault) => relay().commandPids(fault),
    withHealthyNeighbour: (fault, work) => relay().withHealthyNeighbour(fault, work),
    close: () => relay().close(),
  };
}
