/** The Accounts pane's list, worded: what listAccounts found, with the details of the app's own blocks. */
import type { AccountPasswordPlace, AccountTls, AccountView } from '../contract/api';
import type { ListedAccount, MsmtprcModel } from '../../src-relay/index';

export const PASSWORD_WORDS: Readonly<Record<AccountPasswordPlace, string>> = {
  keyring: 'msmtp finds its password in the key ring',
  file: 'The password is written in the file itself',
  passwordeval: 'msmtp runs a command (passwordeval) to get the password',
  missing: 'No password: msmtp will not be able to log in',
  'not-needed': 'No login (auth is off)',
  unknown: 'The key ring could not be asked whether it holds the password',
};

/** The file as the user knows it: ~/.msmtprc rather than /home/ann/.msmtprc. */
export function tildePath(file: string, home: string): string {
  return home && file.startsWith(`${home}/`) ? `~${file.slice(home.length)}` : file;
}

export function accountView(listed: ListedAccount, model: MsmtprcModel | null, home: string, attention?: string): AccountView {
  const settings = model?.accounts.find((account) => account.name === listed.name)?.settings;
  const tls = tlsMode(settings);
  const trust = settings?.get('tls_trust_file');
  const pin = settings?.get('tls_fingerprint');
  return {
    name: listed.name,
    file: tildePath(listed.file, home),
    ...(listed.host !== undefined ? { host: listed.host } : {}),
    ...(listed.port !== undefined ? { port: listed.port } : {}),
    ...(listed.user !== undefined ? { user: listed.user } : {}),
    ...(tls ? { tls } : {}),
    ...(trust && trust !== 'system' ? { tlsTrustFile: trust } : {}),
    ...(pin ? { tlsFingerprint: pin } : {}),
    from: [...listed.from],
    isDefault: listed.isDefault,
    appWritten: listed.appWritten,
    password: listed.password,
    passwordWords: PASSWORD_WORDS[listed.password],
    ...(attention ? { attention } : {}),
  };
}

/** msmtp's TLS mode for an account: TLS from the first byte, STARTTLS, or none (undefined). */
function tlsMode(settings: ReadonlyMap<string, string> | undefined): AccountTls | undefined {
  if (!settings || settings.get('tls') !== 'on') return undefined;
  return settings.get('tls_starttls') === 'off' ? 'tls' : 'starttls';
}
