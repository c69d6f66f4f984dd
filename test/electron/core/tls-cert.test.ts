/**
 * The app's own STARTTLS certificate: made once per install with the right names and usages, kept private, reused,
 * renewed before it expires; and real clients (openssl s_client, python ssl, swaks) that verify the relay against
 * the exported certificate, and refuse a relay whose certificate is another one.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { once } from 'node:events';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { MAX_VALIDITY_DAYS, RENEW_BEFORE_DAYS, ensureCertificate, exportCertificate, renewWhenDue, renewalDue } from '../../../electron/core/tls-cert';
import { createRelay, type RelayEngine } from '../../../src-relay/index';
import { tempDir } from '../../helpers/app/app-env';
import { readRecordings, recordCommand } from '../../helpers/relay/relay-harness';
import { waitUntil } from '../../helpers/wait';

const run = promisify(execFile);
const DAY = 24 * 60 * 60 * 1000;

describe('local TLS certificate', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir('tls');
  });
  after(async () => dir?.remove());

  it('is made with the loopback names, server-auth usage, at most 825 days, key 0600 in a 0700 folder', async () => {
    const certDir = join(dir.path, 'data', 'tls');
    const made = await ensureCertificate({ dir: certDir });
    assert.equal(made.created, true);
    const cert = new X509Certificate(made.cert);
    assert.equal(cert.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extended key usage: TLS server authentication only');
    assert.equal(cert.ca, false);
    assert.ok(cert.verify(cert.publicKey), 'self-signed');
    const text = await new Promise<string>((resolve, reject) => {
      const child = execFile('openssl', ['x509', '-noout', '-text'], { encoding: 'utf8' }, (error, out) => (error ? reject(new Error(error.message)) : resolve(out)));
      child.stdin!.end(made.cert);
    });
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(text, /Extended Key Usage: *\n *TLS Web Server Authentication/);
    const days = (made.notAfter.getTime() - made.notBefore.getTime()) / DAY;
    assert.ok(days <= MAX_VALIDITY_DAYS && days > MAX_VALIDITY_DAYS - 1, `valid for ${days} days`);
    assert.equal(made.fingerprint256, cert.fingerprint256);
    assert.match(made.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);

    assert.equal((await stat(certDir)).mode & 0o777, 0o700);
    const names = await readdir(certDir);
    assert.deepEqual(names.sort(), ['relay-cert.pem', 'relay-key.pem']);
    assert.equal((await stat(join(certDir, 'relay-key.pem'))).mode & 0o777, 0o600);
    assert.equal(await readFile(join(certDir, 'relay-key.pem'), 'utf8'), made.key);
  });

  it('two first calls at once make one pair, not two', async () => {
    const certDir = join(dir.path, 'race');
    const [a, b] = await Promise.all([ensureCertificate({ dir: certDir }), ensureCertificate({ dir: certDir })]);
    assert.equal(a.created, true);
    assert.equal(b.created, false);
    assert.equal(a.fingerprint256, b.fingerprint256);
    assert.equal(new X509Certificate(await readFile(join(certDir, 'relay-cert.pem'), 'utf8')).fingerprint256, a.fingerprint256);
  });

  it('is reused while valid, renewed within the renewal window, and replaced when the files are broken', async () => {
    const certDir = join(dir.path, 'renew');
    const first = await ensureCertificate({ dir: certDir });
    const again = await ensureCertificate({ dir: certDir });
    assert.equal(again.created, false);
    assert.equal(again.fingerprint256, first.fingerprint256);

    const justBefore = new Date(renewalDue(first).getTime() - DAY);
    assert.equal((await ensureCertificate({ dir: certDir, now: () => justBefore })).created, false);
    const inWindow = new Date(renewalDue(first).getTime() + DAY);
    const renewed = await ensureCertificate({ dir: certDir, now: () => inWindow });
    assert.equal(renewed.created, true);
    assert.match(renewed.reason ?? '', /expires on/);
    assert.notEqual(renewed.fingerprint256, first.fingerprint256);
    assert.ok(renewed.notAfter.getTime() > first.notAfter.getTime() + (MAX_VALIDITY_DAYS - RENEW_BEFORE_DAYS - 2) * DAY);

    await writeFile(join(certDir, 'relay-key.pem'), 'not a key\n');
    const repaired = await ensureCertificate({ dir: certDir });
    assert.equal(repaired.created, true);
    assert.match(repaired.reason ?? '', /could not be read/);
    assert.equal((await stat(join(certDir, 'relay-key.pem'))).mode & 0o777, 0o600);
  });

  it('does not reuse a key others could read, and narrows a folder made wider (issue #16, 7)', async () => {
    const certDir = join(dir.path, 'modes');
    const first = await ensureCertificate({ dir: certDir });
    await chmod(certDir, 0o755);
    const narrowed = await ensureCertificate({ dir: certDir });
    assert.equal(narrowed.created, false, 'a 0600 key in a 0755 folder was private all along');
    assert.equal((await stat(certDir)).mode & 0o777, 0o700);

    await chmod(join(certDir, 'relay-key.pem'), 0o644);
    await chmod(certDir, 0o755);
    const replaced = await ensureCertificate({ dir: certDir });
    assert.equal(replaced.created, true);
    assert.match(replaced.reason ?? '', /could be read by other users \(mode 0644\)/);
    assert.notEqual(replaced.fingerprint256, first.fingerprint256);
    assert.equal((await stat(join(certDir, 'relay-key.pem'))).mode & 0o777, 0o600);
    assert.equal((await stat(certDir)).mode & 0o777, 0o700);

    await chmod(certDir, 0o777);
    const planted = await ensureCertificate({ dir: certDir });
    assert.equal(planted.created, true, 'a key in a folder anyone could write may have been planted');
    assert.match(planted.reason ?? '', /others could write the key's folder \(mode 0777\)/);
    assert.equal((await stat(certDir)).mode & 0o777, 0o700);
  });

  describe('clients that verify against the exported certificate', { timeout: 60_000 }, () => {
    let engine: RelayEngine;
    let port: number;
    let caFile: string;
    let otherCa: string;
    let records: string;
    const auth = { user: 'relay-user', password: 'correct horse battery' };

    before(async () => {
      const certificate = await ensureCertificate({ dir: join(dir.path, 'served') });
      caFile = join(dir.path, 'exported', 'msmtp-relay.pem');
      await exportCertificate(certificate.cert, caFile);
      assert.equal(await readFile(caFile, 'utf8'), certificate.cert);
      otherCa = join(dir.path, 'other.pem');
      await exportCertificate((await ensureCertificate({ dir: join(dir.path, 'other') })).cert, otherCa);
      records = join(dir.path, 'records');
      await mkdir(records);
      engine = createRelay({
        host: '127.0.0.1', port: 0, command: recordCommand(records), auth, tls: { key: certificate.key, cert: certificate.cert },
        authFailureDelayMs: 0,
      });
      await engine.start();
      port = engine.address!.port;
    });
    after(async () => engine?.stop());

    const sClient = (ca: string) => run('openssl', [
      's_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-starttls', 'smtp', '-verify_return_error',
      '-verify_hostname', 'localhost', '-CAfile', ca, '-brief',
    ], { encoding: 'utf8', timeout: 15_000 });

    it('openssl s_client -starttls smtp -verify_return_error accepts it, and refuses another certificate', async () => {
      const ok = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = execFile('openssl', [
          's_client', '-connect', `127.0.0.1:${port}`, '-starttls', 'smtp', '-verify_return_error',
          '-verify_hostname', 'localhost', '-CAfile', caFile, '-brief',
        ], { encoding: 'utf8', timeout: 15_000 }, (error, stdout, stderr) => resolve({ code: error ? (error as { code?: number }).code ?? 1 : 0, out: stdout + stderr }));
        child.stdin!.end('QUIT\r\n');
      });
      assert.equal(ok.code, 0, ok.out);
      assert.match(ok.out, /Verification: OK/);
      assert.match(ok.out, /Verified peername: localhost/);
      await assert.rejects(sClient(otherCa), (error: { stdout?: string; stderr?: string }) => {
        assert.match(`${error.stdout}${error.stderr}`, /verify error|certificate verify failed|self-signed certificate/i);
        return true;
      });
    });

    it('python ssl (smtplib STARTTLS with cafile) verifies, logs in and sends; a wrong cafile fails the handshake', async () => {
      const script = [
        'import smtplib, ssl, sys',
        'ctx = ssl.create_default_context(cafile=sys.argv[2])',
        's = smtplib.SMTP("localhost", int(sys.argv[1]), timeout=10)',
        's.starttls(context=ctx)',
        's.login(sys.argv[3], sys.argv[4])',
        's.sendmail("ann@example.org", ["python@example.net"], "Subject: tls\\r\\n\\r\\nover TLS\\r\\n")',
        'print(s.sock.version(), s.sock.getpeercert()["subjectAltName"])',
        's.quit()',
      ].join('\n');
      const { stdout } = await run('python3', ['-c', script, String(port), caFile, auth.user, auth.password], { encoding: 'utf8', timeout: 20_000 });
      assert.match(stdout, /^TLSv1\.3 \(\('DNS', 'localhost'\), \('IP Address', '127\.0\.0\.1'\), \('IP Address', '0:0:0:0:0:0:0:1'\)\)/);
      assert.ok(readRecordings(records).some((r) => r.argv.at(-1) === 'python@example.net'));
      await assert.rejects(
        run('python3', ['-c', script, String(port), otherCa, auth.user, auth.password], { encoding: 'utf8', timeout: 20_000 }),
        /CERTIFICATE_VERIFY_FAILED/,
      );
    });

    it('a client that hangs up in the handshake (it does not trust the certificate) ends its session at once', async () => {
      const closed: string[] = [];
      const unsubscribe = engine.subscribe((event) => {
        if (event.type === 'session-close') closed.push(event.reason);
      });
      try {
        const plain = connect(port, '127.0.0.1');
        const replies = async (count: number) => {
          let text = '';
          while ((text.match(/^\d{3} /gm) ?? []).length < count) text += ((await once(plain, 'data')) as [Buffer])[0].toString();
        };
        await replies(1);
        plain.write('EHLO client\r\nSTARTTLS\r\n');
        await replies(2);
        const secure = tlsConnect({ socket: plain, ca: await readFile(otherCa, 'utf8'), servername: 'localhost' });
        const [error] = await once(secure, 'error').catch((failure: unknown) => [failure]);
        assert.match(String((error as Error).message), /self-signed certificate/);
        secure.destroy();
        await waitUntil(() => closed.length === 1, 3000, 'the session to end');
        assert.deepEqual(closed, ['eof']);
      } finally {
        unsubscribe();
      }
    });

    it('swaks --tls --tls-verify --tls-ca-path sends through it, and refuses another certificate', async () => {
      const swaks = (ca: string) => run('swaks', [
        '--server', `127.0.0.1:${port}`, '--tls', '--tls-verify', '--tls-ca-path', ca,
        '--auth', 'PLAIN', '--auth-user', auth.user, '--auth-password', auth.password,
        '--from', 'ann@example.org', '--to', 'swaks@example.net', '--timeout', '10',
      ], { encoding: 'utf8', timeout: 20_000 });
      const { stdout } = await swaks(caFile);
      assert.match(stdout, /<~ {2}250 2\.0\.0/);
      assert.ok(readRecordings(records).some((r) => r.argv.at(-1) === 'swaks@example.net'));
      await assert.rejects(swaks(otherCa), (error: { stdout?: string; stderr?: string }) => {
        assert.match(`${error.stdout}${error.stderr}`, /TLS startup failed|certificate verify failed/i);
        return true;
      });
    });
  });
});

describe('renewing the certificate while the app runs', () => {
  it('restarts the relay when a new certificate was made, not when the old one stays; nothing while TLS is off; a failure is logged', async () => {
    let tls = false;
    const made = [false, true];
    let asked = 0;
    let restarts = 0;
    const lines: string[] = [];
    const stop = renewWhenDue({
      enabled: () => tls,
      certificate: async () => {
        asked += 1;
        const created = made.shift();
        if (created === undefined) throw new Error('disk full');
        return { created };
      },
      restart: async () => {
        restarts += 1;
      },
      log: { app: (level, message) => lines.push(`${level}: ${message}`) },
      everyMs: 20,
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(asked, 0, 'TLS off: the certificate is not looked at');
      tls = true;
      await waitUntil(() => lines.length > 0, 5000, 'the failed renewal to be logged');
      assert.equal(restarts, 1, 'one restart: only the renewal that made a new certificate');
      assert.ok(asked >= 3);
      assert.equal(lines[0], 'error: could not renew the certificate: disk full');
    } finally {
      stop();
    }
  });
});
