import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildArgv } from '../../src-relay/delivery/deliver';
import { fuzzRunOptions } from './arbitraries';

/** Pure: argv building keeps every recipient one element, replaces only the first %F, adds nothing else. */
export function argvBuildingIsExact(numRuns: number, seed?: number): number {
  const word = fc.string({ unit: 'binary', maxLength: 12 });
  const template = fc.array(fc.oneof(word, fc.constantFrom('%F', '-f', '--', 'x%Fy', '%F%F')), { minLength: 1, maxLength: 8 });
  fc.assert(
    fc.property(template, fc.string({ unit: 'binary', maxLength: 20 }), fc.array(word, { maxLength: 10 }), (argvTemplate, from, to) => {
      const argv = buildArgv(argvTemplate, { from, to });
      assert.equal(argv.length, argvTemplate.length + to.length);
      assert.deepEqual(argv.slice(argvTemplate.length), to);
      const first = argvTemplate.findIndex((arg) => arg.includes('%F'));
      const sender = from === '' ? 'MAILER-DAEMON' : from;
      argvTemplate.forEach((arg, i) => {
        assert.equal(argv[i], i === first ? arg.replace('%F', () => sender) : arg);
      });
    }),
    fuzzRunOptions(numRuns, seed),
  );
  return numRuns;
}
