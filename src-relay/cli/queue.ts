import type { CliConfig } from './args';
import { StartupError } from './startup';
import { Outbox, deliverViaCommand, spawnDetached, type OutboxEntry } from '../index';

/** Exit status of a queue tool that did its job; 1 when something is left (see helpText), 3 is a start-up failure. */
const DONE = 0;
const LEFT_OVER = 1;

/** --queue-list, --queue-flush, --queue-remove: work on the spool and exit. */
export async function runQueueTool(config: CliConfig, write: (text: string) => void): Promise<number> {
  const tool = config.queueTool!;
  const outbox = await openSpool(config);
  try {
    switch (tool.kind) {
      case 'list':
        write(listText(await outbox.list(), outbox.isPaused, Date.now()));
        return DONE;
      case 'remove': {
        const removed = await outbox.remove(tool.id);
        write(removed ? `removed ${tool.id}\n` : `no mail ${tool.id} waiting in ${outbox.dir} (or it is being sent right now)\n`);
        return removed ? DONE : LEFT_OVER;
      }
      case 'flush':
        return await flush(outbox, config, write);
    }
  } finally {
    await outbox.close();
  }
}

export async function openSpool(config: CliConfig, flushSignal?: 'SIGUSR1'): Promise<Outbox> {
  try {
    return await Outbox.open({
      ...(flushSignal ? { flushSignal } : {}),
      dir: config.queueDir!,
      retryInitialMs: config.queueRetryMs,
      retryMaxMs: config.queueRetryMaxMs,
      lifetimeMs: config.queueLifetimeMs,
    });
  } catch (error) {
    throw new StartupError(`cannot use the queue folder ${config.queueDir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

/**
 * A relay daemon proven to run on the spool is asked to flush (it holds the command and the launcher); else we send
 * ourselves (claims keep two senders from taking the same mail). A pid named in the spool is never signalled on its word.
 */
async function flush(outbox: Outbox, config: CliConfig, write: (text: string) => void): Promise<number> {
  const relays = (await outbox.liveRelays()).filter((relay) => relay.takesFlushSignal);
  if (relays.length > 0 && process.platform !== 'win32') {
    for (const relay of relays) process.kill(relay.pid, 'SIGUSR1');
    write(`asked the relay${relays.length > 1 ? 's' : ''} on ${outbox.dir} (pid ${relays.map((relay) => relay.pid).join(', ')}) to send every waiting mail now\n`);
    return DONE;
  }
  const command = { argv: config.command, timeoutMs: config.deliveryTimeoutMs };
  const result = await outbox.flushWith((envelope, body, header) => deliverViaCommand(command, envelope, body, header, spawnDetached));
  write(`${result.sent} sent, ${result.waiting} still waiting, ${result.failed} failed\n`);
  return result.waiting + result.failed > 0 ? LEFT_OVER : DONE;
}

/** One line per mail: what msmtp-queue -d shows, plus what our spool knows (attempts, last error, next try). */
export function listText(entries: readonly OutboxEntry[], paused: boolean, now: number): string {
  const head = paused ? 'sending is paused: new mail is kept until it is resumed\n' : '';
  if (entries.length === 0) return `${head}the outbox is empty\n`;
  const lines = entries.map((entry) => {
    const next = entry.state === 'waiting' && entry.nextAttemptAt !== null
      ? (entry.nextAttemptAt <= now ? 'now' : `in ${duration(entry.nextAttemptAt - now)}`)
      : entry.state;
    const twice = entry.maySendTwice ? ' (may have been sent already)' : '';
    return [
      `${entry.id}  ${entry.state}${twice}  age ${duration(now - entry.receivedAt)}  attempts ${entry.attempts}  next try ${next}`,
      `  from ${entry.from || '<>'} to ${entry.to.join(', ')}${entry.subject ? `  subject ${JSON.stringify(entry.subject)}` : ''}`,
      ...(entry.lastError ? [`  last error: ${entry.lastError}`] : []),
    ].join('\n');
  });
  return `${head}${lines.join('\n')}\n`;
}

function duration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}

