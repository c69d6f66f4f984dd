/** What a lookup answers, and how a provider's entry plus its advice become that answer. */
import type { AccountSettings } from './account-settings';
import { chooseServer, type ProviderConfig } from './provider-config';
import { adviceFor } from './provider-table';

/** Which step found the settings, in the order they are tried. */
export type LookupSource = 'bundled' | 'autoconfig' | 'well-known' | 'ispdb' | 'mx' | 'srv' | 'probe';

export interface LookupFound {
  readonly found: true;
  readonly settings: AccountSettings;
  readonly source: LookupSource;
  /** The URL, DNS record or probed host the settings came from. */
  readonly sourceDetail: string;
  readonly providerName?: string;
  /**
   * The settings were learnt from unauthenticated DNS, a guess, or a host outside the mail domain: the user must
   * confirm them before a password is sent there. `confirmReason` says why.
   */
  readonly needsConfirmation: boolean;
  readonly confirmReason?: string;
  /** Where to make the password msmtp should use. */
  readonly appPasswordUrl?: string;
  /** The provider refuses password logins (Outlook.com since September 2024): msmtp Relay cannot sign in. */
  readonly passwordNeverWorks?: boolean;
  /** What to switch on at the provider first, and where. */
  readonly enableAccessFirst?: string;
  readonly enableAccessUrl?: string;
  /** msmtp must be told which certificate to trust (tls_trust_file or tls_fingerprint) before it can connect. */
  readonly needsTrust?: boolean;
  readonly notes: readonly string[];
  readonly warnings: readonly string[];
}

export interface LookupNotFound {
  readonly found: false;
  /** Each step tried and what it found, for the log and the manual form. */
  readonly tried: readonly string[];
  readonly warnings: readonly string[];
}

export type LookupResult = LookupFound | LookupNotFound;

export interface Origin {
  readonly source: LookupSource;
  readonly sourceDetail: string;
  /** Apply the hand-kept advice for the provider's id (only for entries from the ISPDB or our table). */
  readonly trustedId: boolean;
  readonly confirmReason?: string;
  /** The provider's server must get the full address as login name (a custom domain found through its MX). */
  readonly fullAddressLogin?: boolean;
}

/** The answer for a provider entry, or the reason it gives none (plain SMTP only, no usable server). */
export function fromProvider(config: ProviderConfig, address: string, origin: Origin): LookupFound | { readonly refused: readonly string[] } {
  const choice = chooseServer(config, address);
  if (choice.kind !== 'chosen') return { refused: choice.warnings };
  const advice = origin.trustedId ? adviceFor(config.id) : {};
  const settings = origin.fullAddressLogin ? { ...choice.settings, user: address } : choice.settings;
  const enable = advice.ignoreEnable ? undefined : config.enable;
  return {
    found: true,
    settings,
    source: origin.source,
    sourceDetail: origin.sourceDetail,
    ...(config.name ? { providerName: config.name } : {}),
    needsConfirmation: origin.confirmReason !== undefined,
    ...(origin.confirmReason ? { confirmReason: origin.confirmReason } : {}),
    ...(advice.appPasswordUrl ? { appPasswordUrl: advice.appPasswordUrl } : {}),
    ...(advice.passwordNeverWorks ? { passwordNeverWorks: true } : {}),
    ...(enable?.text ? { enableAccessFirst: enable.text } : {}),
    ...(enable?.url ? { enableAccessUrl: enable.url } : {}),
    ...(advice.needsTrust ? { needsTrust: true } : {}),
    notes: advice.notes ?? [],
    warnings: choice.warnings,
  };
}

/** Settings found without a provider entry (SRV, probe): no advice, always to be confirmed. */
export function bare(settings: AccountSettings, source: LookupSource, sourceDetail: string, confirmReason: string): LookupFound {
  return { found: true, settings, source, sourceDetail, needsConfirmation: true, confirmReason, notes: [], warnings: [] };
}
