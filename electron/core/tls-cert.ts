/**
 * The relay's own key and self-signed certificate for STARTTLS from local mail clients, one per install.
 * Made with @peculiar/x509 over Node's WebCrypto (no openssl binary, works the same on every OS).
 */
import 'reflect-metadata'; // @peculiar/x509 2.x resolves its services through tsyringe, which needs this polyfill
import * as x509 from '@peculiar/x509';
import { KeyObject, X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAtomically } from './settings';

// Node's webcrypto is the standard Crypto; only the DOM typings for it are not part of this build.
x509.cryptoProvider.set(webcrypto as never);

const DAY_MS = 24 * 60 * 60 * 1000;
/** The CA/Browser Forum's old ceiling for server certificates; Apple's clients refuse longer ones. */
export const MAX_VALIDITY_DAYS = 825;
/** A certificate with less than this left is replaced at the next check. */
export const RENEW_BEFORE_DAYS = 30;
export const CERT_NAMES = { dns: ['localhost'], ip: ['127.0.0.1', '::1'] } as const;
const KEY_FILE = 'relay-key.pem';
const CERT_FILE = 'relay-cert.pem';
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface LocalCertificate {
  key: string;
  cert: string;
  /** SHA-256 of the DER certificate, as colon-separated hex (what openssl and browsers show). */
  fingerprint256: string;
  notBefore: Date;
  notAfter: Date;
  /** True when this call made a new key and certificate (first use, expiry near, or the files were unusable). */
  created: boolean;
  /** Why a new one was made, in words, when `created`. */
  reason?: string;
}

export interface CertificateOptions {
  /** The folder that holds the key and certificate; made 0700. */
  dir: string;
  now?: () => Date;
  validityDays?: number;
}

/** The folder inside the app's data folder where the key lives. */
export function tlsDir(userData: string): string {
  return join(userData, 'tls');
}

/**
 * The current key and certificate: the stored ones while they are usable, else a new pair written first (key 0600).
 * Usable means: both parse, they belong together, the names are ours, and more than RENEW_BEFORE_DAYS remain.
 */
const pending = new Map<string, Promise<LocalCertificate>>();

export function ensureCertificate(options: CertificateOptions): Promise<LocalCertificate> {
  // One at a time per folder: two first calls at once (the relay starting, the window asking for the fingerprint)
  // must not each make a pair, or the relay could serve one certificate while the window exports the other.
  const previous = pending.get(options.dir) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(() => ensureNow(options));
  pending.set(options.dir, next);
  void next.catch(() => undefined).finally(() => {
    if (pending.get(options.dir) === next) pending.delete(options.dir);
  });
  return next;
}

async function ensureNow(options: CertificateOptions): Promise<LocalCertificate> {
  const now = (options.now ?? (() => new Date()))();
  const stored = await readStored(options.dir);
  const problem = stored ? (await exposed(options.dir)) ?? unusable(stored, now) : 'no certificate yet';
  if (stored && !problem) {
    // Reused as it is only while private: a folder made wider since (0755) is narrowed again.
    if (process.platform !== 'win32') await chmod(options.dir, 0o700);
    return describe(stored.key, stored.cert, false);
  }
  const fresh = await generate(now, options.validityDays ?? MAX_VALIDITY_DAYS);
  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  await chmod(options.dir, 0o700);
  await writeAtomically(join(options.dir, KEY_FILE), fresh.key);
  await writeAtomically(join(options.dir, CERT_FILE), fresh.cert);
  return { ...describe(fresh.key, fresh.cert, true), reason: problem ?? undefined };
}

/** When the certificate should next be looked at: the start of its renewal window. */
export function renewalDue(certificate: Pick<LocalCertificate, 'notAfter'>): Date {
  return new Date(certificate.notAfter.getTime() - RENEW_BEFORE_DAYS * DAY_MS);
}

/** The certificate as a PEM file the user can import into a mail client or trust store (private to the user). */
export async function exportCertificate(certificatePem: string, target: string): Promise<void> {
  await writeAtomically(target, certificatePem);
}

async function readStored(dir: string): Promise<{ key: string; cert: string } | null> {
  try {
    const [key, cert] = await Promise.all([readFile(join(dir, KEY_FILE), 'utf8'), readFile(join(dir, CERT_FILE), 'utf8')]);
    return { key, cert };
  } catch {
    return null;
  }
}

/**
 * Why a stored key may be known to someone else, or null: the key readable by other users, not the user's own, or
 * in a folder others could write (where a key could have been planted). Such a key is replaced, not reused.
 */
async function exposed(dir: string): Promise<string | null> {
  if (process.platform === 'win32') return null;
  const [folder, key] = await Promise.all([stat(dir), stat(join(dir, KEY_FILE))]);
  const uid = process.getuid?.();
  const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;
  if ((key.mode & 0o077) !== 0) return `the stored key could be read by other users (mode ${octal(key.mode)})`;
  if (uid !== undefined && (key.uid !== uid || folder.uid !== uid)) return 'the stored key or its folder belongs to another user';
  if ((folder.mode & 0o022) !== 0) return `others could write the key's folder (mode ${octal(folder.mode)})`;
  return null;
}

function unusable(stored: { key: string; cert: string }, now: Date): string | null {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(stored.cert);
    if (!certificate.checkPrivateKey(createPrivateKey(stored.key))) return 'the key does not match the certificate';
  } catch (error) {
    return `the stored certificate could not be read (${(error as Error).message})`;
  }
  const notAfter = new Date(certificate.validTo);
  if (notAfter.getTime() - now.getTime() <= RENEW_BEFORE_DAYS * DAY_MS) return `the certificate expires on ${notAfter.toISOString().slice(0, 10)}`;
  if (new Date(certificate.validFrom).getTime() > now.getTime()) return 'the certificate is not valid yet (the clock moved back)';
  const names = certificate.subjectAltName ?? '';
  if (!names.includes('DNS:localhost') || !names.includes('IP Address:127.0.0.1')) return 'the certificate lacks the loopback names';
  return null;
}

async function generate(now: Date, validityDays: number): Promise<{ key: string; cert: string }> {
  const days = Math.min(validityDays, MAX_VALIDITY_DAYS);
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  // A minute back, so a client whose clock is slightly behind still accepts it at once.
  const notBefore = new Date(now.getTime() - 60_000);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(16).toString('hex').replace(/^[89a-f]/, '1'),
    name: 'CN=localhost, O=msmtp Relay (this computer only)',
    notBefore,
    notAfter: new Date(notBefore.getTime() + days * DAY_MS),
    signingAlgorithm: ALGORITHM,
    // x509's typings name the DOM's CryptoKeyPair, which this Node build does not include; Node's pair is that.
    keys: keys as never,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension([
        ...CERT_NAMES.dns.map((value) => ({ type: 'dns' as const, value })),
        ...CERT_NAMES.ip.map((value) => ({ type: 'ip' as const, value })),
      ]),
    ],
  });
  const key = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
  return { key, cert: certificate.toString('pem').replace(/\r\n/g, '\n').replace(/\n?$/, '\n') };
}

function describe(key: string, cert: string, created: boolean): LocalCertificate {
  const certificate = new X509Certificate(cert);
  return {
    key,
    cert,
    fingerprint256: certificate.fingerprint256,
    notBefore: new Date(certificate.validFrom),
    notAfter: new Date(certificate.validTo),
    created,
  };
}

/** How often the certificate's age is looked at. */
const RENEW_CHECK_MS = 12 * 60 * 60 * 1000;

/**
 * While TLS is on, the certificate is renewed by itself RENEW_BEFORE_DAYS before it expires, and the relay restarts
 * with the new one. Returns the stop function.
 */
export function renewWhenDue(options: {
  enabled: () => boolean;
  certificate: () => Promise<{ created: boolean }>;
  restart: () => Promise<unknown>;
  log: { app(level: 'info' | 'error', message: string): void };
  everyMs?: number;
}): () => void {
  const timer = setInterval(() => {
    if (!options.enabled()) return;
    void options.certificate().then((fresh) => {
      if (fresh.created) void options.restart();
    }).catch((error: unknown) => options.log.app('error', `could not renew the certificate: ${(error as Error).message}`));
  }, options.everyMs ?? RENEW_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
