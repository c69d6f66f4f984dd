import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FetchError, fetchHttpsText, type NetworkSeams } from '../../../src-relay/accounts/https-fetch';
import { redirect, startHttpsStub, xml, type HttpsStub } from '../../helpers/lookup/lookup-servers';
import { makeTestCertificates, type TestCertificates } from '../../helpers/lookup/test-ca';

// Generous: five TLS handshakes on a loaded machine; the slow-answer tests set their own bound.
const LIMITS = { maxBytes: 64 * 1024, maxRedirects: 3, timeoutMs: 15_000 };
let certificates: TestCertificates;
let stub: HttpsStub;
let seams: NetworkSeams;

before(async () => {
  certificates = await makeTestCertificates(['a.test', 'b.test']);
  stub = await startHttpsStub(certificates, {
    'a.test/ok': xml('<clientConfig/>'),
    'a.test/big-declared': (_req, res) => res.writeHead(200, { 'content-length': String(1024 * 1024) }).end('x'.repeat(1024 * 1024)),
    'a.test/big-chunked': (_req, res) => {
      res.writeHead(200);
      const chunk = 'y'.repeat(16 * 1024);
      for (let i = 0; i < 10; i++) res.write(chunk);
      res.end();
    },
    'a.test/slow': (_req, res) => {
      res.writeHead(200);
      res.write('<clientConfig>');
      const timer = setTimeout(() => res.end('</clientConfig>'), 60_000);
      res.on('close', () => clearTimeout(timer));
    },
    'a.test/hop1': redirect('/hop2'),
    'a.test/hop2': redirect('/hop3', 301),
    'a.test/hop3': redirect('https://a.test/ok', 307),
    'a.test/hop0': redirect('/hop1'),
    'a.test/to-http': redirect('http://a.test/ok'),
    'a.test/to-b': redirect('https://b.test/ok'),
    'b.test/ok': xml('<from-b/>'),
    'a.test/missing-location': (_req, res) => res.writeHead(302).end(),
  });
  seams = {
    connectTo: (host, port) => {
      if ((host === 'a.test' || host === 'b.test') && port === 443) return { host: '127.0.0.1', port: stub.port };
      throw new Error(`${host}:${port} is not mapped`);
    },
    ca: certificates.ca,
  };
});
after(async () => {
  await stub.close();
  await certificates.remove();
});

test('an answer within the limits comes back whole, checked against the throwaway CA', async () => {
  const fetched = await fetchHttpsText('https://a.test/ok', seams, LIMITS);
  assert.deepEqual(fetched, { text: '<clientConfig/>', finalUrl: 'https://a.test/ok', crossedHosts: false });
});

test('a server whose certificate is not trusted is refused', async () => {
  await assert.rejects(fetchHttpsText('https://a.test/ok', { connectTo: seams.connectTo }, LIMITS), FetchError);
});

test('huge answers are cut off, whether announced or not', async () => {
  await assert.rejects(fetchHttpsText('https://a.test/big-declared', seams, LIMITS), /larger than 65536 bytes/);
  await assert.rejects(fetchHttpsText('https://a.test/big-chunked', seams, LIMITS), /larger than 65536 bytes/);
});

test('a slow answer times out within its bound', async () => {
  const started = Date.now();
  await assert.rejects(fetchHttpsText('https://a.test/slow', seams, { ...LIMITS, timeoutMs: 500 }), /timed out/);
  assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
});

test('the lookup-wide signal cancels a fetch too', async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 200);
  await assert.rejects(fetchHttpsText('https://a.test/slow', seams, { ...LIMITS, signal: controller.signal }), /timed out/);
});

test('three redirects are followed; a fourth is refused', async () => {
  const fetched = await fetchHttpsText('https://a.test/hop1', seams, LIMITS);
  assert.equal(fetched.text, '<clientConfig/>');
  assert.equal(fetched.finalUrl, 'https://a.test/ok');
  assert.equal(fetched.crossedHosts, false);
  await assert.rejects(fetchHttpsText('https://a.test/hop0', seams, LIMITS), /more than 3 redirects/);
});

test('a redirect to plain HTTP is refused; one to another host is followed and flagged', async () => {
  await assert.rejects(fetchHttpsText('https://a.test/to-http', seams, LIMITS), /not HTTPS/);
  const fetched = await fetchHttpsText('https://a.test/to-b', seams, LIMITS);
  assert.deepEqual(fetched, { text: '<from-b/>', finalUrl: 'https://b.test/ok', crossedHosts: true });
  await assert.rejects(fetchHttpsText('https://a.test/missing-location', seams, LIMITS), /without a Location/);
});

test('an error status and a plain-HTTP start are refused', async () => {
  await assert.rejects(fetchHttpsText('https://a.test/nothing-here', seams, LIMITS), /HTTP 404/);
  await assert.rejects(fetchHttpsText('http://a.test/ok', seams, LIMITS), /not HTTPS/);
});
