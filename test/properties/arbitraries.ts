import fc from 'fast-check';

/** Generators shared by the fuzz properties and the socket fuzzer: bytes and lines that stress the SMTP rules. */

const CR = 0x0d;
const LF = 0x0a;

/** Bytes weighted towards the ones the DATA rules care about, with NUL and 8-bit ones in the mix. */
export const interestingByte = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(0x2e, CR, LF) },
  { weight: 1, arbitrary: fc.constantFrom(0x00, 0xff, 0x80, 0xc3, 0x09, 0x20) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 255 }) },
);

/** A body line: any bytes except the CRLF pair (a client cannot send a line that contains its own terminator). */
const shortLine = fc.array(interestingByte, { maxLength: 40, size: 'medium' }).map((bytes) => {
  const out: number[] = [];
  for (const byte of bytes) if (!(byte === LF && out[out.length - 1] === CR)) out.push(byte);
  return Buffer.from(out);
});

/** Lines far beyond RFC 5321's 1000 octets, some past the reader's 256 KiB pause threshold. */
const longLine = fc
  .tuple(fc.integer({ min: 1000, max: 300_000 }), fc.constantFrom(0x41, 0x2e, 0x00, 0xe9, CR, LF))
  .map(([length, byte]) => Buffer.alloc(length, byte));

export const bodyLines = fc.array(fc.oneof({ weight: 30, arbitrary: shortLine }, { weight: 1, arbitrary: longLine }), {
  maxLength: 25,
  size: 'medium',
});


/** fast-check's options for a property run; a seed given (from a failure report) replays that exact run. */
export function fuzzRunOptions(numRuns: number, seed?: number): { numRuns: number; seed?: number } {
  return seed !== undefined ? { numRuns, seed } : { numRuns };
}
