import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeBase64Strict, decodePlain } from '../../src-relay/smtp/auth';
import { SmtpError } from '../../src-relay/index';
import { fuzzRunOptions } from './arbitraries';

/** Pure: SASL decoding refuses with a 501 or decodes exactly; it never throws anything else. */
export function saslDecodingIsStrict(numRuns: number, seed?: number): number {
  const anyText = fc.oneof(fc.string({ unit: 'binary-ascii', maxLength: 60 }), fc.base64String({ maxLength: 60 }), fc.string({ maxLength: 30 }));
  fc.assert(
    fc.property(anyText, (text) => {
      for (const decode of [decodeBase64Strict, decodePlain]) {
        try {
          decode(text);
        } catch (error) {
          assert.ok(error instanceof SmtpError && error.code === 501, `${decode.name}(${JSON.stringify(text)}) threw ${String(error)}`);
        }
      }
    }),
    fuzzRunOptions(numRuns, seed),
  );
  const field = fc.string({ unit: 'binary', maxLength: 30 }).filter((s) => !s.includes('\0'));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), field, field, field, (bytes, authzid, user, password) => {
      const raw = Buffer.from(bytes);
      assert.ok(decodeBase64Strict(raw.toString('base64')).equals(raw));
      assert.deepEqual(decodePlain(Buffer.from(`${authzid}\0${user}\0${password}`).toString('base64')), { user, password });
    }),
    fuzzRunOptions(numRuns, seed),
  );
  return numRuns * 2;
}
