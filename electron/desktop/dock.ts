/**
 * macOS: the Dock icon of a menu-bar app (LSUIElement) is shown while its window is open, driven by the app's own
 * show and close actions. Not by BrowserWindow 'show'/'hide': on macOS those also fire when the window is covered or
 * uncovered (electron shell/browser/ui/cocoa/electron_ns_window_delegate.mm windowDidChangeOcclusionState ->
 * NotifyWindowShow/Hide), which took the app out of the Dock and Cmd+Tab whenever another window covered it.
 * Electron ignores a dock.hide() within one second of dock.show() (shell/browser/browser_mac.mm Browser::DockHide),
 * so a close that soon after a show hides the icon once that second has passed.
 */
export interface DockDeps {
  show(): void;
  hide(): void;
  now?: () => number;
}

/** Electron's own spacing (one second) and a margin. */
export const DOCK_SPACING_MS = 1100;

export class DockPolicy {
  private lastShow = -Infinity;
  private pendingHide: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(private readonly deps: DockDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The app opened or raised its window (tray, second launch, Dock click, notification). */
  windowShown(): void {
    this.cancel();
    this.lastShow = this.now();
    this.deps.show();
  }

  /** The app hid its window to the tray, or started hidden. */
  windowClosed(): void {
    this.cancel();
    const wait = this.lastShow + DOCK_SPACING_MS - this.now();
    if (wait <= 0) {
      this.deps.hide();
      return;
    }
    this.pendingHide = setTimeout(() => {
      this.pendingHide = null;
      this.deps.hide();
    }, wait);
  }

  private cancel(): void {
    if (this.pendingHide) clearTimeout(this.pendingHide);
    this.pendingHide = null;
  }
}
