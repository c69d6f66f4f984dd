import { Menu, Tray, nativeImage, type MenuItemConstructorOptions, type NativeImage } from 'electron';
import { join } from 'node:path';
import type { RelayStatus } from './api';
import { trayIconFile, trayModel, type TrayAction, type TrayLook } from './tray-model';

const LOOKS: readonly TrayLook[] = ['running', 'stopped', 'error'];

/** The tray icon and its menu, rebuilt from the status model on each change. */
export class AppTray {
  private readonly tray: Tray;
  /** Read once: a status change (every mail) must not read image files on the main thread. */
  private readonly images: Record<TrayLook, NativeImage>;
  private look: TrayLook;

  constructor(assetsDir: string, private readonly actions: Record<TrayAction, () => void>, status: RelayStatus) {
    this.images = Object.fromEntries(LOOKS.map((look) => [look, loadIcon(assetsDir, look)])) as Record<TrayLook, NativeImage>;
    this.look = trayModel(status).look;
    this.tray = new Tray(this.images[this.look]);
    // Windows and macOS report clicks on the icon itself; Linux indicators only ever open the menu.
    this.tray.on('click', () => actions.settings());
    this.update(status);
  }

  update(status: RelayStatus): void {
    const model = trayModel(status);
    if (model.look !== this.look) {
      this.look = model.look;
      this.tray.setImage(this.images[model.look]);
    }
    this.tray.setToolTip(model.tooltip);
    const template: MenuItemConstructorOptions[] = model.items.map((item) => {
      switch (item.kind) {
        case 'label':
          return { label: item.label, enabled: false };
        case 'separator':
          return { type: 'separator' };
        case 'action':
          return { label: item.label, click: () => this.actions[item.action]() };
      }
    });
    this.tray.setContextMenu(Menu.buildFromTemplate(template));
  }

  destroy(): void {
    this.tray.destroy();
  }
}

function loadIcon(assetsDir: string, look: TrayLook): NativeImage {
  const image = nativeImage.createFromPath(join(assetsDir, trayIconFile(look, process.platform)));
  if (process.platform === 'darwin') image.setTemplateImage(true);
  return image;
}
