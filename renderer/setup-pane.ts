import type { ClientGuide, ClientSetupView, CopyItem, RendererApi, ThunderbirdProfileView } from '../electron/contract/api';
import { busy, byId, keepFocus, setEnabled, toast } from './dom.js';

/** The Mail client setup pane: the values a mail program needs, Add to Thunderbird, and a guide per program. */
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

  const thunderbird = mountThunderbird(api);
  return {
    refresh: async () => {
      const [view, guides] = await Promise.all([api.clientSetup(), api.clientGuides()]);
      show(view);
      showGuides(api, guides);
      await thunderbird.load();
    },
  };
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** One <details> per program; the open ones stay open when the settings change and the guides are redrawn. */
function showGuides(api: RendererApi, guides: ClientGuide[]): void {
  const box = byId('client-guides');
  const open = new Set([...box.querySelectorAll<HTMLDetailsElement>('details[open]')].map((details) => details.dataset.guide));
  keepFocus(box, () => box.replaceChildren(...guides.map((guide) => {
    const details = element('details');
    details.dataset.guide = guide.id;
    details.dataset.key = guide.id;
    details.dataset.supported = String(guide.supported);
    details.open = open.has(guide.id);
    details.append(element('summary', guide.supported ? guide.title : `${guide.title}: cannot be used`));
    if (guide.supported) details.append(element('ol'));
    const list = details.querySelector('ol');
    for (const step of guide.steps) (list ?? details).append(element(list ? 'li' : 'p', step));
    for (const [index, snippet] of guide.snippets.entries()) {
      const block = element('div', undefined, 'snippet');
      const pre = element('pre', undefined, 'mono');
      pre.append(element('code', snippet.text));
      pre.setAttribute('aria-label', snippet.label);
      const copy = element('button', 'Copy', 'subtle');
      copy.type = 'button';
      copy.addEventListener('click', () => {
        void busy(copy, async () => {
          const result = await api.copySnippet(guide.id, index);
          if (result.ok) toast(result.message ?? 'Copied');
          else toast(result.error, 'error');
        });
      });
      block.append(pre, copy);
      details.append(block);
    }
    if (guide.note) details.append(element('p', guide.note, 'hint guide-note'));
    return details;
  })), () => box.closest<HTMLElement>('.card')?.querySelector('h2') ?? null);
}

/** "Add to Thunderbird": pick a profile, tick the identities that should send through the relay, click. */
function mountThunderbird(api: RendererApi): { load(): Promise<void> } {
  const select = byId<HTMLSelectElement>('tb-profile');
  const add = byId<HTMLButtonElement>('btn-tb-add');
  const look = byId<HTMLButtonElement>('btn-tb-look');
  const result = byId('tb-result');
  let profiles: ThunderbirdProfileView[] = [];

  const showProfile = () => {
    const profile = profiles.find((candidate) => candidate.dir === select.value);
    byId('tb-running').hidden = !profile?.running;
    const fieldset = byId('tb-identities');
    keepFocus(fieldset, () => fillIdentities(fieldset, profile), () => select);
    setEnabled(add, Boolean(profile));
  };

  const fillIdentities = (fieldset: HTMLElement, profile: ThunderbirdProfileView | undefined) => {
    fieldset.replaceChildren(element('legend', 'Send through the relay from'));
    for (const identity of profile?.identities ?? []) {
      const label = element('label', undefined, 'checkbox');
      const box = element('input');
      box.type = 'checkbox';
      box.value = identity.key;
      box.checked = identity.usesRelay;
      label.dataset.key = identity.key;
      label.append(box, document.createTextNode(identity.name ? `${identity.name} <${identity.email}>` : identity.email || identity.key));
      fieldset.append(label);
    }
    if (profile?.problem) fieldset.append(element('p', profile.problem, 'hint'));
    else if (profile && profile.identities.length === 0) fieldset.append(element('p', 'This profile has no mail account yet: the server is added, and you can pick it for an account later.', 'hint'));
  };

  const load = async () => {
    const chosen = select.value;
    profiles = await api.thunderbirdProfiles();
    byId('tb-none').hidden = profiles.length > 0;
    byId('tb-form').hidden = profiles.length === 0;
    select.replaceChildren(...profiles.map((profile) => {
      const option = element('option', [profile.name, profile.isDefault ? '(default)' : '', profile.place ? `· ${profile.place}` : ''].filter(Boolean).join(' '));
      option.value = profile.dir;
      option.title = profile.dir;
      return option;
    }));
    const keep = profiles.find((profile) => profile.dir === chosen) ?? profiles.find((profile) => profile.isDefault) ?? profiles[0];
    if (keep) select.value = keep.dir;
    showProfile();
  };

  select.addEventListener('change', showProfile);
  look.addEventListener('click', () => void busy(look, load));
  add.addEventListener('click', () => {
    void busy(add, async () => {
      const identities = [...byId('tb-identities').querySelectorAll<HTMLInputElement>('input[type="checkbox"]:checked')].map((box) => box.value);
      const outcome = await api.addToThunderbird({ profileDir: select.value, identities });
      result.dataset.ok = String(outcome.ok);
      result.textContent = outcome.ok ? outcome.message ?? 'Done' : outcome.error; // said by the toast
      if (outcome.ok) toast(outcome.message ?? 'Added to Thunderbird');
      else toast(outcome.error, 'error');
      await load();
    });
  });
  return { load };
}
