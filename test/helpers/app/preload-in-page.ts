/**
 * The script that runs the real compiled preload in a Chromium page as Electron's sandbox would: its `require` gives
 * only `electron`, whose ipcRenderer.invoke goes to the page binding `__relayIpc` and whose pushes come through the
 * page function named `pushGlobal`. Used by the window tests and by the Electron stand-in alike.
 */
export function preloadInPage(preloadSource: string, pushGlobal: string): string {
  return `(() => {
    const listeners = new Map();
    const electron = {
      contextBridge: { exposeInMainWorld: (key, value) => Object.defineProperty(window, key, { value: Object.freeze(value) }) },
      ipcRenderer: {
        invoke: (channel, ...args) => window.__relayIpc(channel, args),
        on: (channel, listener) => {
          if (!listeners.has(channel)) listeners.set(channel, new Set());
          listeners.get(channel).add(listener);
        },
        removeListener: (channel, listener) => listeners.get(channel)?.delete(listener),
      },
    };
    window[${JSON.stringify(pushGlobal)}] = (channel, payload) => {
      for (const listener of listeners.get(channel) ?? []) listener({}, payload);
    };
    const sandboxedRequire = (name) => {
      if (name !== 'electron') throw new Error('a sandboxed preload can only require electron, not ' + name);
      return electron;
    };
    const module = { exports: {} };
    (function (require, exports, module) {
${preloadSource}
    })(sandboxedRequire, module.exports, module);
  })();`;
}
