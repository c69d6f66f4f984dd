export type EnhancedCode = readonly [2 | 4 | 5, number, number];

/** One reply to the client: a code, an RFC 3463 enhanced code (shown after EHLO), a text. */
export class SmtpReply {
  constructor(
    readonly code: number,
    readonly enhanced: EnhancedCode | null,
    readonly text: string,
  ) {}

  toReply(withEnhanced = true): string {
    return formatReply(this.code, withEnhanced ? this.enhanced : null, [this.text]);
  }
}

/**
 * A refusal (4xx or 5xx) as an error: the one type that carries a failure to the client from deep inside the
 * dialogue (go-smtp's SMTPError). Success is an SmtpReply, never an error.
 */
export class SmtpError extends Error {
  constructor(
    readonly code: number,
    readonly enhanced: EnhancedCode | null,
    text: string,
  ) {
    super(text);
    this.name = 'SmtpError';
  }

  get temporary(): boolean {
    return this.code >= 400 && this.code < 500;
  }

  toReply(withEnhanced = true): string {
    return formatReply(this.code, withEnhanced ? this.enhanced : null, [this.message]);
  }
}

/** Single or multi-line reply, CRLF-terminated ("250-a", "250 b"). */
export function formatReply(code: number, enhanced: EnhancedCode | null, lines: readonly string[]): string {
  const prefix = enhanced ? `${enhanced.join('.')} ` : '';
  const body = lines.length > 0 ? lines : [''];
  return body
    .map((line, index) => `${code}${index === body.length - 1 ? ' ' : '-'}${prefix}${line}\r\n`)
    .join('');
}

/** The replies the engine sends in more than one place. Texts follow msmtpd's where msmtpd has one. */
/** A mail handed to the command, which sent it. One frozen object: nothing per mail. */
export const PIPED: SmtpReply = Object.freeze(new SmtpReply(250, [2, 0, 0], 'Ok, mail was piped'));

/** A mail kept in the outbox: the client may forget it, the relay sends it later. */
export function queuedReply(queueId: string, reason: string): SmtpReply {
  return new SmtpReply(250, [2, 0, 0], `Queued as ${queueId}: ${reason}; will retry`);
}

export const Replies = {
  lineTooLong: () => new SmtpError(500, [5, 5, 2], 'Line too long'),
  syntax: (what: string) => new SmtpError(501, [5, 5, 4], what),
  badSequence: (what: string) => new SmtpError(503, [5, 5, 1], what),
  authRequired: () => new SmtpError(530, [5, 7, 0], 'Authentication required'),
  messageTooBig: (max: number) => new SmtpError(552, [5, 3, 4], `Message size exceeds fixed limit of ${max} bytes`),
  idleTimeout: () => new SmtpError(421, [4, 4, 2], 'Idle timeout, closing connection'),
  evicted: () => new SmtpError(421, [4, 4, 2], 'Idle while other clients wait, closing connection'),
  shuttingDown: () => new SmtpError(421, [4, 3, 2], 'Service shutting down, closing connection'),
  tooManySessions: (max: number) => new SmtpError(421, [4, 3, 2], `Too many concurrent sessions (max ${max}), try again later`),
  tooManyErrors: () => new SmtpError(421, [4, 7, 0], 'Too many errors, closing connection'),
  notSmtp: () => new SmtpError(421, [4, 7, 0], 'This is an SMTP server, not a web server; closing connection'),
  internal: () => new SmtpError(451, [4, 3, 0], 'Internal error, please try again later'),
} as const;
