import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AutoconfigError, parseAutoconfig } from '../../../src-relay/accounts/autoconfig-xml';
import { chooseServer } from '../../../src-relay/accounts/provider-config';

const CONFIG = `<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="Example.TEST">
    <domain>example.test</domain>
    <domain>EXAMPLE.org</domain>
    <displayName>Example Mail</displayName>
    <incomingServer type="imap"><hostname>imap.example.test</hostname><port>993</port><socketType>SSL</socketType></incomingServer>
    <outgoingServer type="smtp">
      <hostname>plain.example.test</hostname><port>25</port><socketType>plain</socketType>
      <username>%EMAILLOCALPART%</username><authentication>password-cleartext</authentication>
    </outgoingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.%EMAILDOMAIN%</hostname><port>587</port><socketType>STARTTLS</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>OAuth2</authentication><authentication>password-cleartext</authentication>
    </outgoingServer>
  </emailProvider>
  <enable visiturl="https://example.test/enable">
    <instruction lang="de">Zugriff erlauben</instruction>
    <instruction>Allow access first</instruction>
  </enable>
</clientConfig>`;

test('a config-v1.1.xml gives the domains, the SMTP servers in order and the English enable step', () => {
  const config = parseAutoconfig(CONFIG);
  assert.equal(config.id, 'example.test');
  assert.equal(config.name, 'Example Mail');
  assert.deepEqual(config.domains, ['example.test', 'example.org']);
  assert.deepEqual(config.smtp, [
    { host: 'plain.example.test', port: 25, socket: 'plain', user: '%EMAILLOCALPART%', auth: ['password-cleartext'] },
    { host: 'smtp.%EMAILDOMAIN%', port: 587, socket: 'starttls', user: '%EMAILLOCALPART%', auth: ['OAuth2', 'password-cleartext'] },
  ]);
  assert.deepEqual(config.enable, { url: 'https://example.test/enable', text: 'Allow access first' });
});

test('malformed XML, a DTD, and files without a provider are refused', () => {
  assert.throws(() => parseAutoconfig('<clientConfig><emailProvider id="x">'), AutoconfigError);
  assert.throws(() => parseAutoconfig('<clientConfig><emailProvider id="x"></clientConfig>'), /malformed XML/);
  assert.throws(() => parseAutoconfig('not xml at all <<<'), AutoconfigError);
  const laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>' +
    '<clientConfig><emailProvider id="x"><displayName>&lol2;</displayName></emailProvider></clientConfig>';
  assert.throws(() => parseAutoconfig(laughs), /DTD/);
  assert.throws(() => parseAutoconfig('<other/>'), /no <clientConfig>/);
  assert.throws(() => parseAutoconfig('<clientConfig version="1.1"></clientConfig>'), /no <emailProvider>/);
  assert.throws(() => parseAutoconfig('<clientConfig><emailProvider><domain>a.test</domain></emailProvider></clientConfig>'), /no id/);
});

test('servers with an unknown socket type or a bad port are left out', () => {
  const config = parseAutoconfig(`<clientConfig><emailProvider id="x.test">
    <outgoingServer type="smtp"><hostname>a.x.test</hostname><port>99999</port><socketType>SSL</socketType></outgoingServer>
    <outgoingServer type="smtp"><hostname>b.x.test</hostname><port>465</port><socketType>TLS-ish</socketType></outgoingServer>
    <outgoingServer type="exchange"><hostname>c.x.test</hostname><port>443</port><socketType>SSL</socketType></outgoingServer>
    <outgoingServer type="smtp"><hostname>d.x.test</hostname><port>465</port><socketType>SSL</socketType></outgoingServer>
  </emailProvider></clientConfig>`);
  assert.deepEqual(config.smtp.map((server) => server.host), ['d.x.test']);
  assert.equal(config.smtp[0]!.user, '%EMAILADDRESS%', 'no <username>: Thunderbird\'s default, the whole address');
});

test('chooseServer skips plain servers and templates with a placeholder it does not know', () => {
  const config = parseAutoconfig(CONFIG);
  const choice = chooseServer(config, 'Jo.Doe@Example.Test');
  assert.equal(choice.kind, 'chosen');
  if (choice.kind === 'chosen') {
    assert.deepEqual(choice.settings, { address: 'Jo.Doe@Example.Test', host: 'smtp.example.test', port: 587, tls: 'starttls', user: 'Jo.Doe' });
  }
  const typo = { ...config, smtp: [{ ...config.smtp[1]!, user: '%EMAILADDRESS' }] };
  assert.equal(chooseServer(typo, 'a@example.test').kind, 'none');
});
