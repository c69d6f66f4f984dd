import type { AppSettings, CommandCheck, RendererApi, SaveResult, SettingsField } from '../electron/contract/api';
import { announce, busy, byId, labelOf, setEnabled, toast } from './dom.js';

/**
 * The Relay pane: the settings form, the command Check, and the write-only password controls. `onSaved` runs after
 * settings were saved (what the mail client setup shows may have changed).
 */
export function mountRelayPane(api: RendererApi, initial: AppSettings, onSaved: () => void): { show(settings: AppSettings): void } {
  const form = byId<HTMLFormElement>('relay-form');
  const command = byId<HTMLInputElement>('f-command');
  const host = byId<HTMLInputElement>('f-host');
  const port = byId<HTMLInputElement>('f-port');
  const user = byId<HTMLInputElement>('f-user');
  const launch = byId<HTMLInputElement>('f-launch');
  const tls = byId<HTMLInputElement>('f-tls');
  const notifications = byId<HTMLInputElement>('f-notifications');
  const keep = byId<HTMLInputElement>('f-keep');
  const password = byId<HTMLInputElement>('f-password');
  const saveState = byId('save-state');
  const saveButton = byId<HTMLButtonElement>('btn-save');
  let saved = initial;

  const fill = (settings: AppSettings) => {
    command.value = settings.command;
    host.value = settings.host;
    port.value = String(settings.port);
    user.value = settings.user;
    launch.checked = settings.launchAtLogin;
    tls.checked = settings.tls;
    notifications.checked = settings.notifications;
    keep.checked = settings.keepUnsent;
    refreshDirty();
  };

  const read = (): AppSettings | { portError: string } => {
    const text = port.value.trim();
    if (!/^\d{1,5}$/.test(text)) return { portError: 'Enter a port number from 1 to 65535' };
    return {
      command: command.value.trim(),
      host: host.value.trim(),
      port: Number(text),
      user: user.value.trim(),
      launchAtLogin: launch.checked,
      tls: tls.checked,
      notifications: notifications.checked,
      keepUnsent: keep.checked,
    };
  };

  function refreshDirty(): void {
    const current = read();
    const dirty = 'portError' in current || JSON.stringify(current) !== JSON.stringify(saved);
    saveState.textContent = dirty ? 'Unsaved changes' : '';
    setEnabled(saveButton, dirty);
  }

  /** Shows each error under its field (which it describes) and says them all once, each with its field's label. */
  const showErrors = (errors: Partial<Record<SettingsField, string>>) => {
    const said: string[] = [];
    for (const element of form.querySelectorAll<HTMLElement>('[data-error-for]')) {
      const field = element.dataset.errorFor as SettingsField;
      element.textContent = errors[field] ?? '';
      const input = form.querySelector<HTMLInputElement>(`[name="${field}"]`);
      input?.setAttribute('aria-invalid', errors[field] ? 'true' : 'false');
      if (errors[field]) said.push(input ? `${labelOf(input)}: ${errors[field]}` : errors[field]);
    }
    if (said.length > 0) announce(said.join('. '));
  };

  form.addEventListener('input', refreshDirty);
  form.addEventListener('change', refreshDirty);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = read();
    if ('portError' in next) {
      showErrors({ port: next.portError });
      return;
    }
    void busy(saveButton, async () => {
      const result: SaveResult = await api.saveSettings(next);
      if (!result.ok) {
        showErrors(result.errors);
        toast('Some settings need attention', 'error', { announced: false }); // the errors were said
        return;
      }
      showErrors({});
      saved = result.settings;
      fill(saved);
      onSaved();
      if (result.status.state === 'error') toast(`Saved, but the relay did not start: ${result.status.error}`, 'error', { announced: false }); // the status says why
      else toast(result.status.state === 'running' ? 'Saved; the relay uses the new settings' : 'Saved');
    }).finally(refreshDirty);
  });
  byId<HTMLButtonElement>('btn-revert').addEventListener('click', () => {
    showErrors({});
    fill(saved);
  });

  const checkButton = byId<HTMLButtonElement>('btn-check');
  checkButton.addEventListener('click', () => {
    void busy(checkButton, async () => {
      const result = await api.checkCommand(command.value);
      showCheck(result);
      announce(byId('check-result').querySelector('.check-head')?.textContent ?? '');
    });
  });

  const browseButton = byId<HTMLButtonElement>('btn-browse');
  browseButton.addEventListener('click', () => {
    void busy(browseButton, async () => {
      const path = await api.chooseCommandFile();
      if (path) {
        command.value = replaceProgram(command.value, path);
        refreshDirty();
      }
    });
  });

  const passwordError = byId('password-error');
  const setButton = byId<HTMLButtonElement>('btn-set-password');
  setButton.addEventListener('click', () => {
    void busy(setButton, async () => {
      const result = await api.setPassword(password.value);
      passwordError.textContent = result.ok ? '' : result.error;
      password.setAttribute('aria-invalid', String(!result.ok));
      if (!result.ok) announce(`${labelOf(password)}: ${result.error}`);
      if (result.ok) {
        password.value = '';
        toast(result.message ?? 'Password saved');
      }
    });
  });
  password.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      setButton.click();
    }
  });

  // Regenerating breaks every mail client that has the old password: the first click only asks.
  const regenerate = byId<HTMLButtonElement>('btn-regenerate');
  let confirmTimer: number | undefined;
  regenerate.addEventListener('click', () => {
    if (regenerate.dataset.confirm !== 'yes') {
      regenerate.dataset.confirm = 'yes';
      regenerate.textContent = 'Click again to replace it';
      confirmTimer = window.setTimeout(resetRegenerate, 4000);
      return;
    }
    resetRegenerate();
    void busy(regenerate, async () => {
      const result = await api.regeneratePassword();
      passwordError.textContent = result.ok ? '' : result.error;
      if (result.ok) toast(result.message ?? 'New password saved');
      else announce(result.error);
    });
  });
  function resetRegenerate(): void {
    window.clearTimeout(confirmTimer);
    delete regenerate.dataset.confirm;
    regenerate.textContent = 'Regenerate';
  }

  const copyButton = byId<HTMLButtonElement>('btn-copy-password');
  copyButton.addEventListener('click', () => {
    void busy(copyButton, async () => {
      const result = await api.copy('password');
      if (result.ok) toast(result.message ?? 'Copied');
      else toast(result.error, 'error');
    });
  });

  fill(saved);
  // Settings changed by the main process (a health fix moved the port): the form shows them as saved.
  return {
    show: (settings) => {
      saved = settings;
      showErrors({});
      fill(saved);
    },
  };
}

function showCheck(result: CommandCheck): void {
  const box = byId('check-result');
  box.replaceChildren();
  box.hidden = false;
  box.dataset.ok = String(result.ok);
  const head = document.createElement('p');
  head.className = 'check-head';
  head.textContent = result.ok ? `✓ ${result.version}` : `✗ ${result.error}`;
  box.append(head);

  const accounts = document.createElement('div');
  accounts.className = 'check-accounts';
  if (result.accounts.length === 0) {
    accounts.textContent = 'No msmtp accounts found in ~/.msmtprc or ~/.config/msmtp/config.';
  } else {
    const title = document.createElement('p');
    title.textContent = `msmtp accounts found (${result.accounts.length}):`;
    const list = document.createElement('ul');
    for (const account of result.accounts) {
      const item = document.createElement('li');
      const name = document.createElement('strong');
      name.textContent = account.account;
      const from = document.createElement('span');
      from.className = 'mono';
      from.textContent = account.from ? ` ${account.from}` : ' (no From address)';
      const file = document.createElement('span');
      file.className = 'muted';
      file.textContent = ` in ${account.file}`;
      item.append(name, from, file);
      list.append(item);
    }
    accounts.append(title, list);
  }
  box.append(accounts);
}

/** Puts a chosen program in place of the command's first word, keeping the arguments after it. */
function replaceProgram(command: string, path: string): string {
  const firstWord = /^\s*(?:'[^']*'|"(?:\\.|[^"\\])*"|\\.|[^\s'"\\])+/.exec(command);
  const rest = firstWord ? command.slice(firstWord[0].length) : '';
  const quoted = /^[A-Za-z0-9_@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
  return `${quoted}${rest || ' -f %F --'}`;
}
