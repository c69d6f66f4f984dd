import { HIDDEN_FLAG } from './autostart';

/**
 * How a launch asks for the window, without Electron: a start at login carries --hidden (or, on macOS, reports
 * wasOpenedAtLogin), a second launch passes its own argv to the running instance ('second-instance').
 */
export function startedHidden(argv: readonly string[], platform: NodeJS.Platform, wasOpenedAtLogin: boolean): boolean {
  return argv.includes(HIDDEN_FLAG) || (platform === 'darwin' && wasOpenedAtLogin);
}

/** A second launch shows the running instance's window, unless it was itself a hidden start (a login item again). */
export function secondLaunchShows(argv: readonly string[]): boolean {
  return !argv.includes(HIDDEN_FLAG);
}

/** How long a hidden start waits for a tray host that is a few seconds late at login before opening the window. */
export const HIDDEN_START_TRAY_WAIT_MS = 15_000;

/**
 * Windows may be opened only once boot has registered the IPC handlers: a page that loads before them gets "No
 * handler registered" for its first calls and stays empty. A second launch or a macOS reopen during boot asks
 * early; the gate remembers the ask and opens once boot says it may.
 */
export class WindowGate {
  private open = false;
  private asked = false;

  constructor(private readonly show: () => void) {}

  get ready(): boolean {
    return this.open;
  }

  request(): void {
    if (this.open) this.show();
    else this.asked = true;
  }

  /** Boot registered IPC. Returns whether a window was asked for meanwhile (it is then shown). */
  allow(): boolean {
    this.open = true;
    const asked = this.asked;
    this.asked = false;
    if (asked) this.show();
    return asked;
  }
}
