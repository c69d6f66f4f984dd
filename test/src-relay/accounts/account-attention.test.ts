import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Outbox, addAccount, createRelay, type RelayEvent } from '../../../src-relay/index';
import { accountHome, uniqueAddress, type AccountHome } from '../../helpers/programs/account-home';
import { EventLog } from '../../helpers/relay/event-log';
import { queueIdOf, submitMail } from '../../helpers/relay/outbox-relay';
import { makeTestCa, startProvider, type Provider, type TestCa } from '../../helpers/smtp/provider';

let ca: TestCa;
let provider: Provider;
let home: AccountHome;
const users = new Map<string, string>();
before(async () => {
  ca = makeTestCa();
  provider = await startProvider({ ca, mode: 'starttls', users });
  home = accountHome();
});
after(async () => {
  await provider.close();
  home.remove();
  ca.remove();
});

test('a password changed at the provider: the mail is kept, the account is named, and fixing it sends the mail', async () => {
  const address = uniqueAddress('attention');
  users.set(address, 'old password');
  const settings = { address, host: '127.0.0.1', port: provider.port, tls: 'starttls' as const, user: address, tlsTrustFile: ca.caPath };
  assert.ok((await addAccount(settings, 'old password', home.seams)).ok);
  users.set(address, 'new password'); // changed on the provider's web site

  const spool = mkdtempSync(join(tmpdir(), 'attention-spool-'));
  const outbox = await Outbox.open({ dir: join(spool, 'spool') });
  // The relay runs msmtp as always; `env HOME=...` (a program, no shell) points it at this test's ~/.msmtprc.
  const engine = createRelay({ host: '127.0.0.1', port: 0, command: ['env', `HOME=${home.home}`, 'msmtp', '-f', '%F', '--'] }, { outbox });
  const log = new EventLog();
  const stops = [engine.subscribe(log.record), outbox.subscribe(log.record)];
  try {
    const { port } = await engine.start();
    const reply = await submitMail(port, { from: address, to: 'friend@example.test', body: 'Subject: kept\n\nkept-for-the-account\n' });
    assert.equal(reply.code, 250, reply.raw);
    const id = queueIdOf(reply);
    const attention = await log.waitFor((event) => event.type === 'account-attention', 10_000) as Extract<RelayEvent, { type: 'account-attention' }>;
    assert.equal(attention.account, address, "msmtp's account, by the name in its file");
    assert.equal(attention.reason, 'login-refused');
    assert.equal(attention.from, address);
    assert.deepEqual((await outbox.list()).map((entry) => entry.id), [id]);

    // The user types the new password: verified, stored, and the kept mail goes out on the retry.
    const fixed = await addAccount(settings, 'new password', home.seams);
    assert.ok(fixed.ok && fixed.updated, JSON.stringify(fixed));
    outbox.retryNow();
    await log.waitFor((event) => event.type === 'outbox' && event.action === 'sent' && event.id === id, 20_000);
    assert.ok(provider.mails.some((mail) => mail.user === address && mail.raw.includes('kept-for-the-account')));
  } finally {
    await engine.stop(1000);
    await outbox.close();
    for (const stop of stops) stop();
    rmSync(spool, { recursive: true, force: true });
  }
});
