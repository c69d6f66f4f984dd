import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Invokable, MainApi } from '../../../electron/contract/api';
import { INVOKE_CHANNELS, IpcRejected, createIpcGate, isTrustedSender, validators } from '../../../electron/core/ipc-gate';
import { defaultSettings } from '../../../electron/core/settings';
import { UI_PAGE } from '../../../electron/desktop/ui-files';

/** Records what reached the API behind the gate; the gate is what is under test here. */
function recordingApi(): { api: MainApi; calls: [string, unknown[]][] } {
  const calls: [string, unknown[]][] = [];
  const api = new Proxy({}, {
    get: (_target, name) => async (...args: unknown[]) => {
      calls.push([String(name), args]);
      return `result of ${String(name)}`;
    },
  }) as MainApi;
  return { api, calls };
}

const top = { url: UI_PAGE, isMainFrame: true };

describe('IPC gate', () => {
  it('handles exactly the invokable methods of the contract', () => {
    const expected: Invokable[] = [
      'getSettings', 'saveSettings', 'setPassword', 'regeneratePassword', 'copy', 'getStatus', 'setRunning',
      'recentLog', 'clearLog', 'openLogFile', 'checkCommand', 'chooseCommandFile', 'clientSetup',
      'testMailDefaults', 'sendTestMail', 'applyFix', 'exportCertificate',
      'listOutbox', 'retryOutbox', 'deleteFromOutbox', 'setSendingPaused',
      'clientGuides', 'copySnippet', 'thunderbirdProfiles', 'addToThunderbird',
      'listAccounts', 'lookupAccount', 'saveAccount', 'removeAccount', 'openAccountPage', 'chooseTrustFile',
    ];
    assert.deepEqual([...INVOKE_CHANNELS].sort(), [...expected].sort());
  });

  it('trusts only our page in the top frame', () => {
    assert.equal(isTrustedSender(top, UI_PAGE), true);
    assert.equal(isTrustedSender({ url: `${UI_PAGE}#logs`, isMainFrame: true }, UI_PAGE), true);
    assert.equal(isTrustedSender({ url: UI_PAGE, isMainFrame: false }, UI_PAGE), false, 'an iframe');
    assert.equal(isTrustedSender({ url: undefined, isMainFrame: true }, UI_PAGE), false, 'not our web contents');
    assert.equal(isTrustedSender({ url: 'app://ui/other.html', isMainFrame: true }, UI_PAGE), false);
    assert.equal(isTrustedSender({ url: 'app://evil/index.html', isMainFrame: true }, UI_PAGE), false);
    assert.equal(isTrustedSender({ url: 'https://example.org/index.html', isMainFrame: true }, UI_PAGE), false);
    assert.equal(isTrustedSender({ url: 'file:///index.html', isMainFrame: true }, UI_PAGE), false);
    assert.equal(isTrustedSender({ url: 'app://user:pw@ui/index.html', isMainFrame: true }, UI_PAGE), false);
    assert.equal(isTrustedSender({ url: 'not a url', isMainFrame: true }, UI_PAGE), false);
    assert.equal(isTrustedSender({ url: 'http://127.0.0.1:4000/index.html', isMainFrame: true }, 'http://127.0.0.1:4000/index.html'), true);
    assert.equal(isTrustedSender({ url: 'http://127.0.0.1:4001/index.html', isMainFrame: true }, 'http://127.0.0.1:4000/index.html'), false);
  });

  it('passes valid calls through, with their arguments', async () => {
    const { api, calls } = recordingApi();
    const invoke = createIpcGate(api, UI_PAGE);
    assert.equal(await invoke(top, 'getStatus', []), 'result of getStatus');
    await invoke(top, 'saveSettings', [{ ...defaultSettings, port: 99999 }]); // range errors are the store's to report
    await invoke(top, 'setRunning', [false]);
    await invoke(top, 'copy', ['password']);
    await invoke(top, 'checkCommand', ['msmtp -f %F --']);
    await invoke(top, 'setPassword', ['a new password']);
    await invoke(top, 'applyFix', [{ action: 'use-port', port: 2501 }]);
    await invoke(top, 'sendTestMail', [' ann@example.org ']);
    assert.deepEqual(calls.slice(-2), [['applyFix', [{ action: 'use-port', port: 2501 }]], ['sendTestMail', ['ann@example.org']]]);
    calls.splice(-2);
    await invoke(top, 'retryOutbox', [null]);
    await invoke(top, 'retryOutbox', ['7F3A00C0FFEE']);
    await invoke(top, 'deleteFromOutbox', ['0123456789AB']);
    await invoke(top, 'setSendingPaused', [true]);
    await invoke(top, 'addToThunderbird', [{ profileDir: '/home/ann/.thunderbird/x.default', identities: ['id1', 'id_2'] }]);
    await invoke(top, 'copySnippet', ['mutt', 0]);
    assert.deepEqual(calls, [
      ['getStatus', []],
      ['saveSettings', [{ ...defaultSettings, port: 99999 }]],
      ['setRunning', [false]],
      ['copy', ['password']],
      ['checkCommand', ['msmtp -f %F --']],
      ['setPassword', ['a new password']],
      ['retryOutbox', [null]],
      ['retryOutbox', ['7F3A00C0FFEE']],
      ['deleteFromOutbox', ['0123456789AB']],
      ['setSendingPaused', [true]],
      ['addToThunderbird', [{ profileDir: '/home/ann/.thunderbird/x.default', identities: ['id1', 'id_2'] }]],
      ['copySnippet', ['mutt', 0]],
    ]);
  });

  it('rejects a wrong sender before looking at anything else', async () => {
    const { api, calls } = recordingApi();
    const invoke = createIpcGate(api, UI_PAGE);
    await assert.rejects(invoke({ url: 'https://evil.example/', isMainFrame: true }, 'saveSettings', [defaultSettings]), IpcRejected);
    await assert.rejects(invoke({ url: UI_PAGE, isMainFrame: false }, 'getStatus', []), /untrusted sender/);
    assert.deepEqual(calls, []);
  });

  it('rejects unknown methods and inputs of the wrong shape', async () => {
    const { api, calls } = recordingApi();
    const invoke = createIpcGate(api, UI_PAGE);
    const bad: [string, unknown[], RegExp][] = [
      ['constructor', [], /unknown IPC method/],
      ['__proto__', [], /unknown IPC method/],
      ['toString', [], /unknown IPC method/],
      ['getPassword', ['msmtpd-user'], /unknown IPC method/],
      ['getStatus', [1], /expected no arguments/],
      ['setRunning', ['yes'], /true or false/],
      ['setRunning', [], /expected 1 argument/],
      ['copy', ['/etc/passwd'], /unknown copy item/],
      ['copy', [{ toString: () => 'host' }], /unknown copy item/],
      ['setPassword', [42], /must be a string/],
      ['setPassword', ['x'.repeat(5000)], /too long/],
      ['checkCommand', [['msmtp']], /must be a string/],
      ['saveSettings', [null], /plain object/],
      ['saveSettings', [[]], /plain object/],
      ['saveSettings', [{ ...defaultSettings, port: '2500' }], /settings\.port must be a number/],
      ['saveSettings', [{ ...defaultSettings, launchAtLogin: 1 }], /launchAtLogin must be a boolean/],
      ['saveSettings', [{ ...defaultSettings, shell: true }], /unknown settings: shell/],
      ['saveSettings', [{ command: 'msmtp' }], /settings\.host must be a string/],
      ['saveSettings', [{ ...defaultSettings, command: 'm'.repeat(5000) }], /too long/],
      ['saveSettings', [Object.create({ command: 'msmtp' })], /plain object/],
      ['saveSettings', [{ ...defaultSettings, tls: 'yes' }], /settings\.tls must be a boolean/],
      ['sendTestMail', ['not an address'], /one mail address/],
      ['sendTestMail', ['a@b.c', 'x@y.z'], /expected 1 argument/],
      ['sendTestMail', ['-oQ/tmp@x'.padEnd(300, 'x')], /one mail address/],
      ['applyFix', [{ action: 'use-port', port: 0 }], /port from 1 to 65535/],
      ['applyFix', [{ action: 'use-port', port: 2501, file: '/etc/passwd' }], /unknown fix/],
      ['applyFix', [{ action: 'fix-permissions', file: '/etc/shadow' }], /unknown fix/],
      ['applyFix', [{ action: 'rm -rf' }], /unknown fix/],
      ['applyFix', ['retry'], /must be an object/],
      ['exportCertificate', ['/tmp/x.pem'], /expected no arguments/],
      ['saveSettings', [{ ...defaultSettings, keepUnsent: 'no' }], /keepUnsent must be a boolean/],
      ['retryOutbox', [], /expected 1 argument/],
      ['retryOutbox', ['7f3a00c0ffee'], /12 hex digits/],
      ['retryOutbox', ['7F3A00C0FFEE0'], /12 hex digits/],
      ['retryOutbox', ['../../etc/pw'], /12 hex digits/],
      ['retryOutbox', [undefined], /12 hex digits/],
      ['deleteFromOutbox', [null], /12 hex digits/],
      ['deleteFromOutbox', [['7F3A00C0FFEE']], /12 hex digits/],
      ['deleteFromOutbox', ['7F3A00C0FFEE\n'], /12 hex digits/],
      ['setSendingPaused', ['true'], /true or false/],
      ['listOutbox', [true], /expected no arguments/],
      ['addToThunderbird', ['/home/ann/.thunderbird'], /plain object/],
      ['addToThunderbird', [{ profileDir: '/p' }], /takes profileDir and identities/],
      ['addToThunderbird', [{ profileDir: '/p', identities: [], smtp: 'x' }], /takes profileDir and identities/],
      ['addToThunderbird', [{ profileDir: 42, identities: [] }], /profileDir must be a string/],
      ['addToThunderbird', [{ profileDir: '/p', identities: 'id1' }], /identities must be a list/],
      ['addToThunderbird', [{ profileDir: '/p', identities: ['id1"); user_pref("x'] }], /not an identity key/],
      ['addToThunderbird', [{ profileDir: '/p', identities: Array(300).fill('id1') }], /identities must be a list/],
      // Issue #16: a sparse list (a hole at 1) wrote mail.identity.undefined.smtpServer.
      ['addToThunderbird', [{ profileDir: '/p', identities: Object.assign(new Array<string>(3), { 0: 'id1', 2: 'id2' }) }], /identities\[1\] must be a string/],
      ['clientGuides', ['all'], /expected no arguments/],
      ['copySnippet', ['python'], /expected 2 arguments/],
      ['copySnippet', ['sendmail', 0], /unknown guide/],
      ['copySnippet', ['python', 1.5], /snippet index out of range/],
      ['copySnippet', ['python', '0'], /snippet index out of range/],
    ];
    for (const [channel, args, message] of bad) {
      await assert.rejects(invoke(top, channel, args), message, `${channel}(${JSON.stringify(args)})`);
    }
    assert.deepEqual(calls, []);
  });

  it('has a validator per method that returns clean copies', async () => {
    const withExtra = { ...defaultSettings };
    const [clean] = validators.saveSettings([withExtra]);
    assert.notEqual(clean, withExtra);
    assert.deepEqual(clean, defaultSettings);

    // The contract for an extra key is rejection, not silent dropping: the renderer only ever sends the five fields,
    // so anything else is a bug or an attack and must not reach the store.
    assert.throws(() => validators.saveSettings([{ ...defaultSettings, extra: 'x' }]), /unknown settings: extra/);
    // A key that only an own-property walk sees (not enumerable) cannot ride along: the copy has exactly the fields.
    const hidden = { ...defaultSettings };
    Object.defineProperty(hidden, 'shell', { value: true, enumerable: false });
    const [copied] = validators.saveSettings([hidden]);
    assert.deepEqual(Object.getOwnPropertyNames(copied).sort(), Object.keys(defaultSettings).sort());
    // The copy is detached: changing what was validated afterwards does not change what the API receives.
    const original = { ...defaultSettings };
    const [detached] = validators.saveSettings([original]);
    original.port = 1;
    assert.equal(detached.port, defaultSettings.port);

    // Compare the validators with what the window can actually invoke: a channel the preload calls without a
    // validator would never be handled, and one with a validator the preload never calls is dead surface.
    const preload = await readFile(join(__dirname, '..', '..', '..', 'electron', 'glue', 'preload.js'), 'utf8');
    const invoked = [...preload.matchAll(/invoke\('([A-Za-z]+)'\)/g)].map((match) => match[1]!);
    assert.deepEqual(Object.keys(validators).sort(), [...new Set(invoked)].sort());
  });
});

describe('IPC gate: the Accounts pane\'s calls', () => {
  const request = { address: 'ann@example.org', host: 'smtp.example.org', port: 465, tls: 'tls', user: 'ann@example.org', confirmed: false };
  const pin = Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, '0').toUpperCase()).join(':');

  it('passes valid account calls through, as clean copies', async () => {
    const { api, calls } = recordingApi();
    const invoke = createIpcGate(api, UI_PAGE);
    await invoke(top, 'listAccounts', []);
    await invoke(top, 'lookupAccount', [' ann@example.org ']);
    await invoke(top, 'saveAccount', [{ ...request, tlsTrustFile: '/home/ann/bridge.pem', tlsFingerprint: pin }, 'app pass wörd']);
    await invoke(top, 'removeAccount', ['ann@example.org']);
    await invoke(top, 'openAccountPage', ['ann@example.org', 'app-password']);
    await invoke(top, 'chooseTrustFile', []);
    assert.deepEqual(calls, [
      ['listAccounts', []],
      ['lookupAccount', ['ann@example.org']],
      ['saveAccount', [{ ...request, tlsTrustFile: '/home/ann/bridge.pem', tlsFingerprint: pin }, 'app pass wörd']],
      ['removeAccount', ['ann@example.org']],
      ['openAccountPage', ['ann@example.org', 'app-password']],
      ['chooseTrustFile', []],
    ]);
    const extra = { ...request };
    Object.defineProperty(extra, 'command', { value: 'rm -rf ~', enumerable: false });
    const [copied] = validators.saveAccount([extra, 'x']);
    assert.notEqual(copied, extra);
    assert.deepEqual(Object.getOwnPropertyNames(copied).sort(), Object.keys(request).sort());
  });

  it('refuses wrong shapes, unbounded or control-character strings, ports out of range and unknown enums', async () => {
    const { api, calls } = recordingApi();
    const invoke = createIpcGate(api, UI_PAGE);
    const bad: [string, unknown[], RegExp][] = [
      ['listAccounts', ['x'], /expected no arguments/],
      ['lookupAccount', [], /expected 1 argument/],
      ['lookupAccount', [42], /must be a string/],
      ['lookupAccount', ['not an address'], /one mail address/],
      ['lookupAccount', ['a@b.example, c@d.example'], /one mail address/],
      ['lookupAccount', [`${'a'.repeat(250)}@b.example`], /too long/],
      ['lookupAccount', ['ann@example.org\nbcc@evil.example'], /control character/],
      ['saveAccount', [request], /expected 2 arguments/],
      ['saveAccount', [request, ''], /password is empty/],
      ['saveAccount', [request, 'x'.repeat(1025)], /too long/],
      ['saveAccount', [request, 'pass\u0000word'], /control character/],
      ['saveAccount', [[request], 'x'], /plain object/],
      ['saveAccount', [{ ...request, port: 0 }, 'x'], /1 to 65535/],
      ['saveAccount', [{ ...request, port: 65536 }, 'x'], /1 to 65535/],
      ['saveAccount', [{ ...request, port: 465.5 }, 'x'], /1 to 65535/],
      ['saveAccount', [{ ...request, port: '465' }, 'x'], /1 to 65535/],
      ['saveAccount', [{ ...request, tls: 'none' }, 'x'], /tls or starttls/],
      ['saveAccount', [{ ...request, confirmed: 'yes' }, 'x'], /true or false/],
      ['saveAccount', [{ ...request, host: 'smtp.example.org\rpassword x' }, 'x'], /control character/],
      ['saveAccount', [{ ...request, host: '  ' }, 'x'], /host is empty/],
      ['saveAccount', [{ ...request, user: 'ann\u2028x' }, 'x'], /control character/],
      ['saveAccount', [{ ...request, user: 'u'.repeat(481) }, 'x'], /too long/],
      ['saveAccount', [{ ...request, tlsTrustFile: '' }, 'x'], /trust file is empty/],
      ['saveAccount', [{ ...request, tlsFingerprint: 'AB:CD' }, 'x'], /SHA-256 fingerprint/],
      ['saveAccount', [{ ...request, passwordeval: 'cat /etc/shadow' }, 'x'], /unknown account fields: passwordeval/],
      ['saveAccount', [{ address: 'ann@example.org' }, 'x'], /missing account fields: confirmed, host, port, tls, user/],
      ['removeAccount', ['<ann@example.org>'], /one mail address/],
      ['openAccountPage', ['ann@example.org', 'https://evil.example/'], /unknown account page/],
      ['openAccountPage', ['ann@example.org'], /expected 2 arguments/],
      ['chooseTrustFile', ['/etc/passwd'], /expected no arguments/],
    ];
    for (const [channel, args, message] of bad) {
      await assert.rejects(invoke(top, channel, args), message, `${channel}(${JSON.stringify(args)})`);
    }
    assert.deepEqual(calls, []);
  });
});

describe('preload', () => {
  it('compiles to one CommonJS file that requires only electron (usable as a sandboxed preload)', async () => {
    const source = await readFile(join(__dirname, '..', '..', '..', 'electron', 'glue', 'preload.js'), 'utf8');
    const required = [...source.matchAll(/\brequire\(\s*(["'])(.*?)\1\s*\)/g)].map((match) => match[2]);
    assert.deepEqual(required, ['electron']);
    assert.doesNotMatch(source, /\bimport\s*\(|^\s*import\s/m, 'no ES module syntax left');
    for (const channel of INVOKE_CHANNELS) assert.match(source, new RegExp(`invoke\\('${channel}'\\)`), channel);
    assert.match(source, /exposeInMainWorld\('relay', api\)/);
  });
});
