/**
 * STAND-IN FOR ELECTRON. This module replaces Electron's native layer, and only it, in the composition-root tests
 * (test/e2e/composition-root.test.ts): register.ts resolves `electron` to it in a child process that runs the real
 * out/electron/glue/main.js with the real engine, key ring, msmtp and electron-log. It implements only what the glue
 * calls, each behaviour as Electron documents it (docs/api/app.md, browser-window.md, web-contents.md, tray.md,
 * power-monitor.md, notification.md; checked against electron/electron's source where the docs are short):
 *
 * - app: 'ready' once (whenReady); requestSingleInstanceLock() is per userData folder, and a second instance's argv
 *   reaches the first as 'second-instance' (event, argv, cwd); quit() emits 'before-quit' (preventable), closes every
 *   window ('close' preventable: cancels the quit), then 'will-quit' (preventable), then 'quit' and the exit;
 *   'window-all-closed' comes only when the last window closes outside a quit, and without a listener the app quits;
 *   exit() ends at once, with no events. SIGTERM, SIGINT and SIGHUP quit as app.quit() does, once; a second signal
 *   takes its default action (shell/browser/electron_browser_main_parts_posix.cc: "We had one shot").
 * - powerMonitor: 'shutdown' with an event whose preventDefault() takes logind's delay (power_observer_linux.cc); the
 *   stand-in plays logind too: the shutdown goes on after InhibitDelayMaxSec (5 s, logind.conf's default), killing
 *   what still runs.
 * - BrowserWindow: its page is the real settings window in headless Chromium (playwright-core), the real preload run
 *   in the page with Electron's sandboxed `require('electron')` (contextBridge, ipcRenderer), invoke() going to the
 *   ipcMain handlers with the sender's web contents and frame URL (the app:// URL: the page is served over loopback
 *   http from the app's own protocol.handle handler, and this transport maps the origin back); 'ready-to-show' at the
 *   first load; a crashed renderer gives web contents' and app's 'render-process-gone' ({ reason: 'crashed' }).
 * - Tray (Linux): a StatusNotifierItem when a StatusNotifierWatcher owns its name at creation and no SNI icon was made
 *   before (docs/api/tray.md: later icons use GtkStatusIcon); it registers `org.kde.StatusNotifierItem-<pid>-<n>` with
 *   the watcher and again whenever the watcher comes back (as Chromium's StatusIconLinuxDbus does). Otherwise an XEmbed
 *   (GtkStatusIcon) icon, which registers nowhere.
 * - Notification, Menu, nativeImage, protocol, session, dialog, clipboard, shell, net: what the glue calls.
 *
 * The test drives "the OS and the user" over the child's IPC channel (see control() below): tray menu clicks, a
 * power event, the display going away, a renderer crash; and reads back the state (windows, tray, notifications).
 */
import { execFileSync, execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../app/app-browser';
import { preloadInPage } from '../app/preload-in-page';

const WATCHER = 'org.kde.StatusNotifierWatcher';
const journal: string[] = [];
const note = (line: string) => void journal.push(line);


class PreventableEvent {
  defaultPrevented = false;
  preventDefault(): void {
    this.defaultPrevented = true;
  }
}

// ---- app -------------------------------------------------------------------------------------------------------

const packageJson = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { name: string; productName?: string; version: string };

class App extends EventEmitter {
  name = packageJson.productName ?? packageJson.name;
  readonly isPackaged = false;
  readonly dock = undefined; // Linux
  private readyNow = false;
  private readonly readyPromise: Promise<void>;
  private readonly paths = new Map<string, string>();
  private quitting = false;
  private primary = false;
  private handoff: Promise<void> | null = null;

  constructor() {
    super();
    this.readyPromise = new Promise((resolve) => {
      // Electron's 'ready' comes after the main script's first run. A test may hold it back until a second instance
      // has knocked (STAND_IN_READY_AFTER=second-instance): a second launch that lands during boot, every time.
      const fire = () => {
        this.readyNow = true;
        note('ready');
        this.emit('will-finish-launching');
        this.emit('ready', new PreventableEvent(), {});
        resolve();
      };
      if (process.env.STAND_IN_READY_AFTER === 'second-instance') this.once('second-instance', () => setTimeout(fire, 200));
      else setTimeout(fire, 0);
    });
  }

  whenReady(): Promise<void> {
    return this.readyPromise;
  }

  isReady(): boolean {
    return this.readyNow;
  }

  getName(): string {
    return this.name;
  }

  getVersion(): string {
    return packageJson.version;
  }

  getAppPath(): string {
    return process.cwd();
  }

  getPath(name: string): string {
    const set = this.paths.get(name);
    if (set) return set;
    const home = homedir();
    switch (name) {
      case 'home':
        return home;
      case 'appData':
        return process.env.XDG_CONFIG_HOME ?? join(home, '.config');
      case 'userData':
        return join(this.getPath('appData'), this.name);
      case 'logs':
        return join(this.getPath('userData'), 'logs');
      case 'documents':
        return join(home, 'Documents');
      default:
        throw new Error(`stand-in: app.getPath('${name}') is not implemented`);
    }
  }

  setPath(name: string, path: string): void {
    this.paths.set(name, path);
  }

  setAppUserModelId(id: string): void {
    note(`appUserModelId ${id}`);
  }

  getLoginItemSettings(): { openAtLogin: boolean; wasOpenedAtLogin: boolean } {
    return { openAtLogin: false, wasOpenedAtLogin: false };
  }

  setLoginItemSettings(): void {
    throw new Error('stand-in: login items are macOS and Windows only');
  }

  /**
   * Per userData folder, as Chromium's ProcessSingleton (a SingletonLock and a SingletonSocket there). The first
   * instance listens; a later one hands over its argv and gets false.
   */
  requestSingleInstanceLock(): boolean {
    const dir = this.getPath('userData');
    mkdirSync(dir, { recursive: true });
    const lock = join(dir, 'SingletonLock');
    const socketPath = join(dir, 'SingletonSocket');
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
    } catch {
      const holder = Number(readFileSync(lock, 'utf8'));
      if (alive(holder)) {
        this.handoff = new Promise((resolve) => {
          const socket = connect(socketPath, () => socket.end(JSON.stringify({ argv: process.argv.slice(1), cwd: process.cwd() })));
          socket.on('close', () => resolve());
          socket.on('error', () => resolve());
        });
        note('second instance: handed over');
        return false;
      }
      writeFileSync(lock, String(process.pid));
    }
    this.primary = true;
    if (existsSync(socketPath)) unlinkSync(socketPath);
    const server = createServer((socket: Socket) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => void (text += chunk.toString()));
      socket.on('end', () => {
        const { argv, cwd } = JSON.parse(text) as { argv: string[]; cwd: string };
        note(`second-instance ${argv.slice(1).join(' ')}`);
        this.emit('second-instance', new PreventableEvent(), argv, cwd, {});
      });
    });
    server.listen(socketPath);
    server.unref();
    return true;
  }

  quit(): void {
    if (this.quitting) return;
    void this.quitSequence();
  }

  private async quitSequence(): Promise<void> {
    const before = new PreventableEvent();
    note('before-quit');
    this.emit('before-quit', before);
    if (before.defaultPrevented) return;
    this.quitting = true;
    for (const window of BrowserWindow.getAllWindows()) {
      if (!window.tryClose()) {
        this.quitting = false;
        return;
      }
    }
    const willQuit = new PreventableEvent();
    note('will-quit');
    this.emit('will-quit', willQuit);
    if (willQuit.defaultPrevented) {
      this.quitting = false;
      return;
    }
    this.emit('quit', new PreventableEvent(), 0);
    await this.handoff;
    await this.end(0);
  }

  exit(code = 0): void {
    note(`exit ${code}`);
    void this.end(code);
  }

  get inQuit(): boolean {
    return this.quitting;
  }

  windowClosed(): void {
    if (this.quitting || BrowserWindow.getAllWindows().length > 0) return;
    if (this.listenerCount('window-all-closed') > 0) this.emit('window-all-closed');
    else this.quit();
  }

  private async end(code: number): Promise<void> {
    for (const window of BrowserWindow.getAllWindows()) window.destroy();
    if (this.primary) {
      try {
        unlinkSync(join(this.getPath('userData'), 'SingletonLock'));
      } catch {
        // already gone
      }
    }
    await chromium?.then((browser) => browser.close()).catch(() => undefined);
    process.exit(code);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const app = new App();

// SIGTERM, SIGINT, SIGHUP: one graceful quit, then the default action.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.once(signal, () => {
    note(signal);
    process.once(signal, () => process.kill(process.pid, signal)); // after the once-listener is gone: default
    app.quit();
  });
}

// ---- windows, web contents and the page in Chromium ------------------------------------------------------------

let chromium: Promise<{ context: BrowserContext; close(): Promise<void> }> | null = null;
let pageServer: Promise<{ origin: string; server: Server }> | null = null;
const contentsOfPage = new Map<Page, WebContents>();
const protocolHandlers = new Map<string, (request: Request) => Response | Promise<Response>>();

/** The app:// pages over loopback http, answered by the app's own protocol.handle handler. */
function servePages(): Promise<{ origin: string; server: Server }> {
  pageServer ??= new Promise((resolve) => {
    const server = createHttpServer((request, response) => {
      const handler = protocolHandlers.get('app');
      if (!handler) {
        response.writeHead(404).end();
        return;
      }
      void Promise.resolve(handler(new Request(`app://ui${request.url ?? '/'}`))).then(async (answer) => {
        response.writeHead(answer.status, Object.fromEntries(answer.headers));
        response.end(Buffer.from(await answer.arrayBuffer()));
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.unref();
      resolve({ origin: `http://127.0.0.1:${port}`, server });
    });
  });
  return pageServer;
}

async function browserContext(): Promise<BrowserContext> {
  chromium ??= (async () => {
    const launched = await launchChromium();
    await launched.context.exposeBinding('__relayIpc', async (source, channel: string, args: unknown[]) => {
      const contents = contentsOfPage.get(source.page);
      if (!contents) throw new Error('stand-in: a page without web contents');
      const { origin } = await servePages();
      const url = source.frame.url().startsWith(origin) ? `app://ui${source.frame.url().slice(origin.length)}` : source.frame.url();
      const handler = ipcMain.handlers.get(channel);
      // Electron rejects an invoke nobody handles ("No handler registered for ...").
      if (!handler) throw new Error(`Error invoking remote method '${channel}': Error: No handler registered for '${channel}'`);
      return handler({ sender: contents, senderFrame: { url, parent: source.frame.parentFrame() ? {} : null } }, ...args);
    });
    return launched;
  })();
  return (await chromium).context;
}

/** The sandboxed preload's view of electron (contextBridge, ipcRenderer), and the preload itself, in every page. */
function preloadScript(preload: string): string {
  return preloadInPage(readFileSync(preload, 'utf8'), '__standInPush');
}

let nextContentsId = 1;

class WebContents extends EventEmitter {
  readonly id = nextContentsId++;
  page: Page | null = null;
  private destroyed = false;
  private crashed = false;
  url = '';

  constructor(private readonly preload: string | undefined) {
    super();
  }

  setWindowOpenHandler(): void {
    // the page opens no windows here
  }

  isDestroyed(): boolean {
    return this.destroyed;
  }

  isCrashed(): boolean {
    return this.crashed;
  }

  getURL(): string {
    return this.url;
  }

  private zoom = 0;

  /** Electron's zoom level (0 = 100 %); the stand-in keeps the number and zooms the page as Chromium would. */
  getZoomLevel(): number {
    return this.zoom;
  }

  setZoomLevel(level: number): void {
    this.zoom = level;
    this.page?.evaluate(`document.body.style.zoom = ${Math.pow(1.2, level)}`).catch(() => undefined);
  }

  send(channel: string, payload: unknown): void {
    if (this.destroyed || !this.page) return;
    this.page.evaluate(`window.__standInPush && window.__standInPush(${JSON.stringify(channel)}, ${JSON.stringify(payload)})`).catch(() => undefined);
  }

  async loadURL(url: string, window: BrowserWindow): Promise<void> {
    this.url = url;
    const context = await browserContext();
    const page = await context.newPage();
    this.page = page;
    contentsOfPage.set(page, this);
    if (this.preload) await page.addInitScript({ content: preloadScript(this.preload) });
    page.once('load', () => {
      note(`window ${window.id} loaded`);
      this.emit('did-finish-load');
      window.emit('ready-to-show');
    });
    page.on('crash', () => {
      this.crashed = true;
      const details = { reason: 'crashed', exitCode: 11 };
      note(`window ${window.id} renderer gone`);
      this.emit('render-process-gone', new PreventableEvent(), details);
      app.emit('render-process-gone', new PreventableEvent(), this, details);
    });
    const { origin } = await servePages();
    const path = url.replace(/^app:\/\/ui/, '');
    await page.goto(`${origin}${path}`).catch((error: unknown) => note(`window ${window.id} load failed: ${String(error)}`));
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const page = this.page;
    this.page = null;
    if (page) {
      contentsOfPage.delete(page);
      void page.close().catch(() => undefined);
    }
  }
}

let nextWindowId = 1;
const windows = new Set<BrowserWindow>();

interface WindowOptions {
  show?: boolean;
  webPreferences?: { preload?: string; sandbox?: boolean; contextIsolation?: boolean; nodeIntegration?: boolean };
}

export class BrowserWindow extends EventEmitter {
  readonly id = nextWindowId++;
  readonly webContents: WebContents;
  private visible: boolean;
  private focused = false;
  private destroyed = false;

  constructor(readonly options: WindowOptions = {}) {
    super();
    const prefs = options.webPreferences ?? {};
    if (prefs.sandbox === false || prefs.contextIsolation === false || prefs.nodeIntegration === true) {
      throw new Error('stand-in: the app must keep sandbox and contextIsolation on, nodeIntegration off');
    }
    this.visible = options.show !== false;
    this.webContents = new WebContents(prefs.preload);
    windows.add(this);
    note(`window ${this.id} created (${prefs.preload ? 'with preload' : 'no preload'}) ipc=${ipcMain.handlers.size}`);
    app.emit('web-contents-created', new PreventableEvent(), this.webContents);
  }

  static getAllWindows(): BrowserWindow[] {
    return [...windows];
  }

  loadURL(url: string): Promise<void> {
    return this.webContents.loadURL(url, this);
  }

  removeMenu(): void {
    // no menu bar
  }

  /** Linux and Windows: the menu bar stays hidden (Alt shows it); the application menu's accelerators still work. */
  setMenuBarVisibility(visible: boolean): void {
    note(`window ${this.id} menu bar ${visible ? 'shown' : 'hidden'}`);
  }

  show(): void {
    if (this.destroyed) throw new Error('Object has been destroyed');
    this.visible = true;
    this.focused = true;
    note(`window ${this.id} shown`);
    this.emit('show');
    this.emit('focus');
  }

  hide(): void {
    if (this.destroyed) throw new Error('Object has been destroyed');
    this.visible = false;
    this.focused = false;
    note(`window ${this.id} hidden`);
    this.emit('hide');
  }

  focus(): void {
    this.focused = true;
  }

  isFocused(): boolean {
    return this.focused && this.visible;
  }

  isVisible(): boolean {
    return this.visible && !this.destroyed;
  }

  isMinimized(): boolean {
    return false;
  }

  restore(): void {
    // never minimized here
  }

  isDestroyed(): boolean {
    return this.destroyed;
  }

  /** 'close' (preventable); true when the window is gone afterwards. */
  tryClose(): boolean {
    if (this.destroyed) return true;
    const event = new PreventableEvent();
    this.emit('close', event);
    if (event.defaultPrevented) return false;
    this.destroy();
    return true;
  }

  close(): void {
    this.tryClose();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.visible = false;
    windows.delete(this);
    this.webContents.destroy();
    note(`window ${this.id} closed`);
    this.emit('closed');
    app.windowClosed();
  }
}

// ---- ipcMain, protocol, session --------------------------------------------------------------------------------

type Handler = (event: unknown, ...args: unknown[]) => unknown;

export const ipcMain = {
  handlers: new Map<string, Handler>(),
  handle(channel: string, handler: Handler): void {
    if (this.handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    // electron-log registers its own channel when it loads; the app's come at boot.
    if (![...this.handlers.keys()].some((known) => !known.startsWith('__ELECTRON_LOG__')) && !channel.startsWith('__ELECTRON_LOG__')) {
      note('app ipc registered');
    }
    this.handlers.set(channel, handler);
  },
  on(): void {
    // electron-log's listener: nothing sends on it here
  },
};

export const protocol = {
  registerSchemesAsPrivileged(): void {
    if (app.isReady()) throw new Error('protocol.registerSchemesAsPrivileged must be called before the app is ready');
  },
  handle(scheme: string, handler: (request: Request) => Response | Promise<Response>): void {
    if (!app.isReady()) throw new Error('protocol.handle needs the app to be ready');
    protocolHandlers.set(scheme, handler);
  },
};

export const session = {
  defaultSession: {
    setPermissionRequestHandler(): void {
      // the page asks for nothing
    },
    setPermissionCheckHandler(): void {
      // the page asks for nothing
    },
  },
};

// ---- tray, menus, images ---------------------------------------------------------------------------------------

interface MenuItem {
  label?: string;
  type?: string;
  enabled?: boolean;
  click?: () => void;
  role?: string;
}

export const Menu = {
  buildFromTemplate(items: MenuItem[]): { items: MenuItem[] } {
    return { items };
  },
  setApplicationMenu(): void {
    // Linux: no menu bar
  },
};

export const nativeImage = {
  createFromPath(path: string): { path: string; isEmpty(): boolean; setTemplateImage(): void } {
    return { path, isEmpty: () => !existsSync(path), setTemplateImage: () => undefined };
  },
};

const trays: Tray[] = [];
let sniMade = 0;

function watcherOwned(): boolean {
  try {
    return execFileSync('gdbus', ['call', '--session', '--dest', 'org.freedesktop.DBus', '--object-path', '/org/freedesktop/DBus',
      '--method', 'org.freedesktop.DBus.NameHasOwner', WATCHER], { encoding: 'utf8', timeout: 2000 }).trim() === '(true,)';
  } catch {
    return false;
  }
}

export class Tray extends EventEmitter {
  readonly kind: 'sni' | 'xembed';
  readonly item: string | null = null;
  image: string;
  tooltip = '';
  menu: MenuItem[] = [];
  destroyed = false;
  registrations = 0;
  private follow: NodeJS.Timeout | null = null;

  constructor(image: { path: string }) {
    super();
    this.image = image.path;
    this.kind = watcherOwned() && sniMade === 0 ? 'sni' : 'xembed';
    if (this.kind === 'sni') {
      sniMade += 1;
      this.item = `org.kde.StatusNotifierItem-${process.pid}-${sniMade}`;
      this.register();
      // Chromium's item watches the watcher's name and registers again when a new owner comes.
      let owned = true;
      this.follow = setInterval(() => {
        const now = watcherOwned();
        if (now && !owned) this.register();
        owned = now;
      }, 300);
      this.follow.unref();
    }
    trays.push(this);
    note(`tray ${trays.length} created (${this.kind})`);
  }

  private register(): void {
    execFile('gdbus', ['call', '--session', '--dest', WATCHER, '--object-path', '/StatusNotifierWatcher', '--method',
      `${WATCHER}.RegisterStatusNotifierItem`, this.item!], { timeout: 2000 }, (error) => {
      if (!error) this.registrations += 1;
    });
  }

  setImage(image: { path: string }): void {
    this.image = image.path;
  }

  setToolTip(text: string): void {
    this.tooltip = text;
  }

  setContextMenu(menu: { items: MenuItem[] }): void {
    this.menu = menu.items;
  }

  destroy(): void {
    this.destroyed = true;
    if (this.follow) clearInterval(this.follow);
    note(`tray ${trays.indexOf(this) + 1} destroyed`);
  }
}

// ---- notifications, dialogs, the rest --------------------------------------------------------------------------

const notifications: Array<{ title: string; body: string }> = [];

export class Notification extends EventEmitter {
  constructor(private readonly options: { title: string; body: string }) {
    super();
  }

  static isSupported(): boolean {
    return true;
  }

  show(): void {
    notifications.push({ title: this.options.title, body: this.options.body });
    note(`notification ${this.options.title}`);
  }
}

export const powerMonitor = new EventEmitter();

export const dialog = {
  showErrorBox(title: string, content: string): void {
    note(`error box ${title}`);
    process.stderr.write(`${title}\n${content}\n`);
  },
  async showSaveDialog(): Promise<{ canceled: boolean; filePath?: string }> {
    return { canceled: true };
  },
  async showOpenDialog(): Promise<{ canceled: boolean; filePaths: string[] }> {
    return { canceled: true, filePaths: [] };
  },
};

export const clipboard = {
  text: '',
  writeText(text: string): void {
    this.text = text;
  },
};

export const shell = {
  async openPath(path: string): Promise<string> {
    note(`open ${path}`);
    return '';
  },
  async openExternal(): Promise<void> {
    // nothing opens here
  },
};

export const net = {
  isOnline: (): boolean => true,
};

// ---- the test's side: the OS and the user ----------------------------------------------------------------------

interface Command {
  id: number;
  op: string;
  arg?: string;
}

async function control(command: Command): Promise<unknown> {
  const liveTray = () => trays.filter((tray) => !tray.destroyed).at(-1);
  const shownWindow = () => BrowserWindow.getAllWindows().find((window) => window.isVisible()) ?? BrowserWindow.getAllWindows()[0];
  switch (command.op) {
    case 'state':
      return {
        journal,
        ready: app.isReady(),
        windows: BrowserWindow.getAllWindows().map((window) => ({ id: window.id, visible: window.isVisible(), crashed: window.webContents.isCrashed() })),
        trays: trays.map((tray) => ({ kind: tray.kind, destroyed: tray.destroyed, tooltip: tray.tooltip, image: tray.image,
          menu: tray.menu.map((item) => item.label ?? '-'), registrations: tray.registrations })),
        notifications,
      };
    case 'tray-menu': {
      const item = liveTray()?.menu.find((entry) => entry.label === command.arg);
      if (!item?.click) throw new Error(`no tray menu item ${command.arg}`);
      item.click();
      return true;
    }
    case 'power': {
      const event = new PreventableEvent();
      powerMonitor.emit(command.arg!, event);
      if (command.arg === 'shutdown') {
        // logind: a delay inhibitor holds the shutdown for InhibitDelayMaxSec (5 s by default), then it goes on.
        setTimeout(() => process.kill(process.pid, 'SIGKILL'), event.defaultPrevented ? 5000 : 0).unref();
      }
      return { prevented: event.defaultPrevented };
    }
    case 'display-lost':
      // The X server or Wayland compositor went away (a logout): the browser process ends at once, without
      // before-quit (the observation; Chromium's X11 I/O error handler).
      note('display lost');
      setImmediate(() => process.exit(1));
      return true;
    case 'crash-renderer': {
      const page = shownWindow()?.webContents.page;
      if (!page) throw new Error('no window page to crash');
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Page.crash').catch(() => undefined);
      return true;
    }
    case 'close-window': {
      // The user clicks the window's close button: 'close' (preventable), then the window goes unless prevented.
      const window = shownWindow();
      if (!window) throw new Error('no window to close');
      window.close();
      return true;
    }
    case 'page-text': {
      const page = shownWindow()?.webContents.page;
      return page ? page.evaluate('document.body.innerText') : null;
    }
    default:
      throw new Error(`stand-in: unknown command ${command.op}`);
  }
}

process.on('message', (message: Command) => {
  void control(message).then(
    (result) => process.send?.({ id: message.id, result }),
    (error: unknown) => process.send?.({ id: message.id, error: String(error) }),
  );
});
// The control channel must not keep the app alive by itself: Electron runs until it quits.
process.channel?.unref();
const running = setInterval(() => undefined, 1 << 30);
void running;
