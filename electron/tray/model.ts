import { lastMailFailed, mailsSentToday, runningLine } from './status-text';
import type { RelayFacts } from '../contract/api';

/** What the tray shows for a status, as data; tray.ts turns it into an Electron Tray and Menu. */
export type TrayLook = 'running' | 'stopped' | 'error';

export type TrayAction = 'toggle' | 'settings' | 'copy-setup' | 'open-log' | 'quit';

export type TrayItem =
  | { kind: 'label'; label: string }
  | { kind: 'separator' }
  | { kind: 'action'; action: TrayAction; label: string };

export interface TrayModel {
  look: TrayLook;
  tooltip: string;
  items: TrayItem[];
}

/**
 * The relay is running but the last mail did not go out, or the outbox gave one up: the user should look, so the
 * tray says error. A mail kept in the outbox is safe and goes out by itself: the count of waiting mails says enough.
 */
export function trayLook(status: RelayFacts): TrayLook {
  if (status.state === 'error' || trayProblems(status).length > 0) return 'error';
  if (status.state === 'stopped') return 'stopped';
  return lastMailFailed(status) ? 'error' : 'running';
}

export function statusLine(status: RelayFacts): string {
  switch (status.state) {
    case 'running':
      return runningLine(status.host, status.port);
    case 'stopped':
      return 'Stopped';
    case 'error':
      return `Error: ${status.error ?? 'unknown error'}`;
  }
}

export function mailsLine(status: RelayFacts): string {
  const count = mailsSentToday(status.mailsToday);
  if (!status.lastMail) return count;
  const result = status.lastMail.outcome === 'delivered' ? 'last: delivered' : `last: ${status.lastMail.outcome}`;
  return `${count} (${result})`;
}

/** How many mails the outbox holds, when it holds any or sending is paused; else null. */
export function outboxLine(status: RelayFacts): string | null {
  const counts = status.outbox;
  if (!counts || (counts.waiting === 0 && counts.failed === 0 && !counts.paused)) return null;
  const parts = [
    ...(counts.waiting > 0 || counts.failed === 0 ? [`${counts.waiting} ${counts.waiting === 1 ? 'mail' : 'mails'} waiting to be sent`] : []),
    ...(counts.failed > 0 ? [`${counts.failed} failed`] : []),
  ];
  return `${parts.join(', ')}${counts.paused ? ' (sending paused)' : ''}`;
}

export function trayModel(status: RelayFacts): TrayModel {
  const items: TrayItem[] = [
    { kind: 'label', label: truncate(statusLine(status), 80) },
    { kind: 'label', label: mailsLine(status) },
  ];
  const kept = outboxLine(status);
  if (kept) items.push({ kind: 'label', label: kept });
  if (status.lastMail && status.lastMail.outcome !== 'delivered') {
    items.push({ kind: 'label', label: truncate(`Last mail: ${status.lastMail.summary}`, 80) });
  }
  for (const problem of trayProblems(status)) items.push({ kind: 'label', label: truncate(`Problem: ${problem.title}`, 80) });
  items.push(
    { kind: 'separator' },
    { kind: 'action', action: 'toggle', label: status.state === 'running' ? 'Stop relay' : 'Start relay' },
    { kind: 'action', action: 'settings', label: 'Settings…' },
    { kind: 'action', action: 'copy-setup', label: 'Copy mail client settings' },
    { kind: 'action', action: 'open-log', label: 'Open log file' },
    { kind: 'separator' },
    { kind: 'action', action: 'quit', label: 'Quit msmtp Relay' },
  );
  return { look: trayLook(status), tooltip: `msmtp Relay: ${truncate(statusLine(status), 100)}`, items };
}

/**
 * The icon file for a look. macOS menu bars want monochrome "Template" images that the system tints; the three
 * looks differ by shape there, by colour elsewhere. Electron picks the @2x file next to a named PNG by itself;
 * Windows wants one .ico holding every size its display scales need.
 */
export function trayIconFile(look: TrayLook, platform: NodeJS.Platform): string {
  if (platform === 'darwin') return `tray-${look}Template.png`;
  if (platform === 'win32') return `tray-${look}.ico`;
  return `tray-${look}.png`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The health problems the tray shows as its error state; "no tray" is for the window only (there is no tray). */
export function trayProblems(status: RelayFacts): NonNullable<RelayFacts['problems']> {
  return (status.problems ?? []).filter((problem) => problem.kind !== 'no-tray');
}
