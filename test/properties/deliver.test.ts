import { test } from 'node:test';
import { argvBuildingIsExact } from './deliver';

// Property-based test of buildArgv (src-relay/deliver.ts). `npm run stress` runs it with more cases.

test('argv building: first %F replaced, one element per recipient, nothing added', () => {
  argvBuildingIsExact(500);
});
