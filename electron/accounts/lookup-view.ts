/** A lookup's answer as the window shows it: the settings, where they came from in words, and the provider's advice. */
import type { AccountLookupView, AccountSource } from '../contract/api';
import type { LookupFound, LookupResult } from '../../src-relay/index';

const SOURCE_WORDS: Readonly<Record<AccountSource, string>> = {
  bundled: 'msmtp Relay\'s own provider table',
  autoconfig: 'the provider\'s configuration file',
  'well-known': 'the provider\'s configuration file (well-known address)',
  ispdb: 'Thunderbird\'s provider database',
  mx: 'the domain\'s mail servers (MX records)',
  srv: 'the domain\'s SRV records',
  probe: 'a guess: a server answered on a usual name',
};

export function sourceWords(found: LookupFound): string {
  const base = SOURCE_WORDS[found.source];
  return found.providerName ? `${base} (${found.providerName})` : base;
}

/** The provider pages the window may ask to open: https only, and only from the app's own table. */
export interface ProviderPages {
  appPassword?: string;
  enableAccess?: string;
}

export function providerPages(found: LookupFound): ProviderPages {
  const https = (url: string | undefined) => (url && /^https:\/\/[^\s/]+\//.test(url) ? url : undefined);
  // appPasswordUrl only ever comes from the hand-kept overlay; an "enable access" link is ours only when the
  // settings came from the bundled table (a provider's own autoconfig file could point anywhere).
  const appPassword = https(found.appPasswordUrl);
  const enableAccess = found.source === 'bundled' ? https(found.enableAccessUrl) : undefined;
  return { ...(appPassword ? { appPassword } : {}), ...(enableAccess ? { enableAccess } : {}) };
}

export function lookupView(result: LookupResult): AccountLookupView {
  if (!result.found) return { found: false, tried: [...result.tried], warnings: [...result.warnings] };
  const pages = providerPages(result);
  const s = result.settings;
  return {
    found: true,
    settings: { address: s.address, host: s.host, port: s.port, tls: s.tls, user: s.user },
    source: result.source,
    sourceWords: sourceWords(result),
    ...(result.providerName ? { providerName: result.providerName } : {}),
    needsConfirmation: result.needsConfirmation,
    ...(result.confirmReason ? { confirmReason: result.confirmReason } : {}),
    appPasswordPage: pages.appPassword !== undefined,
    passwordNeverWorks: result.passwordNeverWorks === true,
    ...(result.enableAccessFirst ? { enableAccessFirst: result.enableAccessFirst } : {}),
    enableAccessPage: pages.enableAccess !== undefined,
    needsTrust: result.needsTrust === true,
    notes: [...result.notes],
    warnings: [...result.warnings],
  };
}
