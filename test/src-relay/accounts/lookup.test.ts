import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressError, lookupAccount, type LookupResult } from '../../../src-relay/index';
import { startDnsServer, type DnsServer } from '../../helpers/lookup/dns-server';
import { loopbackSeams, redirect, startHttpsStub, startSmtpStub, xml, type HttpsStub, type SmtpStub } from '../../helpers/lookup/lookup-servers';
import { makeTestCertificates, type TestCertificates } from '../../helpers/lookup/test-ca';

/** A provider's own autoconfig file offering one SMTP server. */
function config(id: string, host: string, port: number, socket: string, user = '%EMAILADDRESS%', domain = id): string {
  return `<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="${id}"><domain>${domain}</domain>
    <displayName>${id} mail</displayName>
    <outgoingServer type="smtp"><hostname>${host}</hostname><port>${port}</port><socketType>${socket}</socketType>
    <username>${user}</username><authentication>password-cleartext</authentication></outgoingServer>
    </emailProvider></clientConfig>`;
}

const NAMES = [
  'autoconfig.own.test', 'autoconfig.outside.test', 'autoconfig.moved.test', 'elsewhere.test', 'known.test',
  'autoconfig.broken.test', 'autoconfig.plain.test', 'autoconfig.slow.test', 'ispdb.test',
  'smtp.probe465.test', 'smtp.probe587.test', 'mail.probe587.test', 'smtp.plainonly.test',
];
let certificates: TestCertificates;
let https: HttpsStub;
let dns: DnsServer;
const smtp: Record<string, SmtpStub> = {};
let map: Record<string, number>;

before(async () => {
  certificates = await makeTestCertificates(NAMES);
  https = await startHttpsStub(certificates, {
    'autoconfig.own.test/mail/config-v1.1.xml': xml(config('own.test', 'smtp.own.test', 465, 'SSL', '%EMAILLOCALPART%')),
    'autoconfig.outside.test/mail/config-v1.1.xml': xml(config('outside.test', 'smtp.hoster.example', 587, 'STARTTLS')),
    'autoconfig.moved.test/mail/config-v1.1.xml': redirect('https://elsewhere.test/config.xml'),
    'elsewhere.test/config.xml': xml(config('moved.test', 'smtp.moved.test', 465, 'SSL')),
    'known.test/.well-known/autoconfig/mail/config-v1.1.xml': xml(config('known.test', 'smtp.known.test', 465, 'SSL')),
    'autoconfig.broken.test/mail/config-v1.1.xml': xml('<clientConfig><emailProvider id="broken.test">'),
    'ispdb.test/v1.1/broken.test': xml(config('broken.test', 'smtp.broken.test', 587, 'STARTTLS')),
    'autoconfig.plain.test/mail/config-v1.1.xml': xml(config('plain.test', 'smtp.plain.test', 25, 'plain')),
    'autoconfig.slow.test/mail/config-v1.1.xml': (_req, res) => {
      res.writeHead(200);
      const timer = setTimeout(() => res.end(config('slow.test', 'smtp.slow.test', 465, 'SSL')), 60_000);
      res.on('close', () => clearTimeout(timer));
    },
    'ispdb.test/v1.1/hoster.test': xml(config('hoster.test', 'smtp.hoster.test', 465, 'SSL', '%EMAILLOCALPART%')),
  });
  dns = await startDnsServer({
    mx: {
      'workspace.test': ['aspmx.l.google.com', 'alt1.aspmx.l.google.com'],
      'm365.test': ['m365-test.mail.protection.outlook.com'],
      'hosted.test': ['mx01.hoster.test'],
    },
    silent: ['quiet.test', '_submissions._tcp.quiet.test'],
    srv: {
      '_submissions._tcp.srv-tls.test': [{ target: 'submit.srv-tls.test', port: 465 }],
      '_submission._tcp.srv-starttls.test': [{ target: 'submit.elsewhere.test', port: 587 }],
    },
  });
  for (const kind of ['tls', 'starttls', 'plain'] as const) smtp[kind] = await startSmtpStub(kind, certificates);
  map = Object.fromEntries(NAMES.filter((name) => !name.startsWith('smtp.') && !name.startsWith('mail.')).map((name) => [`${name}:443`, https.port]));
  Object.assign(map, {
    'smtp.probe465.test:465': smtp.tls!.port,
    'smtp.probe587.test:587': smtp.starttls!.port,
    'mail.probe587.test:587': smtp.starttls!.port,
    'smtp.plainonly.test:587': smtp.plain!.port,
  });
});
after(async () => {
  await https.close();
  await dns.close();
  for (const stub of Object.values(smtp)) await stub.close();
  await certificates.remove();
});

function seams(extra = {}) {
  return loopbackSeams(map, certificates, { dnsServers: [dns.address], ispdbBase: 'https://ispdb.test/v1.1/', ...extra });
}

function found(result: LookupResult) {
  assert.ok(result.found, `not found: ${JSON.stringify(result)}`);
  return result;
}

test('gmail.com comes from the bundled table, trusted, without asking the network', async () => {
  const before = https.requests.length + dns.questions.length;
  const result = found(await lookupAccount('Someone@GMail.com', seams()));
  assert.deepEqual(result.settings, { address: 'Someone@GMail.com', host: 'smtp.gmail.com', port: 465, tls: 'tls', user: 'Someone@GMail.com' });
  assert.equal(result.source, 'bundled');
  assert.equal(result.needsConfirmation, false);
  assert.equal(result.appPasswordUrl, 'https://myaccount.google.com/apppasswords');
  assert.equal(https.requests.length + dns.questions.length, before);
});

test("Outlook.com is found, and the answer says its passwords never work", async () => {
  const result = found(await lookupAccount('someone@outlook.com', seams()));
  assert.equal(result.settings.host, 'smtp-mail.outlook.com');
  assert.equal(result.settings.port, 587);
  assert.equal(result.settings.tls, 'starttls');
  assert.equal(result.passwordNeverWorks, true);
});

test("the provider's own autoconfig file, without the address in the URL", async () => {
  const result = found(await lookupAccount('jo@own.test', seams()));
  assert.deepEqual(result.settings, { address: 'jo@own.test', host: 'smtp.own.test', port: 465, tls: 'tls', user: 'jo' });
  assert.equal(result.source, 'autoconfig');
  assert.equal(result.sourceDetail, 'https://autoconfig.own.test/mail/config-v1.1.xml');
  assert.equal(result.needsConfirmation, false);
  assert.ok(https.requests.includes('autoconfig.own.test/mail/config-v1.1.xml'), 'no query string: the address is not sent');
});

test('an autoconfig file naming a server outside the mail domain must be confirmed', async () => {
  const result = found(await lookupAccount('jo@outside.test', seams()));
  assert.equal(result.settings.host, 'smtp.hoster.example');
  assert.equal(result.needsConfirmation, true);
  assert.match(result.confirmReason ?? '', /outside outside\.test/);
});

test('an autoconfig file reached through a redirect to another host must be confirmed', async () => {
  const result = found(await lookupAccount('jo@moved.test', seams()));
  assert.equal(result.settings.host, 'smtp.moved.test');
  assert.equal(result.source, 'autoconfig');
  assert.equal(result.needsConfirmation, true);
  assert.match(result.sourceDetail, /redirected to https:\/\/elsewhere\.test\/config\.xml/);
});

test('the .well-known file when there is no autoconfig host', async () => {
  const result = found(await lookupAccount('jo@known.test', seams()));
  assert.equal(result.source, 'well-known');
  assert.equal(result.settings.host, 'smtp.known.test');
  assert.equal(result.needsConfirmation, false);
});

test('malformed XML from the provider falls through to the live ISPDB', async () => {
  const result = found(await lookupAccount('jo@broken.test', seams()));
  assert.equal(result.source, 'ispdb');
  assert.equal(result.sourceDetail, 'https://ispdb.test/v1.1/broken.test');
  assert.equal(result.settings.host, 'smtp.broken.test');
  assert.equal(result.needsConfirmation, false);
});

test('a provider offering only plain SMTP yields no settings, and says why', async () => {
  const result = await lookupAccount('jo@plain.test', seams());
  assert.equal(result.found, false);
  assert.match(result.warnings.join(' '), /only unencrypted SMTP \(smtp\.plain\.test:25\)/);
});

test('a slow autoconfig server is given up within the step bound', async () => {
  const started = Date.now();
  const result = await lookupAccount('jo@slow.test', seams({ stepTimeoutMs: 400 }));
  assert.equal(result.found, false);
  assert.ok(!result.found && result.tried.some((line) => /^autoconfig: .*timed out/.test(line)), JSON.stringify(result));
  assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
});

test('the whole lookup stops at its total bound', async () => {
  const started = Date.now();
  const result = await lookupAccount('jo@slow.test', seams({ stepTimeoutMs: 40_000, totalTimeoutMs: 500 }));
  assert.equal(result.found, false);
  assert.match(result.warnings.join(' '), /ran out of time/);
  assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
});

test('a custom domain on Google Workspace is found through its MX, with the full address as login, to be confirmed', async () => {
  const result = found(await lookupAccount('jo@workspace.test', seams()));
  assert.equal(result.source, 'mx');
  assert.deepEqual(result.settings, { address: 'jo@workspace.test', host: 'smtp.gmail.com', port: 465, tls: 'tls', user: 'jo@workspace.test' });
  assert.equal(result.needsConfirmation, true);
  assert.match(result.sourceDetail, /aspmx\.l\.google\.com/);
  assert.ok(dns.questions.includes('MX workspace.test'));
});

test('a Microsoft 365 domain is found through its MX as Office 365', async () => {
  const result = found(await lookupAccount('jo@m365.test', seams()));
  assert.equal(result.source, 'mx');
  assert.equal(result.settings.host, 'smtp.office365.com');
  assert.equal(result.settings.user, 'jo@m365.test');
  assert.equal(result.needsConfirmation, true);
});

test("an MX whose provider is not bundled is asked of the live ISPDB; the login is still the full address", async () => {
  const result = found(await lookupAccount('jo@hosted.test', seams()));
  assert.equal(result.source, 'mx');
  assert.equal(result.settings.host, 'smtp.hoster.test');
  assert.equal(result.settings.user, 'jo@hosted.test');
  assert.equal(result.needsConfirmation, true);
  assert.match(result.sourceDetail, /MX mx01\.hoster\.test, then https:\/\/ispdb\.test\/v1\.1\/hoster\.test/);
});

test('a DNS server that does not answer is given up within the step bound', async () => {
  const started = Date.now();
  const result = await lookupAccount('jo@quiet.test', seams({ stepTimeoutMs: 300 }));
  assert.equal(result.found, false);
  assert.ok(dns.questions.includes('MX quiet.test'));
  assert.ok(!result.found && result.tried.includes('mx: MX quiet.test: timed out'), JSON.stringify(result));
  assert.ok(!result.found && result.tried.includes('srv: SRV _submissions._tcp.quiet.test: timed out'));
  assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
});

test('an internationalised domain is asked for in its ASCII (IDNA) form', async () => {
  const result = await lookupAccount('jo@bücher.test', seams({ stepTimeoutMs: 300 }));
  assert.equal(result.found, false);
  assert.ok(dns.questions.includes('MX xn--bcher-kva.test'), dns.questions.join(', '));
  assert.ok(!result.found && result.tried.includes('autoconfig: autoconfig.xn--bcher-kva.test:443 is not mapped'), JSON.stringify(result));
});

test('SRV: _submissions means TLS, _submission means STARTTLS; both are confirmed', async () => {
  const tls = found(await lookupAccount('jo@srv-tls.test', seams()));
  assert.equal(tls.source, 'srv');
  assert.deepEqual(tls.settings, { address: 'jo@srv-tls.test', host: 'submit.srv-tls.test', port: 465, tls: 'tls', user: 'jo@srv-tls.test' });
  assert.equal(tls.needsConfirmation, true);
  const starttls = found(await lookupAccount('jo@srv-starttls.test', seams()));
  assert.deepEqual({ host: starttls.settings.host, port: starttls.settings.port, tls: starttls.settings.tls }, { host: 'submit.elsewhere.test', port: 587, tls: 'starttls' });
});

test('the probe finds TLS on smtp.<domain>:465', async () => {
  const result = found(await lookupAccount('jo@probe465.test', seams()));
  assert.equal(result.source, 'probe');
  assert.deepEqual(result.settings, { address: 'jo@probe465.test', host: 'smtp.probe465.test', port: 465, tls: 'tls', user: 'jo@probe465.test' });
  assert.equal(result.needsConfirmation, true);
});

test('the probe finds STARTTLS on 587, smtp. before mail.', async () => {
  const result = found(await lookupAccount('jo@probe587.test', seams()));
  assert.equal(result.source, 'probe');
  assert.deepEqual({ host: result.settings.host, port: result.settings.port, tls: result.settings.tls }, { host: 'smtp.probe587.test', port: 587, tls: 'starttls' });
  assert.equal(result.needsConfirmation, true);
  assert.ok(!smtp.starttls!.commands.some((command) => /^AUTH/i.test(command)), 'the probe never logs in');
});

test('the probe refuses a server that offers no STARTTLS: nothing found', async () => {
  const result = await lookupAccount('jo@plainonly.test', seams());
  assert.equal(result.found, false);
  assert.ok(!result.found && result.tried.includes('probe: smtp.plainonly.test:587: the server offers no STARTTLS'), JSON.stringify(result));
});

test('nothing anywhere: not found, with every step tried', async () => {
  const result = await lookupAccount('jo@nothing.test', seams());
  assert.equal(result.found, false);
  assert.ok(!result.found && result.tried.includes('mx: no MX record for nothing.test'), 'NXDOMAIN is no record, not a problem');
  const steps = result.found ? [] : result.tried.map((line) => line.split(':')[0]);
  for (const step of ['bundled', 'autoconfig', 'well-known', 'ispdb', 'mx', 'srv', 'probe']) assert.ok(steps.includes(step), `${step} not tried: ${steps.join(', ')}`);
});

test('a string that is not an address is refused before any lookup', async () => {
  for (const bad of ['', 'jo', '@gmail.com', 'jo@', 'jo@localhost', 'jo doe@gmail.com', 'jo@exa mple.com', 'jo@-bad-.com', 'jo@a..b']) {
    await assert.rejects(lookupAccount(bad, seams()), AddressError, bad);
  }
});
