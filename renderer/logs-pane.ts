import type { LogEntry, RendererApi } from '../electron/contract/api';
import { busy, byId, toast } from './dom.js';

const MAX_LINES = 2000;

/** The Logs pane: seeded from the main process's recent lines, then live; filtered in place. */
export interface LogsPane {
  add(entry: LogEntry): void;
  seed(entries: LogEntry[]): void;
  /** The pane became visible: lines added while it was hidden could not scroll it, so show the newest now. */
  shown(): void;
}

export function mountLogsPane(api: RendererApi): LogsPane {
  const list = byId<HTMLOListElement>('log-list');
  const empty = byId('log-empty');
  const filter = byId<HTMLInputElement>('log-filter');
  const kind = byId<HTMLSelectElement>('log-kind');
  let lastSeq = 0;

  const matches = (line: HTMLElement): boolean => {
    const wanted = kind.value;
    if (wanted === 'mail' && line.dataset.kind !== 'mail') return false;
    if (wanted === 'error' && line.dataset.level !== 'error') return false;
    const needle = filter.value.trim().toLowerCase();
    return needle === '' || (line.textContent ?? '').toLowerCase().includes(needle);
  };

  const refreshEmpty = () => {
    const anyVisible = [...list.children].some((child) => !(child as HTMLElement).hidden);
    empty.hidden = anyVisible;
    empty.textContent = list.children.length === 0
      ? 'Nothing logged yet. Send a mail through the relay and it shows up here.'
      : 'No line matches the filter.';
  };

  /** The line for an entry, or null for one already shown (seeded and pushed lines can overlap at startup). */
  const createLine = (entry: LogEntry): HTMLElement | null => {
    if (entry.seq <= lastSeq) return null;
    lastSeq = entry.seq;
    const line = document.createElement('li');
    line.className = 'log-line';
    line.dataset.level = entry.level;
    line.dataset.kind = entry.kind;
    const time = document.createElement('time');
    time.dateTime = new Date(entry.time).toISOString();
    time.textContent = new Date(entry.time).toLocaleTimeString([], { hour12: false });
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.textContent = entry.kind;
    const message = document.createElement('span');
    message.className = 'message';
    message.textContent = entry.message; // textContent: log lines hold addresses and remote text, never markup
    line.append(time, badge, message);
    line.hidden = !matches(line);
    return line;
  };

  const trim = () => {
    while (list.children.length > MAX_LINES) list.firstElementChild!.remove();
  };

  const scrollToNewest = () => {
    list.parentElement!.scrollTop = list.parentElement!.scrollHeight;
  };

  const add = (entry: LogEntry) => {
    const line = createLine(entry);
    if (!line) return;
    const scroller = list.parentElement!;
    const atBottom = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 8;
    list.append(line);
    trim();
    // A visible line settles the empty notice without looking at the other (up to 2000) lines.
    if (line.hidden) refreshEmpty();
    else empty.hidden = true;
    if (atBottom) scrollToNewest();
  };

  /** The window opened: all recent lines in one DOM insertion, one layout, one scroll. */
  const seed = (entries: LogEntry[]) => {
    const fragment = document.createDocumentFragment();
    for (const entry of entries) {
      const line = createLine(entry);
      if (line) fragment.append(line);
    }
    list.append(fragment);
    trim();
    refreshEmpty();
    scrollToNewest();
  };

  const applyFilter = () => {
    for (const child of list.children) (child as HTMLElement).hidden = !matches(child as HTMLElement);
    refreshEmpty();
    scrollToNewest();
  };
  filter.addEventListener('input', applyFilter);
  kind.addEventListener('change', applyFilter);

  const clearButton = byId<HTMLButtonElement>('btn-clear-log');
  clearButton.addEventListener('click', () => {
    void busy(clearButton, async () => {
      await api.clearLog();
      list.replaceChildren();
      refreshEmpty();
    });
  });
  const openButton = byId<HTMLButtonElement>('btn-open-log');
  openButton.addEventListener('click', () => {
    void busy(openButton, async () => {
      const result = await api.openLogFile();
      if (!result.ok) toast(`Could not open the log file: ${result.error}`, 'error');
    });
  });

  refreshEmpty();
  return { add, seed, shown: scrollToNewest };
}
