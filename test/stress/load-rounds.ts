import { bigBody, sendMail } from '../helpers/hard-mail';
import { CLOSE_WAYS, loadRound } from '../helpers/hard-load';
import { settle } from '../helpers/wait';
import { startRelayProcess } from '../helpers/hard-relay-process';

/** Connection storms against the default session limit, round after round, then a full house of real mails. */

export interface LoadOptions {
  connections: number;
  rounds: number;
  midData: number;
}

export interface LoadResult {
  connections: number;
  rounds: number;
  heldPerRound: number[];
  refused: number;
  other: number;
  slowestRefusalMs: number;
  /** Free slots (16 minus active sessions) once each round's clients were gone. */
  freeAfterRounds: number[];
  fullHouseDelivered: number;
  fdsStart: number;
  fdsEnd: number;
  crashed: string | null;
}

export async function loadRounds(options: LoadOptions): Promise<LoadResult> {
  const max = 16;
  const relay = await startRelayProcess({ options: { maxSessions: max, commandTimeoutMs: 1500, dataTimeoutMs: 1500 }, quiet: true });
  try {
    const fdsStart = relay.sample().fds;
    const heldPerRound: number[] = [];
    const freeAfterRounds: number[] = [];
    let refused = 0;
    let other = 0;
    let slowestRefusalMs = 0;
    for (let round = 0; round < options.rounds; round++) {
      const closeHow = CLOSE_WAYS[round % CLOSE_WAYS.length]!;
      const result = await loadRound(relay.port, { connections: options.connections, closeHow, midData: options.midData, timeoutMs: 15_000 });
      heldPerRound.push(result.greeted);
      refused += result.refused;
      other += result.other;
      slowestRefusalMs = Math.max(slowestRefusalMs, result.maxRefusalMs);
      const stats = await settle(() => relay.stats(), (s) => s.activeSessions === 0, 5000);
      freeAfterRounds.push(max - stats.activeSessions);
    }
    const fullHouse = await Promise.all(
      Array.from({ length: max }, async (_, i) => {
        const { client, reply } = await sendMail(relay.port, `full-house-${i}@hard.test`, bigBody(10_000));
        client.destroy();
        return reply.code;
      }),
    );
    const fdsEnd = await settle(() => relay.sample().fds, (fds) => fds <= fdsStart, 8000);
    const exited = relay.exited();
    return {
      connections: options.connections,
      rounds: options.rounds,
      heldPerRound,
      refused,
      other,
      slowestRefusalMs,
      freeAfterRounds,
      fullHouseDelivered: fullHouse.filter((code) => code === 250).length,
      fdsStart,
      fdsEnd,
      crashed: exited ? JSON.stringify(exited) : null,
    };
  } finally {
    await relay.stop();
  }
}
