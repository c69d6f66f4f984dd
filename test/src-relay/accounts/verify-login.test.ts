import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { AccountSettings } from '../../../src-relay/index';
import { verifyLogin, type LoginCheck } from '../../../src-relay/accounts/verify-login';
import { makeTestCa, startProvider, type Provider, type ProviderOptions, type TestCa } from '../../helpers/smtp/provider';

let ca: TestCa;
before(() => { ca = makeTestCa(); });
after(() => ca.remove());

const USER = 'alice@example.test';
const PASSWORD = 'right horse battery';

async function withProvider(options: Partial<ProviderOptions>, run: (provider: Provider) => Promise<void>): Promise<void> {
  const provider = await startProvider({ ca, mode: 'starttls', users: new Map([[USER, PASSWORD]]), ...options });
  try {
    await run(provider);
  } finally {
    await provider.close();
  }
}

const settingsFor = (port: number, extra: Partial<AccountSettings> = {}): AccountSettings => ({
  address: USER, host: '127.0.0.1', port, tls: 'starttls', user: USER, tlsTrustFile: ca.caPath, ...extra,
});

function withoutTrustFile(settings: AccountSettings): AccountSettings {
  const copy: { -readonly [K in keyof AccountSettings]: AccountSettings[K] } = { ...settings };
  delete copy.tlsTrustFile;
  return copy;
}

function cause(check: LoginCheck): string {
  return check.ok ? 'ok' : check.cause;
}

describe('verifyLogin against a loopback provider', () => {
  test('STARTTLS with the right password logs in with PLAIN, and no mail is sent', async () => {
    await withProvider({}, async (provider) => {
      const check = await verifyLogin(settingsFor(provider.port), PASSWORD);
      assert.deepEqual(check, { ok: true, mechanism: 'PLAIN' });
      assert.deepEqual(provider.logins, [{ user: USER, ok: true }]);
      assert.equal(provider.mails.length, 0);
    });
  });

  test('TLS from the first byte logs in', async () => {
    await withProvider({ mode: 'tls' }, async (provider) => {
      assert.deepEqual(await verifyLogin(settingsFor(provider.port, { tls: 'tls' }), PASSWORD), { ok: true, mechanism: 'PLAIN' });
    });
  });

  test('a server that offers only LOGIN gets LOGIN', async () => {
    await withProvider({ authMethods: ['LOGIN'] }, async (provider) => {
      assert.deepEqual(await verifyLogin(settingsFor(provider.port), PASSWORD), { ok: true, mechanism: 'LOGIN' });
      assert.equal(cause(await verifyLogin(settingsFor(provider.port), 'wrong')), 'wrong-password');
    });
  });

  test('a wrong password is named, with the server\'s reply', async () => {
    await withProvider({}, async (provider) => {
      const check = await verifyLogin(settingsFor(provider.port), 'wrong');
      assert.equal(cause(check), 'wrong-password');
      assert.match(check.ok ? '' : check.serverReply ?? '', /^535 5\.7\.8/);
    });
  });

  test("Google's 534 5.7.9 means an app password is required", async () => {
    await withProvider({ refusal: { code: 534, message: '5.7.9 Application-specific password required. Learn more at https://support.google.com/mail/?p=InvalidSecondFactor' } }, async (provider) => {
      assert.equal(cause(await verifyLogin(settingsFor(provider.port), 'account password')), 'app-password-required');
    });
  });

  test("Microsoft's 535 5.7.139 means basic authentication is disabled", async () => {
    await withProvider({ refusal: { code: 535, message: '5.7.139 Authentication unsuccessful, basic authentication is disabled.' } }, async (provider) => {
      assert.equal(cause(await verifyLogin(settingsFor(provider.port), PASSWORD + 'x')), 'basic-auth-disabled');
    });
  });

  test('a 454 at AUTH is a deferred login, not a wrong password', async () => {
    await withProvider({ refusal: { code: 454, message: '4.7.0 Temporary authentication failure' } }, async (provider) => {
      assert.equal(cause(await verifyLogin(settingsFor(provider.port), 'x')), 'login-deferred');
    });
  });

  test('a certificate the system does not trust is named (no trust file given)', async () => {
    await withProvider({}, async (provider) => {
      const system = withoutTrustFile(settingsFor(provider.port));
      const check = await verifyLogin(system, PASSWORD);
      assert.equal(cause(check), 'certificate-not-trusted');
      assert.deepEqual(provider.logins, [], 'no password was sent');
    });
  });

  test('a pinned fingerprint is trusted alone; a wrong one is refused', async () => {
    await withProvider({}, async (provider) => {
      const fingerprint = new X509Certificate(ca.cert).fingerprint256;
      const pinned = withoutTrustFile(settingsFor(provider.port, { tlsFingerprint: fingerprint }));
      assert.deepEqual(await verifyLogin(pinned, PASSWORD), { ok: true, mechanism: 'PLAIN' });
      const wrong = fingerprint.replace(/^../, fingerprint.startsWith('00') ? '11' : '00');
      assert.equal(cause(await verifyLogin({ ...pinned, tlsFingerprint: wrong }, PASSWORD)), 'fingerprint-mismatch');
    });
  });

  test('TLS chosen for a STARTTLS port', async () => {
    await withProvider({ mode: 'starttls' }, async (provider) => {
      assert.equal(cause(await verifyLogin(settingsFor(provider.port, { tls: 'tls' }), PASSWORD, { timeoutMs: 3000 })), 'tls-on-starttls-port');
    });
  });

  test('STARTTLS chosen for a TLS port', async () => {
    await withProvider({ mode: 'tls' }, async (provider) => {
      assert.equal(cause(await verifyLogin(settingsFor(provider.port), PASSWORD, { timeoutMs: 1500 })), 'starttls-on-tls-port');
    });
  });

  test('a closed port is "connection refused"', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    assert.equal(cause(await verifyLogin(settingsFor(port), PASSWORD)), 'connection-refused');
  });

  test('a port that takes the connection and never speaks is "nothing answers", within the deadline', async () => {
    const held = new Set<Socket>();
    const silent: Server = createServer((socket) => { held.add(socket); socket.on('error', () => undefined); });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as AddressInfo).port;
      const started = Date.now();
      assert.equal(cause(await verifyLogin(settingsFor(port), PASSWORD, { timeoutMs: 800 })), 'nothing-answers');
      assert.equal(cause(await verifyLogin(settingsFor(port, { tls: 'tls' }), PASSWORD, { timeoutMs: 800 })), 'nothing-answers');
      assert.ok(Date.now() - started < 6000, 'bounded by the deadlines');
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  test('a server that speaks something else is "not SMTP"', async () => {
    const http: Server = createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    try {
      assert.equal(cause(await verifyLogin(settingsFor((http.address() as AddressInfo).port), PASSWORD)), 'not-smtp');
    } finally {
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });

  test('a server without STARTTLS, or without AUTH, is named before any password is sent', async () => {
    await withProvider({ disabledCommands: ['STARTTLS'] }, async (provider) => {
      assert.equal(cause(await verifyLogin(settingsFor(provider.port), PASSWORD)), 'no-starttls');
      assert.deepEqual(provider.logins, []);
    });
    await withProvider({ disabledCommands: ['AUTH'] }, async (provider) => {
      assert.equal(cause(await verifyLogin(settingsFor(provider.port), PASSWORD)), 'no-login-offered');
    });
  });

  test('a missing trust file is named', async () => {
    assert.equal(cause(await verifyLogin(settingsFor(1, { tlsTrustFile: '/nonexistent/ca.pem' }), PASSWORD)), 'trust-file-unreadable');
  });
});
