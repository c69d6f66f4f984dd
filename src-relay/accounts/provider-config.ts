/**
 * A provider's outgoing servers as Thunderbird's autoconfig format describes them (ISPDB rows, a provider's own
 * config-v1.1.xml), and the one rule that turns them into msmtp settings for an address.
 */
import type { AccountSettings, TlsMode } from './account-settings';

/** How the provider says to talk to a server: SSL (TLS from the first byte), STARTTLS, or plain (never used). */
export type SocketType = TlsMode | 'plain';

export interface SmtpServerEntry {
  /** Host name; may hold %EMAILDOMAIN%. */
  readonly host: string;
  readonly port: number;
  readonly socket: SocketType;
  /** Login name template: %EMAILADDRESS%, %EMAILLOCALPART%, %EMAILDOMAIN% and literal text. */
  readonly user: string;
  /** The `<authentication>` values as written (password-cleartext, OAuth2, ...). */
  readonly auth: readonly string[];
}

export interface ProviderConfig {
  readonly id: string;
  readonly name?: string;
  readonly domains: readonly string[];
  /** In the provider's order of preference. */
  readonly smtp: readonly SmtpServerEntry[];
  /** The provider's "enable access first" step (ISPDB `<enable>`), in English. */
  readonly enable?: { readonly url?: string; readonly text?: string };
}

const PLACEHOLDER = /%(EMAILADDRESS|EMAILLOCALPART|EMAILDOMAIN)%/g;

/** True when a template uses only the placeholders we can fill (a stray `%` means a typo we must not guess at). */
export function isUsableTemplate(template: string): boolean {
  return template.length > 0 && !template.replace(PLACEHOLDER, '').includes('%');
}

export function expandTemplate(template: string, address: string): string {
  const at = address.lastIndexOf('@');
  const values: Record<string, string> = {
    EMAILADDRESS: address,
    EMAILLOCALPART: address.slice(0, at),
    EMAILDOMAIN: address.slice(at + 1).toLowerCase(),
  };
  return template.replace(PLACEHOLDER, (_whole, name: string) => values[name] ?? '');
}

/** Auth methods msmtp can do with a stored password (its `auth on` picks among them). */
const PASSWORD_AUTH = new Set(['password-cleartext', 'plain', 'password-encrypted', 'secure']);

export type ServerChoice =
  | { readonly kind: 'chosen'; readonly settings: AccountSettings; readonly warnings: readonly string[] }
  | { readonly kind: 'plain-only'; readonly warnings: readonly string[] }
  | { readonly kind: 'none'; readonly warnings: readonly string[] };

/**
 * The provider's first server that speaks TLS (SSL or STARTTLS), filled in for the address. A provider that offers
 * only plain SMTP yields no settings: msmtp Relay never writes `tls off` for a password login.
 */
export function chooseServer(config: ProviderConfig, address: string): ServerChoice {
  const usable = config.smtp.filter((server) => isUsableTemplate(server.host) && isUsableTemplate(server.user));
  const secure = usable.filter((server): server is SmtpServerEntry & { socket: TlsMode } => server.socket !== 'plain');
  const withPassword = secure.find((server) => server.auth.length === 0 || server.auth.some((method) => PASSWORD_AUTH.has(method)));
  const server = withPassword ?? secure[0];
  if (!server) {
    if (usable.length > 0) {
      const plain = usable[0]!;
      return {
        kind: 'plain-only',
        warnings: [`${config.name ?? config.id} publishes only unencrypted SMTP (${expandTemplate(plain.host, address)}:${plain.port}); msmtp Relay does not send a password without TLS.`],
      };
    }
    return { kind: 'none', warnings: [] };
  }
  const warnings: string[] = [];
  if (!withPassword) {
    warnings.push(`${config.name ?? config.id} lists only ${server.auth.join(', ')} for ${expandTemplate(server.host, address)}; ` +
      'msmtp Relay logs in with a password, which this server may refuse.');
  }
  const settings: AccountSettings = {
    address,
    host: expandTemplate(server.host, address).toLowerCase(),
    port: server.port,
    tls: server.socket,
    user: expandTemplate(server.user, address),
  };
  return { kind: 'chosen', settings, warnings };
}
