/** Strict parsing of what a server sent: every line a well-formed SMTP reply line, or the transcript is invalid. */

export interface ParsedReply {
  readonly code: number;
  readonly lines: readonly string[];
}

export interface ParsedTranscript {
  readonly replies: ParsedReply[];
  /** Bytes after the last complete reply (a reply cut off by a close, or nothing). */
  readonly rest: string;
  /** What is wrong with the transcript; empty when every line is a valid reply line. */
  readonly problems: string[];
}

/** `NNN-text` or `NNN text` (or bare `NNN`), CRLF-terminated, code 2xx to 5xx, text without control characters. */
const REPLY_LINE = /^([2-5][0-9][0-9])(?:([ -])(.*))?$/s;

/** Parses a transcript (latin1 text) into replies; multi-line replies must keep one code. */
export function parseTranscript(text: string): ParsedTranscript {
  const replies: ParsedReply[] = [];
  const problems: string[] = [];
  let offset = 0;
  let current: { code: number; lines: string[] } | null = null;
  let consumed = 0;
  for (;;) {
    const end = text.indexOf('\n', offset);
    if (end < 0) break;
    const raw = text.slice(offset, end + 1);
    offset = end + 1;
    if (!raw.endsWith('\r\n')) problems.push(`line not CRLF-terminated: ${JSON.stringify(raw)}`);
    const line = raw.replace(/\r?\n$/, '');
    const match = REPLY_LINE.exec(line);
    if (!match) {
      problems.push(`not a reply line: ${JSON.stringify(line)}`);
      continue;
    }
    const code = Number(match[1]);
    const body = match[3] ?? '';
    if (/[\x00-\x1f\x7f]/.test(body)) problems.push(`control character in reply text: ${JSON.stringify(line)}`);
    if (current && current.code !== code) problems.push(`code changed inside a multi-line reply: ${JSON.stringify(line)}`);
    current ??= { code, lines: [] };
    current.lines.push(body);
    if (match[2] !== '-') {
      replies.push(current);
      current = null;
      consumed = offset;
    }
  }
  return { replies, rest: text.slice(consumed), problems };
}

/** The reply with which the relay answers the end of a mail it delivered. */
export function isDeliveredReply(reply: ParsedReply): boolean {
  return reply.code === 250 && /mail was piped/.test(reply.lines[reply.lines.length - 1] ?? '');
}
