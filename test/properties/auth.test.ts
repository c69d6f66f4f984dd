import { test } from 'node:test';
import { saslDecodingIsStrict } from './auth';

// Property-based test of the SASL decoding (src-relay/auth.ts). `npm run stress` runs it with more cases.

test('SASL decoding: exact round trip for valid base64, a 501 for anything else', () => {
  saslDecodingIsStrict(500);
});
