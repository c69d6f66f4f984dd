import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { probeSmtp } from '../../../src-relay/accounts/smtp-probe';
import type { NetworkSeams } from '../../../src-relay/accounts/https-fetch';
import { startSmtpStub, type SmtpStub } from '../../helpers/lookup/lookup-servers';
import { makeTestCertificates, type TestCertificates } from '../../helpers/lookup/test-ca';

let certificates: TestCertificates;
const stubs: Record<string, SmtpStub> = {};
let silentPort: number;
const silentSockets = new Set<Socket>();
const silent = createServer((socket) => {
  silentSockets.add(socket);
  socket.on('error', () => undefined);
});
let seams: NetworkSeams;

before(async () => {
  certificates = await makeTestCertificates(['smtp.probe.test']);
  for (const kind of ['tls', 'starttls', 'plain'] as const) stubs[kind] = await startSmtpStub(kind, certificates);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = (silent.address() as AddressInfo).port;
  const ports: Record<string, number> = { 'smtp.probe.test:465': stubs.tls!.port, 'smtp.probe.test:587': stubs.starttls!.port, 'plain.probe.test:587': stubs.plain!.port,
    'wrong-name.test:465': stubs.tls!.port, 'silent.probe.test:465': silentPort };
  seams = {
    connectTo: (host, port) => {
      const to = ports[`${host}:${port}`];
      if (to === undefined) throw new Error(`${host}:${port} is not mapped`);
      return { host: '127.0.0.1', port: to };
    },
    ca: certificates.ca,
  };
});
after(async () => {
  for (const stub of Object.values(stubs)) await stub.close();
  for (const socket of silentSockets) socket.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
  await certificates.remove();
});

test('port 465: the TLS handshake with the host name checked, EHLO, QUIT, and no login', async () => {
  assert.deepEqual(await probeSmtp('smtp.probe.test', 465, 'tls', seams, 10_000), { ok: true });
  assert.deepEqual(stubs.tls!.commands.slice(-2), ['EHLO localhost', 'QUIT']);
  assert.ok(!stubs.tls!.commands.some((command) => /^AUTH/i.test(command)));
});

test('port 587: EHLO lists STARTTLS, the upgrade succeeds, EHLO again, QUIT', async () => {
  assert.deepEqual(await probeSmtp('smtp.probe.test', 587, 'starttls', seams, 10_000), { ok: true });
  assert.deepEqual(stubs.starttls!.commands.slice(-4), ['EHLO localhost', 'STARTTLS', 'EHLO localhost', 'QUIT']);
  assert.ok(!stubs.starttls!.commands.some((command) => /^AUTH/i.test(command)));
});

test('a server without STARTTLS is refused: never plain', async () => {
  const outcome = await probeSmtp('plain.probe.test', 587, 'starttls', seams, 10_000);
  assert.deepEqual(outcome, { ok: false, reason: 'the server offers no STARTTLS' });
  assert.ok(!stubs.plain!.commands.includes('STARTTLS'));
});

test('a certificate for another name, a silent server and an unmapped name all fail, within the bound', async () => {
  const wrong = await probeSmtp('wrong-name.test', 465, 'tls', seams, 10_000);
  assert.equal(wrong.ok, false);
  assert.match(wrong.ok ? '' : wrong.reason, /altnames|Hostname/i);
  const started = Date.now();
  const quiet = await probeSmtp('silent.probe.test', 465, 'tls', seams, 300);
  assert.equal(quiet.ok, false);
  assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  assert.deepEqual(await probeSmtp('elsewhere.test', 465, 'tls', seams, 300), { ok: false, reason: 'elsewhere.test:465 is not mapped' });
});
