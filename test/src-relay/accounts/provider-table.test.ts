import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ISPDB_PROVIDERS } from '../../../src-relay/accounts/ispdb-table';
import { chooseServer } from '../../../src-relay/accounts/provider-config';
import { EXTRA_PROVIDERS } from '../../../src-relay/accounts/provider-overlay';
import { adviceFor, bundledDomains, bundledProvider, ISPDB_SOURCE } from '../../../src-relay/accounts/provider-table';

/** The settings the bundled table gives for an address (fails the test when it gives none). */
function settingsFor(address: string) {
  const domain = address.slice(address.indexOf('@') + 1);
  const provider = bundledProvider(domain);
  assert.ok(provider, `no bundled entry for ${domain}`);
  const choice = chooseServer(provider, address);
  assert.equal(choice.kind, 'chosen', `${domain}: ${JSON.stringify(choice)}`);
  return choice.kind === 'chosen' ? { ...choice.settings, id: provider.id, warnings: choice.warnings } : undefined;
}

test('the table answers for every domain a generated or hand-kept row claims, with the row that claims it', () => {
  const claimed = new Set([...ISPDB_PROVIDERS, ...EXTRA_PROVIDERS].flatMap((provider) => provider.domains));
  assert.ok(ISPDB_PROVIDERS.length >= 150, `only ${ISPDB_PROVIDERS.length} providers`);
  assert.ok(claimed.size >= 900, `only ${claimed.size} domains`);
  assert.deepEqual(new Set(bundledDomains()), claimed);
  for (const provider of [...EXTRA_PROVIDERS, ...ISPDB_PROVIDERS]) {
    for (const domain of provider.domains) {
      const found = bundledProvider(domain.toUpperCase());
      assert.ok(found?.domains.includes(domain), `${domain} (${provider.id}) -> ${found?.id}`);
    }
  }
});

test('no row ever yields settings without TLS: a provider with only plain SMTP yields none and a warning', () => {
  let plainOnly = 0;
  for (const provider of ISPDB_PROVIDERS) {
    const choice = chooseServer(provider, `someone@${provider.domains[0]}`);
    if (choice.kind === 'chosen') {
      assert.ok(choice.settings.tls === 'tls' || choice.settings.tls === 'starttls', provider.id);
      assert.ok(!choice.settings.host.includes('%') && !choice.settings.user.includes('%'), provider.id);
    } else {
      assert.equal(choice.kind, 'plain-only', provider.id);
      assert.ok(provider.smtp.every((server) => server.socket === 'plain'), provider.id);
      assert.match(choice.warnings[0] ?? '', /only unencrypted SMTP/);
      plainOnly += 1;
    }
  }
  assert.ok(plainOnly > 0, 'the snapshot has plain-only providers (Japanese ISPs); the rule must be exercised');
});

test('well-known providers get the settings their ISPDB entries give', () => {
  const expected = [
    ['someone@gmail.com', 'smtp.gmail.com', 465, 'tls', 'someone@gmail.com'],
    ['someone@googlemail.com', 'smtp.gmail.com', 465, 'tls', 'someone@googlemail.com'],
    ['someone@yahoo.com', 'smtp.mail.yahoo.com', 465, 'tls', 'someone@yahoo.com'],
    ['someone@aol.com', 'smtp.aol.com', 465, 'tls', 'someone@aol.com'],
    ['someone@icloud.com', 'smtp.mail.me.com', 587, 'starttls', 'someone@icloud.com'],
    ['someone@gmx.de', 'mail.gmx.net', 465, 'tls', 'someone@gmx.de'],
    ['someone@web.de', 'smtp.web.de', 465, 'tls', 'someone'],
    ['someone@t-online.de', 'securesmtp.t-online.de', 465, 'tls', 'someone@t-online.de'],
    ['someone@outlook.com', 'smtp-mail.outlook.com', 587, 'starttls', 'someone@outlook.com'],
    ['someone@hotmail.de', 'smtp-mail.outlook.com', 587, 'starttls', 'someone@hotmail.de'],
    ['someone@posteo.de', 'posteo.de', 465, 'tls', 'someone@posteo.de'],
  ] as const;
  for (const [address, host, port, tls, user] of expected) {
    const settings = settingsFor(address);
    assert.deepEqual({ host: settings?.host, port: settings?.port, tls: settings?.tls, user: settings?.user }, { host, port, tls, user }, address);
  }
});

test('the overlay adds what the ISPDB lacks: app passwords, Outlook.com refusing passwords, Fastmail, Proton Bridge', () => {
  assert.equal(adviceFor(bundledProvider('gmail.com')!.id).appPasswordUrl, 'https://myaccount.google.com/apppasswords');
  assert.ok(adviceFor(bundledProvider('yahoo.com')!.id).appPasswordUrl);
  assert.ok(adviceFor(bundledProvider('icloud.com')!.id).appPasswordUrl);
  assert.ok(adviceFor(bundledProvider('t-online.de')!.id).appPasswordUrl);
  assert.equal(adviceFor(bundledProvider('live.com')!.id).passwordNeverWorks, true);
  assert.equal(adviceFor(bundledProvider('gmail.com')!.id).passwordNeverWorks, undefined);
  // The ISPDB's Outlook.com entry lists OAuth2 only: the table says so too.
  assert.match(settingsFor('someone@outlook.com')!.warnings.join(' '), /only OAuth2/);
  assert.deepEqual(
    (({ host, port, tls }) => ({ host, port, tls }))(settingsFor('someone@fastmail.com')!),
    { host: 'smtp.fastmail.com', port: 465, tls: 'tls' },
  );
  for (const domain of ['proton.me', 'protonmail.com', 'pm.me']) {
    const settings = settingsFor(`someone@${domain}`)!;
    assert.deepEqual({ host: settings.host, port: settings.port, tls: settings.tls, user: settings.user },
      { host: '127.0.0.1', port: 1025, tls: 'starttls', user: `someone@${domain}` });
    assert.equal(adviceFor(settings.id).needsTrust, true);
  }
});

test('the table credits its source: the ISPDB, its commit and its licence', () => {
  assert.match(ISPDB_SOURCE, /Thunderbird ISPDB/);
  assert.match(ISPDB_SOURCE, /github\.com\/thunderbird\/autoconfig/);
  assert.match(ISPDB_SOURCE, /[0-9a-f]{40}/);
  assert.match(ISPDB_SOURCE, /Mozilla Public License 2\.0/);
});
