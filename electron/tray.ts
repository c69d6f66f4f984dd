import { Menu, Tray, nativeImage, type MenuItemConstructorOptions } from 'electron';
import { join } from 'node:path';
import type { RelayStatus } from './api';
import { trayIconFile, trayModel, type TrayAction } from './tray-model';

/** The tray icon and its menu, rebuilt from the status model on each change. */
export class AppTray {
  private readonly tray: Tray;

  constructor(private readonly assetsDir: string, private readonly actions: Record<TrayAction, () => void>, status: RelayStatus) {
    this.tray = new Tray(this.icon(status));
    // Windows and macOS report clicks on the icon itself; Linux indicators only ever open the menu.
    this.tray.on('click', () => actions.settings());
    this.update(status);
  }

  update(status: RelayStatus): void {
    const model = trayModel(status);
    this.tray.setImage(this.icon(status));
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

  private icon(status: RelayStatus) {
    const image = nativeImage.createFromPath(join(this.assetsDir, trayIconFile(trayModel(status).look, process.platform)));
    if (process.platform === 'darwin') image.setTemplateImage(true);
    return image;
  }
}
