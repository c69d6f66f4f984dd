import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lookupView, providerPages } from '../../../electron/accounts/lookup-view';
import { lookupAccount, type LookupFound } from '../../../src-relay/index';

const found = (extra: Partial<LookupFound>): LookupFound => ({
  found: true,
  settings: { address: 'ann@example.org', host: 'smtp.example.org', port: 465, tls: 'tls', user: 'ann@example.org' },
  source: 'autoconfig',
  sourceDetail: 'https://autoconfig.example.org/mail/config-v1.1.xml',
  needsConfirmation: false,
  notes: [],
  warnings: [],
  ...extra,
});

describe('the lookup, as the window shows it', () => {
  it('opens only https pages, and an "enable access" page only from the app\'s own table', () => {
    assert.deepEqual(providerPages(found({ appPasswordUrl: 'https://example.org/apppasswords', enableAccessUrl: 'https://example.org/imap' })),
      { appPassword: 'https://example.org/apppasswords' }, 'a provider\'s own autoconfig file could point anywhere');
    assert.deepEqual(providerPages(found({ source: 'bundled', enableAccessUrl: 'https://example.org/imap' })), { enableAccess: 'https://example.org/imap' });
    assert.deepEqual(providerPages(found({ source: 'bundled', appPasswordUrl: 'http://example.org/', enableAccessUrl: 'javascript:alert(1)' })), {});
    const view = lookupView(found({ appPasswordUrl: 'https://example.org/apppasswords' }));
    assert.equal(view.found && view.appPasswordPage, true);
    assert.equal(JSON.stringify(view).includes('https://'), false, 'the window gets no URL to open itself');
  });

  it('words where the settings came from, and passes on the provider\'s truth (the bundled table, no network)', async () => {
    const gmail = lookupView(await lookupAccount('ann@gmail.com', { totalTimeoutMs: 1000 }));
    assert.ok(gmail.found);
    assert.equal(gmail.sourceWords.startsWith('msmtp Relay\'s own provider table'), true, gmail.sourceWords);
    assert.equal(gmail.appPasswordPage, true);
    assert.equal(gmail.passwordNeverWorks, false);
    const outlook = lookupView(await lookupAccount('ann@outlook.com', { totalTimeoutMs: 1000 }));
    assert.ok(outlook.found);
    assert.equal(outlook.passwordNeverWorks, true);
    assert.ok(outlook.notes.some((note) => /September 2024/.test(note)));
    const proton = lookupView(await lookupAccount('ann@proton.me', { totalTimeoutMs: 1000 }));
    assert.ok(proton.found);
    assert.deepEqual([proton.settings.host, proton.settings.port, proton.settings.tls, proton.needsTrust], ['127.0.0.1', 1025, 'starttls', true]);
  });
});
