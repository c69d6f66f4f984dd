import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { processGoneLine } from '../../../electron/desktop/process-gone';

describe('process gone', () => {
  it('words a crashed settings window as an error with reason and exit code', () => {
    assert.deepEqual(processGoneLine('settings window', { reason: 'crashed', exitCode: 139 }), {
      level: 'error',
      message: 'settings window ended: crashed, exit code 139',
    });
  });

  it('names the child process, and a clean exit is not an error', () => {
    assert.deepEqual(processGoneLine('child process', { type: 'GPU', reason: 'oom', exitCode: -1 }), {
      level: 'error',
      message: 'child process (GPU) ended: oom, exit code -1',
    });
    assert.deepEqual(
      processGoneLine('child process', { type: 'Utility', serviceName: 'network.mojom.NetworkService', reason: 'clean-exit', exitCode: 0 }),
      { level: 'info', message: 'child process (Utility network.mojom.NetworkService) ended: clean-exit, exit code 0' },
    );
  });
});
