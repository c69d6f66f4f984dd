import type { AccountView, AccountsView, RendererApi } from '../electron/contract/api';
import { mountAccountForm, type AccountForm } from './account-form.js';
import { busy, byId, keepFocus, toast } from './dom.js';

/**
 * The Accounts pane: every account msmtp reads, in msmtp's order, the default one marked, the senders no account
 * matches, and for the accounts the app wrote Edit / Verify again / Remove. Hand-written accounts are read-only.
 */
export interface AccountsPane {
  refresh(): Promise<void>;
  /** Opens the Add form (the health check's button), with an address when one is known. */
  add(address?: string): void;
  /** Opens the form for an app-written account sending as this address, else the Add form with it. */
  fix(address: string): void;
}

export function mountAccountsPane(api: RendererApi): AccountsPane {
  let view: AccountsView | null = null;
  let confirming: string | null = null;
  const form: AccountForm = mountAccountForm(api, () => void refresh());

  const refresh = async () => {
    view = await api.listAccounts();
    show(view);
  };

  const show = (current: AccountsView) => {
    byId('accounts-file').textContent = current.file;
    const problem = byId('accounts-problem');
    problem.hidden = !current.problem;
    problem.textContent = current.problem ? `msmtp would not accept ${current.file}: ${current.problem}` : '';
    const list = byId('accounts-list');
    // A redraw (a push, a removal) keeps the focus on the same button of the same account, or the pane's heading.
    keepFocus(list, () => list.replaceChildren(...current.accounts.map((account) => item(account))),
      () => document.querySelector<HTMLElement>('#pane-accounts h1'));
    byId('accounts-empty').hidden = current.accounts.length > 0;
    showUnmatched(current);
    const needing = current.accounts.filter((account) => account.attention).length;
    const count = byId('accounts-attention-count');
    count.hidden = needing === 0;
    count.textContent = String(needing);
    count.setAttribute('aria-label', `${needing} ${needing === 1 ? 'account needs' : 'accounts need'} attention`);
  };

  const item = (account: AccountView): HTMLLIElement => {
    const li = document.createElement('li');
    li.className = 'account';
    li.dataset.account = account.name;
    li.dataset.key = account.name;
    if (account.attention) li.dataset.attention = 'true';
    const head = document.createElement('div');
    head.className = 'account-head';
    const name = document.createElement('h2');
    name.textContent = account.name;
    head.append(name);
    if (account.isDefault) head.append(badge('default', 'Default account'));
    head.append(account.appWritten ? badge('app', 'Written by msmtp Relay') : badge('hand', 'Hand-written: read-only'));
    if (account.attention) head.append(badge('attention', 'Needs attention'));
    li.append(head);
    const facts = document.createElement('dl');
    facts.className = 'account-facts';
    fact(facts, 'From', account.from.length > 0 ? account.from.join(', ') : 'no From address: used only as the default or with --account');
    fact(facts, 'Server', account.host ? `${account.host}${account.port ? `:${account.port}` : ''}${account.tls ? ` (${account.tls === 'tls' ? 'TLS' : 'STARTTLS'})` : ''}` : 'none set');
    if (account.user) fact(facts, 'User name', account.user);
    fact(facts, 'Password', account.passwordWords, account.password === 'missing' ? 'bad' : undefined);
    fact(facts, 'File', account.file);
    li.append(facts);
    if (account.attention) {
      const why = document.createElement('p');
      why.className = 'account-attention';
      why.textContent = account.appWritten
        ? `${account.attention} Its mail waits in the outbox. Enter the password again and verify it.`
        : `${account.attention} Its mail waits in the outbox. Fix its password in ${account.file}, then Retry now in the Outbox.`;
      li.append(why);
    }
    if (account.appWritten) li.append(actions(account));
    return li;
  };

  const actions = (account: AccountView): HTMLElement => {
    const row = document.createElement('div');
    row.className = 'row account-actions';
    const address = account.from[0] ?? '';
    const edit = button('Edit', account.name, 'edit');
    edit.addEventListener('click', () => form.edit(account));
    const verify = button('Verify again', account.name, 'verify');
    verify.addEventListener('click', () => form.edit(account, true));
    const remove = button(confirming === account.name ? 'Click again to remove' : 'Remove', account.name, 'remove');
    remove.className = confirming === account.name ? 'danger' : 'subtle';
    remove.addEventListener('click', () => {
      if (confirming !== account.name) {
        confirming = account.name;
        if (view) show(view);
        return;
      }
      confirming = null;
      void busy(remove, async () => {
        const result = await api.removeAccount(address);
        if (result.ok) toast(result.message ?? 'Removed');
        else toast(result.error, 'error');
        await refresh();
      });
    });
    row.append(edit, verify, remove);
    return row;
  };

  byId<HTMLButtonElement>('btn-account-add').addEventListener('click', () => form.add());
  const again = byId<HTMLButtonElement>('btn-account-refresh');
  again.addEventListener('click', () => void busy(again, refresh));

  return {
    refresh,
    add: (address) => form.add(address),
    fix: (address) => {
      const own = view?.accounts.find((account) => account.appWritten && account.from.some((from) => from.toLowerCase() === address.toLowerCase()));
      if (own) form.edit(own, true);
      else form.add(address);
    },
  };
}

function showUnmatched(view: AccountsView): void {
  const box = byId('accounts-unmatched');
  box.hidden = view.unmatched.length === 0 || view.accounts.length === 0;
  byId('accounts-unmatched-lead').textContent = view.defaultAccount
    ? `No account has these From addresses, so msmtp sends their mail through the default account “${view.defaultAccount}”: through the wrong provider, which may refuse it or mark it as spam. Add an account for each.`
    : 'No account has these From addresses, and there is no default account: msmtp refuses their mail. Add an account for each.';
  byId('accounts-unmatched-list').replaceChildren(...view.unmatched.map((sender) => {
    const li = document.createElement('li');
    const address = document.createElement('span');
    address.className = 'mono';
    address.textContent = sender.address;
    li.append(address, ` (${sender.where})`);
    return li;
  }));
}

function badge(kind: string, text: string): HTMLSpanElement {
  const span = document.createElement('span');
  span.className = `badge account-badge-${kind}`;
  span.textContent = text;
  return span;
}

function fact(list: HTMLDListElement, term: string, value: string, tone?: 'bad'): void {
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  dd.textContent = value;
  if (tone) dd.dataset.tone = tone;
  list.append(dt, dd);
}

/** A row's button; screen readers hear which account it is for ("Remove, account ann@example.org"). */
function button(text: string, account: string, action: string): HTMLButtonElement {
  const node = document.createElement('button');
  node.type = 'button';
  node.dataset.action = action;
  node.textContent = text;
  node.setAttribute('aria-label', `${text}, account ${account}`);
  return node;
}
