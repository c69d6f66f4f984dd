/**
 * A second, deliberately naive description of the SMTP byte rules, written byte by byte, for model-based tests: what
 * a client sends (dot-stuffing, CRLF joins) and what a server must make of an arbitrary byte stream in DATA. The
 * engine's reader is fast and chunk-oriented; this one is slow and obviously right, and the fuzz tests compare them.
 */

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

/** The body lines as a client puts them on the wire after DATA: dot-stuffed, CRLF after each, then `.` CRLF. */
export function encodeDataBody(lines: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const line of lines) {
    if (line[0] === DOT) parts.push(Buffer.from('.'));
    parts.push(line, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('.\r\n'));
  return Buffer.concat(parts);
}

/** What the server must hand on for those lines: each line with its CRLF, no stuffing dots, no end marker. */
export function expectedBody(lines: readonly Buffer[]): Buffer {
  return Buffer.concat(lines.flatMap((line) => [line, Buffer.from('\r\n')]));
}

/** The same, as the delivery command receives it: CRLF line ends turned into LF, nothing else touched. */
export function crlfToLf(bytes: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === CR && bytes[i + 1] === LF) continue;
    out.push(bytes[i]!);
  }
  return Buffer.from(out);
}

export interface DecodedData {
  /** The unstuffed body up to the end marker (or up to the end of input when there is none). */
  body: Buffer;
  /** True when the input holds the end marker: `.` CRLF at the start of a line (line starts only after CRLF). */
  ended: boolean;
  /** The bytes after the end marker (the next commands), when it ended. */
  rest: Buffer;
}

/**
 * The DATA rules of RFC 5321 4.1.1.4 / 4.5.2, one byte at a time: a line starts only after CRLF (a bare LF never
 * starts one: no smuggling); at a line start `.` CRLF ends the mail and any other leading dot is dropped.
 */
export function decodeDataStream(input: Buffer): DecodedData {
  const out: number[] = [];
  let lineStart = true;
  let i = 0;
  while (i < input.length) {
    const byte = input[i]!;
    if (lineStart && byte === DOT) {
      if (input[i + 1] === CR && input[i + 2] === LF) {
        return { body: Buffer.from(out), ended: true, rest: input.subarray(i + 3) };
      }
      i += 1;
      lineStart = false;
      continue;
    }
    out.push(byte);
    lineStart = byte === LF && i > 0 && input[i - 1] === CR;
    i += 1;
  }
  return { body: Buffer.from(out), ended: false, rest: Buffer.alloc(0) };
}

/** Cuts bytes at the given offsets (any order, duplicates and out-of-range ones ignored). */
export function splitAt(bytes: Buffer, offsets: readonly number[]): Buffer[] {
  const cuts = [...new Set(offsets.filter((n) => n > 0 && n < bytes.length))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const cut of cuts) {
    chunks.push(bytes.subarray(from, cut));
    from = cut;
  }
  chunks.push(bytes.subarray(from));
  return chunks.filter((chunk) => chunk.length > 0);
}
