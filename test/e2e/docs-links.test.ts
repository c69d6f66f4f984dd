/**
 * Every relative link and image in README.md and docs/ points at a file that exists, and a link to a heading
 * (`page.md#heading`, `#heading`) names a heading that the page has, spelled the way GitHub makes its anchors.
 * Links inside code (fenced blocks and `backticks`) are not links; web addresses are not checked.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/paths';

/** README.md and every Markdown file under docs/. */
function pages(): string[] {
  const found = [join(REPO_ROOT, 'README.md')];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.md')) found.push(path);
    }
  };
  walk(join(REPO_ROOT, 'docs'));
  return found;
}

/** The page's lines outside fenced code blocks. */
function proseLines(text: string): string[] {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of text.split('\n')) {
    const marker = /^\s*(```+|~~~+)/.exec(line)?.[1];
    if (marker !== undefined && (fence === undefined || marker.startsWith(fence))) {
      fence = fence === undefined ? marker : undefined;
      continue;
    }
    if (fence === undefined) lines.push(line);
  }
  return lines;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of proseLines(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = heading.replace(/<[^>]*>/g, '').toLowerCase().replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '').replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** The targets of `[text](target)` and `![alt](target)` outside code, with their line numbers. */
function links(text: string): { target: string; line: string }[] {
  const found: { target: string; line: string }[] = [];
  for (const line of proseLines(text)) {
    const prose = line.replace(/`[^`]*`/g, '');
    for (const match of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      found.push({ target: match[1]!, line: line.trim() });
    }
  }
  return found;
}

describe('the documentation links', () => {
  it('finds the pages it checks', () => {
    const names = pages().map((page) => relative(REPO_ROOT, page));
    assert.ok(names.includes('README.md'));
    assert.ok(names.includes(join('docs', 'outbox.md')));
  });

  it('finds links, anchors and code the way GitHub does', () => {
    const sample = '# A `b` (c): d\n## A `b` (c): d\n[x](y.md#z) `[no](link.md)`\n```\n[no](fence.md)\n# not a heading\n```\n![p](q.png)\n';
    assert.deepEqual([...anchors(sample)], ['a-b-c-d', 'a-b-c-d-1']);
    assert.deepEqual(links(sample).map((link) => link.target), ['y.md#z', 'q.png']);
  });

  for (const page of pages()) {
    it(`every relative link in ${relative(REPO_ROOT, page)} resolves`, () => {
      const text = readFileSync(page, 'utf8');
      const broken: string[] = [];
      for (const { target, line } of links(text)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: ...
        const [path, anchor] = target.split('#', 2) as [string, string | undefined];
        const file = path === '' ? page : resolve(dirname(page), decodeURIComponent(path));
        if (!existsSync(file)) {
          broken.push(`${target}: no such file (${line})`);
        } else if (anchor !== undefined && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(decodeURIComponent(anchor))) {
          broken.push(`${target}: no heading with this anchor in ${relative(REPO_ROOT, file)} (${line})`);
        }
      }
      assert.deepEqual(broken, []);
    });
  }
});
