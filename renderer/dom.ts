/**
 * The DOM helpers the panes share, accessibility included, so a new pane gets the same behaviour by using them:
 * - `announce`: the window's one polite live region (#announcer); every result and error is said once through it.
 * - `busy` / `setEnabled`: a button is never `disabled` (that drops the focus to the page); it is aria-disabled,
 *   and `guardDisabledButtons` swallows clicks (and Enter, Space, form submission) on an aria-disabled button.
 * - `keepFocus`: redraws a list or box without losing the focus that was inside it.
 * - `mountTabList`: the ARIA tab pattern (roving tabindex, arrow keys, Home, End, aria-controls).
 * - `linkDescriptions`: every hint and error with `data-describes="<control id>"` describes that control.
 */

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`missing element #${id}`);
  return element as T;
}

/** How long an announcement stays in the live region (a screen reader reads it once, when it is added). */
const SPOKEN_MS = 7000;

/** Says a message once through the polite live region #announcer: each call adds its own node, so nothing is lost. */
export function announce(message: string): void {
  const region = byId('announcer');
  const said = document.createElement('p');
  said.textContent = message;
  region.append(said);
  window.setTimeout(() => said.remove(), SPOKEN_MS);
}

let toastTimer: number | undefined;

/**
 * A short message at the bottom of the window ("Copied port"); errors stay a little longer. It is also announced,
 * unless the caller announces the same thing its own way (`announced: false`).
 */
export function toast(message: string, kind: 'info' | 'error' = 'info', options: { announced?: boolean } = {}): void {
  const box = byId('toast');
  box.textContent = message;
  box.dataset.kind = kind;
  box.hidden = false;
  if (options.announced !== false) announce(message);
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => {
    box.hidden = true;
  }, kind === 'error' ? 6000 : 2500);
}

function refreshDisabled(button: HTMLButtonElement): void {
  const off = button.dataset.off === 'true' || button.dataset.busy === 'true';
  if (off) button.setAttribute('aria-disabled', 'true');
  else button.removeAttribute('aria-disabled');
}

/** Enables or disables a button without taking the focus from it: aria-disabled, guarded by guardDisabledButtons. */
export function setEnabled(button: HTMLButtonElement, enabled: boolean): void {
  if (enabled) delete button.dataset.off;
  else button.dataset.off = 'true';
  refreshDisabled(button);
}

/**
 * Runs a button's action once at a time: while it runs the button is aria-disabled (and a second click is ignored)
 * but keeps the focus, so a keyboard user stays where they were. Resolves to undefined when it was already running.
 */
export async function busy<T>(button: HTMLButtonElement, work: () => Promise<T>): Promise<T | undefined> {
  if (button.dataset.busy === 'true') return undefined;
  button.dataset.busy = 'true';
  refreshDisabled(button);
  try {
    return await work();
  } finally {
    delete button.dataset.busy;
    refreshDisabled(button);
  }
}

/** Once per window: a click on an aria-disabled button (by mouse, Enter, Space or implicit form submission) does nothing. */
export function guardDisabledButtons(root: Document = document): void {
  root.addEventListener('click', (event) => {
    const button = (event.target as Element | null)?.closest?.('button');
    if (button?.getAttribute('aria-disabled') === 'true') {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
}

const FOCUSABLE = 'button, input, select, textarea, summary, a[href], [tabindex]';

/** Where a focused element is, in words that survive a redraw: its id, or its item's data-key and what it does. */
function focusKey(element: HTMLElement, container: HTMLElement): { item: HTMLElement | null; what: string; key: string } {
  const found = element.closest<HTMLElement>('[data-key]');
  const item = found && container.contains(found) && found !== container ? found : null;
  const scope = item ?? container;
  const what = element.id
    ? `#${element.id}`
    : element.dataset.action ?? element.dataset.copy ?? `${element.tagName}:${[...scope.querySelectorAll(FOCUSABLE)].indexOf(element)}`;
  return { item, what, key: `${item?.dataset.key ?? ''}/${what}` };
}

/** Gives an element the focus; one that is not focusable by itself (a heading) becomes so for scripts only. */
export function focusOn(element: HTMLElement): void {
  if (!element.matches(FOCUSABLE)) element.tabIndex = -1;
  element.focus({ preventScroll: false });
}

/**
 * Redraws `container` (a list, a box of cards) and puts the focus back if it was inside: on the same control when it
 * is drawn again; else, when its item (an element with data-key) is gone, on the same control of the item now in its
 * place (the next one) or of the one before; else on `fallback` (a heading). Never on the page itself.
 */
export function keepFocus(container: HTMLElement, redraw: () => void, fallback?: () => HTMLElement | null): void {
  const active = document.activeElement;
  if (!(active instanceof HTMLElement) || !container.contains(active) || active === container) {
    redraw();
    return;
  }
  const before = focusKey(active, container);
  // The items of the container itself, not items nested in them.
  const items = () => [...container.querySelectorAll<HTMLElement>('[data-key]')].filter((item) => {
    const outer = item.parentElement?.closest('[data-key]');
    return !outer || outer === container || !container.contains(outer);
  });
  const index = before.item ? items().indexOf(before.item) : -1;
  redraw();
  if (container.contains(document.activeElement) && document.activeElement !== container) return;
  const same = [...container.querySelectorAll<HTMLElement>(FOCUSABLE)].find((element) => focusKey(element, container).key === before.key);
  if (same) {
    focusOn(same);
    return;
  }
  if (index >= 0) {
    const now = items();
    for (const item of [now[index], now[index - 1]]) {
      if (!item) continue;
      const target = [...item.querySelectorAll<HTMLElement>(FOCUSABLE)].find((element) => focusKey(element, container).what === before.what)
        ?? item.querySelector<HTMLElement>(FOCUSABLE);
      if (target) {
        focusOn(target);
        return;
      }
    }
  }
  const last = fallback?.();
  if (last) focusOn(last);
}

/**
 * The ARIA tab pattern on a role=tablist whose role=tab children name their panel (`aria-controls`, or
 * `data-pane="x"` for #pane-x): one tab stop (roving tabindex), Up/Down and Left/Right move and select (wrapping),
 * Home and End go to the first and last tab, a click selects. Selecting shows its panel and hides the others.
 */
export function mountTabList(list: HTMLElement, onSelect: (tab: HTMLElement) => void = () => undefined): { select(tab: HTMLElement): void } {
  const tabs = () => [...list.querySelectorAll<HTMLElement>('[role="tab"]')];
  const panelOf = (tab: HTMLElement) => {
    if (!tab.hasAttribute('aria-controls') && tab.dataset.pane) tab.setAttribute('aria-controls', `pane-${tab.dataset.pane}`);
    return document.getElementById(tab.getAttribute('aria-controls') ?? '');
  };
  if (!list.hasAttribute('aria-orientation')) list.setAttribute('aria-orientation', 'vertical');

  const select = (chosen: HTMLElement) => {
    for (const tab of tabs()) {
      const selected = tab === chosen;
      tab.setAttribute('aria-selected', String(selected));
      tab.tabIndex = selected ? 0 : -1;
      const panel = panelOf(tab);
      if (panel) panel.hidden = !selected;
    }
    onSelect(chosen);
  };

  list.addEventListener('click', (event) => {
    const tab = (event.target as Element).closest<HTMLElement>('[role="tab"]');
    if (tab && list.contains(tab)) select(tab);
  });
  list.addEventListener('keydown', (event) => {
    const all = tabs();
    const current = all.indexOf(event.target as HTMLElement);
    if (current < 0) return;
    const next = {
      ArrowDown: current + 1, ArrowRight: current + 1, ArrowUp: current - 1, ArrowLeft: current - 1, Home: 0, End: all.length - 1,
    }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    const tab = all[(next + all.length) % all.length]!;
    select(tab);
    tab.focus();
  });
  const initial = tabs().find((tab) => tab.getAttribute('aria-selected') === 'true') ?? tabs()[0];
  if (initial) {
    for (const tab of tabs()) panelOf(tab);
    select(initial);
  }
  return { select };
}

/**
 * Links every hint and error inside `root` that names its control (`data-describes="<control id>"`) to that control
 * through aria-describedby, so a screen reader reads the hint, and the error once there is one, with the field.
 */
export function linkDescriptions(root: ParentNode = document): void {
  let made = 0;
  for (const description of root.querySelectorAll<HTMLElement>('[data-describes]')) {
    const control = document.getElementById(description.dataset.describes!);
    if (!control) continue;
    if (!description.id) description.id = `${control.id}-desc-${++made}`;
    const ids = (control.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean);
    if (!ids.includes(description.id)) control.setAttribute('aria-describedby', [...ids, description.id].join(' '));
  }
}

/** The visible label of a control, for messages that name it ("Port: …"). */
export function labelOf(control: HTMLElement): string {
  const label = control.id ? document.querySelector<HTMLLabelElement>(`label[for="${control.id}"]`) : null;
  return (label ?? control.closest('label'))?.textContent?.trim() ?? control.getAttribute('aria-label') ?? '';
}
