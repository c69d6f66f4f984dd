/**
 * The contract between one SMTP session and the engine behind it (go-smtp's backend.go): what the session hands on
 * (the envelope and the body), and the one result it gets back, which carries the reply for the client.
 */
import type { Credentials } from './auth';
import type { SmtpError, SmtpReply } from './reply';
import type { DataBody } from './wire';

export interface Envelope {
  readonly id: string;
  readonly helo: string;
  readonly remote: string;
  readonly user?: string;
  /** The reverse path as given; '' for the null sender <>. */
  readonly from: string;
  readonly to: readonly string[];
}

/** Where a failure happened: msmtp's dialogue stage, or the relay's own cases. */
/** An msmtp account that cannot send until the user fixes it (see delivery/msmtp-failures.ts). */
export interface AccountAttention {
  /** 'login-refused': the provider refused the user or password (5xx at AUTH); 'no-password': msmtp found none. */
  readonly reason: 'login-refused' | 'no-password';
  /** The account's name, from msmtp's own "could not send mail (account NAME from FILE)"; absent when not said. */
  readonly name?: string;
  /** What the user can do, one sentence. */
  readonly advice: string;
}

export type FailureStage = 'lookup' | 'connect' | 'greeting' | 'ehlo' | 'starttls' | 'tls' | 'auth'
  | 'mail-from' | 'rcpt-to' | 'data' | 'end-of-data' | 'timeout' | 'command' | 'unknown';

/** What the command did, for the log. */
export interface DeliveryReport {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The tail of what the command wrote on stdout and stderr (msmtp's error text, usually). */
  output: string;
}

/** What became of one mail handed to the command: one value, so nobody else reads exit codes or signals. */
export type DeliveryOutcome = DeliverySuccess | DeliveryFailure;

export interface DeliverySuccess {
  readonly status: 'delivered';
  /** 250: what the client hears. */
  readonly reply: SmtpReply;
  readonly report: DeliveryReport;
}

export interface DeliveryFailure {
  readonly status: 'failed';
  /** The reply for the client: 4xx when the mail may still go out later, 5xx when it never will. */
  readonly reply: SmtpError;
  readonly report: DeliveryReport;
  /**
   * 'input': the mail itself never arrived whole (the client left, fell silent, or sent too much); 'command': the
   * mail was complete and the command failed with it. Only the second kind can be kept and tried again.
   */
  readonly cause: 'command' | 'input';
  /** Where it failed (msmtp's dialogue stage, or 'command' / 'timeout' / 'unknown' for the relay's own cases). */
  readonly stage: FailureStage;
  /** Why, in a few words, for the Queued reply, the outbox and the window: 'mail server unreachable'. */
  readonly reason: string;
  /** What happened, in words, for the log. */
  readonly detail?: string;
  /** The msmtp account needs the user (login refused, no password); the mail itself is fine and is kept. */
  readonly account?: AccountAttention;
}

/** A mail the command could not send yet, kept in the outbox: the client hears 250 with the queue id. */
export interface QueuedOutcome {
  readonly status: 'queued';
  /** 250 with the queue id and the reason: what the client hears. */
  readonly reply: SmtpReply;
  readonly queueId: string;
  /** Why it was not sent now, in a few words ("mail server unreachable", "sending is paused"). */
  readonly reason: string;
  /** The first attempt, if one was made (none while sending is paused). */
  readonly report?: DeliveryReport;
}

/** The report of a delivery that never started a command. */
export const NO_REPORT: DeliveryReport = Object.freeze({ exitCode: null, signal: null, output: '' });

/** What a session learns of the mail it handed on. */
export type MailResult = DeliveryOutcome | QueuedOutcome;

/** What a session needs from the engine (go-smtp's Backend): the credentials check and the delivery. */
export interface SessionHandler {
  /** Absent: AUTH is not offered and not required. */
  readonly credentials?: Credentials;
  deliver(envelope: Envelope, body: DataBody): Promise<MailResult>;
}

