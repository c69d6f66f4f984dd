import type { RendererApi, TestMailResult } from '../electron/contract/api';
import { announce, busy, byId } from './dom.js';

/** "Send a test mail" in the Relay pane: the address (msmtp's default From to start with) and the result. */
export function mountTestMail(api: RendererApi): void {
  const to = byId<HTMLInputElement>('f-test-to');
  const button = byId<HTMLButtonElement>('btn-test-mail');
  void api.testMailDefaults().then((defaults) => {
    if (defaults.to && to.value === '') to.value = defaults.to;
  });
  button.addEventListener('click', () => {
    const box = byId('test-mail-result');
    box.hidden = false;
    box.dataset.ok = 'pending';
    box.replaceChildren(line('check-head', 'Sending…'));
    void busy(button, async () => {
      const result = await api.sendTestMail(to.value.trim());
      show(result);
      announce(byId('test-mail-result').querySelector('.check-head')?.textContent ?? result.headline);
    });
  });
  to.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      button.click();
    }
  });
}

function show(result: TestMailResult): void {
  const box = byId('test-mail-result');
  box.dataset.ok = result.outcome === 'sent' ? 'true' : result.outcome === 'queued' ? 'pending' : 'false';
  box.dataset.outcome = result.outcome;
  const mark = result.outcome === 'sent' ? '✓' : result.outcome === 'queued' ? '…' : '✗';
  const facts = document.createElement('dl');
  facts.className = 'test-facts';
  const fact = (name: string, value: string | undefined, key: string) => {
    if (!value) return;
    const term = document.createElement('dt');
    term.textContent = name;
    const data = document.createElement('dd');
    data.dataset.fact = key;
    data.textContent = value;
    facts.append(term, data);
  };
  fact('msmtp account', result.account ? `${result.account}${result.accountFile ? ` (${result.accountFile})` : ''}` : undefined, 'account');
  fact('From → To', `${result.from} → ${result.to}`, 'envelope');
  if (result.encrypted !== undefined) fact('To the relay', result.encrypted ? 'STARTTLS, certificate verified' : 'not encrypted (on this computer only)', 'connection');
  fact('Failed at', result.stage, 'stage');
  fact('Provider said', result.providerReply, 'provider');
  fact('What to do', result.advice, 'advice');
  box.replaceChildren(line('check-head', `${mark} ${result.headline}`), facts);
  if (result.said) {
    const said = document.createElement('pre');
    said.className = 'test-said';
    said.textContent = result.said;
    box.append(line('muted', 'msmtp said:'), said);
  }
}

function line(className: string, text: string): HTMLParagraphElement {
  const element = document.createElement('p');
  element.className = className;
  element.textContent = text;
  return element;
}
