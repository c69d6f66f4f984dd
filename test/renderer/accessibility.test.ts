/**
 * Accessibility of the settings window in headless Chromium, with the real main-process side behind it (AppCommands,
 * RelayHost, engine, key ring, outbox, the real msmtp delivering to a loopback SMTP sink): axe-core on every pane in
 * light and dark, the tab list's keyboard pattern, the focus after Enter on buttons that start async work, one
 * announcement per result, and the layout at 150% and 200% zoom. One whole task runs by keyboard alone: set the port,
 * save, send a test mail. See helpers/app/app-browser.ts for the one replaced part, the IPC transport.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import type { OutboxView, RelayStatus } from '../../electron/contract/api';
import { createSettingsStore } from '../../electron/core/settings';
import { createKeyringStore } from '../../src-relay/index';
import { freePort } from '../helpers/ports';
import { ARTIFACTS, openWindow, startWindowBrowser, type WindowBrowser } from '../helpers/app/app-browser';
import { msmtpSettingsFor, tempDir, uniqueUser } from '../helpers/app/app-env';
import { sendWithNodemailer } from '../helpers/smtp/mail';
import { writeMsmtprc, type TestMsmtprc } from '../helpers/programs/msmtprc';
import { startSink, type SmtpSink } from '../helpers/smtp/smtp-sink';
import { waitUntil } from '../helpers/wait';
import type { AppCore } from '../../electron/core/app-core';
import { coreWithOutbox, startWith, windowCommands } from '../helpers/app/app-core';

const AXE = require.resolve('axe-core/axe.min.js');
const secrets = createKeyringStore();
const PANES = ['relay', 'logs', 'setup', 'accounts', 'outbox'] as const;
type Pane = typeof PANES[number];

interface Violation {
  id: string;
  impact: string | null;
  targets: string[];
}

describe('settings window: accessibility in Chromium', { timeout: 180_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let app: WindowBrowser;
  let core: AppCore;
  let page: Page;
  let push: WindowBrowser['push'];
  let msmtprc: TestMsmtprc;
  let sink: SmtpSink;
  let pass: string;
  let axeSource: string;
  /** While true the provider answers 451 at the end of DATA: the relay keeps the mail in the outbox. */
  let providerBusy = false;
  const user = uniqueUser('a11y');

  before(async () => {
    dir = await tempDir('a11y');
    const providerPort = await freePort();
    sink = await startSink({ port: providerPort, dataReply: () => (providerBusy ? { code: 451, message: 'Busy, try again later' } : null) });
    msmtprc = writeMsmtprc({ port: providerPort, from: 'ann@example.org' });
    const dataDir = join(dir.path, 'data');
    const store = createSettingsStore(dataDir);
    await store.save(msmtpSettingsFor(msmtprc.path, await freePort(), user));
    const loaded = await store.load();
    core = coreWithOutbox(secrets, join(dataDir, 'outbox'));
    const controller = windowCommands({ app: core, store, secrets }, dir.path, { chooseFile: async () => '/usr/bin/msmtp' });
    const started = await startWith(core, loaded.settings);
    assert.equal(started.state, 'running', started.error);
    pass = (await secrets.get(user))!;
    axeSource = await readFile(AXE, 'utf8');

    app = await startWindowBrowser(controller);
    push = app.push;
    page = await openWindow(app, core);
  });

  after(async () => {
    await app?.close();
    await core?.relay.shutdown();
    await sink?.close();
    msmtprc?.remove();
    await secrets.delete(user).catch(() => false);
    await dir?.remove();
  });

  const send = (to: string, subject = 'hello') => sendWithNodemailer(core.status.current().port, { user, pass }, to, subject);
  const focused = () => page.evaluate<string>(`(() => {
    const element = document.activeElement;
    if (!element || element === document.body) return 'body';
    return element.id ? '#' + element.id : element.tagName.toLowerCase() + (element.className ? '.' + element.className.split(' ').join('.') : '') + ' "' + (element.textContent ?? '').trim().slice(0, 40) + '"';
  })()`);
  const isFocused = (selector: string) => page.evaluate<boolean>(`document.querySelector(${JSON.stringify(selector)}) === document.activeElement`);
  const idle = (selector: string) =>
    waitUntil(async () => (await page.locator(selector).getAttribute('data-busy')) === null, 15_000, `${selector} to finish`);
  /** Tab (forwards) until the element matching selector has the focus; fails after `max` presses. */
  const tabTo = async (selector: string, max = 60) => {
    for (let i = 0; i < max; i++) {
      if (await page.evaluate<boolean>(`document.querySelector(${JSON.stringify(selector)}) === document.activeElement`).catch(() => false)) return;
      await page.keyboard.press('Tab');
    }
    assert.fail(`Tab never reached ${selector}; the focus is on ${await focused()}`);
  };
  const showPane = async (pane: Pane) => {
    await page.click(`#tab-${pane}`);
    await page.locator(`#pane-${pane}`).waitFor({ state: 'visible' });
  };
  const announcements = () => page.evaluate<string[]>('window.__said ?? []');
  const listen = () => page.evaluate(`(() => {
    window.__said = [];
    const region = document.querySelector('[data-announcer]');
    if (!region || window.__listening) return;
    window.__listening = true;
    new MutationObserver((records) => {
      for (const record of records) for (const node of record.addedNodes) if (node.textContent.trim()) window.__said.push(node.textContent.trim());
    }).observe(region, { childList: true });
  })()`);

  const axe = async (): Promise<Violation[]> => {
    if (!(await page.evaluate<boolean>('typeof window.axe === "object"'))) await page.evaluate(axeSource);
    return page.evaluate<Violation[]>(`axe.run(document, { resultTypes: ['violations'] }).then((result) =>
      result.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) })))`);
  };

  /**
   * What axe does not measure, or leaves "incomplete" over tinted backgrounds: the edges of fields and buttons against
   * what is behind them (3:1, WCAG 1.4.11), and small text on tinted pills (badges, the outbox flag, the tab count).
   */
  const lowContrast = () => page.evaluate<string[]>(`(() => {
    const parse = (text) => {
      const rgb = /rgba?\\(([\\d.]+),? ([\\d.]+),? ([\\d.]+)(?:,? \\/? ?([\\d.]+))?\\)/.exec(text);
      if (rgb) return [+rgb[1] / 255, +rgb[2] / 255, +rgb[3] / 255, rgb[4] === undefined ? 1 : +rgb[4]];
      const srgb = /color\\(srgb ([\\d.e-]+) ([\\d.e-]+) ([\\d.e-]+)(?: \\/ ([\\d.]+))?\\)/.exec(text);
      if (srgb) return [+srgb[1], +srgb[2], +srgb[3], srgb[4] === undefined ? 1 : +srgb[4]];
      throw new Error('colour ' + text);
    };
    const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat(1);
    const behind = (element) => {
      const layers = [];
      for (let node = element; node; node = node.parentElement) {
        const colour = parse(getComputedStyle(node).backgroundColor);
        if (colour[3] > 0) layers.push(colour);
        if (colour[3] === 1) break;
      }
      return layers.reverse().reduce((below, layer) => over(layer, below), [1, 1, 1, 1]);
    };
    const luminance = (c) => c.slice(0, 3).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)).reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
    const ratio = (a, b) => { const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
    const visible = (element) => element.getClientRects().length > 0 && !element.closest('[aria-disabled="true"]');
    const out = [];
    for (const control of document.querySelectorAll('input:not([type=checkbox]), select, button')) {
      if (!visible(control)) continue;
      const style = getComputedStyle(control);
      if (parseFloat(style.borderTopWidth) === 0) continue;
      const edge = over(parse(style.borderTopColor), behind(control.parentElement));
      const fill = behind(control);
      // The edge counts against what surrounds the control, unless the control's own fill stands out enough.
      const best = Math.max(ratio(edge, behind(control.parentElement)), ratio(fill, behind(control.parentElement)));
      if (best < 3) out.push('edge of ' + (control.id || control.textContent.trim().slice(0, 20)) + ' ' + best.toFixed(2) + ':1');
    }
    for (const pill of document.querySelectorAll('.badge, .flag, .tab-count, .save-state, .check-head, .mail-error, .field-error')) {
      if (!visible(pill) || !pill.textContent.trim()) continue;
      const back = behind(pill);
      const text = over(parse(getComputedStyle(pill).color), back);
      const value = ratio(text, back);
      if (value < 4.5) out.push((pill.className) + ' "' + pill.textContent.trim().slice(0, 30) + '" ' + value.toFixed(2) + ':1');
    }
    return out;
  })()`);

  /** Something in every state axe should see: a kept mail that may go twice, a failed one, a sent one, a health problem. */
  const seedOutbox = async () => {
    const now = Date.now();
    const view: OutboxView = {
      available: true, paused: false, keepUnsent: true,
      mails: [
        { id: 'AAAAAAAAAAA1', state: 'waiting', from: 'ann@example.org', to: ['bob@example.net'], subject: 'Quarterly report', receivedAt: now - 60_000, attempts: 2, nextAttemptAt: now + 600_000, lastError: 'The provider is busy', lastOutput: 'msmtp: server message: 451 Busy', maySendTwice: true },
        { id: 'AAAAAAAAAAA2', state: 'failed', from: 'ann@example.org', to: ['carol@example.net'], subject: 'Lunch', receivedAt: now - 7_200_000, attempts: 9, nextAttemptAt: null, lastError: 'Given up after 5 days', lastOutput: '', maySendTwice: false },
      ],
      sent: [{ id: 'AAAAAAAAAAA3', time: now - 5000, from: 'ann@example.org', to: ['dave@example.net'], subject: 'Hi', attempts: 2, maySendTwice: true }],
    };
    push(page, 'outbox', view);
    await page.locator('#outbox-waiting .flag').waitFor({ state: 'attached' });
  };
  const seedContent = async () => {
    await seedOutbox();
    const status: RelayStatus = {
      ...core.status.current(),
      notices: ['The settings file was broken and has been replaced.'],
      problems: [{ kind: 'msmtp-no-config', title: 'msmtp has no configuration file', detail: 'Create one.', steps: ['Create ~/.msmtprc'], sample: 'account default', fix: { action: 'retry', label: 'Check again' } }],
    };
    push(page, 'status', status);
    await page.locator('.problem').first().waitFor();
  };
  /** Opens a pane; the Outbox pane, which reads the real (empty) outbox when opened, gets the seeded mails again. */
  const showSeeded = async (pane: Pane) => {
    await showPane(pane);
    if (pane === 'outbox') await seedOutbox();
  };

  it('axe finds no violation on any pane, in light or dark', async () => {
    // Enough lines for the log to scroll (axe's scrollable-region-focusable needs a region that does).
    for (let i = 0; i < 6; i++) assert.match(await send(`bob${i}@example.net`), /^250/);
    // Results that only show after an action: a failed Check, a field error, a test-mail result.
    await page.fill('#f-command', '/nonexistent/msmtp -f %F --');
    await page.click('#btn-check');
    await page.waitForSelector('#check-result[data-ok="false"]');
    await page.fill('#f-port', 'x');
    await page.click('#btn-save');
    await page.fill('#f-test-to', 'ann@example.org');
    await page.click('#btn-test-mail');
    await page.waitForSelector('#test-mail-result[data-outcome="sent"]', { timeout: 15_000 });
    await page.evaluate("document.querySelector('#client-guides details').open = true");
    await seedContent(); // last: a status push from the relay would replace the seeded problem

    await showPane('logs');
    assert.ok(await page.evaluate<boolean>("(() => { const f = document.querySelector('.log-frame'); return f.scrollHeight > f.clientHeight; })()"), 'the log scrolls');
    const found: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const pane of PANES) {
        await showSeeded(pane);
        for (const violation of await axe()) {
          found.push(`${scheme} ${pane}: ${violation.id} (${violation.impact}) on ${violation.targets.length}: ${violation.targets.join(' | ')}`);
        }
        for (const low of await lowContrast()) found.push(`${scheme} ${pane}: contrast of ${low}`);
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await showPane('relay');
    await page.click('#btn-revert');
    assert.deepEqual(found, [], found.join('\n'));
  });

  it('the tab list follows the ARIA tab pattern: arrows, Home and End, one tab stop, aria-controls', async () => {
    await showPane('relay');
    const tabs = await page.evaluate<{ id: string; tabindex: string | null; selected: string | null; panel: string | null }[]>(`[...document.querySelectorAll('[role="tab"]')].map((tab) => ({
      id: tab.id, tabindex: tab.getAttribute('tabindex'), selected: tab.getAttribute('aria-selected'),
      panel: document.getElementById(tab.getAttribute('aria-controls') ?? '')?.getAttribute('role') ?? null,
    }))`);
    assert.ok(tabs.length >= 4);
    for (const tab of tabs) {
      assert.equal(tab.panel, 'tabpanel', `${tab.id} controls a tab panel`);
      assert.equal(tab.tabindex, tab.selected === 'true' ? '0' : '-1', `${tab.id}: roving tabindex`);
    }
    assert.equal(await page.getAttribute('[role="tablist"]', 'aria-orientation'), 'vertical');
    const ids = tabs.map((tab) => tab.id);
    const expectSelected = async (id: string) => {
      assert.equal(await focused(), `#${id}`);
      assert.equal(await page.getAttribute(`#${id}`, 'aria-selected'), 'true');
      assert.equal(await page.getAttribute(`#${id}`, 'tabindex'), '0');
      const panel = (await page.getAttribute(`#${id}`, 'aria-controls'))!;
      assert.equal(await page.isVisible(`#${panel}`), true, `${panel} is shown`);
    };
    await page.focus('#tab-relay');
    await page.keyboard.press('ArrowDown');
    await expectSelected(ids[1]!);
    await page.keyboard.press('ArrowRight');
    await expectSelected(ids[2]!);
    await page.keyboard.press('ArrowUp');
    await expectSelected(ids[1]!);
    await page.keyboard.press('End');
    await expectSelected(ids.at(-1)!);
    await page.keyboard.press('ArrowDown');
    await expectSelected(ids[0]!); // wraps
    await page.keyboard.press('ArrowUp');
    await expectSelected(ids.at(-1)!);
    await page.keyboard.press('Home');
    await expectSelected(ids[0]!);
    // One tab stop: Tab leaves the list instead of walking through the other tabs.
    await page.keyboard.press('Tab');
    assert.ok(!(await focused()).startsWith('#tab-'), `Tab left the tab list (focus on ${await focused()})`);
    await page.keyboard.press('Shift+Tab');
    await expectSelected(ids[0]!);
  });

  it('one whole task by keyboard alone: set the port, save, send a test mail; the focus stays where the user is', async () => {
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10_000 });
    await listen();
    const newPort = await freePort();
    await page.keyboard.press('Tab'); // from the page into the tab list
    assert.equal(await focused(), '#tab-relay');
    await tabTo('#f-port');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(String(newPort));
    await tabTo('#btn-save');
    await page.keyboard.press('Enter');
    await waitUntil(async () => (await page.locator('#status-line').innerText()) === `Running on localhost:${newPort}`, 15_000, 'the relay on the new port');
    await idle('#btn-save');
    assert.equal(await focused(), '#btn-save', 'the focus stays on Save after saving (the button is not disabled under it)');
    assert.equal(await page.isDisabled('#btn-save'), true, 'nothing left to save');

    await tabTo('#f-test-to');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('ann@example.org');
    await tabTo('#btn-test-mail');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#test-mail-result[data-outcome="sent"]', { timeout: 15_000 });
    await idle('#btn-test-mail');
    assert.equal(await focused(), '#btn-test-mail');
    const headline = (await page.locator('#test-mail-result .check-head').innerText()).trim();
    await waitUntil(async () => (await announcements()).some((said) => said.includes(headline)), 5000, 'the result to be announced');
    const said = await announcements();
    assert.equal(said.filter((text) => text.includes(headline)).length, 1, `announced once: ${JSON.stringify(said)}`);
    assert.ok(said.some((text) => text.includes(`Running on localhost:${newPort}`)), `the new state is announced: ${JSON.stringify(said)}`);
    assert.equal(await page.locator('#test-mail-result[aria-live], #status-card[aria-live], #notices[aria-live]').count(), 0, 'no redrawn box is a live region');
  });

  it('mails and status redraws are not announced; field errors and the Check result are, once each', async () => {
    await listen();
    const count = async () => Number(/^(\d+) mails?/.exec(await page.locator('#status-mails').innerText())?.[1] ?? 0);
    const before = await count();
    for (const to of ['a@example.net', 'b@example.net', 'c@example.net']) assert.match(await send(to), /^250/);
    await waitUntil(async () => (await count()) === before + 3, 10_000, 'the mail count');
    assert.deepEqual(await announcements(), [], 'three mails, nothing said');

    await page.focus('#f-port');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('nope');
    await page.keyboard.press('Enter');
    await waitUntil(async () => (await announcements()).length > 0, 5000, 'the port error to be announced');
    assert.deepEqual(await announcements(), ['Port: Enter a port number from 1 to 65535']);
    const described = await page.evaluate<string[]>(`(document.getElementById('f-port').getAttribute('aria-describedby') ?? '').split(' ')
      .map((id) => document.getElementById(id)?.textContent ?? 'missing #' + id)`);
    assert.ok(described.includes('Enter a port number from 1 to 65535'), `the error describes the field: ${JSON.stringify(described)}`);
    assert.ok(described.some((text) => /Any free port/.test(text)), 'so does the hint');
    assert.equal(await page.getAttribute('#f-port', 'aria-invalid'), 'true');
    assert.equal(await focused(), '#f-port');
    await page.click('#btn-revert');

    await page.evaluate('window.__said = []');
    await page.fill('#f-command', 'msmtp -f %F --');
    await page.focus('#btn-check');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#check-result[data-ok="true"]');
    await idle('#btn-check');
    assert.equal(await focused(), '#btn-check');
    await waitUntil(async () => (await announcements()).length > 0, 5000, 'the Check result to be announced');
    const said = await announcements();
    assert.equal(said.length, 1, JSON.stringify(said));
    assert.match(said[0]!, /^✓ msmtp version/);
    // Every field with a hint or an error points at it.
    const unlinked = await page.evaluate<string[]>(`[...document.querySelectorAll('#relay-form .hint, #relay-form .field-error')].filter((element) => !element.id || !document.querySelector('[aria-describedby~="' + element.id + '"]')).map((element) => element.textContent.slice(0, 40))`);
    assert.deepEqual(unlinked, [], 'every hint and error is linked from a control');
  });

  it('Enter on buttons that start async work keeps the focus on them, in every pane', async () => {
    const buttons: [Pane, string][] = [
      ['relay', '#btn-check'], ['relay', '#btn-browse'], ['relay', '#btn-copy-password'], ['relay', '#btn-set-password'],
      ['logs', '#btn-open-log'], ['logs', '#btn-clear-log'],
      ['setup', '#pane-setup button[data-copy="port"]'], ['setup', '#pane-setup button[data-copy="all"]'], ['setup', '#btn-tb-look'],
      ['outbox', '#btn-outbox-pause'], ['outbox', '#btn-outbox-pause'],
    ];
    const lost: string[] = [];
    for (const [pane, selector] of buttons) {
      await showPane(pane);
      await page.focus(selector);
      await page.keyboard.press('Enter');
      await idle(selector);
      if (!(await isFocused(selector))) lost.push(`${selector}: focus on ${await focused()}`);
    }
    // The toggle's text changes (Stop relay / Start relay): it keeps the focus across both.
    for (let i = 0; i < 2; i++) {
      await page.focus('#btn-toggle');
      await page.keyboard.press('Enter');
      await idle('#btn-toggle');
      await waitUntil(async () => core.status.current().state === (i === 0 ? 'stopped' : 'running'), 10_000, 'the toggle');
      if (!(await isFocused('#btn-toggle'))) lost.push(`#btn-toggle: focus on ${await focused()}`);
    }
    assert.deepEqual(lost, []);
  });

  it('Outbox: Retry and Delete keep the focus in the list; a removed row hands it to the next one or the heading', async () => {
    providerBusy = true;
    const queued = /Queued as ([0-9A-F]{12})/;
    const first = queued.exec(await send('x@example.net', 'First'))?.[1];
    const second = queued.exec(await send('y@example.net', 'Second'))?.[1];
    assert.ok(first && second);
    await showPane('outbox');
    const row = (id: string) => `#outbox-waiting .mail-item[data-id="${id}"]`;
    await page.locator(row(second)).waitFor({ timeout: 10_000 });

    await page.focus(`${row(first)} button[data-action="retry"]`);
    await page.keyboard.press('Enter');
    await waitUntil(async () => /2 attempts/.test(await page.locator(`${row(first)} .mail-meta`).innerText().catch(() => '')), 15_000, 'the retry');
    assert.equal(await isFocused(`${row(first)} button[data-action="retry"]`), true, `after Retry: ${await focused()}`);

    await page.focus(`${row(first)} button[data-action="delete"]`);
    await page.keyboard.press('Enter');
    assert.equal(await page.locator(`${row(first)} button[data-action="delete"]`).innerText(), 'Click again to delete it');
    assert.equal(await isFocused(`${row(first)} button[data-action="delete"]`), true, 'the asking button keeps the focus');
    await page.keyboard.press('Enter');
    await page.locator(row(first)).waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal(await isFocused(`${row(second)} button[data-action="delete"]`), true, `the next row's Delete: ${await focused()}`);
    await page.keyboard.press('Enter');
    await page.keyboard.press('Enter');
    await page.locator(row(second)).waitFor({ state: 'detached', timeout: 10_000 });
    const now = await focused();
    assert.ok(now !== 'body' && await page.evaluate<boolean>("document.getElementById('pane-outbox').contains(document.activeElement)"), `the focus stays in the Outbox: ${now}`);
    providerBusy = false;
  });

  it('a health fix button that disappears after its fix leaves the focus in the pane, not on the page', async () => {
    await showPane('relay');
    await seedContent();
    await page.focus('.problem button.fix');
    await page.keyboard.press('Enter');
    // The fix restarts the relay; the next status push has no problem left and redraws the box without the button.
    await waitUntil(async () => (await page.locator('.problem').count()) === 0, 10_000, 'the problem to clear');
    const now = await focused();
    assert.notEqual(now, 'body');
    assert.ok(await page.evaluate<boolean>("document.querySelector('main').contains(document.activeElement)"), `focus in the window's main part: ${now}`);
  });

  it('at 200% zoom (a 470 px wide window) and at 150% every pane fits: no sideways scrolling, fields wide enough, nothing cut off', async () => {
    await seedContent();
    const problems: string[] = [];
    for (const [zoom, width, height] of [[200, 470, 350], [150, 627, 467]] as const) {
      await page.setViewportSize({ width, height });
      for (const pane of PANES) {
        await showSeeded(pane);
        const found = await page.evaluate<string[]>(`(() => {
          const out = [];
          const root = document.scrollingElement;
          if (root.scrollWidth > root.clientWidth) out.push('the page scrolls sideways: ' + root.scrollWidth + ' > ' + root.clientWidth);
          const pane = document.querySelector('.pane:not([hidden])');
          for (const box of [pane, ...pane.querySelectorAll('.card, .toolbar, .row, .setup-row, .form-actions')]) {
            if (box.scrollWidth > box.clientWidth + 1) out.push((box.id || box.className) + ' overflows: ' + box.scrollWidth + ' > ' + box.clientWidth);
          }
          for (const field of document.querySelectorAll('input:not([type=checkbox]), select')) {
            const rect = field.getBoundingClientRect();
            const least = field.tagName === 'SELECT' ? 100 : 160;
            if (rect.width > 0 && rect.width < least) out.push('#' + field.id + ' is ' + Math.round(rect.width) + ' px wide');
          }
          for (const button of document.querySelectorAll('button')) {
            const rect = button.getBoundingClientRect();
            if (rect.width === 0) continue;
            if (rect.left < 0 || rect.right > innerWidth + 0.5 || button.scrollWidth > button.clientWidth + 1) out.push('button "' + button.textContent.trim() + '" is cut off');
          }
          return out;
        })()`);
        problems.push(...found.map((problem) => `${zoom}% ${pane}: ${problem}`));
        if (pane === 'relay' || pane === 'outbox') {
          await page.evaluate("document.getElementById('toast').hidden = true; document.activeElement?.blur()");
          await page.screenshot({ path: join(ARTIFACTS, `app-zoom-${zoom}-${pane}.png`), fullPage: true });
        }
      }
    }
    await page.setViewportSize({ width: 940, height: 700 });
    // At 100% the page itself never scrolls (the main part does): no blank space below the window.
    await showPane('relay');
    const page100 = await page.evaluate<{ scroll: number; client: number }>('({ scroll: document.scrollingElement.scrollHeight, client: document.scrollingElement.clientHeight })');
    if (page100.scroll > page100.client) problems.push(`100% relay: the page scrolls ${page100.scroll - page100.client} px into blank space`);
    assert.deepEqual(problems, [], problems.join('\n'));
  });
});
