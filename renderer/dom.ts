/** The few DOM helpers the panes share. */

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`missing element #${id}`);
  return element as T;
}

let toastTimer: number | undefined;

/** A short message at the bottom of the window ("Copied port"); errors stay a little longer. */
export function toast(message: string, kind: 'info' | 'error' = 'info'): void {
  const box = byId('toast');
  box.textContent = message;
  box.dataset.kind = kind;
  box.hidden = false;
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => {
    box.hidden = true;
  }, kind === 'error' ? 6000 : 2500);
}

/** Runs a button's action with the button disabled meanwhile, so a double click does not run it twice. */
export async function busy<T>(button: HTMLButtonElement, work: () => Promise<T>): Promise<T> {
  button.disabled = true;
  try {
    return await work();
  } finally {
    button.disabled = false;
  }
}
