import { BrowserWindow, Menu, type WebContents } from 'electron';
import { UI_PAGE } from '../desktop/ui-files';
import { appMenuTemplate, nextZoomLevel } from '../desktop/zoom';

export interface WindowOptions {
  preload: string;
  icon?: string;
  /** What closing does now (quit-policy.ts closeAction): really close, hide to the tray, or quit the app. */
  closeAction(): 'close' | 'hide' | 'quit';
  quit(): void;
}

/** Blocks everything that could take a web contents away from our page: navigation, new windows, webviews. */
export function lockDown(contents: WebContents): void {
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
}

/** The one settings window: sandboxed, isolated, no Node, only app://ui content; closing hides it to the tray. */
export function createSettingsWindow(options: WindowOptions): BrowserWindow {
  const window = new BrowserWindow({
    width: 940,
    height: 700,
    minWidth: 760,
    minHeight: 540,
    show: false,
    title: 'msmtp Relay',
    backgroundColor: '#f6f7f9',
    ...(options.icon ? { icon: options.icon } : {}),
    webPreferences: {
      preload: options.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
    },
  });
  // Hidden, not removed: the zoom roles of the application menu keep their accelerators (desktop/zoom.ts).
  if (process.platform !== 'darwin') window.setMenuBarVisibility(false);
  window.webContents.on('zoom-changed', (_event, direction) => {
    window.webContents.setZoomLevel(nextZoomLevel(window.webContents.getZoomLevel(), direction));
  });
  // lockDown() reaches this window's contents through main.ts's 'web-contents-created', like every other one.
  window.on('close', (event) => {
    const action = options.closeAction();
    if (action === 'close') return;
    event.preventDefault();
    window.hide();
    if (action === 'quit') options.quit();
  });
  window.once('ready-to-show', () => window.show());
  void window.loadURL(UI_PAGE);
  return window;
}

/** The application menu: zoom (Ctrl+Plus/Minus/0) everywhere, and Cmd+C/V/X in text fields on macOS (desktop/zoom.ts). */
export function installAppMenu(): void {
  Menu.setApplicationMenu(Menu.buildFromTemplate(appMenuTemplate(process.platform)));
}

/**
 * Windows: a shutdown or logoff emits no before-quit, only 'session-end' on each top-level window, hidden ones too.
 * The settings window may not exist then, so a content-less hidden window stays open to hear it (Electron keeps an
 * open window alive without a reference).
 */
export function watchSessionEnd(onEnd: (reasons: readonly string[]) => void): BrowserWindow {
  const listener = new BrowserWindow({
    show: false,
    width: 1,
    height: 1,
    skipTaskbar: true,
    focusable: false,
    webPreferences: { sandbox: true, contextIsolation: true, nodeIntegration: false },
  });
  listener.on('session-end', (event) => onEnd(event.reasons));
  return listener;
}
