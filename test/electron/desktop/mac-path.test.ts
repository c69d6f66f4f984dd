/** macSearchPath: a launchd PATH gains Homebrew's and MacPorts' folders, so a bare `msmtp` is found. */
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MAC_TOOL_DIRS, macSearchPath } from '../../../electron/desktop/mac-path';
import { findExecutable } from '../../../src-relay/index';
import { tempDir } from '../../helpers/app/app-env';

const LAUNCHD_PATH = '/usr/bin:/bin:/usr/sbin:/sbin';

describe('mac path', () => {
  it('appends the tool folders to launchd\'s PATH, keeping what was there first and in order', () => {
    assert.equal(macSearchPath(LAUNCHD_PATH), `${LAUNCHD_PATH}:/opt/homebrew/bin:/usr/local/bin:/opt/local/bin`);
    assert.deepEqual(MAC_TOOL_DIRS, ['/opt/homebrew/bin', '/usr/local/bin', '/opt/local/bin']);
  });

  it('adds nothing twice: a PATH from a Terminal start already has them', () => {
    const terminal = '/opt/homebrew/bin:/Users/ann/bin:/usr/local/bin:/usr/bin:/bin';
    assert.equal(macSearchPath(terminal), `${terminal}:/opt/local/bin`);
    assert.equal(macSearchPath(macSearchPath(LAUNCHD_PATH)), macSearchPath(LAUNCHD_PATH));
  });

  it('copes with no PATH at all and with empty entries', () => {
    assert.equal(macSearchPath(undefined), '/opt/homebrew/bin:/usr/local/bin:/opt/local/bin');
    assert.equal(macSearchPath('/usr/bin::/bin:'), '/usr/bin:/bin:/opt/homebrew/bin:/usr/local/bin:/opt/local/bin');
  });

  it('the relay then finds a command that lives only in a tool folder', async () => {
    const dir = await tempDir('mac-path');
    try {
      const brewBin = join(dir.path, 'homebrew', 'bin');
      await mkdir(brewBin, { recursive: true });
      const program = `msmtp-mac-path-${process.pid}`;
      await writeFile(join(brewBin, program), '#!/bin/sh\nexit 0\n');
      await chmod(join(brewBin, program), 0o755);
      assert.equal(findExecutable(program, { PATH: LAUNCHD_PATH }), null);
      assert.equal(findExecutable(program, { PATH: macSearchPath(LAUNCHD_PATH, [brewBin]) }), join(brewBin, program));
    } finally {
      await dir.remove();
    }
  });
});
