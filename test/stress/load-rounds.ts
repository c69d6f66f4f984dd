import type { RelayStats } from '../../src-relay/index';
import { bigBody, mailTo } from '../helpers/smtp/mail';
import { CLOSE_WAYS, loadRound, type CloseHow, type RoundResult } from '../helpers/relay/load-round';
import { startRelayProcess, type RelayProcess } from '../helpers/relay/relay-process';
import { connectSmtp } from '../helpers/smtp/smtp-client';
import { settle } from '../helpers/wait';

/** Connection storms against the default session limit, round after round, then a full house of real mails. */

const MAX_SESSIONS = 16;

export interface LoadOptions {
  connections: number;
  rounds: number;
  midData: number;
  /** Bound on every wait within a round (default 15 s). */
  roundTimeoutMs?: number;
  /** Descriptors the relay may hold above its start once the storms are over (default 0). */
  fdSlack?: number;
  /** A running relay with 16 slots to storm, left running; by default one is started and stopped. */
  relay?: RelayProcess;
}

export interface RoundFigures extends RoundResult {
  closeHow: CloseHow;
  /** Sessions the engine still counted once the round's clients were gone (after up to 5 s for them to end). */
  activeAfter: number;
}

export interface LoadResult {
  connections: number;
  rounds: number;
  perRound: RoundFigures[];
  heldPerRound: number[];
  refused: number;
  other: number;
  slowestRefusalMs: number;
  /** Free slots (16 minus active sessions) once each round's clients were gone. */
  freeAfterRounds: number[];
  /** The engine's counters right after the last round. */
  statsAfterRounds: RelayStats;
  /** Mails the command recorded during the rounds (each round only cuts mails off). */
  recordedAfterRounds: number;
  /** Replies to the full house's 16 mails, all 16 sessions held open together. */
  fullHouseCodes: number[];
  /** The greeting of a 17th session opened while the full house holds every slot. */
  seventeenthGreeting: number | undefined;
  fullHouseDelivered: number;
  fdsStart: number;
  fdsEnd: number;
  crashed: string | null;
}

export async function loadRounds(options: LoadOptions): Promise<LoadResult> {
  const relay =
    options.relay ??
    (await startRelayProcess({ options: { maxSessions: MAX_SESSIONS, commandTimeoutMs: 1500, dataTimeoutMs: 1500 }, quiet: true }));
  try {
    const fdsStart = relay.sample().fds;
    const perRound: RoundFigures[] = [];
    for (let round = 0; round < options.rounds; round++) {
      const closeHow = CLOSE_WAYS[round % CLOSE_WAYS.length]!;
      const result = await loadRound(relay.port, {
        connections: options.connections, closeHow, midData: options.midData, timeoutMs: options.roundTimeoutMs ?? 15_000,
      });
      const stats = await settle(() => relay.stats(), (s) => s.activeSessions === 0, 5000);
      perRound.push({ ...result, closeHow, activeAfter: stats.activeSessions });
    }
    const statsAfterRounds = await relay.stats();
    const recordedAfterRounds = relay.recordings().length;

    // The proof that the slots are really free: 16 sessions at once, each with a mail, and no room for a 17th.
    const fullHouse = await Promise.all(
      Array.from({ length: MAX_SESSIONS }, async (_, i) => {
        const { client, reply } = await mailTo(relay.port, `full-house-${i}@hard.test`, bigBody(10_000));
        return { client, code: reply.code };
      }),
    );
    let seventeenthGreeting: number | undefined;
    try {
      const extra = await connectSmtp(relay.port);
      seventeenthGreeting = extra.greeting?.code;
      extra.destroy();
    } finally {
      for (const { client } of fullHouse) client.destroy();
    }
    const fullHouseCodes = fullHouse.map((mail) => mail.code);

    // Refused sockets may linger 2 s on the server before they are destroyed; after that nothing may be left.
    const fdLimit = fdsStart + (options.fdSlack ?? 0);
    const fdsEnd = await settle(() => relay.sample().fds, (fds) => fds <= fdLimit, 8000);
    const exited = relay.exited();
    return {
      connections: options.connections,
      rounds: options.rounds,
      perRound,
      heldPerRound: perRound.map((r) => r.greeted),
      refused: perRound.reduce((sum, r) => sum + r.refused, 0),
      other: perRound.reduce((sum, r) => sum + r.other, 0),
      slowestRefusalMs: Math.max(0, ...perRound.map((r) => r.maxRefusalMs)),
      freeAfterRounds: perRound.map((r) => MAX_SESSIONS - r.activeAfter),
      statsAfterRounds,
      recordedAfterRounds,
      fullHouseCodes,
      seventeenthGreeting,
      fullHouseDelivered: fullHouseCodes.filter((code) => code === 250).length,
      fdsStart,
      fdsEnd,
      crashed: exited ? JSON.stringify(exited) : null,
    };
  } finally {
    if (!options.relay) await relay.stop();
  }
}
