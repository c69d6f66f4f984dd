import { connectSmtp, type SmtpTestClient } from '../smtp/smtp-client';

/** How the sessions that got a slot end in a round: the ways msmtpd lost slots, and then some. */
export type CloseHow = 'destroy' | 'reset' | 'quit' | 'half-close' | 'idle';
export const CLOSE_WAYS: readonly CloseHow[] = ['destroy', 'reset', 'quit', 'half-close', 'destroy', 'reset', 'quit', 'half-close', 'destroy', 'idle'];

export interface RoundOptions {
  connections: number;
  closeHow: CloseHow;
  /** How many of the served sessions are in the middle of a mail (DATA, half a body) when they end. */
  midData: number;
  /** Bound on every wait (greeting, replies, the server's idle close). */
  timeoutMs: number;
}

export interface RoundResult {
  greeted: number;
  refused: number;
  /** Anything else: a connection that failed or got another first reply. */
  other: number;
  /** Slowest 421, from the start of connect to the reply. */
  maxRefusalMs: number;
  /** The served sessions that ended with the server's 421 idle close (closeHow 'idle'). */
  idleClosed: number;
}

/**
 * One round: `connections` clients connect at once; those greeted hold their slot until every client got its first
 * reply; then `midData` of them start a mail, and all of them end the way the round says.
 */
export async function loadRound(port: number, options: RoundOptions): Promise<RoundResult> {
  const attempts = await Promise.all(
    Array.from({ length: options.connections }, async () => {
      const started = Date.now();
      try {
        const client = await connectSmtp(port, { timeoutMs: options.timeoutMs });
        return { client, code: client.greeting?.code ?? 0, ms: Date.now() - started };
      } catch {
        return { client: null, code: 0, ms: Date.now() - started };
      }
    }),
  );
  const held = attempts.filter((a) => a.code === 220).map((a) => a.client!);
  const refusals = attempts.filter((a) => a.code === 421);
  for (const attempt of attempts) if (attempt.code !== 220) attempt.client?.destroy();
  let idleClosed = 0;
  try {
    const inMail = held.slice(0, options.midData);
    await Promise.all(
      inMail.map(async (client) => {
        client.send('EHLO load.test\r\nMAIL FROM:<load@hard.test>\r\nRCPT TO:<r@hard.test>\r\nDATA\r\nSubject: never finished\r\n\r\nhalf a bo');
        await client.readReplies(4, options.timeoutMs);
      }),
    );
    if (options.closeHow === 'idle') {
      const closes = await Promise.all(held.map((client) => client.expectClosed(options.timeoutMs).then((rest) => rest, () => '')));
      idleClosed = closes.filter((rest) => /^421 /m.test(rest)).length;
    } else {
      const how = options.closeHow;
      // QUIT in the middle of a body is just more body: those sessions are dropped instead.
      await Promise.all(held.map((client, i) => endSession(client, i < options.midData && how === 'quit' ? 'destroy' : how, options.timeoutMs)));
    }
  } finally {
    for (const client of held) client.destroy();
  }
  return {
    greeted: held.length,
    refused: refusals.length,
    other: attempts.length - held.length - refusals.length,
    maxRefusalMs: Math.max(0, ...refusals.map((a) => a.ms)),
    idleClosed,
  };
}

async function endSession(client: SmtpTestClient, how: Exclude<CloseHow, 'idle'>, timeoutMs: number): Promise<void> {
  switch (how) {
    case 'destroy':
      client.destroy();
      return;
    case 'reset':
      client.socket.resetAndDestroy();
      return;
    case 'quit':
      await client.command('QUIT', timeoutMs).catch(() => undefined);
      client.destroy();
      return;
    case 'half-close':
      client.end();
      await client.expectClosed(timeoutMs).catch(() => undefined);
      client.destroy();
  }
}
