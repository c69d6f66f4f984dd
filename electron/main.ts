/**
 * Composition root of the desktop app: single instance, then settings -> relay host -> IPC -> tray -> window.
 * Everything with logic lives in Electron-free modules next to this file; this one only wires them to Electron.
 */
import { app, clipboard, dialog, protocol, session, shell, type BrowserWindow } from 'electron';
import log from 'electron-log/main';
import { join } from 'node:path';
import type { RelayStatus } from './api';
import { HIDDEN_FLAG, createLoginItemAutostart, createXdgAutostart, launchCommand, xdgAutostartDir, type Autostart } from './autostart';
import { Controller } from './controller';
import { registerIpc, push } from './ipc';
import { createKeyringStore } from '../src-relay/secrets';
import { RelayHost } from './relay-host';
import { createSettingsStore } from './settings';
import { AppTray } from './tray';
import { trayVisible } from './tray-support';
import { UI_HOST, UI_PAGE, UI_SCHEME, readUiFile } from './ui-files';
import { createSettingsWindow, installAppMenu, lockDown } from './window';
import { net, powerMonitor } from 'electron';
import { watchNetwork } from './network-watch';

const appRoot = join(__dirname, '..', '..');
const uiRoot = join(appRoot, 'out', 'ui', 'renderer');
const assetsDir = join(appRoot, 'assets');

let window: BrowserWindow | null = null;
let tray: AppTray | null = null;
let host: RelayHost | null = null;
let controller: Controller | null = null;
let quitting = false;
let shuttingDown = false;
let stopped = false;

// One data folder name in development and in packages (where the product name has a space): settings.json lives here.
app.setPath('userData', join(app.getPath('appData'), 'msmtp-relay'));

if (!app.requestSingleInstanceLock()) {
  // Another instance runs: it gets our 'second-instance' event and shows its window.
  app.quit();
} else {
  protocol.registerSchemesAsPrivileged([{ scheme: UI_SCHEME, privileges: { standard: true, secure: true } }]);
  app.on('second-instance', () => showWindow());
  app.on('activate', () => showWindow());
  // A tray app keeps running with its window closed.
  app.on('window-all-closed', () => undefined);
  app.on('web-contents-created', (_event, contents) => lockDown(contents));
  app.on('before-quit', (event) => {
    quitting = true;
    if (stopped || !host) return;
    // Let mails in flight finish before the process goes (bounded by the engine's stop grace).
    event.preventDefault();
    if (shuttingDown) return;
    shuttingDown = true;
    void host.shutdown().finally(() => {
      stopped = true;
      tray?.destroy();
      log.info('msmtp Relay quit');
      app.quit();
    });
  });
  app.whenReady().then(boot).catch((error: unknown) => {
    log.error('msmtp Relay could not start:', error);
    dialog.showErrorBox('msmtp Relay could not start', String((error as Error)?.stack ?? error));
    app.exit(1);
  });
}

async function boot(): Promise<void> {
  log.transports.file.maxSize = 1024 * 1024; // then main.log becomes main.old.log and a new one starts
  log.info(`msmtp Relay ${app.getVersion()} starting (Electron ${process.versions.electron})`);

  protocol.handle(UI_SCHEME, async (request) => {
    const url = new URL(request.url);
    const response = url.host === UI_HOST
      ? await readUiFile(uiRoot, url.pathname)
      : { status: 404, body: 'not found', headers: {} };
    const body = typeof response.body === 'string' ? response.body : new Uint8Array(response.body);
    return new Response(body, { status: response.status, headers: response.headers });
  });
  // The window asks for nothing (no camera, notifications, clipboard-read...): refuse all of it.
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
  installAppMenu();

  const store = createSettingsStore(app.getPath('userData'));
  const loaded = await store.load();
  const secrets = createKeyringStore();
  host = new RelayHost({ secrets, outboxDir: join(app.getPath('userData'), 'outbox') });
  // Kept mail goes out at once when the network returns or the computer wakes (the decisions: network-watch.ts).
  watchNetwork({ isOnline: () => net.isOnline(), onResume: (listener) => powerMonitor.on('resume', listener), onBack: (why) => host?.networkBack(why) });
  host.onOutbox((view) => push(window, 'outbox', view));
  host.onLog((entry) => {
    (entry.level === 'error' ? log.error : log.info)(`[${entry.kind}] ${entry.message}`);
    push(window, 'log', entry);
  });
  host.onStatus((status) => {
    push(window, 'status', status);
    tray?.update(status);
  });
  if (loaded.problem) host.addNotice(loaded.problem);

  const autostart = createAutostart();
  // Rewritten on every launch: an AppImage that moved must still be found at the next login.
  await autostart.setEnabled(loaded.settings.launchAtLogin).catch((error: unknown) => {
    host?.appLog('error', `could not update start at login: ${(error as Error).message}`);
  });

  controller = new Controller({
    host,
    store,
    secrets,
    autostart,
    writeClipboard: (text) => clipboard.writeText(text),
    openLogFile: () => shell.openPath(log.transports.file.getFile().path),
    chooseFile: async () => {
      const options = { title: 'Choose the program that sends mail (msmtp)', properties: ['openFile' as const] };
      const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
      return result.canceled ? null : result.filePaths[0] ?? null;
    },
  }, loaded.settings);
  registerIpc(controller, UI_PAGE, (contents) => window !== null && contents === window.webContents);

  const firstStatus = await host.start(loaded.settings);
  tray = await createTray(firstStatus);

  const startedHidden = process.argv.includes(HIDDEN_FLAG)
    || (process.platform === 'darwin' && app.getLoginItemSettings().wasOpenedAtLogin);
  if (!startedHidden || !tray || firstStatus.state === 'error' || loaded.problem) showWindow();
}

function createAutostart(): Autostart {
  if (process.platform === 'linux') {
    const argv = launchCommand({
      execPath: process.execPath,
      appImage: process.env.APPIMAGE,
      appPath: app.isPackaged ? undefined : app.getAppPath(),
    });
    return createXdgAutostart(xdgAutostartDir(), argv);
  }
  return createLoginItemAutostart(app);
}

async function createTray(status: RelayStatus): Promise<AppTray | null> {
  if (!(await trayVisible(process.platform))) {
    log.info('no tray on this desktop (no StatusNotifier host): the window stays the way in');
    return null;
  }
  try {
    return new AppTray(assetsDir, {
      toggle: () => void controller?.setRunning(host?.status().state !== 'running'),
      settings: () => showWindow(),
      'copy-setup': () => void controller?.copy('all'),
      'open-log': () => void controller?.openLogFile(),
      quit: () => app.quit(),
    }, status);
  } catch (error) {
    log.error('tray icon could not be created:', error);
    return null;
  }
}

function showWindow(): void {
  if (!app.isReady()) return;
  if (!window || window.isDestroyed()) {
    window = createSettingsWindow({
      preload: join(__dirname, 'preload.js'),
      icon: join(assetsDir, 'icon.png'),
      quitting: () => quitting,
    });
    window.on('closed', () => {
      window = null;
    });
    return;
  }
  if (window.isMinimized()) window.restore();
  window.show();
  window.focus();
}
