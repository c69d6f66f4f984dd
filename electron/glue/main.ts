/**
 * Composition root of the desktop app: single instance, then settings -> relay host -> autostart -> IPC -> tray ->
 * window -> relay start. Everything with logic lives in Electron-free modules next to this file (quit-policy,
 * autostart-policy, tray-support, tray-refresh, mac-path, process-gone); this one only wires them to Electron.
 */
import { app, clipboard, dialog, powerMonitor, protocol, session, shell, type BrowserWindow } from 'electron';
import log from 'electron-log/main';
import { join } from 'node:path';
import type { RelayStatus } from '../contract/api';
import { HIDDEN_FLAG, createLoginItemAutostart, createXdgAutostart, launchCommand, xdgAutostartDir, type Autostart } from '../desktop/autostart';
import { autostartAvailable, refreshAutostartAtLaunch, unavailableAutostart } from '../desktop/autostart-policy';
import { AppCommands } from '../core/commands';
import { registerIpc, push } from './ipc';
import { macSearchPath } from '../desktop/mac-path';
import { processGoneLine } from '../desktop/process-gone';
import { QuitPolicy, closeAction } from '../desktop/quit-policy';
import { createKeyringStore } from '../../src-relay/index';
import { createAppCore, type AppCore } from '../core/app-core';
import { createSettingsStore } from '../core/settings';
import { AppTray } from './tray';
import { TrayWatch, linuxSession } from '../tray/watch';
import { createBusProbe } from '../desktop/session-bus';
import { UI_HOST, UI_PAGE, UI_SCHEME, readUiFile } from '../desktop/ui-files';
import { createSettingsWindow, installAppMenu, lockDown, watchSessionEnd } from './window';
// Health checks, local TLS, notifications (issue #9):
import { Notification } from 'electron';
import { readOsRelease } from '../health/problems';
import { HealthMonitor } from '../health/monitor';
import { NotifyPolicy, type Notice } from '../desktop/notify-policy';
import { ensureCertificate, tlsDir } from '../core/tls-cert';
import { net } from 'electron';
import { watchNetwork } from '../desktop/network-watch';

const appRoot = join(__dirname, '..', '..', '..');
const uiRoot = join(appRoot, 'out', 'ui', 'renderer');
const assetsDir = join(appRoot, 'assets');

/** One probe for the keyring check and the tray watch: it learns once which D-Bus client works here. */
const busProbe = createBusProbe();
let window: BrowserWindow | null = null;
let tray: AppTray | null = null;
let trayWatch: TrayWatch | null = null;
let core: AppCore | null = null;
let controller: AppCommands | null = null;
let health: HealthMonitor | null = null;
/** Set by watchNotifications: the one notice when an msmtp account needs attention. */
let accountNotice: ((trouble: { account: string; kind: 'login-refused' | 'no-password' }) => void) | null = null;

// Past the engine's stop grace (10 s): the stop has its time, but a hung one cannot hold up a logout for long.
const STOP_LIMIT_MS = 15_000;

const quit = new QuitPolicy({
  shutdown: async () => {
    trayWatch?.stop();
    await core?.relay.shutdown();
  },
  exit: (code) => {
    tray?.destroy();
    app.exit(code);
  },
  log: (level, message) => (level === 'error' ? log.error(message) : log.info(message)),
  limitMs: STOP_LIMIT_MS,
});

// Uncaught errors and rejections go to main.log, without Electron's modal error box.
log.errorHandler.startCatching({ showDialog: false });

// Finder, the Dock and login items start apps with launchd's PATH, where Homebrew's msmtp is not.
if (process.platform === 'darwin') process.env.PATH = macSearchPath(process.env.PATH);

// One data folder name in development and in packages (where the product name has a space): settings.json lives here.
app.setPath('userData', join(app.getPath('appData'), 'msmtp-relay'));

if (!app.requestSingleInstanceLock()) {
  // Another instance runs: it gets our 'second-instance' event and shows its window.
  app.quit();
} else {
  protocol.registerSchemesAsPrivileged([{ scheme: UI_SCHEME, privileges: { standard: true, secure: true } }]);
  app.on('second-instance', () => showWindow());
  app.on('activate', () => showWindow());
  // A tray app keeps running with its window closed; without a tray, closing the window quits (closeAction).
  app.on('window-all-closed', () => undefined);
  app.on('web-contents-created', (_event, contents) => lockDown(contents));
  // Tray Quit, Cmd+Q, Dock -> Quit, SIGTERM: the policy stops the relay (mails in flight may finish), then exits.
  app.on('before-quit', (event) => quit.beforeQuit(event));
  app.on('render-process-gone', (_event, _contents, details) => logLine(processGoneLine('settings window', details)));
  app.on('child-process-gone', (_event, details) => logLine(processGoneLine('child process', details)));
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
  const certificate = () => ensureCertificate({ dir: tlsDir(app.getPath('userData')) });
  const autostart = createAutostart();
  // The OS keeps the user's choice (GNOME Tweaks, KDE, Task Manager): read it, refresh only an enabled entry.
  const atLogin = await refreshAutostartAtLaunch(autostart);
  const appCore = createAppCore({
    secrets,
    settings: { ...loaded.settings, launchAtLogin: atLogin.enabled },
    outboxDir: join(app.getPath('userData'), 'outbox'),
    tlsCertificate: () => certificate(),
  });
  core = appCore;
  const { relay } = appCore;
  // Kept mail goes out at once when the network returns or the computer wakes (the decisions: network-watch.ts).
  watchNetwork({ isOnline: () => net.isOnline(), onResume: (listener) => powerMonitor.on('resume', listener), onBack: (why) => appCore.networkBack(why) });
  appCore.outbox?.onView((view) => push(window, 'outbox', view));
  appCore.log.onEntry((entry) => {
    if (entry.level === 'error') log.error(`[${entry.kind}] ${entry.message}`);
    else log.info(`[${entry.kind}] ${entry.message}`);
    push(window, 'log', entry);
  });
  appCore.status.onStatus((status) => {
    push(window, 'status', status);
    tray?.update(status);
  });
  if (loaded.problem) appCore.status.addNotice(loaded.problem);
  if (atLogin.problem) appCore.log.app('error', atLogin.problem);

  watchSystemEnd();

  health = new HealthMonitor({
    status: appCore.status,
    settings: () => appCore.settings.current(),
    os: await readOsRelease(),
    secretServiceRunning: async () => (await busProbe('org.freedesktop.secrets')) === true,
  });
  controller = new AppCommands({
    health,
    certificate,
    chooseSavePath: async (suggested) => {
      const options = { title: 'Export the relay\'s certificate', defaultPath: join(app.getPath('documents'), suggested) };
      const result = window ? await dialog.showSaveDialog(window, options) : await dialog.showSaveDialog(options);
      return result.canceled ? null : result.filePath ?? null;
    },
    app: appCore,
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
    chooseTrustFile: async () => {
      const options = { title: 'Choose the certificate msmtp should trust (e.g. the one Proton Mail Bridge exported)', properties: ['openFile' as const] };
      const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
      return result.canceled ? null : result.filePaths[0] ?? null;
    },
    // Only https pages of the app's own provider table reach here (accounts/lookup-view.ts providerPages).
    openExternal: (url) => shell.openExternal(url),
    accounts: { onAttention: (trouble) => accountNotice?.(trouble) },
  });
  registerIpc(controller, UI_PAGE, (contents) => window !== null && contents === window.webContents);
  health.watch();
  void health.checkMsmtp();
  watchNotifications(appCore);
  // The certificate is renewed by itself RENEW_BEFORE_DAYS before it expires; the relay then restarts with it.
  setInterval(() => {
    if (!controller?.current().tls) return;
    void certificate().then((fresh) => {
      if (fresh.created) void relay.restart();
    }).catch((error: unknown) => appCore.log.app('error', `could not renew the certificate: ${(error as Error).message}`));
  }, 12 * 60 * 60 * 1000).unref();

  // The tray comes before the relay: starting it reads the keyring, which may wait on an unlock prompt at login.
  tray = (await trayExpected()) ? createTray(appCore.status.current()) : null;
  if (!tray) log.info('no tray on this desktop (no StatusNotifier host): the window stays the way in');
  health.trayMissing(tray === null && process.platform === 'linux');
  const startedHidden = process.argv.includes(HIDDEN_FLAG)
    || (process.platform === 'darwin' && app.getLoginItemSettings().wasOpenedAtLogin);
  if (!startedHidden || !tray || loaded.problem) showWindow();
  else if (process.platform === 'darwin') app.dock?.hide();

  const firstStatus = await relay.start();
  if (firstStatus.state === 'error') showWindow();
}

function logLine(line: { level: 'info' | 'error'; message: string }): void {
  if (line.level === 'error') log.error(line.message);
  else log.info(line.message);
}

/** Shutdown and logout: on Windows they bring no before-quit; on Linux and macOS powerMonitor tells first. */
function watchSystemEnd(): void {
  if (process.platform === 'win32') {
    watchSessionEnd((reasons) => void quit.sessionEnding(`the session ends (${reasons.join(', ') || 'shutdown'})`));
    return;
  }
  // Electron passes an event although the type says no arguments; preventDefault holds the shutdown (a logind
  // inhibitor on Linux, Electron's own quit on macOS) until the policy exits.
  powerMonitor.on('shutdown', (...args: unknown[]) => {
    (args[0] as { preventDefault?: () => void } | undefined)?.preventDefault?.();
    void quit.sessionEnding('the system shuts down or the user logs out');
  });
}

/** Linux: ask the session bus, then keep following the StatusNotifierWatcher. Elsewhere there is always a tray. */
async function trayExpected(): Promise<boolean> {
  if (process.platform !== 'linux') return true;
  trayWatch = new TrayWatch({
    probe: busProbe,
    session: linuxSession(process.env),
    pollMs: 2000,
    patienceMs: 120_000, // panels and the GNOME extension can come up well after the login items
    keepAliveMs: 15_000,
    onAppear: () => {
      // A new icon registers with the new watcher; an XEmbed icon made before it would stay invisible there.
      tray?.destroy();
      tray = core ? createTray(core.status.current()) : null;
      health?.trayMissing(false);
      log.info('a tray host appeared: tray icon created');
    },
    onVanish: () => {
      log.info('the tray host went away: showing the window');
      health?.trayMissing(true);
      showWindow();
    },
  });
  return trayWatch.start();
}

function trayShown(): boolean {
  return tray !== null && (trayWatch?.trayVisible ?? true);
}

function createAutostart(): Autostart {
  if (!autostartAvailable(process.platform, app.isPackaged)) return unavailableAutostart();
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

function createTray(status: RelayStatus): AppTray | null {
  try {
    return new AppTray(assetsDir, {
      toggle: () => void controller?.setRunning(core?.relay.running !== true),
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
      closeAction: () => closeAction({ quitting: quit.quitting, trayShown: trayShown() }),
      quit: () => app.quit(),
    });
    if (process.platform === 'darwin') {
      // A menu-bar app has a Dock icon (LSUIElement hides it in packages) only while its window is open.
      window.on('show', () => void app.dock?.show());
      window.on('hide', () => app.dock?.hide());
    }
    window.on('closed', () => {
      window = null;
    });
    return;
  }
  if (window.isMinimized()) window.restore();
  window.show();
  window.focus();
}

/** Desktop notifications: notify-policy.ts decides, this only shows them. */
function watchNotifications(core: AppCore): void {
  const policy = new NotifyPolicy({
    enabled: () => controller?.current().notifications ?? true,
    windowFocused: () => window !== null && !window.isDestroyed() && window.isFocused(),
  });
  // Held until clicked or closed: Electron keeps only a weak reference, and a collected Notification drops its
  // click (electron/electron#16922).
  const shown = new Set<Notification>();
  const show = (notice: Notice | null) => {
    if (!notice || !Notification.isSupported()) return;
    const notification = new Notification({ title: notice.title, body: notice.body, icon: join(assetsDir, 'icon.png') });
    // A click opens the window (on Linux the notification's default action; macOS and Windows alike).
    notification.on('click', () => {
      shown.delete(notification);
      showWindow();
    });
    notification.on('close', () => shown.delete(notification));
    shown.add(notification);
    notification.show();
  };
  core.status.onStatus((status) => show(policy.onStatus(status)));
  core.relay.onEvent((event) => {
    if (event.type === 'mail') show(policy.onMail(event));
  });
  core.outbox?.onGaveUp((mail) => show(policy.onGaveUp(mail)));
  accountNotice = (trouble) => show(policy.onAccountAttention(trouble));
}
