import type { BusProbe, BusReader } from '../desktop/session-bus';

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

/** The watcher's object and interface (StatusNotifierItem specification, "StatusNotifierWatcher"). */
const WATCHER_PATH = '/StatusNotifierWatcher';

/**
 * Whether the watcher lists an item of process `pid`. Entries are a bus name, optionally followed by an object path
 * (KDE's watcher stores `service` or `sender + path`; GNOME's AppIndicator extension `busName + path`). An entry
 * names this process when its bus name is the specification's `org.kde.StatusNotifierItem-<pid>-<n>`, or when the
 * bus says that name belongs to `pid`. null: the watcher could not be asked.
 */
export async function itemListed(reader: BusReader, pid: number): Promise<boolean | null> {
  const items = await reader.property('session', STATUS_NOTIFIER_WATCHER, WATCHER_PATH, STATUS_NOTIFIER_WATCHER, 'RegisteredStatusNotifierItems');
  if (!Array.isArray(items)) return null;
  const names = items.map((item) => item.split('/')[0]!).filter(Boolean);
  if (names.some((name) => name.startsWith(`org.kde.StatusNotifierItem-${pid}-`))) return true;
  for (const name of names) {
    if ((await reader.processId(name)) === pid) return true;
  }
  return false;
}

/**
 * logind's LockedHint for this process's session (org.freedesktop.login1, /org/freedesktop/login1/session/auto, on
 * the system bus): GNOME sets it while the screen is locked. null: logind could not be asked.
 */
export async function sessionLocked(reader: BusReader): Promise<boolean | null> {
  const value = await reader.property('system', 'org.freedesktop.login1', '/org/freedesktop/login1/session/auto',
    'org.freedesktop.login1.Session', 'LockedHint');
  return typeof value === 'boolean' ? value : null;
}

export interface TrayWatchOptions {
  probe: BusProbe;
  session: LinuxSession;
  /** How often to look while no watcher is there, or while the one that was there is away. */
  pollMs: number;
  /** At start: how long to keep looking for a first watcher before giving up. */
  patienceMs: number;
  /** How often to check that a watcher that was seen is still there (and, once away long, whether it is back). */
  keepAliveMs: number;
  /**
   * How long the watcher may stay away, counted only while the session is unlocked, before the window opens. GNOME
   * turns its AppIndicator extension off during a screen lock, so the watcher goes away and comes back at unlock.
   */
  awayPatienceMs: number;
  /** After an icon was made or its watcher came back: how long its item may take to appear in the watcher's list. */
  registrationMs: number;
  /** logind's LockedHint; null when it cannot be told (then the session counts as unlocked). */
  sessionLocked(): Promise<boolean | null>;
  /** Whether the watcher lists this process's item; null when it cannot be told (then the icon is trusted). */
  itemListed(): Promise<boolean | null>;
  /** Make the icon (again): a watcher is there and the current icon, if any, was made while none was. */
  onIconNeeded(): void;
  /** Whether the tray is now a way back to the window: closing the window hides it only while this is true. */
  onReachable(reachable: boolean): void;
  /** The tray is lost for good (away past the patience while unlocked, or no item listed): show the window. */
  onLost(): void;
}

const SETTLE_MS = 250;

/**
 * Follows the StatusNotifierWatcher's bus name and this app's item in it. At login the panel may start after the app;
 * a panel (or plasmashell, or the GNOME extension at every screen lock) can stop and come back while the app runs.
 * Chromium's StatusNotifierItem registers again by itself when the watcher comes back, so an icon made while a
 * watcher existed is kept; a second Tray would be a GtkStatusIcon (XEmbed), invisible on Wayland and GNOME (Electron
 * docs/api/tray.md, "Linux"). Only an icon made while no watcher existed (an XEmbed one) is made again.
 */
export class TrayWatch {
  private seen = false;
  private visible = false;
  /** null: no icon; otherwise whether a watcher existed when it was made. */
  private iconWithWatcher: boolean | null = null;
  private lookingSince = 0;
  /** While the watcher is away: since when it has been away with the session unlocked (null: locked, or not away). */
  private awayUnlockedSince: number | null = null;
  private lostShown = false;
  private lastLocked = false;
  private checkAfterReturn = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly options: TrayWatchOptions) {}

  /** Whether the tray is a way back to the window now. */
  get trayVisible(): boolean {
    return this.visible;
  }

  /**
   * Looks once (or, with waitMs, until a watcher appears or waitMs passed: a hidden start at login must not open the
   * window because the panel is a few seconds late) and answers whether a tray icon is worth making.
   */
  async start(waitMs = 0): Promise<boolean> {
    const until = Date.now() + waitMs;
    let watcher = await this.options.probe(STATUS_NOTIFIER_WATCHER);
    while (watcher !== true && Date.now() < until && !this.stopped) {
      await delay(Math.min(this.options.pollMs, Math.max(0, until - Date.now())));
      watcher = await this.options.probe(STATUS_NOTIFIER_WATCHER);
    }
    this.seen = watcher === true;
    this.visible = trayExpected(this.options.session, watcher);
    this.lookingSince = Date.now();
    this.schedule();
    return this.visible;
  }

  /**
   * The glue made an icon. With a watcher there, the icon counts only once the watcher lists its item (Electron
   * 43.3-45 shipped StatusNotifier regressions where it never did). Resolves to whether the tray is a way back.
   */
  async iconCreated(): Promise<boolean> {
    this.iconWithWatcher = this.seen;
    if (!this.seen) return this.visible;
    this.visible = await this.waitForItem();
    this.options.onReachable(this.visible);
    return this.visible;
  }

  /** The glue could not make an icon. */
  iconFailed(): void {
    this.iconWithWatcher = null;
    this.visible = false;
    this.options.onReachable(false);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async waitForItem(): Promise<boolean> {
    const until = Date.now() + this.options.registrationMs;
    for (;;) {
      const listed = await this.options.itemListed();
      if (listed !== false) return true; // listed, or the watcher cannot be asked: trust the icon
      if (Date.now() >= until || this.stopped) return false;
      await delay(Math.min(SETTLE_MS, Math.max(0, until - Date.now())));
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    let wait: number;
    if (this.seen) wait = this.checkAfterReturn ? this.options.pollMs : this.options.keepAliveMs;
    else if (this.iconWithWatcher === true || this.awayUnlockedSince !== null || this.lostShown) wait = this.options.pollMs; // away
    else if (Date.now() - this.lookingSince < this.options.patienceMs) wait = this.options.pollMs;
    else return; // never seen one, and gave up
    this.timer = setTimeout(() => void this.tick(), wait);
  }

  private async tick(): Promise<void> {
    this.timer = null;
    const watcher = await this.options.probe(STATUS_NOTIFIER_WATCHER);
    if (this.stopped) return;
    if (watcher === true && !this.seen) this.returned();
    else if (watcher === false && this.seen) this.left();
    if (this.seen && this.checkAfterReturn) await this.afterReturn();
    else if (!this.seen && this.iconWithWatcher === true) await this.whileAway();
    if (this.stopped) return;
    this.schedule();
  }

  private returned(): void {
    this.seen = true;
    this.awayUnlockedSince = null;
    // GNOME brings its tray host back only once the screen is unlocked: a lock remembered from before is over, so an
    // unanswered LockedHint later must not keep it.
    this.lastLocked = false;
    if (this.iconWithWatcher !== true) {
      // No icon, or an XEmbed one made with no watcher: it cannot register with the new watcher. Make one now.
      this.options.onIconNeeded();
      return;
    }
    // Chromium's item registers with the new watcher by itself; check that it did before trusting the tray again.
    this.checkAfterReturn = true;
  }

  private left(): void {
    this.seen = false;
    if (this.iconWithWatcher !== true) {
      this.visible = trayExpected(this.options.session, false);
      this.options.onReachable(this.visible);
      if (!this.visible) this.lose();
      return;
    }
    // The icon (a StatusNotifierItem) is invisible while the watcher is away, but that may be only a screen lock.
    this.awayUnlockedSince = Date.now();
    this.lookingSince = Date.now();
  }

  private async afterReturn(): Promise<void> {
    this.checkAfterReturn = false;
    const reachable = await this.waitForItem();
    if (this.stopped || !this.seen) return;
    if (reachable !== this.visible) {
      this.visible = reachable;
      this.options.onReachable(reachable);
    }
    if (reachable) this.lostShown = false;
    else this.lose();
  }

  private async whileAway(): Promise<void> {
    if (this.lostShown) return;
    const answer = await this.options.sessionLocked();
    if (this.stopped || this.seen) return;
    // A question that went unanswered (a busy bus, a timeout) keeps the last answer: a lock stays a lock.
    if (answer !== null) this.lastLocked = answer;
    const locked = answer ?? this.lastLocked;
    if (locked === true) {
      this.awayUnlockedSince = null; // a lock: the wait starts again after the unlock
      return;
    }
    this.awayUnlockedSince ??= Date.now();
    if (Date.now() - this.awayUnlockedSince < this.options.awayPatienceMs) return;
    this.visible = false;
    this.options.onReachable(false);
    this.lose();
  }

  private lose(): void {
    if (this.lostShown) return;
    this.lostShown = true;
    this.options.onLost();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
