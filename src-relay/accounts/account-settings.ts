/** One msmtp account's server settings, as found for an address or typed by the user. */
export type TlsMode = 'tls' | 'starttls';

export interface AccountSettings {
  /** The From address the account sends as. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMode;
  /** The login name, exactly as the provider wants it. */
  readonly user: string;
  /** A CA or certificate file msmtp should trust instead of the system's (Proton Bridge), if any. */
  readonly tlsTrustFile?: string;
  /** A SHA-256 fingerprint msmtp should pin (tls_fingerprint), if any. */
  readonly tlsFingerprint?: string;
}
