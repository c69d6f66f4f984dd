import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CONTENT_SECURITY_POLICY, readUiFile, uiFilePath } from '../../../electron/desktop/ui-files';
import { UI_ROOT } from '../../helpers/app/app-browser';

describe('window files (app://ui)', () => {
  it('maps paths inside the renderer folder only', () => {
    const root = '/app/out/ui/renderer';
    assert.equal(uiFilePath(root, '/'), '/app/out/ui/renderer/index.html');
    assert.equal(uiFilePath(root, '/index.html'), '/app/out/ui/renderer/index.html');
    assert.equal(uiFilePath(root, '/main.js'), '/app/out/ui/renderer/main.js');
    assert.equal(uiFilePath(root, '/../../electron/main.js'), null);
    assert.equal(uiFilePath(root, '/%2e%2e/%2e%2e/electron/main.js'), null);
    assert.equal(uiFilePath(root, '/..%2f..%2fpackage.json'), null);
    assert.equal(uiFilePath(root, '/%5c..%5csecret.js'), null);
    assert.equal(uiFilePath(root, '/.hidden.js'), null);
    assert.equal(uiFilePath(root, '/main.js.map'), null, 'unknown types are not served');
    assert.equal(uiFilePath(root, '/main.d.ts'), null);
    assert.equal(uiFilePath(root, '/%00.js'), null);
    assert.equal(uiFilePath(root, '/%E0%A4%A'), null, 'bad escapes');
  });

  it('serves the compiled page with a CSP header and the right types', async () => {
    const page = await readUiFile(UI_ROOT, '/index.html');
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    const script = await readUiFile(UI_ROOT, '/main.js');
    assert.equal(script.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal((await readUiFile(UI_ROOT, '/missing.js')).status, 404);
    assert.equal((await readUiFile(UI_ROOT, '/../electron/main.js')).status, 404);
  });

  it('the page carries the same strict policy as a meta tag', async () => {
    const html = await readFile(join(UI_ROOT, 'index.html'), 'utf8');
    const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
    assert.ok(meta);
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:"]) {
      assert.ok(meta.split('; ').includes(directive), directive);
      assert.ok(CONTENT_SECURITY_POLICY.split('; ').includes(directive), directive);
    }
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handlers');
    assert.doesNotMatch(html, /\sstyle=/i, 'no inline styles');
    assert.doesNotMatch(html, /https?:\/\//, 'no remote content');
  });
});
