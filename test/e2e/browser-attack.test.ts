import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { describeEvent, type RelayEvent } from '../../src-relay/index';
import { launchChromium } from '../helpers/app/app-browser';
import { waitUntil } from '../helpers/wait';
import { startRelayHarness, type RelayHarness } from '../helpers/relay/relay-harness';

// A web page can make a browser send bytes to 127.0.0.1:<relay port>: cross-protocol requests whose body is an SMTP
// dialogue. Real headless Chromium loads such a page; the relay must deliver nothing and log why it hung up.

const SMTP_BODY = 'EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\n';

/** The attacking page: every way a page can reach a TCP port with a body or a request line of its choosing. */
function attackPage(relayPort: number): string {
  const target = `http://127.0.0.1:${relayPort}/`;
  return `<!doctype html><meta charset="utf-8"><title>attack</title>
<iframe name="sink"></iframe>
<form id="form" method="POST" enctype="text/plain" action="${target}" target="sink">
  <textarea name="${SMTP_BODY.replace(/\r\n/g, '&#13;&#10;').replace(/</g, '&lt;').replace(/"/g, '&quot;')}">x</textarea>
</form>
<script>
  window.results = {};
  const settle = (name, promise) => promise.then(() => 'resolved', (e) => 'rejected: ' + e).then((r) => { window.results[name] = r; });
  settle('fetch', fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', body: ${JSON.stringify(SMTP_BODY)} }));
  settle('preflighted', fetch(${JSON.stringify(target)}, { method: 'PUT', headers: { 'X-Smtp': 'EHLO' }, body: ${JSON.stringify(SMTP_BODY)} }));
  settle('websocket', new Promise((resolve, reject) => {
    const ws = new WebSocket(${JSON.stringify(`ws://127.0.0.1:${relayPort}/`)});
    ws.onopen = () => { ws.send(${JSON.stringify(SMTP_BODY)}); resolve(); };
    ws.onerror = () => reject(new Error('websocket failed'));
  }));
  document.getElementById('form').submit();
</script>`;
}

let relay: RelayHarness;
let web: Server;
let pagePort: number;

before(async () => {
  // A port Chromium lets pages reach (it blocks 25, 587 and a few others): one in 2500-2599, like a user might pick.
  // Tried in turn, not probed first: another test may take a port between a probe and our listen.
  for (let port = 2500; port <= 2599 && !relay; port++) {
    relay = await startRelayHarness({ options: { port } }).catch(() => undefined as unknown as RelayHarness);
  }
  assert.ok(relay, 'no free port in 2500-2599');
  web = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(attackPage(relay.port));
  });
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  pagePort = (web.address() as { port: number }).port;
});

after(async () => {
  await relay?.close();
  await new Promise((resolve) => web?.close(resolve));
});

test('a page that POSTs (fetch no-cors, form text/plain, preflighted fetch, WebSocket) to the relay gets nothing delivered', { timeout: 60_000 }, async (t) => {
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    await page.goto(`http://127.0.0.1:${pagePort}/`, { timeout: 15_000 });
    await page.waitForFunction(() => {
      const results = (globalThis as unknown as { results?: Record<string, string> }).results ?? {};
      return ['fetch', 'preflighted', 'websocket'].every((name) => name in results);
    }, undefined, { timeout: 15_000 });
    const results = await page.evaluate(() => (globalThis as unknown as { results: Record<string, string> }).results);
    t.diagnostic(`in the page: ${JSON.stringify(results)}`);
    // The form posts into the iframe; wait until the relay saw all four requests (the browser may retry some).
    await waitUntil(() => closedAsHttp(relay.events).length >= 4, 10_000, 'four HTTP requests turned away');
  } finally {
    await browser.close();
  }
  const turnedAway = closedAsHttp(relay.events);
  assert.ok(turnedAway.length >= 4, `sessions closed as HTTP: ${turnedAway.length}`);
  assert.deepEqual(relay.recordings(), [], 'a mail was delivered from a web page');
  assert.deepEqual(relay.partials(), [], 'a delivery command was even started');
  assert.ok(!relay.events.some((e) => e.type === 'mail'), 'a mail transaction got as far as DATA');
  // What the log says about it, in its own words.
  const lines = turnedAway.map((e) => describeEvent(e).message);
  for (const line of lines) assert.match(line, /connection closed \(not-smtp\)/);
  t.diagnostic(`log: ${lines[0]}`);
});

function closedAsHttp(events: readonly RelayEvent[]): Extract<RelayEvent, { type: 'session-close' }>[] {
  return events.filter((e): e is Extract<RelayEvent, { type: 'session-close' }> => e.type === 'session-close' && e.reason === 'not-smtp');
}
