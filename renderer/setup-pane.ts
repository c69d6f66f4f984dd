import type { ClientSetupView, CopyItem, RendererApi } from '../electron/api';
import { busy, byId, toast } from './dom.js';

/** The Mail client setup pane: the values a mail program needs, each with a copy button. */
export function mountSetupPane(api: RendererApi): { refresh(): Promise<void> } {
  const pane = byId('pane-setup');
  for (const button of pane.querySelectorAll<HTMLButtonElement>('button[data-copy]')) {
    button.addEventListener('click', () => {
      void busy(button, async () => {
        const result = await api.copy(button.dataset.copy as CopyItem);
        if (result.ok) toast(result.message ?? 'Copied');
        else toast(result.error, 'error');
      });
    });
  }

  const show = (view: ClientSetupView) => {
    const security = view.security === 'starttls' ? 'STARTTLS' : 'None';
    byId('setup-host').textContent = view.host;
    byId('setup-port').textContent = String(view.port);
    byId('setup-user').textContent = view.user;
    byId('setup-security').textContent = security;
    const values: Record<string, string> = { host: view.host, port: String(view.port), user: view.user, security };
    for (const slot of pane.querySelectorAll<HTMLElement>('[data-fill]')) slot.textContent = values[slot.dataset.fill!] ?? '';
    byId('setup-cert-row').hidden = !view.fingerprint;
    byId('setup-fingerprint').textContent = view.fingerprint ?? '';
  };
  const exportButton = byId<HTMLButtonElement>('btn-export-cert');
  exportButton.addEventListener('click', () => {
    void busy(exportButton, async () => {
      const result = await api.exportCertificate();
      if (result.ok) toast(result.message ?? 'Exported');
      else toast(result.error, 'error');
    });
  });

  return {
    refresh: async () => show(await api.clientSetup()),
  };
}
