import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { SmtpError } from '../../../src-relay/index';
import { SmtpReader, StreamEndedError, type DataBody } from '../../../src-relay/smtp/wire';

const limits = { maxLineBytes: 512, commandTimeoutMs: 2000, dataTimeoutMs: 2000 };

function readerOver(bytes?: string | Buffer, readerLimits = limits): { input: PassThrough; reader: SmtpReader } {
  const input = new PassThrough();
  const reader = new SmtpReader(input, readerLimits);
  if (bytes !== undefined) input.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  return { input, reader };
}

async function collect(body: DataBody): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** Writes the chunks one at a time, letting the reader take each before the next arrives, so every boundary is real. */
async function feed(input: PassThrough, chunks: readonly Buffer[]): Promise<void> {
  for (const chunk of chunks) {
    input.write(chunk);
    await nextTurn();
  }
}

/**
 * What a correct server makes of a DATA stream, computed the simple way: the body ends at the first CRLF.CRLF
 * (counting the CRLF before DATA's first line), and a dot at the start of a CRLF line is dropped.
 */
function referenceBody(stream: string): { body: string; rest: string } | null {
  const framed = `\r\n${stream}`;
  const end = framed.indexOf('\r\n.\r\n');
  if (end < 0) return null;
  const content = framed.slice(0, end + 2).replace(/\r\n\./g, '\r\n');
  return { body: content.slice(2), rest: framed.slice(end + 5) };
}

function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [0, ...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length];
  const chunks: Buffer[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    if (points[i + 1]! > points[i]!) chunks.push(bytes.subarray(points[i], points[i + 1]));
  }
  return chunks;
}

/** A small deterministic PRNG, so a failing random split can be replayed from the seed in the message. */
function prng(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
}

async function readBodyFromChunks(chunks: readonly Buffer[], maxBytes = 1 << 20): Promise<{ body: Buffer; next: string | null }> {
  const { input, reader } = readerOver();
  const feeding = feed(input, chunks).then(() => input.end());
  const body = await collect(reader.readData(maxBytes));
  const next = await reader.readLine();
  await feeding;
  return { body, next };
}

describe('SmtpReader command lines', () => {
  it('reads CRLF and bare-LF terminated lines, keeping pipelined lines for later reads', async () => {
    const { reader } = readerOver('EHLO a.example\r\nMAIL FROM:<x@y>\nRCPT TO:<z@w>\r\n');
    assert.equal(await reader.readLine(), 'EHLO a.example');
    assert.equal(reader.hasBufferedLine(), true);
    assert.equal(await reader.readLine(), 'MAIL FROM:<x@y>');
    assert.equal(await reader.readLine(), 'RCPT TO:<z@w>');
    assert.equal(reader.hasBufferedLine(), false);
  });

  it('returns a line whose CRLF is split across chunks, and strips only the final CR', async () => {
    const { input, reader } = readerOver();
    const line = reader.readLine();
    await feed(input, [Buffer.from('NOOP a\rb'), Buffer.from('\r'), Buffer.from('\n')]);
    assert.equal(await line, 'NOOP a\rb');
  });

  it('answers an overlong line with 500 once its end arrived, then reads the next line in step', async () => {
    const { input, reader } = readerOver();
    const first = reader.readLine();
    const settled = first.then(() => 'resolved', (error: unknown) => error);
    await feed(input, [Buffer.alloc(600, 'a'), Buffer.alloc(3000, 'b')]);
    assert.equal(await Promise.race([settled, nextTurn().then(() => 'pending')]), 'pending', 'no reply before the line ended');
    await feed(input, [Buffer.from('ccc\r\nNOOP\r\n')]);
    const error = await settled;
    assert.ok(error instanceof SmtpError, `expected an SmtpError, got ${String(error)}`);
    assert.equal(error.code, 500);
    assert.equal(await reader.readLine(), 'NOOP');
  });

  it('takes a line of exactly maxLineBytes (CRLF included) and refuses one byte more', async () => {
    const exact = `${'a'.repeat(limits.maxLineBytes - 2)}\r\n`;
    const over = `${'b'.repeat(limits.maxLineBytes - 1)}\r\n`;
    const { reader } = readerOver(`${exact}${over}QUIT\r\n`);
    assert.equal(await reader.readLine(), exact.slice(0, -2));
    await assert.rejects(reader.readLine(), (error: unknown) => error instanceof SmtpError && error.code === 500);
    assert.equal(await reader.readLine(), 'QUIT');
  });

  it('passes a NUL byte through to the caller (the session refuses it)', async () => {
    const { reader } = readerOver(Buffer.from('EHLO a\0b\r\n', 'latin1'));
    assert.equal(await reader.readLine(), 'EHLO a\0b');
  });

  it('returns null at EOF and drops a final line without terminator', async () => {
    const { input, reader } = readerOver('QUIT');
    input.end();
    assert.equal(await reader.readLine(), null);
  });

  it('gives up on a line that does not complete within commandTimeoutMs, even if bytes keep trickling in', async () => {
    const { input, reader } = readerOver(undefined, { ...limits, commandTimeoutMs: 300 });
    const started = Date.now();
    const trickle = setInterval(() => input.write('a'), 50);
    try {
      await assert.rejects(reader.readLine(), (error: unknown) => error instanceof StreamEndedError && error.reason === 'timeout');
    } finally {
      clearInterval(trickle);
    }
    const took = Date.now() - started;
    assert.ok(took >= 280 && took < 1500, `timed out after ${took} ms`);
  });
});

describe('SmtpReader DATA', () => {
  it('unstuffs dots: "..x" becomes ".x", ".x" becomes "x", "..." becomes ".."', async () => {
    const { reader } = readerOver('..x\r\n.x\r\n...\r\nplain\r\n.\r\n');
    assert.equal((await collect(reader.readData(1000))).toString('latin1'), '.x\r\nx\r\n..\r\nplain\r\n');
  });

  it('reads an empty body', async () => {
    const { reader } = readerOver('.\r\nQUIT\r\n');
    const body = reader.readData(1000);
    assert.equal((await collect(body)).length, 0);
    assert.equal(body.bytes, 0);
    assert.equal(await reader.readLine(), 'QUIT');
  });

  it('keeps the bytes after the end marker for the next readLine (pipelined QUIT)', async () => {
    const { reader } = readerOver('Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\nNOOP\r\n');
    assert.equal((await collect(reader.readData(1000))).toString('latin1'), 'Subject: x\r\n\r\nbody\r\n');
    assert.equal(await reader.readLine(), 'QUIT');
    assert.equal(await reader.readLine(), 'NOOP');
  });

  // The SMTP smuggling table: none of these may end the mail; only the final CRLF.CRLF does.
  const notAnEnd = ['\n.\n', '\n.\r\n', '\r\n.\n', '\r.\r\n', '\r\n.\r', '\n..\n', '\r\n .\r\n'];
  for (const fake of notAnEnd) {
    it(`does not end the body at ${JSON.stringify(fake)}`, async () => {
      const stream = `a${fake}MAIL FROM:<evil@x>\r\nRCPT TO:<victim@y>\r\nDATA\r\nb\r\n.\r\nAFTER\r\n`;
      const expected = referenceBody(stream)!;
      const { reader } = readerOver(stream);
      const body = (await collect(reader.readData(10_000))).toString('latin1');
      assert.equal(body, expected.body);
      assert.ok(body.includes('MAIL FROM:<evil@x>'), 'the smuggled commands stayed inside the body');
      assert.equal(await reader.readLine(), 'AFTER');
    });
  }

  it('waits for more input on a body that has no CRLF.CRLF yet, then fails with eof', async () => {
    const { input, reader } = readerOver('a\n.\nb\r\n.\r');
    const body = reader.readData(10_000);
    const result = collect(body).then(() => 'ended', (error: unknown) => error);
    assert.equal(await Promise.race([result, new Promise((r) => setTimeout(() => r('pending'), 50))]), 'pending');
    input.end();
    const error = await result;
    assert.ok(error instanceof StreamEndedError && error.reason === 'eof' && error.during === 'data', String(error));
    assert.equal(body.endError, error);
  });

  it('passes 8-bit bytes, NUL and bare CR through unchanged', async () => {
    const content = Buffer.concat([Buffer.from('caf\u00e9 \u00fc\0nul\rcr\r\n', 'latin1'), Buffer.from([0xff, 0x80, 0x00, 0x0d, 0x0a])]);
    const { reader } = readerOver(Buffer.concat([content, Buffer.from('.\r\n')]));
    assert.deepEqual(await collect(reader.readData(1000)), content);
  });

  it('passes a 5 MB line intact', async () => {
    const line = Buffer.alloc(5 * 1024 * 1024, 'L');
    line[0] = 0x2e; // a leading dot, stuffed below
    const wire = Buffer.concat([Buffer.from('.'), line, Buffer.from('\r\nend\r\n.\r\nQUIT\r\n')]);
    const chunks = splitAt(wire, Array.from({ length: 80 }, (_, i) => (i + 1) * 65_536 + (i % 3)));
    const { body, next } = await readBodyFromChunks(chunks, 16 * 1024 * 1024);
    assert.equal(body.length, line.length + 7);
    assert.ok(body.subarray(0, line.length).equals(line), 'the long line arrived byte for byte');
    assert.equal(body.subarray(line.length).toString('latin1'), '\r\nend\r\n');
    assert.equal(next, 'QUIT');
  });

  const tricky = [
    'Subject: t\r\n\r\n..a\r\n.b\r\n...\r\nx\r\n.\r\nQUIT\r\n',
    '.\r\nQUIT\r\n',
    '..\r\n.\r\nQUIT\r\n',
    'a\r\r\n.\r\nQUIT\r\n',
    'a\r\n\r\n.\r\nQUIT\r\n',
    'a\n.\nb\r.\r\nc\r\n.\n\r\n.\r\nQUIT\r\n',
    '\r\n\r\n.\r\nQUIT\r\n',
    'x\r\n..\r\n.\r\nQUIT\r\n',
    '.a\r\n.\r\nQUIT\r\n',
    'a\r\n.\r\r\n.\r\nQUIT\r\n',
  ];

  it('finds the end marker and unstuffs correctly at every chunk boundary (two-way splits and byte by byte)', async () => {
    for (const stream of tricky) {
      const expected = referenceBody(stream)!;
      const wire = Buffer.from(stream, 'latin1');
      for (let cut = 1; cut < wire.length; cut++) {
        const { body, next } = await readBodyFromChunks(splitAt(wire, [cut]));
        assert.equal(body.toString('latin1'), expected.body, `${JSON.stringify(stream)} split at ${cut}`);
        assert.equal(next, 'QUIT', `${JSON.stringify(stream)} split at ${cut}`);
      }
      const bytes = Array.from({ length: wire.length - 1 }, (_, i) => i + 1);
      const { body, next } = await readBodyFromChunks(splitAt(wire, bytes));
      assert.equal(body.toString('latin1'), expected.body, `${JSON.stringify(stream)} byte by byte`);
      assert.equal(next, 'QUIT');
    }
  });

  it('agrees with the reference on random bodies in random splits', async () => {
    const alphabet = ['\r', '\n', '.', 'a', '\r\n', '\r\n.', '\r\n..', '\0', '\u00ff'];
    const random = prng(20261125);
    for (let round = 0; round < 300; round++) {
      const seed = Math.floor(random() * 2 ** 31);
      const pick = prng(seed);
      let stream = '';
      const length = 1 + Math.floor(pick() * 30);
      for (let i = 0; i < length; i++) stream += alphabet[Math.floor(pick() * alphabet.length)];
      stream += '\r\n.\r\nQUIT\r\n';
      const expected = referenceBody(stream)!;
      const wire = Buffer.from(stream, 'latin1');
      const cuts = Array.from({ length: Math.floor(pick() * 6) }, () => 1 + Math.floor(pick() * (wire.length - 1)));
      const { body } = await readBodyFromChunks(splitAt(wire, cuts));
      assert.equal(body.toString('latin1'), expected.body, `seed ${seed}: ${JSON.stringify(stream)} cut at ${cuts.join(',')}`);
    }
  });

  it('fails a body over the byte cap with 552, and drain() reads to the end so the next command is in step', async () => {
    const { input, reader } = readerOver();
    const body = reader.readData(1000);
    const result = collect(body).then(() => null, (error: unknown) => error);
    const feeding = feed(input, [Buffer.alloc(800, 'a'), Buffer.from('\r\n'), Buffer.alloc(800, 'b'), Buffer.from('\r\n.\r\nNOOP\r\n')]);
    const error = await result;
    assert.ok(error instanceof SmtpError && error.code === 552, `expected 552, got ${String(error)}`);
    assert.equal(await body.drain(), null, 'the client is still there');
    await feeding;
    assert.equal(await reader.readLine(), 'NOOP');
  });

  it('reports a client that falls silent in DATA for dataTimeoutMs', async () => {
    const { reader } = readerOver('some body\r\n', { ...limits, dataTimeoutMs: 200 });
    const started = Date.now();
    await assert.rejects(collect(reader.readData(1000)), (error: unknown) => error instanceof StreamEndedError && error.reason === 'timeout');
    assert.ok(Date.now() - started < 1500);
  });

  it('drains in step after the body was abandoned while it waited for input (no lost wake-up)', async () => {
    // deliver gives up on a mail (the command stalled) while the body still waits for the client; the session then
    // drains the rest. The abandoned wait must not swallow the drain's wake-ups when its own timer runs out.
    const { input, reader } = readerOver('a\r\n', { ...limits, dataTimeoutMs: 300 });
    const body = reader.readData(100_000);
    body.on('error', () => {});
    await new Promise((r) => body.once('readable', r));
    body.destroy();
    let sent = 0;
    const drip = setInterval(() => {
      if (sent++ < 12) input.write('b\r\n');
      else {
        clearInterval(drip);
        input.write('.\r\nNOOP\r\n');
      }
    }, 50);
    try {
      assert.equal(await body.drain(), null, 'the client kept sending: no timeout');
      assert.equal(await reader.readLine(), 'NOOP');
    } finally {
      clearInterval(drip);
    }
  });

  it('discards input buffered before STARTTLS when the input is replaced', async () => {
    const { reader } = readerOver('STARTTLS\r\nMAIL FROM:<injected@x>\r\n');
    assert.equal(await reader.readLine(), 'STARTTLS');
    const secure = new PassThrough();
    reader.replaceInput(secure);
    secure.write('EHLO after\r\n');
    assert.equal(await reader.readLine(), 'EHLO after');
  });
});
