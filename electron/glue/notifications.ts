import { Notification } from 'electron';
import type { AppCore } from '../core/app-core';
import { NoticeHold, NotifyPolicy, type Notice } from '../desktop/notify-policy';

export interface NotificationPlaces {
  /** The notifications setting. */
  enabled(): boolean;
  windowFocused(): boolean;
  icon: string;
  /** A click opens the window (on Linux the notification's default action; macOS and Windows alike). */
  clicked(): void;
}

type AccountTrouble = Parameters<NotifyPolicy['onAccountAttention']>[0];

/**
 * Desktop notifications: notify-policy.ts decides what is worth one, this only shows them. Returns what the accounts
 * service calls when an account needs the user.
 */
export function watchNotifications(core: AppCore, places: NotificationPlaces): (trouble: AccountTrouble) => void {
  const policy = new NotifyPolicy({ enabled: () => places.enabled(), windowFocused: () => places.windowFocused() });
  // Held until clicked, closed or failed, for an hour at most (notify-policy.ts NoticeHold says why).
  const shown = new NoticeHold<Notification>(60 * 60 * 1000);
  const show = (notice: Notice | null) => {
    if (!notice || !Notification.isSupported()) return;
    const notification = new Notification({ title: notice.title, body: notice.body, icon: places.icon });
    notification.on('click', () => {
      shown.release(notification);
      places.clicked();
    });
    notification.on('close', () => shown.release(notification));
    notification.on('failed', () => shown.release(notification));
    shown.add(notification);
    notification.show();
  };
  core.status.onStatus((status) => show(policy.onStatus(status)));
  core.relay.onEvent((event) => {
    if (event.type === 'mail') show(policy.onMail(event));
  });
  core.outbox?.onGaveUp((mail) => show(policy.onGaveUp(mail)));
  return (trouble) => show(policy.onAccountAttention(trouble));
}
