import { Menu, Tray, nativeImage, type MenuItemConstructorOptions, type NativeImage } from 'electron';
import { join } from 'node:path';
import type { RelayStatus } from '../contract/api';
import { trayIconFile, trayModel, type TrayAction, type TrayItem, type TrayLook } from '../tray/model';
import { TrayRefresh } from '../tray/refresh';

const LOOKS: readonly TrayLook[] = ['running', 'stopped', 'error'];

/** The tray icon and its menu; TrayRefresh decides which parts a status change touches. */
export class AppTray {
  private readonly tray: Tray;
  /** Read once: a status change (every mail) must not read image files on the main thread. */
  private readonly images: Record<TrayLook, NativeImage>;
  private readonly refresh = new TrayRefresh();

  constructor(assetsDir: string, private readonly actions: Record<TrayAction, () => void>, status: RelayStatus) {
    this.images = Object.fromEntries(LOOKS.map((look) => [look, loadIcon(assetsDir, look)])) as Record<TrayLook, NativeImage>;
    const first = trayModel(status);
    this.tray = new Tray(this.images[first.look]);
    // Windows reports a click on the icon itself: it opens the window, the menu is on the right button (Linux
    // indicators mostly open the menu instead). On macOS 'click' fires before the menu opens, so binding it there
    // would raise the window every time the menu is opened.
    if (process.platform !== 'darwin') this.tray.on('click', () => actions.settings());
    this.update(status);
  }

  update(status: RelayStatus): void {
    const changes = this.refresh.next(trayModel(status));
    if (changes.look) this.tray.setImage(this.images[changes.look]);
    if (changes.tooltip !== undefined) this.tray.setToolTip(changes.tooltip);
    if (changes.items) this.tray.setContextMenu(Menu.buildFromTemplate(changes.items.map((item) => this.menuItem(item))));
  }

  destroy(): void {
    this.tray.destroy();
  }

  private menuItem(item: TrayItem): MenuItemConstructorOptions {
    switch (item.kind) {
      case 'label':
        return { label: item.label, enabled: false };
      case 'separator':
        return { type: 'separator' };
      case 'action':
        return { label: item.label, click: () => this.actions[item.action]() };
    }
  }
}

function loadIcon(assetsDir: string, look: TrayLook): NativeImage {
  const image = nativeImage.createFromPath(join(assetsDir, trayIconFile(look, process.platform)));
  if (process.platform === 'darwin') image.setTemplateImage(true);
  return image;
}
