import type { AccountLookupView, AccountRequest, AccountSaveResult, AccountTls, AccountView, RendererApi } from '../electron/contract/api';
import { busy, byId, focusOn, setEnabled, toast } from './dom.js';

/**
 * The Add / Edit account form: the address, the settings found (and where from), the provider's advice, the
 * password, then Verify and save. Settings that need confirming must be confirmed before the password is sent.
 * The password is read from its field only for the one saveAccount call and cleared once the account is saved.
 */
export interface AccountForm {
  add(address?: string): void;
  edit(account: AccountView, verify?: boolean): void;
}

type FieldId = 'address' | 'host' | 'port' | 'user' | 'fingerprint' | 'password';

const CAUSE_FIELD: Readonly<Record<string, FieldId | 'tls' | 'trust'>> = {
  'wrong-password': 'password',
  'app-password-required': 'password',
  'basic-auth-disabled': 'password',
  'certificate-not-trusted': 'trust',
  'fingerprint-mismatch': 'fingerprint',
  'trust-file-unreadable': 'trust',
  'host-not-found': 'host',
  'connection-refused': 'port',
  'nothing-answers': 'port',
  'tls-on-starttls-port': 'tls',
  'starttls-on-tls-port': 'tls',
  'no-starttls': 'tls',
};

const STAGE_HEADS: Readonly<Record<string, string>> = {
  settings: 'These settings cannot be used',
  confirm: 'Confirm the server first',
  file: 'msmtp\'s file was not changed',
  login: 'The provider did not accept the login: nothing was saved',
  keyring: 'The password could not be stored in the key ring: nothing was saved',
  msmtp: 'msmtp itself could not use the account: the change was undone',
};

export function mountAccountForm(api: RendererApi, onSaved: () => void): AccountForm {
  const form = byId<HTMLFormElement>('account-form');
  const address = byId<HTMLInputElement>('acc-address');
  const host = byId<HTMLInputElement>('acc-host');
  const port = byId<HTMLInputElement>('acc-port');
  const tls = byId<HTMLSelectElement>('acc-tls');
  const user = byId<HTMLInputElement>('acc-user');
  const trust = byId<HTMLInputElement>('acc-trust');
  const fingerprint = byId<HTMLInputElement>('acc-fingerprint');
  const password = byId<HTMLInputElement>('acc-password');
  const confirm = byId<HTMLInputElement>('acc-confirm');
  const save = byId<HTMLButtonElement>('btn-acc-save');
  const find = byId<HTMLButtonElement>('btn-acc-find');
  let found: Extract<AccountLookupView, { found: true }> | null = null;

  const inputs: Record<FieldId, HTMLInputElement> = { address, host, port, user, fingerprint, password };
  const setError = (field: FieldId, message: string) => {
    byId(`acc-${field}-error`).textContent = message;
    inputs[field].setAttribute('aria-invalid', String(message !== ''));
  };
  const clearErrors = () => {
    for (const field of Object.keys(inputs) as FieldId[]) setError(field, '');
    const result = byId('acc-result');
    result.hidden = true;
    result.replaceChildren();
  };

  const open = (title: string) => {
    form.hidden = false;
    byId('account-form-title').textContent = title;
    byId('btn-account-add').hidden = true;
    clearErrors();
  };
  const close = () => {
    form.hidden = true;
    password.value = '';
    found = null;
    byId('btn-account-add').hidden = false;
    focusOn(byId('btn-account-add'));
  };

  const fill = (values: { host?: string; port?: number; tls?: AccountTls; user?: string; trust?: string; fingerprint?: string }) => {
    host.value = values.host ?? '';
    port.value = values.port ? String(values.port) : '';
    tls.value = values.tls ?? 'starttls';
    user.value = values.user ?? '';
    trust.value = values.trust ?? '';
    fingerprint.value = values.fingerprint ?? '';
    byId<HTMLDetailsElement>('acc-trust-box').open = Boolean(values.trust || values.fingerprint);
  };

  /** The confirmation box, for the host and port the lookup learnt without proof; gone once the user types others. */
  const showConfirm = () => {
    const needed = confirmNeeded();
    byId('acc-confirm-box').hidden = !needed;
    if (!found || !needed) return;
    byId('acc-confirm-reason').textContent = `${sentence(found.confirmReason ?? 'these settings were not learnt from your provider directly')} Check that ${found.settings.host} is your provider's server before your password is sent there.`;
    byId('acc-confirm-label').textContent = `${found.settings.host}:${found.settings.port} is my provider's server: send my password there`;
  };
  const confirmNeeded = () => found !== null && found.needsConfirmation
    && host.value.trim() === found.settings.host && Number(port.value) === found.settings.port;

  const showLookup = (view: AccountLookupView, typed: string) => {
    byId('acc-details').hidden = false;
    const advice = byId('acc-advice');
    advice.replaceChildren();
    setEnabled(save, true);
    if (!view.found) {
      found = null;
      fill({ port: 587, tls: 'starttls', user: typed });
      byId('acc-source').textContent = `No settings were found for ${typed}. Enter your provider's outgoing server from its help pages.`;
      for (const warning of view.warnings) advice.append(line(warning, 'advice-warn'));
      showConfirm();
      return;
    }
    found = view;
    fill({ host: view.settings.host, port: view.settings.port, tls: view.settings.tls, user: view.settings.user });
    byId('acc-source').textContent = `Found in ${view.sourceWords}. Check them, then enter the password.`;
    if (view.passwordNeverWorks) {
      advice.append(line('This provider refuses passwords from mail programs (Outlook.com, Hotmail and Live since September 2024): it only allows Microsoft sign-in, which msmtp Relay does not support yet. This address cannot be added for now.', 'advice-bad'));
      setEnabled(save, false);
    }
    if (view.enableAccessFirst) {
      const first = line(`First: ${view.enableAccessFirst}`, 'advice-step');
      if (view.enableAccessPage) first.append(' ', pageButton('Open that setting', typed, 'enable-access'));
      advice.append(first);
    }
    if (view.appPasswordPage) {
      const step = line('This provider wants an app password here, not your usual password.', 'advice-step');
      step.append(' ', pageButton('Create an app password', typed, 'app-password'));
      advice.append(step);
    }
    for (const note of view.notes) advice.append(line(note, 'advice-note'));
    for (const warning of view.warnings) advice.append(line(warning, 'advice-warn'));
    if (view.needsTrust) byId<HTMLDetailsElement>('acc-trust-box').open = true;
    showConfirm();
  };

  const pageButton = (text: string, forAddress: string, page: 'app-password' | 'enable-access') => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'link-button';
    button.textContent = text;
    button.addEventListener('click', () => {
      void busy(button, async () => {
        const result = await api.openAccountPage(forAddress, page);
        if (result.ok) toast(result.message ?? 'Opened in your browser');
        else toast(result.error, 'error');
      });
    });
    return button;
  };

  const lookUp = () => {
    clearErrors();
    const typed = address.value.trim();
    if (!/^[^\s<>@,;"]+@[^\s<>@,;"]+\.[^\s<>@,;"]+$/.test(typed)) {
      setError('address', 'Enter your whole mail address, like ann@example.org.');
      address.focus();
      return;
    }
    byId('acc-source').textContent = '';
    void busy(find, async () => {
      byId('acc-address-hint').textContent = 'Looking up your provider…';
      try {
        const view = await api.lookupAccount(typed);
        if (!view.found && view.error) {
          setError('address', view.error);
          return;
        }
        showLookup(view, typed);
        (view.found ? password : host).focus();
      } finally {
        byId('acc-address-hint').textContent = 'msmtp Relay looks up your provider\'s outgoing server. Nothing is sent to it yet.';
      }
    });
  };

  /** The form's values as a request, or null after marking what is wrong next to its field. */
  const request = (): AccountRequest | null => {
    clearErrors();
    let ok = true;
    const portNumber = Number(port.value.trim());
    if (host.value.trim() === '') ok = fail('host', 'Enter the outgoing server, like smtp.example.org.');
    if (!/^\d{1,5}$/.test(port.value.trim()) || portNumber < 1 || portNumber > 65535) ok = fail('port', 'A port is a number from 1 to 65535 (465 for TLS, 587 for STARTTLS).');
    if (user.value === '') ok = fail('user', 'Enter the user name (often the whole address).');
    const pin = fingerprint.value.trim();
    if (pin !== '' && !/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/.test(pin)) ok = fail('fingerprint', 'A SHA-256 fingerprint is 32 pairs of hex digits separated by colons.');
    if (password.value === '') ok = fail('password', 'Enter the password (or the app password) for this account.');
    if (!ok) return null;
    return {
      address: address.value.trim(),
      host: host.value.trim(),
      port: portNumber,
      tls: tls.value as AccountTls,
      user: user.value,
      ...(trust.value.trim() !== '' ? { tlsTrustFile: trust.value.trim() } : {}),
      ...(pin !== '' ? { tlsFingerprint: pin } : {}),
      confirmed: confirmNeeded() ? confirm.checked : true,
    };
  };
  const fail = (field: FieldId, message: string) => {
    setError(field, message);
    return false;
  };

  const showResult = (result: Extract<AccountSaveResult, { ok: false }>) => {
    const box = byId('acc-result');
    box.dataset.ok = 'false';
    const head = document.createElement('p');
    head.className = 'check-head';
    head.textContent = STAGE_HEADS[result.stage] ?? 'Not saved';
    box.replaceChildren(head, line(result.message));
    if (result.serverReply) {
      const said = document.createElement('pre');
      said.className = 'test-said';
      said.textContent = `The server said: ${result.serverReply}`;
      box.append(said);
    }
    box.hidden = false;
    const target = result.cause ? CAUSE_FIELD[result.cause] : undefined;
    if (target === 'tls') tls.focus();
    else if (target === 'trust') {
      byId<HTMLDetailsElement>('acc-trust-box').open = true;
      trust.focus();
    } else if (target) {
      setError(target, result.message);
      inputs[target].focus();
    }
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const wanted = request();
    if (!wanted) {
      form.querySelector<HTMLInputElement>('[aria-invalid="true"]')?.focus();
      return;
    }
    if (confirmNeeded() && !confirm.checked) {
      showResult({ ok: false, stage: 'confirm', message: `Tick the box to confirm ${wanted.host} before your password is sent there.` });
      confirm.focus();
      return;
    }
    void busy(save, async () => {
      save.textContent = 'Verifying…';
      try {
        const result = await api.saveAccount(wanted, password.value);
        if (!result.ok) {
          showResult(result);
          return;
        }
        toast(result.message);
        close();
        onSaved();
      } finally {
        save.textContent = 'Verify and save';
      }
    });
  });
  find.addEventListener('click', lookUp);
  address.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      lookUp();
    }
  });
  host.addEventListener('input', showConfirm);
  port.addEventListener('input', showConfirm);
  byId('btn-acc-cancel').addEventListener('click', close);
  const chooseTrust = byId<HTMLButtonElement>('btn-acc-trust');
  chooseTrust.addEventListener('click', () => {
    void busy(chooseTrust, async () => {
      const file = await api.chooseTrustFile();
      if (file) trust.value = file;
    });
  });
  byId('btn-acc-proton').addEventListener('click', () => {
    fill({ host: '127.0.0.1', port: 1025, tls: 'starttls', user: address.value.trim(), trust: trust.value, fingerprint: fingerprint.value });
    byId<HTMLDetailsElement>('acc-trust-box').open = true;
    byId('acc-source').textContent = 'Proton Mail Bridge on this computer: use the password the Bridge shows for this address, and trust the certificate the Bridge exports (Settings › Export TLS certificates).';
    showConfirm();
    trust.focus();
  });

  return {
    add: (initial) => {
      open('Add an account');
      found = null;
      address.readOnly = false;
      address.value = initial ?? '';
      password.value = '';
      confirm.checked = false;
      byId('acc-details').hidden = true;
      byId('acc-advice').replaceChildren();
      find.hidden = false;
      if (initial) lookUp();
      else address.focus();
    },
    edit: (account, verify = false) => {
      open(verify ? `Verify ${account.name} again` : `Edit ${account.name}`);
      found = null;
      address.value = account.from[0] ?? '';
      address.readOnly = true;
      find.hidden = true;
      password.value = '';
      confirm.checked = false;
      fill({ host: account.host, port: account.port, tls: account.tls, user: account.user, trust: account.tlsTrustFile, fingerprint: account.tlsFingerprint });
      byId('acc-details').hidden = false;
      byId('acc-advice').replaceChildren();
      setEnabled(save, true);
      byId('acc-source').textContent = `Saved in ${account.file}. Enter the password to verify the login again; the account is rewritten only when it works.`;
      showConfirm();
      (verify ? password : host).focus();
    },
  };
}

/** "the server is outside x" → "The server is outside x." (the engine's reasons are phrases). */
function sentence(text: string): string {
  const trimmed = text.trim();
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function line(text: string, className?: string): HTMLParagraphElement {
  const node = document.createElement('p');
  node.textContent = text;
  if (className) node.className = className;
  return node;
}
