import type { BusProbe } from '../desktop/session-bus';

/**
 * Whether a tray icon will be seen on Linux, and when that changes. Electron shows tray icons through the
 * StatusNotifierItem protocol when a StatusNotifierWatcher owns its bus name (KDE, GNOME with the AppIndicator
 * extension, most panels); without one it falls back to an XEmbed icon, which exists only under X11 and not in GNOME
 * Shell. Where the icon would be invisible the app opens its window instead, so it is never running out of reach.
 */
export const STATUS_NOTIFIER_WATCHER = 'org.kde.StatusNotifierWatcher';

export interface LinuxSession {
  /** XDG_CURRENT_DESKTOP's entries, upper case ('UBUNTU', 'GNOME', 'KDE', ...). */
  desktops: string[];
  /** Electron runs as a native Wayland client there, where no XEmbed fallback exists. */
  wayland: boolean;
}

export function linuxSession(env: NodeJS.ProcessEnv): LinuxSession {
  const desktops = (env.XDG_CURRENT_DESKTOP ?? '').toUpperCase().split(':').filter(Boolean);
  const wayland = env.XDG_SESSION_TYPE === 'wayland' || (!env.XDG_SESSION_TYPE && Boolean(env.WAYLAND_DISPLAY));
  return { desktops, wayland };
}

/** `watcher` null means the bus could not be asked: then only the session type and desktop tell. */
export function trayExpected(session: LinuxSession, watcher: boolean | null): boolean {
  if (watcher === true) return true;
  if (session.wayland) return false;
  // GNOME Shell dropped its XEmbed tray (3.26); Ubuntu's session names itself ubuntu:GNOME.
  if (session.desktops.some((desktop) => desktop === 'GNOME' || desktop === 'UBUNTU' || desktop === 'GNOME-CLASSIC')) return false;
  return true; // an X11 panel without StatusNotifier support may still take Electron's XEmbed icon
}

export interface TrayWatchOptions {
  probe: BusProbe;
  session: LinuxSession;
  /** How often to look while no watcher is there yet. */
  pollMs: number;
  /** How long to keep looking (after start, or after a watcher went away) before giving up. */
  patienceMs: number;
  /** How often to check that a watcher that was seen is still there. */
  keepAliveMs: number;
  /** A watcher appeared: create the tray icon (again), so it registers with it. */
  onAppear(): void;
  /** The watcher went away: the icon is gone with it, show the window. */
  onVanish(): void;
}

/**
 * Follows the StatusNotifierWatcher's bus name: at login the panel may start after the app, and a panel (or
 * plasmashell, or the GNOME extension) can stop and come back while the app runs.
 */
export class TrayWatch {
  private seen = false;
  private visible = false;
  private lookingSince = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly options: TrayWatchOptions) {}

  /** Whether a tray icon would be seen now. */
  get trayVisible(): boolean {
    return this.visible;
  }

  /** Looks once and answers whether a tray icon will be seen; from then on keeps following the watcher. */
  async start(): Promise<boolean> {
    const watcher = await this.options.probe(STATUS_NOTIFIER_WATCHER);
    this.seen = watcher === true;
    this.visible = trayExpected(this.options.session, watcher);
    this.lookingSince = Date.now();
    this.schedule();
    return this.visible;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.stopped) return;
    let delay: number;
    if (this.seen) delay = this.options.keepAliveMs;
    else if (Date.now() - this.lookingSince < this.options.patienceMs) delay = this.options.pollMs;
    else return; // gave up: no watcher came
    this.timer = setTimeout(() => void this.tick(), delay);
  }

  private async tick(): Promise<void> {
    this.timer = null;
    const watcher = await this.options.probe(STATUS_NOTIFIER_WATCHER);
    if (this.stopped) return;
    if (watcher === true && !this.seen) {
      this.seen = true;
      this.visible = true;
      this.options.onAppear();
    } else if (watcher === false && this.seen) {
      this.seen = false;
      this.visible = trayExpected(this.options.session, false);
      this.lookingSince = Date.now();
      this.options.onVanish();
    }
    this.schedule();
  }
}
