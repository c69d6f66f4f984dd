import type { SecretStore, RelayOptions, TlsOptions } from '../../src-relay/index';
import type { AppSettings } from '../contract/api';
import { AppOutbox, type AppOutboxOptions } from '../outbox/app-outbox';
import { AppLog } from './app-log';
import { AppStatus } from './app-status';
import { MailTally } from './mail-tally';
import { RelayHost } from './relay-host';
import { CurrentSettings } from './settings';

export interface AppCoreOptions {
  secrets: SecretStore;
  /** The settings the app starts with (loaded from settings.json); CurrentSettings owns them from then on. */
  settings: AppSettings;
  /** Engine options the settings do not cover (limits, stop grace); tests shorten timeouts here. */
  engineOptions?: Partial<RelayOptions>;
  logCapacity?: number;
  now?: () => number;
  /** The key and certificate for STARTTLS when the settings turn TLS on (tls-cert.ts makes and renews them). */
  tlsCertificate?: () => Promise<TlsOptions>;
  /** The outbox folder (in the app's data folder); without one, mail that cannot go out now is refused with 451. */
  outboxDir?: string;
  /** The outbox's retry timing; tests lengthen or shorten it. */
  outboxTiming?: AppOutboxOptions['timing'];
}

/** The desktop app's state without Electron, one owner per piece; main.ts and the tests build it the same way. */
export interface AppCore {
  readonly settings: CurrentSettings;
  readonly log: AppLog;
  readonly status: AppStatus;
  readonly relay: RelayHost;
  /** Null when the app runs without an outbox folder. */
  readonly outbox: AppOutbox | null;
  /** The network came back or the computer woke: kept mail is tried now rather than at its next turn. */
  networkBack(why: 'online' | 'resume'): void;
}

/** Wires the parts: who listens to whom. Each part keeps its own state. */
export function createAppCore(options: AppCoreOptions): AppCore {
  const now = options.now ?? Date.now;
  const settings = new CurrentSettings(options.settings);
  const log = new AppLog(options.logCapacity, now);
  const tally = new MailTally(now);
  const outbox = options.outboxDir ? new AppOutbox({
    dir: options.outboxDir,
    timing: options.outboxTiming,
    keepUnsent: () => settings.current().keepUnsent,
    onEvent: (event) => {
      log.event(event);
      if (event.type === 'outbox' && tally.onOutbox(event)) status.changed();
    },
    onCounts: () => status.changed(),
    onUnavailable: (message) => status.addNotice(message),
  }) : null;
  const relay = new RelayHost({
    secrets: options.secrets,
    settings: () => settings.current(),
    log,
    outbox,
    ...(options.engineOptions ? { engineOptions: options.engineOptions } : {}),
    ...(options.tlsCertificate ? { tlsCertificate: options.tlsCertificate } : {}),
  });
  const status: AppStatus = new AppStatus({ engine: () => relay.state(), tally, outboxCounts: () => outbox?.counts }, log);
  relay.onStateChange(() => status.changed());
  relay.onEvent((event) => {
    if (event.type !== 'mail') return;
    tally.onMail(event);
    status.changed();
    // Only a kept mail changes the outbox; its own tries refresh through its events.
    if (event.outcome === 'queued') outbox?.refresh();
  });
  // The Outbox pane shows the keepUnsent setting.
  settings.onChange(() => outbox?.refresh());

  const networkBack = (why: 'online' | 'resume') => {
    const counts = outbox?.counts;
    if (!relay.running || !counts || counts.waiting === 0 || counts.paused) return;
    log.app('info', `${why === 'resume' ? 'the computer woke up' : 'the network is back'}: trying the waiting mail now`);
    void outbox?.retry(null);
  };
  return { settings, log, status, relay, outbox, networkBack };
}
