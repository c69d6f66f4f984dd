/** TrayRefresh: the context menu is set again only when a label or the structure changed. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RelayFacts } from '../../../electron/contract/api';
import { trayModel } from '../../../electron/tray/model';
import { TrayRefresh, sameItems } from '../../../electron/tray/refresh';

const running: RelayFacts = { state: 'running', host: '127.0.0.1', port: 2500, mailsToday: 3, notices: [] };

describe('tray refresh', () => {
  it('the first model sets everything; the same model again sets nothing', () => {
    const refresh = new TrayRefresh();
    const first = refresh.next(trayModel(running));
    assert.equal(first.look, 'running');
    assert.equal(first.tooltip, 'msmtp Relay: Running on localhost:2500');
    assert.equal(first.items?.length, 9);
    assert.deepEqual(refresh.next(trayModel({ ...running })), {});
    // A status event the tray does not show (a notice for the window) changes nothing in the tray either.
    assert.deepEqual(refresh.next(trayModel({ ...running, notices: ['settings.json was broken'] })), {});
  });

  it('a new mail count changes the menu only; a failed mail changes the look and the structure', () => {
    const refresh = new TrayRefresh();
    refresh.next(trayModel(running));
    const counted = refresh.next(trayModel({ ...running, mailsToday: 4 }));
    assert.deepEqual(Object.keys(counted), ['items']);
    assert.equal(counted.items?.[1]?.kind === 'label' && counted.items[1].label, '4 mails sent today');

    const lastMail = { time: 1, outcome: 'failed' as const, summary: 'to bob@example.net: 451 try later' };
    const failed = refresh.next(trayModel({ ...running, mailsToday: 4, lastMail }));
    assert.equal(failed.look, 'error');
    assert.equal(failed.items?.length, 10, 'the "Last mail" line was added');
    assert.equal(failed.tooltip, undefined, 'the tooltip names the address, which did not change');
    // The same failure reported again (another status event with the same last mail) is no change.
    assert.deepEqual(refresh.next(trayModel({ ...running, mailsToday: 4, lastMail: { ...lastMail, time: 2 } })), {});
  });

  it('stopping changes the toggle label, the look and the tooltip', () => {
    const refresh = new TrayRefresh();
    refresh.next(trayModel(running));
    const stopped = refresh.next(trayModel({ ...running, state: 'stopped' }));
    assert.equal(stopped.look, 'stopped');
    assert.equal(stopped.tooltip, 'msmtp Relay: Stopped');
    const toggle = stopped.items?.find((item) => item.kind === 'action' && item.action === 'toggle');
    assert.deepEqual(toggle, { kind: 'action', action: 'toggle', label: 'Start relay' });
  });

  it('compares kind, label and action item by item', () => {
    assert.equal(sameItems([{ kind: 'separator' }], [{ kind: 'separator' }]), true);
    assert.equal(sameItems([{ kind: 'separator' }], [{ kind: 'label', label: '' }]), false);
    assert.equal(sameItems([{ kind: 'label', label: 'a' }], [{ kind: 'label', label: 'b' }]), false);
    assert.equal(
      sameItems([{ kind: 'action', action: 'quit', label: 'x' }], [{ kind: 'action', action: 'settings', label: 'x' }]),
      false,
    );
    assert.equal(sameItems([], [{ kind: 'separator' }]), false);
  });
});
