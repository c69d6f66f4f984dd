import { test } from 'node:test';
import { commandParsingFailsCleanly, commandParsingRoundTrips } from './options';

// Property-based tests of parseCommand (src-relay/options.ts). `npm run stress` runs them with more cases.

test('command strings: split exactly into the words a shell quoter joined', () => {
  commandParsingRoundTrips(500);
});

// Regression: found by this fuzz, parseCommand('${') let shell-quote's own Error('Bad substitution') through.
test('command strings: anything that is not an argv is refused with an OptionError (a one-line CLI error)', () => {
  commandParsingFailsCleanly(500);
});
