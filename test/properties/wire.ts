import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import fc from 'fast-check';
import { SmtpError } from '../../src-relay/index';
import { SmtpReader, StreamEndedError } from '../../src-relay/smtp/wire';
import { bodyLines, fuzzRunOptions, interestingByte } from './arbitraries';
import { decodeDataStream, encodeDataBody, expectedBody, splitAt } from './smtp-model';

/**
 * Property-based checks of the engine's SmtpReader against the byte-by-byte model in smtp-model.ts. Each
 * function runs one property for numRuns cases and returns the number of cases run, so `npm test` runs them small
 * and `npm run stress` runs them big with the same code.
 */

const LIMITS = { maxLineBytes: 512, commandTimeoutMs: 5000, dataTimeoutMs: 5000 };
const CR = 0x0d;
const LF = 0x0a;

/** Pieces of a DATA stream: single bytes, and the sequences around which the end-of-data and smuggling rules turn. */
const streamPiece = fc.oneof(
  { weight: 6, arbitrary: interestingByte.map((byte) => Buffer.from([byte])) },
  { weight: 2, arbitrary: fc.constantFrom('\r\n', '.\r\n', '\r\n.\r\n', '\n.\r\n', '\n.\n', '\r.\r', '..', '\r\n..', '\r\n.').map((s) => Buffer.from(s)) },
);

/** Cut points for the input: arbitrary positions, mapped into the input's length by the feeder. */
const cutPoints = fc.array(fc.nat(), { maxLength: 40, size: 'medium' });

interface Feed {
  input: PassThrough;
  done: Promise<void>;
}

/** Writes the chunks one by one; with `yieldBetween`, each chunk arrives in its own turn of the event loop. */
function feed(bytes: Buffer, cuts: readonly number[], yieldBetween: boolean, end: boolean): Feed {
  const input = new PassThrough();
  const chunks = splitAt(bytes, cuts.map((n) => (bytes.length > 0 ? n % bytes.length : 0)));
  const done = (async () => {
    await nextTurn(); // the reader attaches first, so each chunk is its own 'data' event
    for (const chunk of chunks) {
      if (!input.write(chunk)) await new Promise((resolve) => input.once('drain', resolve));
      if (yieldBetween) await nextTurn();
    }
    if (end) input.end();
  })();
  return { input, done };
}

async function collect(body: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/**
 * A client's dot-stuffed mail, cut anywhere, comes out of readData byte-exact (unstuffed, CRLF kept), and the
 * command pipelined behind it is read intact.
 */
export async function bodyRoundTrip(numRuns: number, seed?: number): Promise<number> {
  await fc.assert(
    fc.asyncProperty(bodyLines, cutPoints, fc.boolean(), async (lines, cuts, yieldBetween) => {
      const wire = Buffer.concat([encodeDataBody(lines), Buffer.from('QUIT\r\n')]);
      const { input, done } = feed(wire, cuts, yieldBetween, true);
      const reader = new SmtpReader(input, LIMITS);
      const body = await collect(reader.readData(64 * 1024 * 1024));
      assert.ok(body.equals(expectedBody(lines)), 'body differs from what the client meant');
      assert.equal(await reader.readLine(), 'QUIT');
      assert.equal(await reader.readLine(), null);
      await done;
    }),
    fuzzRunOptions(numRuns, seed),
  );
  return numRuns;
}

/**
 * Any byte stream read in DATA mode gives what the model gives: the mail ends exactly when `.` CRLF starts a line
 * (after CRLF, never after a bare LF), and then the next line is the first line after the marker.
 */
export async function arbitraryStreamMatchesModel(numRuns: number, seed?: number): Promise<number> {
  const stream = fc.array(streamPiece, { maxLength: 120, size: 'medium' }).map((pieces) => Buffer.concat(pieces));
  await fc.assert(
    fc.asyncProperty(stream, cutPoints, fc.boolean(), async (bytes, cuts, yieldBetween) => {
      const model = decodeDataStream(bytes);
      const { input, done } = feed(bytes, cuts, yieldBetween, true);
      const reader = new SmtpReader(input, LIMITS);
      const parts: Buffer[] = [];
      let failure: unknown = null;
      try {
        for await (const part of reader.readData(1 << 20)) parts.push(part as Buffer);
      } catch (error) {
        failure = error;
      }
      const body = Buffer.concat(parts);
      if (model.ended) {
        assert.equal(failure, null, `mail should have ended: ${String(failure)}`);
        assert.ok(body.equals(model.body), 'body differs from the model');
        const newline = model.rest.indexOf(LF);
        const line = await reader.readLine();
        if (newline < 0) {
          assert.equal(line, null);
        } else {
          const end = newline > 0 && model.rest[newline - 1] === CR ? newline - 1 : newline;
          if (newline + 1 <= LIMITS.maxLineBytes) assert.equal(line, model.rest.subarray(0, end).toString('utf8'));
        }
      } else {
        // Without the marker the mail never ends: the client's EOF is an error, never a complete mail.
        assert.ok(failure instanceof StreamEndedError && failure.during === 'data', `expected an EOF error, got ${String(failure)}`);
        // What was passed on is the model's body, less at most what is held back to decide (a CR, a leading dot).
        assert.ok(model.body.subarray(0, body.length).equals(body), 'partial body is not a prefix of the model body');
        assert.ok(model.body.length - body.length <= 2, `held back ${model.body.length - body.length} bytes`);
      }
      await done;
    }),
    fuzzRunOptions(numRuns, seed),
  );
  return numRuns;
}

/**
 * Command lines cut anywhere come out one by one: CR LF or bare LF ends a line, a trailing CR is dropped, a line
 * longer than the limit is refused with 500 and skipped to its end, and the line after it is read in step.
 */
export async function commandLinesInStep(numRuns: number, seed?: number): Promise<number> {
  const lineBytes = fc.oneof(
    { weight: 10, arbitrary: fc.array(interestingByte.filter((b) => b !== LF), { maxLength: 60, size: 'medium' }) },
    { weight: 1, arbitrary: fc.integer({ min: 500, max: 3000 }).map((n) => new Array<number>(n).fill(0x58)) },
  );
  const line = fc.tuple(lineBytes, fc.boolean()).map(([bytes, crlf]) => ({ bytes: Buffer.from(bytes), crlf }));
  await fc.assert(
    fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 20, size: 'medium' }), cutPoints, fc.boolean(), async (lines, cuts, yieldBetween) => {
      const wire = Buffer.concat(lines.map((l) => Buffer.concat([l.bytes, Buffer.from(l.crlf ? '\r\n' : '\n')])));
      const { input, done } = feed(wire, cuts, yieldBetween, true);
      const reader = new SmtpReader(input, LIMITS);
      for (const l of lines) {
        const onWire = l.bytes.length + (l.crlf ? 2 : 1);
        // The reader drops one CR before the LF: the CRLF's own, or a bare LF line's trailing CR.
        const text = !l.crlf && l.bytes[l.bytes.length - 1] === CR ? l.bytes.subarray(0, -1) : l.bytes;
        if (onWire > LIMITS.maxLineBytes) {
          await assert.rejects(reader.readLine(), (error: unknown) => error instanceof SmtpError && error.code === 500);
        } else {
          assert.equal(await reader.readLine(), text.toString('utf8'));
        }
      }
      assert.equal(await reader.readLine(), null);
      await done;
    }),
    fuzzRunOptions(numRuns, seed),
  );
  return numRuns;
}

/**
 * A mail over the size limit is refused with 552 and the rest of it is read and dropped, so the command after the
 * end marker is still read in step, whatever the chunking.
 */
export async function oversizeStaysInStep(numRuns: number, seed?: number): Promise<number> {
  await fc.assert(
    fc.asyncProperty(bodyLines, fc.integer({ min: 1, max: 400 }), cutPoints, async (lines, maxBytes, cuts) => {
      const size = expectedBody(lines).length;
      const wire = Buffer.concat([encodeDataBody(lines), Buffer.from('NOOP\r\n')]);
      const { input, done } = feed(wire, cuts, true, true);
      const reader = new SmtpReader(input, LIMITS);
      const body = reader.readData(maxBytes);
      let failure: unknown = null;
      try {
        await collect(body);
      } catch (error) {
        failure = error;
      }
      if (size > maxBytes) {
        assert.ok(failure instanceof SmtpError && failure.code === 552, `expected 552, got ${String(failure)}`);
        assert.equal(await body.drain(), null);
      } else {
        assert.equal(failure, null);
      }
      assert.equal(await reader.readLine(), 'NOOP');
      await done;
    }),
    fuzzRunOptions(numRuns, seed),
  );
  return numRuns;
}

/**
 * Exhaustive: one mail full of traps, cut at every single position, at every pair of nearby positions and into
 * single bytes, comes out the same. Returns the number of chunkings tried.
 */
export async function everySplitOfATrickyMail(): Promise<number> {
  const lines = [
    'Subject: tricky',
    '',
    '.leading dot',
    '..two dots',
    '.',
    'bare LF here\n.\r\nnot an end (smuggling attempt)',
    'bare CR\r.\rstill one line',
    'NUL \0 and 8-bit \xe9\xff',
    '\r',
    '.\r',
    'last',
  ].map((line) => Buffer.from(line, 'latin1'));
  const wire = Buffer.concat([encodeDataBody(lines), Buffer.from('QUIT\r\n')]);
  const want = expectedBody(lines);
  let runs = 0;
  const check = async (cuts: number[]) => {
    const { input, done } = feed(wire, cuts, false, true);
    const reader = new SmtpReader(input, LIMITS);
    const body = await collect(reader.readData(1 << 20));
    assert.ok(body.equals(want), `split at ${cuts.join(',')}: body differs`);
    assert.equal(await reader.readLine(), 'QUIT', `split at ${cuts.join(',')}`);
    await done;
    runs += 1;
  };
  for (let i = 1; i < wire.length; i++) await check([i]);
  // Pairs of cuts close together: every way a CR, LF and dot can be torn apart across three chunks.
  for (let i = 1; i < wire.length; i++) for (let j = i + 1; j < Math.min(wire.length, i + 8); j++) await check([i, j]);
  // And one byte per chunk.
  await check(Array.from({ length: wire.length }, (_, i) => i));
  return runs;
}
