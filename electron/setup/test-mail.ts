/**
 * "Send a test mail": one mail through the running relay, logged in with the relay's own credentials, so it tests
 * the whole chain (relay → msmtp → the provider). The result says which msmtp account sent it (msmtp's own
 * choice, read with `msmtp --pretend` for the same sender), whether it went out, and if not, the stage that failed
 * in msmtp's own words with what to do next. The relay's `mail` event for this mail is matched by its envelope and
 * the exact reply, and carries msmtp's exit status and output. Passwords are never part of the result.
 */
import { STAGE_LABELS, type FailureClass, type RelayEvent, type classifyCommandFailure } from '../../src-relay/index';
import type { MsmtpAccount, TestMailResult } from '../contract/api';
import type { MsmtpProbe } from '../health/msmtp-pretend';
import { SubmitError, submitMail, testMessageId, type SubmitResult, type SubmitStep } from './smtp-submit';

export interface TestMailDeps {
  /** Where the relay listens now; null when it is not running. */
  address: { host: string; port: number } | null;
  user: string;
  password: () => Promise<string>;
  from: string;
  to: string;
  /** With local TLS on: the relay's certificate, which the test mail verifies. */
  tlsCa?: string;
  /** Every engine event from now on; returns the unsubscribe function. */
  subscribe: (listener: (event: RelayEvent) => void) => () => void;
  /** `msmtp --pretend` for this sender (null when the command is not msmtp). */
  probe: (from: string) => Promise<MsmtpProbe | null>;
  /** src-relay/failure-class.ts's classifyCommandFailure. */
  classify: (report: Parameters<typeof classifyCommandFailure>[0]) => FailureClass;
  now?: () => Date;
  timeoutMs?: number;
}

const RELAY_STEP_ADVICE: Record<SubmitStep, string> = {
  connect: 'Start the relay (the status card on the left) and try again.',
  greeting: 'The relay did not greet; stop and start it, then try again.',
  ehlo: 'The relay refused the greeting; stop and start it, then try again.',
  starttls: 'The relay\'s certificate did not verify; turn "Encrypt connections" off and on to make a new one.',
  auth: 'The relay refused its own password: regenerate the password, then try again.',
  mail: 'Check the sender address: it must be a plain address like you@example.org.',
  rcpt: 'Check the recipient address: it must be a plain address like you@example.org.',
  data: 'The relay refused the mail; see the Logs pane.',
  message: 'See the Logs pane for what msmtp said.',
};

/** The default recipient: the From of msmtp's default account (or of the only account there is). */
export function defaultTestAddress(accounts: readonly MsmtpAccount[]): string | undefined {
  const named = accounts.find((account) => account.account === 'default' && account.from);
  if (named) return named.from;
  const withFrom = accounts.filter((account) => account.from);
  return withFrom.length >= 1 ? withFrom[0]!.from : undefined;
}

export function testMessage(from: string, to: string, messageId: string, now: Date): string {
  return [
    `From: ${from}`,
    `To: ${to}`,
    'Subject: msmtp Relay test mail',
    `Date: ${now.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: ${messageId}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'This is a test mail from msmtp Relay.',
    '',
    'It went from msmtp Relay on your computer to msmtp, and msmtp sent it with your mail account.',
    'If you can read this, mail clients set up with msmtp Relay can send mail.',
    '',
  ].join('\r\n');
}

const ADDRESS = /^[^\s<>@,;]+@[^\s<>@,;]+$/;

export async function sendTestMail(deps: TestMailDeps): Promise<TestMailResult> {
  const base = { from: deps.from, to: deps.to };
  if (!ADDRESS.test(deps.to)) {
    return { ...base, outcome: 'refused', headline: `"${deps.to}" is not a mail address`, advice: 'Enter an address like you@example.org.' };
  }
  if (!deps.address) {
    return { ...base, outcome: 'not-running', headline: 'The relay is not running', advice: RELAY_STEP_ADVICE.connect };
  }
  const probe = await deps.probe(deps.from).catch(() => null);
  const account: { account?: string; accountFile?: string } = probe?.account
    ? { account: probe.account, ...(probe.file ? { accountFile: probe.file } : {}) }
    : {};
  const events: Extract<RelayEvent, { type: 'mail' }>[] = [];
  const unsubscribe = deps.subscribe((event) => {
    if (event.type === 'mail' && event.from === deps.from && event.to.length === 1 && event.to[0] === deps.to) events.push(event);
  });
  let submitted: SubmitResult;
  try {
    submitted = await submitMail({
      host: connectableHost(deps.address.host),
      port: deps.address.port,
      user: deps.user,
      password: await deps.password(),
      from: deps.from,
      to: deps.to,
      message: testMessage(deps.from, deps.to, testMessageId(), (deps.now ?? (() => new Date()))()),
      ...(deps.tlsCa !== undefined ? { tlsCa: deps.tlsCa } : {}),
      timeoutMs: deps.timeoutMs ?? 6 * 60_000,
    });
  } catch (error) {
    const step = error instanceof SubmitError ? error.step : 'connect';
    return { ...base, ...account, outcome: 'failed', headline: `Not sent: the relay could not be reached (${(error as Error).message})`, stage: 'msmtp Relay (before msmtp)', advice: RELAY_STEP_ADVICE[step] };
  } finally {
    unsubscribe();
  }
  if (submitted.step !== 'message') {
    return {
      ...base, ...account, outcome: 'failed', stage: 'msmtp Relay (before msmtp)', serverReply: submitted.reply,
      headline: `Not sent: the relay refused the test mail at ${submitted.step.toUpperCase()} (${submitted.reply})`,
      advice: RELAY_STEP_ADVICE[submitted.step],
    };
  }
  const event = events.find((candidate) => candidate.reply === submitted.reply) ?? events.at(-1);
  const via = account.account ? ` with msmtp account ${account.account}` : '';
  const queued = /^250 2\.0\.0 Queued as (\S+): (.*?)(?:; will retry)?$/.exec(submitted.reply);
  if (queued) {
    const reading = event ? readFailure(event, deps.classify) : null;
    return {
      ...base, ...account, encrypted: submitted.encrypted, outcome: 'queued', queueId: queued[1]!, serverReply: submitted.reply,
      headline: `Not sent yet: kept in the outbox because ${queued[2]}; it will be retried`,
      ...(reading ? { stage: STAGE_LABELS[reading.stage], said: reading.said, advice: reading.advice } : {}),
    };
  }
  if (submitted.code === 250) {
    return {
      ...base, ...account, encrypted: submitted.encrypted, outcome: 'sent', serverReply: submitted.reply,
      headline: `Sent to ${deps.to}${via}. Look for "msmtp Relay test mail" in that inbox.`,
    };
  }
  const reading = event ? readFailure(event, deps.classify) : null;
  return {
    ...base, ...account, encrypted: submitted.encrypted, outcome: 'failed', serverReply: submitted.reply,
    headline: reading
      ? `Not sent${via}: ${STAGE_LABELS[reading.stage]} failed (${reading.reason})`
      : `Not sent${via}: ${submitted.reply}`,
    ...(reading ? { stage: STAGE_LABELS[reading.stage], said: reading.said, advice: reading.advice } : { advice: RELAY_STEP_ADVICE.message }),
    ...(reading?.providerReply ? { providerReply: reading.providerReply } : {}),
  };
}

function readFailure(event: Extract<RelayEvent, { type: 'mail' }>, classify: TestMailDeps['classify']) {
  const output = event.commandOutput ?? '';
  const failure = classify({ exitCode: event.exitCode ?? null, signal: event.signal ?? null, output });
  const said = output.split('\n').map((line) => line.trim()).filter(Boolean).join('\n') || event.detail || event.reply;
  return { stage: failure.stage, reason: failure.reason, advice: failure.advice, said, providerReply: failure.serverReply };
}

/** A wildcard listener is reached on its loopback; 'localhost' as the relay's host means both loopbacks. */
function connectableHost(host: string): string {
  if (host === '0.0.0.0' || host === 'localhost') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}
