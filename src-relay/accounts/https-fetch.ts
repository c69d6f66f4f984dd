/**
 * One bounded HTTPS GET for the lookup: HTTPS only (redirects too), few redirects, a size cap, a deadline. A
 * provider's settings decide where a password goes, so nothing here may fall back to plain HTTP or run unbounded.
 */
import { request } from 'node:https';
import { rootCertificates } from 'node:tls';

/** Where the lookup's connections go. Defaults reach the real internet; tests map every name to loopback. */
export interface NetworkSeams {
  /** The address and port to connect to for a host name and port (the TLS name checked stays the host name). */
  readonly connectTo?: (host: string, port: number) => { readonly host: string; readonly port: number };
  /** A CA certificate (PEM) trusted besides the system's: tests use a throwaway CA. */
  readonly ca?: string;
}

export interface FetchLimits {
  readonly maxBytes: number;
  readonly maxRedirects: number;
  /** For the whole fetch, redirects included. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface FetchedText {
  readonly text: string;
  readonly finalUrl: string;
  /** A redirect led to a host other than the one first asked. */
  readonly crossedHosts: boolean;
}

export class FetchError extends Error {}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function fetchHttpsText(url: string, seams: NetworkSeams, limits: FetchLimits): Promise<FetchedText> {
  const deadline = AbortSignal.timeout(limits.timeoutMs);
  const signal = limits.signal ? AbortSignal.any([limits.signal, deadline]) : deadline;
  const first = new URL(url);
  let current = first;
  for (let redirects = 0; ; redirects++) {
    if (current.protocol !== 'https:') throw new FetchError(`refused to follow ${current.href}: not HTTPS`);
    const answer = await getOnce(current, seams, limits.maxBytes, signal);
    if (answer.location === undefined) {
      return { text: answer.body, finalUrl: current.href, crossedHosts: current.hostname !== first.hostname };
    }
    if (redirects >= limits.maxRedirects) throw new FetchError(`more than ${limits.maxRedirects} redirects from ${url}`);
    current = new URL(answer.location, current);
  }
}

interface Answer {
  readonly body: string;
  readonly location?: string;
}

function getOnce(url: URL, seams: NetworkSeams, maxBytes: number, signal: AbortSignal): Promise<Answer> {
  const port = url.port === '' ? 443 : Number(url.port);
  const target = seams.connectTo?.(url.hostname, port) ?? { host: url.hostname, port };
  return new Promise<Answer>((resolve, reject) => {
    const fail = (message: string) => reject(new FetchError(`${url.href}: ${message}`));
    if (signal.aborted) {
      fail('timed out');
      return;
    }
    const req = request({
      host: target.host,
      port: target.port,
      servername: url.hostname,
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      headers: { host: url.host, accept: 'application/xml, text/xml', 'user-agent': 'msmtp-relay' },
      agent: false,
      ...(seams.ca ? { ca: [...rootCertificates, seams.ca] } : {}),
      signal,
    });
    req.on('error', (error) => fail(signal.aborted ? 'timed out' : error.message));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (REDIRECTS.has(status)) {
        res.resume();
        const location = res.headers.location;
        if (!location) fail(`redirect ${status} without a Location`);
        else resolve({ body: '', location });
        return;
      }
      if (status !== 200) {
        res.resume();
        fail(`HTTP ${status}`);
        return;
      }
      const declared = Number(res.headers['content-length'] ?? '0');
      if (declared > maxBytes) {
        req.destroy();
        fail(`the answer is larger than ${maxBytes} bytes`);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          req.destroy();
          fail(`the answer is larger than ${maxBytes} bytes`);
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve({ body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (error) => fail(signal.aborted ? 'timed out' : error.message));
    });
    req.end();
  });
}
