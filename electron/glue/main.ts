/**
 * Composition root of the desktop app: single instance, then settings -> relay host -> autostart -> IPC -> windows
 * allowed -> tray and relay start. Everything with logic lives in Electron-free modules (desktop/quit-policy, launch,
 * dock, autostart-policy, process-gone; tray/watch, refresh); this one only wires them to Electron.
 */
import { app, clipboard, dialog, net, powerMonitor, protocol, session, shell, type BrowserWindow } from 'electron';
import log from 'electron-log/main';
import { join } from 'node:path';
import type { RelayStatus } from '../contract/api';
import { createLoginItemAutostart, createXdgAutostart, launchCommand, xdgAutostartDir, type Autostart } from '../desktop/autostart';
import { autostartAvailable, refreshAutostartAtLaunch, unavailableAutostart } from '../desktop/autostart-policy';
import { AppCommands } from '../core/commands';
import { registerIpc, push } from './ipc';
import { macSearchPath } from '../desktop/mac-path';
import { processGoneLine } from '../desktop/process-gone';
import { QuitPolicy, SESSION_END_LIMIT_MS, closeAction } from '../desktop/quit-policy';
import { DockPolicy } from '../desktop/dock';
import { HIDDEN_START_TRAY_WAIT_MS, WindowGate, secondLaunchShows, startedHidden } from '../desktop/launch';
import { createKeyringStore } from '../../src-relay/index';
import { createAppCore, type AppCore } from '../core/app-core';
import { createSettingsStore } from '../core/settings';
import { AppTray } from './tray';
import { TrayWatch, itemListed, linuxSession, sessionLocked } from '../tray/watch';
import { createBusProbe, createBusReader } from '../desktop/session-bus';
import { UI_HOST, UI_PAGE, UI_SCHEME, readUiFile } from '../desktop/ui-files';
import { createSettingsWindow, installAppMenu, lockDown, watchSessionEnd } from './window';
import { readOsRelease } from '../health/problems';
import { HealthMonitor } from '../health/monitor';
import { ensureCertificate, renewWhenDue, tlsDir } from '../core/tls-cert';
import { watchNetwork } from '../desktop/network-watch';
import { watchNotifications } from './notifications';

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

// A quit the user asked for: past the engine's stop grace (10 s), so mails in flight have their time, but a hung stop
// cannot keep the app for long. A session end gets less: what the OS gives (quit-policy.ts SESSION_END_LIMIT_MS).
const STOP_LIMIT_MS = 15_000;
const APP_ID = 'org.msmtp-relay.app'; // build/electron-builder.yml appId

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
// Windows groups windows, notifications and the taskbar by it; the installer's shortcut carries the appId
// (electron-builder nsis), so both must say the same.
if (process.platform === 'win32') app.setAppUserModelId(APP_ID);

// macOS: the Dock icon follows the app's own show and close actions (dock.ts says why not the window's events).
const dock = new DockPolicy({ show: () => void app.dock?.show(), hide: () => app.dock?.hide() });
// Windows open only once boot registered IPC (launch.ts WindowGate); earlier asks are remembered.
const windows = new WindowGate(() => openWindow());

if (!app.requestSingleInstanceLock()) {
  // Another instance runs: it gets our 'second-instance' event and shows its window.
  app.quit();
} else {
  protocol.registerSchemesAsPrivileged([{ scheme: UI_SCHEME, privileges: { standard: true, secure: true } }]);
  // Electron: argv is the second instance's command line (docs/api/app.md 'second-instance').
  app.on('second-instance', (_event, argv) => {
    if (secondLaunchShows(argv)) showWindow();
  });
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
  const askedMeanwhile = windows.allow();
  health.watch();
  void health.checkMsmtp();
  accountNotice = watchNotifications(appCore, {
    enabled: () => appCore.settings.current().notifications,
    windowFocused: () => window !== null && !window.isDestroyed() && window.isFocused(),
    icon: join(assetsDir, 'icon.png'),
    clicked: () => showWindow(),
  });
  renewWhenDue({ enabled: () => appCore.settings.current().tls, certificate, restart: () => relay.restart(), log: appCore.log });

  // The tray and the relay start together: the relay reads the keyring, which may wait on an unlock prompt at login,
  // and a hidden start waits a while for a late tray host.
  const hidden = startedHidden(process.argv, process.platform, process.platform === 'darwin' && app.getLoginItemSettings().wasOpenedAtLogin);
  const starting = relay.start();
  const trayShownNow = await setUpTray(hidden);
  if (!trayShownNow) log.info('no tray on this desktop (no usable StatusNotifier host): the window stays the way in');
  health.trayMissing(!trayShownNow && process.platform === 'linux');
  if (!hidden || !trayShownNow || loaded.problem) {
    if (!askedMeanwhile || !window) showWindow();
  } else if (process.platform === 'darwin') dock.windowClosed();

  const firstStatus = await starting;
  if (firstStatus.state === 'error') showWindow();
}

function logLine(line: { level: 'info' | 'error'; message: string }): void {
  if (line.level === 'error') log.error(line.message);
  else log.info(line.message);
}

/**
 * The session ends. Windows: no before-quit, only 'session-end' on a window, and the process ends soon after.
 * Linux: powerMonitor 'shutdown' comes for a shutdown or reboot only (logind PrepareForShutdown), held by a delay
 * inhibitor that logind caps (5 s by default); a logout brings SIGTERM (Electron quits: before-quit) or just the
 * loss of the display, after which the process ends without before-quit. macOS: 'shutdown', then the quit.
 */
function watchSystemEnd(): void {
  if (process.platform === 'win32') {
    watchSessionEnd((reasons) => void quit.sessionEnding(`Windows ends the session (${reasons.join(', ') || 'shutdown'})`, SESSION_END_LIMIT_MS));
    return;
  }
  // Electron passes an event although the type says no arguments; preventDefault holds the shutdown (a logind
  // delay inhibitor on Linux, Electron's own quit on macOS) until the policy exits.
  powerMonitor.on('shutdown', (...args: unknown[]) => {
    (args[0] as { preventDefault?: () => void } | undefined)?.preventDefault?.();
    void quit.sessionEnding('the system shuts down or restarts', SESSION_END_LIMIT_MS);
  });
}

/**
 * Makes the tray icon; on Linux only where a StatusNotifier host (or an X11 XEmbed tray) will show it, and it counts
 * only once the host lists it (tray/watch.ts). Resolves to whether the tray is a way back to the window.
 */
async function setUpTray(hidden: boolean): Promise<boolean> {
  if (process.platform !== 'linux') return makeIcon();
  const reader = createBusReader();
  trayWatch = new TrayWatch({
    probe: busProbe,
    session: linuxSession(process.env),
    pollMs: 2000,
    patienceMs: 120_000, // panels and the GNOME extension can come up well after the login items
    keepAliveMs: 15_000,
    awayPatienceMs: 10_000, // counted while unlocked: GNOME's extension is back within a second or two of an unlock
    registrationMs: 5000,
    sessionLocked: () => sessionLocked(reader),
    itemListed: () => itemListed(reader, process.pid),
    onIconNeeded: () => {
      log.info('a tray host appeared: making the tray icon');
      void makeIcon();
    },
    onReachable: (reachable) => health?.trayMissing(!reachable),
    onLost: () => {
      log.info('the tray icon is gone (its host stayed away, or does not list it): showing the window');
      showWindow();
    },
  });
  if (!(await trayWatch.start(hidden ? HIDDEN_START_TRAY_WAIT_MS : 0))) return false;
  return makeIcon();
}

async function makeIcon(): Promise<boolean> {
  // Reached again only for an icon made while no host existed (an XEmbed one): it cannot register with a new host.
  tray?.destroy();
  tray = core ? createTray(core.status.current()) : null;
  if (!tray) {
    trayWatch?.iconFailed();
    return false;
  }
  return trayWatch ? trayWatch.iconCreated() : true;
}

function trayShown(): boolean {
  return tray !== null && (trayWatch?.trayVisible ?? true);
}

function createAutostart(): Autostart {
  // A development run must not rewrite (or add) the installed app's login item with the bare Electron binary.
  if (!autostartAvailable(app.isPackaged)) return unavailableAutostart();
  if (process.platform === 'linux') {
    const argv = launchCommand({
      execPath: process.execPath,
      appImage: process.env.APPIMAGE,
      appPath: app.isPackaged ? undefined : app.getAppPath(),
    });
    return createXdgAutostart(xdgAutostartDir(), argv);
  }
  return createLoginItemAutostart(app, process.platform);
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

/** Every way to the window (tray, second launch, Dock, notification, boot) asks here; the gate opens it. */
function showWindow(): void {
  windows.request();
}

function openWindow(): void {
  if (!app.isReady()) return;
  if (process.platform === 'darwin') dock.windowShown();
  if (!window || window.isDestroyed()) {
    window = createSettingsWindow({
      preload: join(__dirname, 'preload.js'),
      icon: join(assetsDir, 'icon.png'),
      closeAction: () => closeAction({ quitting: quit.quitting, trayShown: trayShown() }),
      hidden: () => {
        if (process.platform === 'darwin') dock.windowClosed();
      },
      quit: () => app.quit(),
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

