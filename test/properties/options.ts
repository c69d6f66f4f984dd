import assert from 'node:assert/strict';
import fc from 'fast-check';
import { quote } from 'shell-quote';
import { parseCommand } from '../../src-relay/index';
import { fuzzRunOptions } from './arbitraries';

/** Pure: a command string split into argv without a shell is exactly the words a shell quoter joined. */
export function commandParsingRoundTrips(numRuns: number, seed?: number): number {
  const word = fc.string({ unit: 'binary', minLength: 1, maxLength: 16 }).filter((w) => !w.includes('\0'));
  fc.assert(
    fc.property(fc.array(word, { minLength: 1, maxLength: 8 }), (words) => {
      assert.deepEqual(parseCommand(quote(words)), words);
    }),
    fuzzRunOptions(numRuns, seed),
  );
  return numRuns;
}

const shellSyntax = fc.constantFrom('${', '${x', '$(', '`', '|', '||', '&&', ';', '>', '<', '2>&1', '#', '*', '~', '"', "'", '\\', ' ', '$HOME', '(', ')');

/** Pure: any command string at all either parses into argv or is refused with an OptionError, never anything else. */
export function commandParsingFailsCleanly(numRuns: number, seed?: number): number {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.string({ unit: 'binary-ascii', maxLength: 8 }), shellSyntax), { maxLength: 10 }), (pieces) => {
      const text = pieces.join('');
      try {
        const argv = parseCommand(text);
        assert.ok(argv.length > 0 && argv.every((arg) => typeof arg === 'string'));
      } catch (error) {
        assert.equal((error as Error).name, 'OptionError', `parseCommand(${JSON.stringify(text)}) threw ${String(error)}`);
      }
    }),
    fuzzRunOptions(numRuns, seed),
  );
  return numRuns;
}
