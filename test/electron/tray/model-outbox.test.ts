/** What the tray says about the outbox: the count of mails waiting, those given up, and a pause. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RelayFacts } from '../../../electron/contract/api';
import { outboxLine, trayLook, trayModel } from '../../../electron/tray/model';

const running: RelayFacts = { state: 'running', host: '127.0.0.1', port: 2500, mailsToday: 3, notices: [] };
const labels = (status: RelayFacts) => trayModel(status).items.flatMap((item) => (item.kind === 'label' ? [item.label] : []));

describe('tray model: outbox', () => {
  it('says how many mails wait and how many failed, and nothing for an empty outbox', () => {
    assert.equal(outboxLine(running), null, 'no outbox (yet): no line');
    assert.equal(outboxLine({ ...running, outbox: { waiting: 0, failed: 0, paused: false } }), null);
    assert.equal(outboxLine({ ...running, outbox: { waiting: 1, failed: 0, paused: false } }), '1 mail waiting to be sent');
    assert.equal(outboxLine({ ...running, outbox: { waiting: 4, failed: 2, paused: false } }), '4 mails waiting to be sent, 2 failed');
    assert.equal(outboxLine({ ...running, outbox: { waiting: 0, failed: 1, paused: false } }), '1 failed');
    assert.equal(outboxLine({ ...running, outbox: { waiting: 0, failed: 0, paused: true } }), '0 mails waiting to be sent (sending paused)');
    assert.deepEqual(labels({ ...running, outbox: { waiting: 2, failed: 0, paused: false } }), [
      'Running on localhost:2500', '3 mails sent today', '2 mails waiting to be sent',
    ]);
  });

  it('a mail kept for later is not an error (it goes out by itself); one given up is, until it is dealt with', () => {
    const kept = { ...running, lastMail: { time: 1, outcome: 'queued' as const, summary: 'to a: 250 2.0.0 Queued as 7F3A00C0FFEE' } };
    assert.equal(trayLook(kept), 'running');
    assert.equal(trayLook({ ...running, lastMail: { time: 1, outcome: 'failed', summary: 'to a: given up' } }), 'error');
    // Until the user retries or deletes it, a mail given up keeps the icon red, whatever went out after it.
    const delivered = { time: 2, outcome: 'delivered' as const, summary: 'to b: delivered' };
    assert.equal(trayLook({ ...running, lastMail: delivered, outbox: { waiting: 0, failed: 1, paused: false } }), 'error');
    assert.equal(trayLook({ ...running, lastMail: delivered, outbox: { waiting: 3, failed: 0, paused: true } }), 'running');
  });
});
