/**
 * The settings window in real headless Chromium, with the real main-process side behind it. Only the IPC transport
 * is replaced: the compiled preload runs in the page with a `require('electron')` whose ipcRenderer.invoke goes
 * through a Playwright binding into the same IPC gate (sender check + input validation) and AppCommands that
 * ipc.ts wires up in the app; pushes go the other way through page.evaluate.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { MainApi, PushChannel, PushPayloads } from '../../../electron/contract/api';
import type { AppCore } from '../../../electron/core/app-core';
import { createIpcGate } from '../../../electron/core/ipc-gate';
import { readUiFile } from '../../../electron/desktop/ui-files';
import { tempDir } from './app-env';
import { OUT_DIR, REPO_ROOT } from '../paths';
import { preloadInPage } from './preload-in-page';

const OUT = OUT_DIR;
export const UI_ROOT = join(OUT, 'ui', 'renderer');
const PRELOAD = join(OUT, 'electron', 'glue', 'preload.js');
/** Where the window tests leave their screenshots. */
export const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

/** Serves the compiled renderer exactly as the app's app:// handler does (same files, same headers). */
export async function serveUi(root = UI_ROOT): Promise<{ origin: string; server: Server }> {
  const server = createServer((request, response) => {
    const { pathname } = new URL(request.url ?? '/', 'http://localhost');
    void readUiFile(root, pathname).then((file) => {
      response.writeHead(file.status, file.headers);
      response.end(file.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { origin: `http://127.0.0.1:${port}`, server };
}

export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = await tempDir('chromium');
  const context = await chromium.launchPersistentContext(profile.path, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 940, height: 700 },
    args: [
      '--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run',
    ],
    timeout: 30_000,
    // Chromium needs no session bus; kept off it, it starts no accessibility bus in the test's private one.
    env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'disabled:', NO_AT_BRIDGE: '1' },
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      await profile.remove();
    },
  };
}

/** Installs the transport on every page of the context; returns a push function for the main → window direction. */
export async function installBridge(context: BrowserContext, api: MainApi, trustedPage: string) {
  const gate = createIpcGate(api, trustedPage);
  await context.exposeBinding('__relayIpc', (source, channel: string, args: unknown[]) =>
    gate({ url: source.frame.url(), isMainFrame: source.frame.parentFrame() === null }, channel, args));
  const preload = await readFile(PRELOAD, 'utf8');
  await context.addInitScript({ content: preloadInPage(preload, '__relayPush') });
  return function push<C extends PushChannel>(page: Page, channel: C, payload: PushPayloads[C]): void {
    page.evaluate(`window.__relayPush(${JSON.stringify(channel)}, ${JSON.stringify(payload)})`)
      .catch(() => undefined); // the page may be closing at the end of a test
  };
}

type Push = Awaited<ReturnType<typeof installBridge>>;

/**
 * The settings window as main.ts opens it: a page of the test's browser fed the app core's pushes (log, status, outbox), loaded
 * until the window says it is ready, then on `tab` when one is named.
 */
export async function openWindow(
  { context, origin, push }: WindowBrowser, core: AppCore,
  options: { tab?: string; viewport?: { width: number; height: number } } = {},
): Promise<Page> {
  const page = await context.newPage();
  core.log.onEntry((entry) => push(page, 'log', entry));
  core.status.onStatus((status) => push(page, 'status', status));
  core.outbox?.onView((view) => push(page, 'outbox', view));
  if (options.viewport) await page.setViewportSize(options.viewport);
  await page.goto(`${origin}/index.html`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 10_000 });
  if (options.tab) await page.click(`#tab-${options.tab}`);
  return page;
}

/** The browser side every window test starts with; close() ends Chromium, then the server. */
export interface WindowBrowser {
  /** Where the renderer is served: `${origin}/index.html` is the trusted page. */
  readonly origin: string;
  readonly context: BrowserContext;
  readonly push: Push;
  close(): Promise<void>;
}

/** The renderer served as the app serves it, headless Chromium with the IPC bridge into `api`, the screenshots' folder. */
export async function startWindowBrowser(api: MainApi): Promise<WindowBrowser> {
  const ui = await serveUi();
  try {
    const browser = await launchChromium();
    try {
      const push = await installBridge(browser.context, api, `${ui.origin}/index.html`);
      await mkdir(ARTIFACTS, { recursive: true });
      return {
        origin: ui.origin,
        context: browser.context,
        push,
        close: async () => {
          await browser.close();
          ui.server.close();
        },
      };
    } catch (error) {
      await browser.close();
      throw error;
    }
  } catch (error) {
    ui.server.close();
    throw error;
  }
}
