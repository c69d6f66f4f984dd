/** Every icon the tray model and the packaging config name exists, is a PNG of the promised size. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../helpers/paths';
import { trayIconFile, type TrayLook } from '../../../electron/tray/model';

const root = REPO_ROOT;

async function pngSize(file: string): Promise<{ width: number; height: number; colorType: number }> {
  const data = await readFile(file);
  assert.equal(data.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', `${file} is a PNG`);
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20), colorType: data[25]! };
}

describe('icons', () => {
  it('has a tray icon (and its @2x) for every look on every platform', async () => {
    for (const look of ['running', 'stopped', 'error'] as TrayLook[]) {
      for (const platform of ['linux', 'darwin'] as NodeJS.Platform[]) {
        const name = trayIconFile(look, platform);
        const base = await pngSize(join(root, 'assets', name));
        const double = await pngSize(join(root, 'assets', name.replace('.png', '@2x.png')));
        assert.equal(base.width, base.height);
        assert.equal(double.width, base.width * 2, `${name} @2x is twice the size`);
        assert.equal(base.colorType, 6, 'RGBA, so it has transparency');
      }
    }
  });

  it('has a Windows tray .ico for every look, with PNG images of 16, 20, 24, 32 and 48 px', async () => {
    for (const look of ['running', 'stopped', 'error'] as TrayLook[]) {
      const name = trayIconFile(look, 'win32');
      assert.equal(name, `tray-${look}.ico`);
      const ico = await readFile(join(root, 'assets', name));
      assert.deepEqual([ico.readUInt16LE(0), ico.readUInt16LE(2)], [0, 1], `${name} is an icon file`);
      const sizes: number[] = [];
      for (let index = 0; index < ico.readUInt16LE(4); index += 1) {
        const entry = 6 + index * 16;
        const offset = ico.readUInt32LE(entry + 12);
        const image = ico.subarray(offset, offset + ico.readUInt32LE(entry + 8));
        assert.equal(image.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'each image is a PNG');
        assert.equal(image.readUInt32BE(16), ico[entry], 'the directory names the size of the image it points to');
        sizes.push(image.readUInt32BE(16));
      }
      assert.deepEqual(sizes, [16, 20, 24, 32, 48]);
    }
  });

  it('has the 512 px app icon and the installer formats', async () => {
    assert.deepEqual(await pngSize(join(root, 'assets', 'icon.png')), { width: 512, height: 512, colorType: 6 });
    assert.deepEqual(await pngSize(join(root, 'build', 'icon.png')), { width: 512, height: 512, colorType: 6 });
    const ico = await readFile(join(root, 'build', 'icon.ico'));
    assert.deepEqual([ico.readUInt16LE(0), ico.readUInt16LE(2)], [0, 1]);
    assert.equal(ico.readUInt16LE(4), 7, 'seven sizes up to 256');
    const icns = await readFile(join(root, 'build', 'icon.icns'));
    assert.equal(icns.subarray(0, 4).toString('ascii'), 'icns');
    assert.equal(icns.readUInt32BE(4), icns.length);
    for (const size of [16, 32, 48, 64, 128, 256, 512]) {
      assert.equal((await pngSize(join(root, 'build', 'icons', `${size}x${size}.png`))).width, size);
    }
  });
});
