/**
 * Hand-kept facts the ISPDB lacks: where to make an app password, providers whose passwords no longer work, and
 * providers the ISPDB does not list (Fastmail's own domains, Proton Mail through the Proton Mail Bridge). Checked
 * by hand; each entry says why it is here. The generated table (ispdb-table.ts) is never edited.
 */
import type { ProviderConfig } from './provider-config';

export interface ProviderAdvice {
  /** Where the user makes the password msmtp should use (an app password, or the provider's separate mail password). */
  readonly appPasswordUrl?: string;
  /** The provider refuses password logins altogether; msmtp Relay cannot sign in there. */
  readonly passwordNeverWorks?: boolean;
  /** What to switch on in the provider's web settings before a mail program may log in. */
  readonly enableAccessFirst?: string;
  /** More to tell the user, one sentence each. */
  readonly notes?: readonly string[];
  /** A trust file or fingerprint must be set before msmtp can connect (a self-signed local bridge). */
  readonly needsTrust?: boolean;
  /** The ISPDB's "enable access first" step does not concern sending (it is about IMAP), so it is not shown. */
  readonly ignoreEnable?: boolean;
}

/** Advice by ISPDB provider id (the id covers all of the provider's domains). */
export const ADVICE: Readonly<Record<string, ProviderAdvice>> = {
  'googlemail.com': {
    appPasswordUrl: 'https://myaccount.google.com/apppasswords',
    // The ISPDB's step is "enable IMAP access": Gmail's IMAP switch does not govern SMTP submission.
    ignoreEnable: true,
    notes: ['Google takes only an app password from mail programs (2-Step Verification must be on); your Google password is refused.'],
  },
  'yahoo.com': {
    appPasswordUrl: 'https://login.yahoo.com/account/security',
    notes: ['Yahoo takes only an app password from mail programs ("Generate app password" on the account security page).'],
  },
  'aol.com': {
    appPasswordUrl: 'https://login.aol.com/account/security',
    notes: ['AOL takes only an app password from mail programs ("Generate app password" on the account security page).'],
  },
  'me.com': {
    appPasswordUrl: 'https://account.apple.com/account/manage',
    notes: ['iCloud Mail takes only an app-specific password (Sign-In and Security, App-Specific Passwords); the login name is your iCloud address.'],
  },
  'messagingengine.com': {
    appPasswordUrl: 'https://www.fastmail.com/help/clients/apppassword.html',
    notes: ['Fastmail takes only an app password from mail programs (Settings, Privacy & Security, Integrations).'],
  },
  'fastmail.com': {
    appPasswordUrl: 'https://www.fastmail.com/help/clients/apppassword.html',
    notes: ['Fastmail takes only an app password from mail programs (Settings, Privacy & Security, Integrations).'],
  },
  't-online.de': {
    appPasswordUrl: 'https://www.telekom.de/hilfe/apps-dienste/e-mail/programme/passwort-verwalten',
    notes: ['T-Online needs its separate e-mail password (E-Mail-Passwort); the password of the T-Online website does not work.'],
  },
  'hotmail.com': {
    passwordNeverWorks: true,
    notes: [
      'Outlook.com, Hotmail and Live accounts refuse passwords from mail programs since September 2024 (Microsoft sign-in only).',
      'msmtp Relay does not support Microsoft sign-in; use another provider for this address, or a program that supports it.',
    ],
  },
  'proton.me': {
    needsTrust: true,
    notes: [
      'Proton Mail sends through the Proton Mail Bridge, which must be running on this computer.',
      'Use the password the Bridge shows for this address (not your Proton password).',
      'The Bridge uses its own certificate: export it from the Bridge (Settings, Export TLS certificates) and give it as the trust file, or pin its SHA-256 fingerprint.',
    ],
  },
};

/** Providers the ISPDB does not list, in the same form as its rows. */
export const EXTRA_PROVIDERS: readonly ProviderConfig[] = [
  {
    // Fastmail's own domains: the ISPDB lists only messagingengine.com (its MX base domain).
    id: 'fastmail.com',
    name: 'Fastmail',
    domains: ['fastmail.com', 'fastmail.fm'],
    smtp: [{ host: 'smtp.fastmail.com', port: 465, socket: 'tls', user: '%EMAILADDRESS%', auth: ['password-cleartext'] }],
  },
  {
    // The Proton Mail Bridge's defaults: SMTP on 127.0.0.1:1025 with STARTTLS, the login name is the address.
    id: 'proton.me',
    name: 'Proton Mail (Bridge)',
    domains: ['proton.me', 'protonmail.com', 'protonmail.ch', 'pm.me'],
    smtp: [{ host: '127.0.0.1', port: 1025, socket: 'starttls', user: '%EMAILADDRESS%', auth: ['password-cleartext'] }],
  },
];
