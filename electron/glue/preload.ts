/**
 * The window's only door to the main process. Sandboxed preloads get a limited `require`, so this file imports
 * nothing but 'electron' (types from ./api vanish at compile time) and compiles to one CommonJS file.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { Invokable, PushChannel, PushPayloads, RendererApi } from '../contract/api';

function invoke<K extends Invokable>(channel: K): RendererApi[K] {
  return ((...args: unknown[]) => ipcRenderer.invoke(channel, ...args)) as RendererApi[K];
}

function subscribe<C extends PushChannel>(channel: C, listener: (payload: PushPayloads[C]) => void): () => void {
  // The renderer never sees the IpcRendererEvent (it would hand it ipcRenderer itself).
  const forward = (_event: IpcRendererEvent, payload: PushPayloads[C]) => listener(payload);
  ipcRenderer.on(channel, forward);
  return () => {
    ipcRenderer.removeListener(channel, forward);
  };
}

// Spelled out method by method: the RendererApi type makes a missing or misspelled channel a compile error.
const api: RendererApi = {
  getSettings: invoke('getSettings'),
  saveSettings: invoke('saveSettings'),
  setPassword: invoke('setPassword'),
  regeneratePassword: invoke('regeneratePassword'),
  copy: invoke('copy'),
  getStatus: invoke('getStatus'),
  setRunning: invoke('setRunning'),
  recentLog: invoke('recentLog'),
  clearLog: invoke('clearLog'),
  openLogFile: invoke('openLogFile'),
  checkCommand: invoke('checkCommand'),
  chooseCommandFile: invoke('chooseCommandFile'),
  clientSetup: invoke('clientSetup'),
  testMailDefaults: invoke('testMailDefaults'),
  sendTestMail: invoke('sendTestMail'),
  applyFix: invoke('applyFix'),
  exportCertificate: invoke('exportCertificate'),
  listOutbox: invoke('listOutbox'),
  retryOutbox: invoke('retryOutbox'),
  deleteFromOutbox: invoke('deleteFromOutbox'),
  setSendingPaused: invoke('setSendingPaused'),
  onOutbox: (listener) => subscribe('outbox', listener),
  clientGuides: invoke('clientGuides'),
  copySnippet: invoke('copySnippet'),
  thunderbirdProfiles: invoke('thunderbirdProfiles'),
  addToThunderbird: invoke('addToThunderbird'),
  listAccounts: invoke('listAccounts'),
  lookupAccount: invoke('lookupAccount'),
  saveAccount: invoke('saveAccount'),
  removeAccount: invoke('removeAccount'),
  openAccountPage: invoke('openAccountPage'),
  chooseTrustFile: invoke('chooseTrustFile'),
  onLog: (listener) => subscribe('log', listener),
  onStatus: (listener) => subscribe('status', listener),
};

contextBridge.exposeInMainWorld('relay', api);
