import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';

/**
 * The settings window's files, served from the compiled renderer folder under a private scheme (app://ui/...)
 * rather than file://, so the page has one fixed origin for the IPC sender check, ES modules load, and a CSP
 * header goes with every response. Electron-free: the renderer tests serve the very same responses over HTTP.
 */
export const UI_SCHEME = 'app';
export const UI_HOST = 'ui';
export const UI_PAGE = `${UI_SCHEME}://${UI_HOST}/index.html`;

/** Also in index.html as a meta tag; the header covers anything served without the page's meta. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

export interface UiResponse {
  status: number;
  body: Buffer | string;
  headers: Record<string, string>;
}

/** Maps a request path to a file under `root`; anything outside it, hidden, or of an unknown type is a 404. */
export function uiFilePath(root: string, pathname: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const relative = decoded === '/' || decoded === '' ? 'index.html' : decoded.replace(/^\/+/, '');
  if (relative.split('/').some((part) => part.startsWith('.'))) return null;
  const full = normalize(join(root, relative));
  if (!full.startsWith(normalize(root) + sep)) return null;
  if (!(extname(full) in TYPES)) return null;
  return full;
}

export async function readUiFile(root: string, pathname: string): Promise<UiResponse> {
  const headers = {
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
  };
  const file = uiFilePath(root, pathname);
  if (!file) return { status: 404, body: 'not found', headers: { ...headers, 'content-type': 'text/plain' } };
  try {
    const body = await readFile(file);
    return { status: 200, body, headers: { ...headers, 'content-type': TYPES[extname(file)]! } };
  } catch {
    return { status: 404, body: 'not found', headers: { ...headers, 'content-type': 'text/plain' } };
  }
}
