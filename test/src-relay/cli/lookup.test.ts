import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../helpers/relay/cli-process';
import { startDnsServer, type DnsServer } from '../../helpers/lookup/dns-server';
import { startHttpsStub, xml, type HttpsStub } from '../../helpers/lookup/lookup-servers';
import { makeTestCertificates, type TestCertificates } from '../../helpers/lookup/test-ca';

let certificates: TestCertificates;
let https: HttpsStub;
let dns: DnsServer;
let dir: string;
/** The environment with the CLI's test seam: every network step of the lookup goes to the loopback servers. */
let env: NodeJS.ProcessEnv;

before(async () => {
  certificates = await makeTestCertificates(['autoconfig.own.test']);
  https = await startHttpsStub(certificates, {
    'autoconfig.own.test/mail/config-v1.1.xml': xml(`<clientConfig version="1.1"><emailProvider id="own.test"><domain>own.test</domain>
      <outgoingServer type="smtp"><hostname>mail.own.test</hostname><port>587</port><socketType>STARTTLS</socketType>
      <username>%EMAILLOCALPART%</username><authentication>password-cleartext</authentication></outgoingServer>
      </emailProvider></clientConfig>`),
  });
  dns = await startDnsServer({ mx: { 'workspace.test': ['aspmx.l.google.com'] } });
  dir = mkdtempSync(join(tmpdir(), 'cli-lookup-'));
  const seamFile = join(dir, 'seams.json');
  writeFileSync(seamFile, JSON.stringify({
    connectTo: { 'autoconfig.own.test:443': `127.0.0.1:${https.port}` },
    caFile: certificates.caFile,
    dnsServers: [dns.address],
    stepTimeoutMs: 10_000,
    totalTimeoutMs: 25_000,
  }));
  env = { ...process.env, MSMTP_RELAY_TEST_LOOKUP_SEAMS: seamFile };
});
after(async () => {
  await https.close();
  await dns.close();
  await certificates.remove();
  rmSync(dir, { recursive: true, force: true });
});

/** The "key: value" lines of the output. */
function fields(stdout: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const colon = line.indexOf(': ');
    if (colon > 0) map.set(line.slice(0, colon), [...(map.get(line.slice(0, colon)) ?? []), line.slice(colon + 2)]);
  }
  return map;
}

test('--lookup-account prints the bundled settings, their source and the advice; exit 0', async () => {
  const run = await runCli(['--lookup-account=someone@gmail.com'], { env, timeoutMs: 30_000 });
  assert.equal(run.code, 0, run.stderr);
  const out = fields(run.stdout);
  assert.deepEqual(out.get('host'), ['smtp.gmail.com']);
  assert.deepEqual(out.get('port'), ['465']);
  assert.deepEqual(out.get('tls'), ['tls']);
  assert.deepEqual(out.get('user'), ['someone@gmail.com']);
  assert.match(out.get('source')?.[0] ?? '', /^bundled /);
  assert.deepEqual(out.get('confirm'), ['no']);
  assert.deepEqual(out.get('app password'), ['https://myaccount.google.com/apppasswords']);
});

test("the provider's autoconfig file through the test seam, and the --account-* overrides on top", async () => {
  const run = await runCli(['--lookup-account', 'jo@own.test'], { env, timeoutMs: 30_000 });
  assert.equal(run.code, 0, run.stderr);
  const out = fields(run.stdout);
  assert.deepEqual([out.get('host'), out.get('port'), out.get('tls'), out.get('user')], [['mail.own.test'], ['587'], ['starttls'], ['jo']]);
  assert.deepEqual(out.get('source'), ['autoconfig (https://autoconfig.own.test/mail/config-v1.1.xml)']);
  const overridden = await runCli(['--lookup-account=jo@own.test', '--account-port=465', '--account-tls=tls', '--account-user=jo@own.test',
    '--account-tls-trust-file=/etc/ssl/own.pem', '--account-tls-fingerprint=AB:CD'], { env, timeoutMs: 30_000 });
  assert.equal(overridden.code, 0, overridden.stderr);
  const changed = fields(overridden.stdout);
  assert.deepEqual([changed.get('host'), changed.get('port'), changed.get('tls'), changed.get('user'), changed.get('tls_trust_file')],
    [['mail.own.test'], ['465'], ['tls'], ['jo@own.test'], ['/etc/ssl/own.pem']]);
  assert.deepEqual(changed.get('tls_fingerprint'), ['AB:CD']);
});

test('a custom domain through its MX must be confirmed, and the output says so', async () => {
  const run = await runCli(['--lookup-account=jo@workspace.test'], { env, timeoutMs: 30_000 });
  assert.equal(run.code, 0, run.stderr);
  const out = fields(run.stdout);
  assert.deepEqual(out.get('host'), ['smtp.gmail.com']);
  assert.match(out.get('confirm')?.[0] ?? '', /^yes, found through the MX record \(aspmx\.l\.google\.com\)/);
});

test('nothing found: exit 69 with what was tried; with --account-host the given settings are printed, exit 0', async () => {
  const run = await runCli(['--lookup-account=jo@nothing.test'], { env, timeoutMs: 30_000 });
  assert.equal(run.code, 69, run.stderr);
  assert.match(run.stdout, /^No settings found for jo@nothing\.test\./);
  assert.match(run.stdout, /^tried: probe: smtp\.nothing\.test:465: smtp\.nothing\.test:465 is not mapped in MSMTP_RELAY_TEST_LOOKUP_SEAMS$/m);
  const given = await runCli(['--lookup-account=jo@nothing.test', '--account-host=smtp.nothing.test', '--account-port=587'], { env, timeoutMs: 30_000 });
  assert.equal(given.code, 0, given.stderr);
  const out = fields(given.stdout);
  assert.deepEqual([out.get('host'), out.get('port'), out.get('tls'), out.get('user'), out.get('source')],
    [['smtp.nothing.test'], ['587'], ['starttls'], ['jo@nothing.test'], ['given on the command line']]);
});

test('a bad address exits 64, and so does a bad --account-* value (sysexits, as for --add-account)', async () => {
  const bad = await runCli(['--lookup-account=not-an-address'], { env, timeoutMs: 30_000 });
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /not a mail address/);
  assert.equal(bad.stdout, '');
  const tls = await runCli(['--lookup-account=jo@gmail.com', '--account-tls=off'], { env, timeoutMs: 30_000 });
  assert.equal(tls.code, 64);
  assert.match(tls.stderr, /invalid --account-tls 'off' \(tls or starttls\)/);
  const both = await runCli(['--lookup-account=jo@gmail.com', '--add-account=jo@gmail.com'], { env, timeoutMs: 30_000 });
  assert.equal(both.code, 64);
  assert.match(both.stderr, /--add-account and --lookup-account cannot be combined/);
});

test('--help documents the option and its exit codes', async () => {
  const run = await runCli(['--help'], { timeoutMs: 30_000 });
  assert.equal(run.code, 0);
  assert.match(run.stdout, /--lookup-account=address/);
  assert.match(run.stdout, /69 when none were found/);
});

test('--add-account without --account-host: settings that need confirming are shown and refused, no password read, nothing written', async () => {
  const home = mkdtempSync(join(tmpdir(), 'cli-add-lookup-'));
  try {
    const run = await runCli(['--add-account=someone@workspace.test'], { env: { ...env, HOME: home, XDG_CONFIG_HOME: join(home, '.config') }, input: 'never-read', timeoutMs: 30_000 });
    assert.equal(run.code, 69, run.stderr);
    assert.match(run.stderr, /must be confirmed before a password is sent/);
    assert.match(run.stderr, /run again with --account-host=smtp\.gmail\.com --account-port=465 --account-tls=tls --account-user=someone@workspace\.test/);
    assert.doesNotMatch(run.stdout + run.stderr, /Password for/);
    assert.deepEqual(readdirSync(home), [], 'no msmtp file was written');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('--add-account for Outlook.com says plainly that passwords are refused there; nothing written', async () => {
  const home = mkdtempSync(join(tmpdir(), 'cli-add-outlook-'));
  try {
    const run = await runCli(['--add-account=someone@outlook.com'], { env: { ...env, HOME: home, XDG_CONFIG_HOME: join(home, '.config') }, input: 'never-read', timeoutMs: 30_000 });
    assert.equal(run.code, 69, run.stderr);
    assert.match(run.stderr, /refuses passwords from mail programs/);
    assert.deepEqual(readdirSync(home), []);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
