import { ipcMain, type BrowserWindow, type IpcMainInvokeEvent, type WebContents } from 'electron';
import type { MainApi, PushChannel, PushPayloads } from '../contract/api';
import { INVOKE_CHANNELS, createIpcGate } from '../core/ipc-gate';

/**
 * One ipcMain.handle per RendererApi method, all behind the same gate: the message must come from our window's
 * web contents, from its top frame, showing our page; the input must have the method's shape.
 */
export function registerIpc(api: MainApi, trustedPage: string, isOurContents: (contents: WebContents) => boolean): void {
  const gate = createIpcGate(api, trustedPage);
  for (const channel of INVOKE_CHANNELS) {
    ipcMain.handle(channel, (event: IpcMainInvokeEvent, ...args: unknown[]) => {
      const frame = event.senderFrame;
      const ours = isOurContents(event.sender);
      return gate({ url: ours ? frame?.url : undefined, isMainFrame: frame != null && frame.parent === null }, channel, args);
    });
  }
}

export function push<C extends PushChannel>(window: BrowserWindow | null, channel: C, payload: PushPayloads[C]): void {
  if (window && !window.isDestroyed() && !window.webContents.isDestroyed()) window.webContents.send(channel, payload);
}
