import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RelayFacts } from '../../../electron/contract/api';
import { mailsLine, statusLine, trayIconFile, trayLook, trayModel } from '../../../electron/tray/model';

const running: RelayFacts = { state: 'running', host: '127.0.0.1', port: 2500, mailsToday: 3, notices: [] };

describe('tray model', () => {
  it('picks the look from the state and the last mail', () => {
    assert.equal(trayLook(running), 'running');
    assert.equal(trayLook({ ...running, state: 'stopped' }), 'stopped');
    assert.equal(trayLook({ ...running, state: 'error', error: 'Port 2500 is already in use' }), 'error');
    assert.equal(trayLook({ ...running, lastMail: { time: 1, outcome: 'delivered', summary: 'to a: delivered' } }), 'running');
    for (const outcome of ['failed', 'temp-failed', 'aborted'] as const) {
      assert.equal(trayLook({ ...running, lastMail: { time: 1, outcome, summary: 'x' } }), 'error', outcome);
    }
  });

  it('words the status line and the mail count', () => {
    assert.equal(statusLine(running), 'Running on localhost:2500');
    assert.equal(statusLine({ ...running, host: '::1' }), 'Running on localhost:2500');
    assert.equal(statusLine({ ...running, host: '192.168.1.5' }), 'Running on 192.168.1.5:2500');
    assert.equal(statusLine({ ...running, host: 'fe80::1' }), 'Running on [fe80::1]:2500');
    assert.equal(statusLine({ ...running, state: 'stopped' }), 'Stopped');
    assert.equal(statusLine({ ...running, state: 'error', error: 'msmtp was not found in PATH' }), 'Error: msmtp was not found in PATH');
    assert.equal(mailsLine({ ...running, mailsToday: 1 }), '1 mail sent today');
    assert.equal(mailsLine(running), '3 mails sent today');
    assert.equal(mailsLine({ ...running, lastMail: { time: 1, outcome: 'temp-failed', summary: 'x' } }), '3 mails sent today (last: temp-failed)');
  });

  it('builds the menu: status lines, Start/Stop, Settings, Copy, Open log, Quit', () => {
    const model = trayModel(running);
    assert.equal(model.look, 'running');
    assert.equal(model.tooltip, 'msmtp Relay: Running on localhost:2500');
    assert.deepEqual(model.items, [
      { kind: 'label', label: 'Running on localhost:2500' },
      { kind: 'label', label: '3 mails sent today' },
      { kind: 'separator' },
      { kind: 'action', action: 'toggle', label: 'Stop relay' },
      { kind: 'action', action: 'settings', label: 'Settings…' },
      { kind: 'action', action: 'copy-setup', label: 'Copy mail client settings' },
      { kind: 'action', action: 'open-log', label: 'Open log file' },
      { kind: 'separator' },
      { kind: 'action', action: 'quit', label: 'Quit msmtp Relay' },
    ]);
    const stopped = trayModel({ ...running, state: 'stopped' });
    assert.deepEqual(stopped.items[3], { kind: 'action', action: 'toggle', label: 'Start relay' });
  });

  it('shows why the last mail failed, shortened to fit a menu', () => {
    const summary = `to bob@example.net: 554 ${'x'.repeat(200)}`;
    const model = trayModel({ ...running, lastMail: { time: 1, outcome: 'failed', summary } });
    assert.equal(model.look, 'error');
    const label = model.items[2] as { kind: 'label'; label: string };
    assert.equal(label.kind, 'label');
    assert.ok(label.label.startsWith('Last mail: to bob@example.net: 554'));
    assert.equal(label.label.length, 80);
    assert.ok(label.label.endsWith('…'));
  });

  it('names icon files: coloured PNGs on Linux, .ico on Windows, Template images on macOS', () => {
    assert.equal(trayIconFile('running', 'linux'), 'tray-running.png');
    assert.equal(trayIconFile('error', 'win32'), 'tray-error.ico');
    assert.equal(trayIconFile('stopped', 'darwin'), 'tray-stoppedTemplate.png');
  });
});
