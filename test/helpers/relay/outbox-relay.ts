import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../ports';
import { Outbox, createRelay, type OutboxOptions, type RelayEngine, type RelayEvent, type RelayOptions } from '../../../src-relay/index';
import { writeMsmtprc, type TestMsmtprc } from '../programs/msmtprc';
import { EventLog } from './event-log';
import { dataBlock, openToData } from '../smtp/mail';
import type { SmtpReply } from '../smtp/smtp-client';

/**
 * A relay engine with an outbox and the real msmtp, which sends to 127.0.0.1:providerPort. Nothing needs to listen
 * there: a closed loopback port is "provider down". Start a sink on that port (startSink({ port })) to bring it back.
 */
export interface OutboxRelay {
  readonly engine: RelayEngine;
  readonly outbox: Outbox;
  readonly port: number;
  readonly providerPort: number;
  readonly spool: string;
  readonly msmtprc: TestMsmtprc;
  /** Everything the engine and the outbox reported, in order. */
  readonly events: RelayEvent[];
  waitForEvent(match: (event: RelayEvent) => boolean, timeoutMs?: number): Promise<RelayEvent>;
  close(): Promise<void>;
}

export interface OutboxRelayOptions {
  spool?: string;
  providerPort?: number;
  outbox?: Partial<OutboxOptions>;
  engine?: Partial<RelayOptions>;
  /** Words put before msmtp's argv (e.g. ['unshare', '-n'] to run it offline). */
  commandPrefix?: readonly string[];
}

export async function startOutboxRelay(options: OutboxRelayOptions = {}): Promise<OutboxRelay> {
  const ownSpool = options.spool === undefined;
  const spool = options.spool ?? join(mkdtempSync(join(tmpdir(), 'outbox-')), 'spool');
  const providerPort = options.providerPort ?? (await freePort());
  const msmtprc = writeMsmtprc({ port: providerPort });
  const outbox = await Outbox.open({ dir: spool, ...options.outbox });
  const engine = createRelay({
    host: '127.0.0.1',
    port: 0,
    command: [...(options.commandPrefix ?? []), ...msmtprc.command],
    ...options.engine,
  }, { outbox });
  const log = new EventLog();
  const unsubscribe = [engine.subscribe(log.record), outbox.subscribe(log.record)];
  const { port } = await engine.start();
  return {
    engine, outbox, port, providerPort, spool, msmtprc, events: log.events,
    waitForEvent: (match, timeoutMs = 10_000) => log.waitFor(match, timeoutMs),
    async close() {
      await engine.stop(1000);
      await outbox.close();
      for (const stop of unsubscribe) stop();
      msmtprc.remove();
      if (ownSpool) rmSync(join(spool, '..'), { recursive: true, force: true });
    },
  };
}

/** One whole mail over SMTP (LF or CRLF line ends in `body`); the reply to its end. */
export async function submitMail(port: number, mail: { from?: string; to: string; body: string }): Promise<SmtpReply> {
  const client = await openToData(port, mail.to, mail.from ?? 'sender@outbox.test', 'outbox.test');
  try {
    client.send(dataBlock(mail.body.replace(/\r?\n/g, '\r\n')));
    const reply = await client.readReply(20_000);
    await client.command('QUIT').catch(() => undefined);
    return reply;
  } finally {
    client.destroy();
  }
}

/** The queue id in a `250 2.0.0 Queued as ID: ...` reply. */
export function queueIdOf(reply: SmtpReply): string {
  const match = /Queued as ([0-9A-F]{12}):/.exec(reply.lines.join(' '));
  assert.ok(match, `expected a Queued reply, got ${reply.raw}`);
  return match[1]!;
}
