/**
 * A throwaway certificate authority for the account lookup's tests: one CA and one server certificate for the
 * given host names, made with openssl (argv, no shell) in a temporary folder. The lookup trusts the CA through its
 * `ca` seam, so the real certificate checks run against loopback servers that carry real-looking names.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificates {
  /** The CA certificate (PEM): what the lookup is told to trust. */
  readonly ca: string;
  readonly caFile: string;
  /** The server's key and certificate (PEM), valid for every name asked for. */
  readonly key: string;
  readonly cert: string;
  remove(): Promise<void>;
}

export async function makeTestCertificates(names: readonly string[]): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'lookup-ca-'));
  const path = (name: string) => join(dir, name);
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ecKey, '-keyout', path('ca.key'), '-out', path('ca.pem'), '-days', '2', '-subj', '/CN=lookup test CA']);
  await run('openssl', ['req', '-new', ...ecKey, '-keyout', path('server.key'), '-out', path('server.csr'), '-subj', `/CN=${names[0] ?? 'localhost'}`]);
  await writeFile(path('ext.cnf'), `subjectAltName=${names.map((name) => `DNS:${name}`).join(',')}\n`);
  await run('openssl', ['x509', '-req', '-in', path('server.csr'), '-CA', path('ca.pem'), '-CAkey', path('ca.key'), '-CAcreateserial',
    '-out', path('server.pem'), '-days', '2', '-extfile', path('ext.cnf')]);
  const [ca, key, cert] = await Promise.all([readFile(path('ca.pem'), 'utf8'), readFile(path('server.key'), 'utf8'), readFile(path('server.pem'), 'utf8')]);
  return { ca, caFile: path('ca.pem'), key, cert, remove: () => rm(dir, { recursive: true, force: true }) };
}
