import assert from 'node:assert/strict';
import { readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UntrustedFileError, createExclusive, readUntrustedFile, readUntrustedText } from '../../../electron/desktop/untrusted-file';
import { tempDir } from '../../helpers/app/app-env';
import { makeFifo } from '../../helpers/programs/fifo';

describe('a file in a folder another program controls', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir('untrusted-file');
  });
  after(() => dir.remove());

  it('reads a regular file, and a missing one as null', async () => {
    await writeFile(join(dir.path, 'plain'), 'text\u2028\0');
    assert.equal(await readUntrustedText(join(dir.path, 'plain')), 'text\u2028\0');
    assert.equal(await readUntrustedFile(join(dir.path, 'missing')), null);
    assert.equal(await readUntrustedFile(join(dir.path, 'plain', 'below-a-file')), null);
  });

  it('refuses a symlink unless told to follow it, and never follows one to a FIFO', async () => {
    await writeFile(join(dir.path, 'secret'), 'secret');
    await symlink(join(dir.path, 'secret'), join(dir.path, 'link'));
    await assert.rejects(readUntrustedFile(join(dir.path, 'link')), (error) => error instanceof UntrustedFileError && /symbolic link/.test(error.message));
    assert.equal(await readUntrustedText(join(dir.path, 'link'), { followSymlinks: true }), 'secret');
  });

  it('refuses a FIFO at once, with nobody writing to it', async () => {
    const fifo = join(dir.path, 'fifo');
    makeFifo(fifo);
    const started = Date.now();
    await assert.rejects(readUntrustedFile(fifo, { followSymlinks: true }), /not a regular file/);
    assert.ok(Date.now() - started < 1000);
    await assert.rejects(readUntrustedFile(dir.path), /not a regular file/, 'a folder neither');
  });

  it('refuses a file over the size cap', async () => {
    await writeFile(join(dir.path, 'big'), Buffer.alloc(2000, 'a'));
    await assert.rejects(readUntrustedFile(join(dir.path, 'big'), { maxBytes: 1999 }), /larger than 1999 bytes/);
    assert.equal((await readUntrustedFile(join(dir.path, 'big'), { maxBytes: 2000 }))?.length, 2000);
  });

  it('creates a new file exclusively: an existing name, a symlink or a dangling symlink included, is an error', async () => {
    const target = join(dir.path, 'target');
    await writeFile(target, 'mine');
    await symlink(target, join(dir.path, 'planted'));
    await symlink(join(dir.path, 'nowhere'), join(dir.path, 'dangling'));
    await assert.rejects(createExclusive(join(dir.path, 'planted'), 'theirs'), /EEXIST/);
    await assert.rejects(createExclusive(join(dir.path, 'dangling'), 'theirs'), /EEXIST/);
    await assert.rejects(readFile(join(dir.path, 'nowhere')), /ENOENT/);
    assert.equal(await readFile(target, 'utf8'), 'mine');
    await createExclusive(join(dir.path, 'fresh'), 'new');
    assert.equal(await readFile(join(dir.path, 'fresh'), 'utf8'), 'new');
  });
});
