/**
 * Zoom for the settings window, as data (Electron-free, tested under plain Node): the application menu's template and
 * the step of a Ctrl+wheel zoom. glue/window.ts hands them to Electron.
 *
 * Electron binds Ctrl+Plus/Minus/0 (Cmd on macOS) only through the `zoomIn`, `zoomOut` and `resetZoom` MenuItem roles
 * of the application menu (electron.d.ts, webContents.setVisualZoomLevelLimits: "Cmd+/-/0 zoom shortcuts are
 * controlled by the 'zoomIn', 'zoomOut', and 'resetZoom' MenuItem roles in the application Menu"), so the window
 * has no zoom at all without such a menu. Ctrl+wheel only emits webContents 'zoom-changed' ("Emitted when the user
 * is requesting to change the zoom level using the mouse wheel"); the app sets the level itself.
 */

/** The MenuItem roles used here, each one of Electron's (MenuItemConstructorOptions.role). */
export type MenuRole = 'appMenu' | 'editMenu' | 'windowMenu' | 'resetZoom' | 'zoomIn' | 'zoomOut';

/** The part of Electron's MenuItemConstructorOptions the template uses. */
export interface MenuTemplateItem {
  role?: MenuRole;
  label?: string;
  accelerator?: string;
  visible?: boolean;
  submenu?: MenuTemplateItem[];
}

/**
 * The application menu. Every platform gets a View menu with the three zoom roles; on Linux and Windows the window
 * hides its menu bar (the accelerators of a hidden bar still work; a removed menu has none). macOS keeps its app,
 * Edit (Cmd+C/V/X in text fields) and Window menus.
 */
export function appMenuTemplate(platform: NodeJS.Platform): MenuTemplateItem[] {
  const view: MenuTemplateItem = {
    label: 'View',
    submenu: [
      { role: 'resetZoom' },
      { role: 'zoomIn' },
      // The role's own accelerator is CommandOrControl+Plus, which is Shift+= on many layouts: Ctrl+= as well.
      { role: 'zoomIn', accelerator: 'CommandOrControl+=', visible: false },
      { role: 'zoomOut' },
    ],
  };
  return platform === 'darwin' ? [{ role: 'appMenu' }, { role: 'editMenu' }, view, { role: 'windowMenu' }] : [view];
}

/** Zoom levels as Chromium counts them: each step of 1 is 20% larger (scale = 1.2^level); 0 is 100%. */
export const ZOOM_STEP = 0.5;
/** About 48% and 250%: far enough for 200% and back, not so far that a flick of the wheel loses the window. */
export const ZOOM_MIN = -4;
export const ZOOM_MAX = 5;

/** The next level for one Ctrl+wheel notch ('zoom-changed' says 'in' or 'out'), within ZOOM_MIN..ZOOM_MAX. */
export function nextZoomLevel(level: number, direction: 'in' | 'out'): number {
  const next = level + (direction === 'in' ? ZOOM_STEP : -ZOOM_STEP);
  return Math.min(ZOOM_MAX, Math.max(ZOOM_MIN, next));
}
