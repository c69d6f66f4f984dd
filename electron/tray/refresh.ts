import type { TrayItem, TrayLook, TrayModel } from './model';

/** The parts of the tray that differ from what it shows now; an absent part stays as it is. */
export interface TrayChanges {
  look?: TrayLook;
  tooltip?: string;
  items?: TrayItem[];
}

/**
 * Decides what the tray must redo for a new model, without Electron. A new context menu replaces an open one (and on
 * Linux goes over D-Bus as a whole new layout), so it is set only when a label or the structure changed, not on every
 * status event.
 */
export class TrayRefresh {
  private shown: TrayModel | null = null;

  next(model: TrayModel): TrayChanges {
    const before = this.shown;
    this.shown = { ...model, items: model.items.map((item) => ({ ...item })) };
    const changes: TrayChanges = {};
    if (!before || before.look !== model.look) changes.look = model.look;
    if (!before || before.tooltip !== model.tooltip) changes.tooltip = model.tooltip;
    if (!before || !sameItems(before.items, model.items)) changes.items = this.shown.items;
    return changes;
  }
}

export function sameItems(a: readonly TrayItem[], b: readonly TrayItem[]): boolean {
  return a.length === b.length && a.every((item, index) => sameItem(item, b[index]!));
}

function sameItem(a: TrayItem, b: TrayItem): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'separator') return true;
  if (a.label !== (b as { label: string }).label) return false;
  return a.kind !== 'action' || a.action === (b as { action: string }).action;
}
