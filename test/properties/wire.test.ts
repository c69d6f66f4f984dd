import { test } from 'node:test';
import {
  arbitraryStreamMatchesModel, bodyRoundTrip, commandLinesInStep, everySplitOfATrickyMail, oversizeStaysInStep,
} from './wire';

// Property-based tests of the SMTP reader (src-relay/wire.ts) against a byte-by-byte model. Modest run counts here;
// `npm run stress` runs the same properties with many more cases.

test('a dot-stuffed mail comes out byte-exact whatever the chunking, and the next command is intact', { timeout: 30_000 }, async () => {
  await bodyRoundTrip(300);
});

test('any byte stream in DATA ends exactly where the model ends it (CRLF.CRLF only), unstuffed like the model', { timeout: 30_000 }, async () => {
  await arbitraryStreamMatchesModel(600);
});

test('command lines cut anywhere are read one by one; overlong lines get 500 and the next line is in step', { timeout: 30_000 }, async () => {
  await commandLinesInStep(300);
});

test('a mail over the size limit gets 552 and the command after it is still read in step', { timeout: 30_000 }, async () => {
  await oversizeStaysInStep(200);
});

test('a mail full of traps survives every cut position, every nearby pair of cuts and one byte per chunk', { timeout: 30_000 }, async () => {
  await everySplitOfATrickyMail();
});
