/**
 * The IPC contract between the settings window and the main process, as types only. main (ipc.ts), the preload
 * and the renderer all compile against this one file; the renderer imports it with `import type`, so it must stay
 * free of runtime code and of imports (the renderer's build sees nothing else of the Node side).
 * Channel name == method name; the push channels are 'log', 'status' and 'outbox'.
 */

/** What the user edits in the Relay pane; stored as JSON in the app's data folder. */
export interface AppSettings {
  /** The delivery command as shell words ("msmtp -f %F --"); split into argv without ever running a shell. */
  command: string;
  /** Interface to listen on: 'localhost' (127.0.0.1 and ::1, the default) or a numeric IPv4 or IPv6 address. */
  host: string;
  port: number;
  /** The user name mail clients authenticate with; its password lives in the OS keyring only. */
  user: string;
  launchAtLogin: boolean;
  /** "Encrypt connections from mail clients": STARTTLS with the app's own self-signed certificate. */
  tls: boolean;
  /** Desktop notifications when the relay stops with an error or a mail fails for good. */
  notifications: boolean;
  /** "Keep mail that can't be sent yet and retry it": a temporary failure is kept in the outbox instead of refused. */
  keepUnsent: boolean;
}

export type SettingsField = keyof AppSettings;

export type SaveResult =
  | { ok: true; settings: AppSettings; status: RelayStatus }
  | { ok: false; errors: Partial<Record<SettingsField, string>> };

export type RelayState = 'stopped' | 'running' | 'error';

/** Why the relay is in the error state; the tray and the window word it for the user. */
export type RelayErrorKind = 'port-in-use' | 'keyring' | 'command-not-found' | 'settings' | 'start-failed';

export type MailOutcome = 'delivered' | 'queued' | 'temp-failed' | 'failed' | 'aborted';

export interface LastMail {
  time: number;
  outcome: MailOutcome;
  /** One line: "to a@b.example: delivered" or the failure reply. */
  summary: string;
}

/** What the relay is doing, as facts; the main process words them once (RelayStatus.words). */
export interface RelayFacts {
  state: RelayState;
  /** Where the relay listens when running, else where it is configured to listen. */
  host: string;
  port: number;
  error?: string;
  errorKind?: RelayErrorKind;
  mailsToday: number;
  lastMail?: LastMail;
  /** Things the user should know that are not relay errors (e.g. a broken settings file that was replaced). */
  notices: string[];
  /** Problems on this machine, each with its cause and fix (empty when all is well); the tray shows error for them. */
  problems?: HealthProblem[];
  /** The outbox, once it is open: mails not sent yet (waiting or being sent), given up, and whether sending is paused. */
  outbox?: OutboxCounts;
}

/** The status in words, worded once in the main process (electron/core/status-text.ts) for the window. */
export interface StatusWords {
  /** "Running on localhost:2500", "Stopped" or "Not running". */
  line: string;
  /** "3 mails sent today". */
  mails: string;
  /** The relay runs but a mail did not go out and will not by itself: the user should look. */
  attention: boolean;
}

export interface RelayStatus extends RelayFacts {
  words: StatusWords;
}

export interface OutboxCounts {
  waiting: number;
  failed: number;
  paused: boolean;
}

/** One kept mail in the Outbox pane. Subject and addresses come from the mail: show them as text, never as markup. */
export interface OutboxMail {
  /** 12 uppercase hex digits. */
  id: string;
  state: 'waiting' | 'sending' | 'failed';
  from: string;
  to: readonly string[];
  subject: string;
  receivedAt: number;
  attempts: number;
  /** When the next try is due (epoch ms); null while it is being sent or once it failed. */
  nextAttemptAt: number | null;
  /** Why the last try failed, in a few words. */
  lastError: string;
  /** msmtp's last words on that try. */
  lastOutput: string;
  /** It was in flight when a relay stopped dead: the provider may have it already. */
  maySendTwice: boolean;
}

export interface SentMail {
  id: string;
  time: number;
  from: string;
  to: readonly string[];
  subject: string;
  attempts: number;
  maySendTwice: boolean;
}

export interface OutboxView {
  /** False when the outbox folder could not be opened; `error` says why. */
  available: boolean;
  error?: string;
  paused: boolean;
  /** The keepUnsent setting: when off, new mail that cannot go out is refused, but what was kept is still sent. */
  keepUnsent: boolean;
  /** Waiting, being sent and failed mails, oldest first. */
  mails: OutboxMail[];
  /** Sent recently (directly or from the outbox), newest first. */
  sent: SentMail[];
}

export type LogLevel = 'info' | 'error';
export type LogKind = 'mail' | 'session' | 'auth' | 'relay' | 'app';

/** One line of the Logs pane; never carries a password or a mail body. */
export interface LogEntry {
  seq: number;
  time: number;
  level: LogLevel;
  kind: LogKind;
  message: string;
}

export interface MsmtpAccount {
  file: string;
  account: string;
  from?: string;
}

export type CommandCheck =
  | { ok: true; program: string; version: string; accounts: MsmtpAccount[] }
  | { ok: false; program?: string; error: string; accounts: MsmtpAccount[] };

/** What a mail client needs; the password is never part of it (it can only be copied to the clipboard). */
export interface ClientSetupView {
  host: string;
  port: number;
  user: string;
  security: 'none' | 'starttls';
  authentication: 'normal-password';
  /** With STARTTLS: the SHA-256 fingerprint of the relay's certificate, for the user to compare. */
  fingerprint?: string;
}

export type CopyItem = 'host' | 'port' | 'user' | 'password' | 'all';

/** A ready-to-paste piece of a guide: settings lines, a config file, a script. Never holds a password. */
export interface GuideSnippet {
  label: string;
  language: 'text' | 'shell' | 'muttrc' | 'python' | 'javascript';
  text: string;
}

/** How to point one mail program at the relay, filled in with the current settings. */
export type GuideId = 'thunderbird' | 'apple-mail' | 'outlook-classic' | 'outlook-new' | 'evolution' | 'kmail' | 'mutt' | 'git-send-email' | 'python' | 'node';

export interface ClientGuide {
  id: GuideId;
  title: string;
  /** False for a program that cannot use a relay on this computer at all (the new Outlook). */
  supported: boolean;
  steps: string[];
  snippets: GuideSnippet[];
  note?: string;
}

/** A Thunderbird profile on this computer, with the identities "Add to Thunderbird" can switch to the relay. */
export interface ThunderbirdProfileView {
  name: string;
  dir: string;
  isDefault: boolean;
  /** Which Thunderbird it belongs to when that is not the usual install: 'Flatpak' or 'Snap'. */
  place?: string;
  /** Thunderbird has this profile open: it must be closed first. */
  running: boolean;
  identities: { key: string; email: string; name: string; usesRelay: boolean }[];
  /** Set when prefs.js could not be read. */
  problem?: string;
}

export interface ThunderbirdRequest {
  profileDir: string;
  /** Identity keys (mail.identity.<key>) that should send through the relay. */
  identities: string[];
}

export type ActionResult = { ok: true; message?: string } | { ok: false; error: string };

export interface RendererApi {
  getSettings(): Promise<AppSettings>;
  saveSettings(next: AppSettings): Promise<SaveResult>;
  /** Write-only: no method ever returns the password to the renderer. */
  setPassword(password: string): Promise<ActionResult>;
  regeneratePassword(): Promise<ActionResult>;
  /** The main process puts the text on the clipboard, so the password never crosses into the renderer. */
  copy(item: CopyItem): Promise<ActionResult>;
  getStatus(): Promise<RelayStatus>;
  setRunning(on: boolean): Promise<RelayStatus>;
  recentLog(): Promise<LogEntry[]>;
  clearLog(): Promise<void>;
  openLogFile(): Promise<ActionResult>;
  checkCommand(command: string): Promise<CommandCheck>;
  /** Native file picker; resolves to the chosen path or null when cancelled. */
  chooseCommandFile(): Promise<string | null>;
  clientSetup(): Promise<ClientSetupView>;
  /** The address the test mail goes to unless the user picks another: the From of msmtp's default account. */
  testMailDefaults(): Promise<{ from?: string; to?: string }>;
  /** One mail through the running relay with its own credentials; the result names account, stage and advice. */
  sendTestMail(to: string): Promise<TestMailResult>;
  /** The one-click fix a health problem offers. */
  applyFix(fix: HealthFix): Promise<ActionResult>;
  /** Saves the relay's certificate (PEM) where the user picks, for clients that verify it. */
  exportCertificate(): Promise<ActionResult>;
  listOutbox(): Promise<OutboxView>;
  /** Every waiting mail (id null), or this one mail (waiting or failed), is tried now. */
  retryOutbox(id: string | null): Promise<ActionResult>;
  /** Deletes one kept mail for good; the window asks the user first. */
  deleteFromOutbox(id: string): Promise<ActionResult>;
  /** While paused, nothing is sent: every new mail is kept. */
  setSendingPaused(paused: boolean): Promise<OutboxView>;
  onOutbox(listener: (view: OutboxView) => void): () => void;
  /** Step-by-step guides and snippets for the other mail programs, with the current settings. */
  clientGuides(): Promise<ClientGuide[]>;
  /** Puts one snippet of a guide on the clipboard (the window has no clipboard permission of its own). */
  copySnippet(guide: GuideId, index: number): Promise<ActionResult>;
  /** The Thunderbird profiles found on this computer (native, Flatpak, Snap). */
  thunderbirdProfiles(): Promise<ThunderbirdProfileView[]>;
  /** "Add to Thunderbird": adds or updates the relay's outgoing server in one profile. */
  addToThunderbird(request: ThunderbirdRequest): Promise<ActionResult>;
  /** Every account msmtp reads, in msmtp's order, with the senders that match none of them. */
  listAccounts(): Promise<AccountsView>;
  /** Finds an address's outgoing server (nothing is logged in to, nothing written). */
  lookupAccount(address: string): Promise<AccountLookupView>;
  /**
   * "Verify and save": logs in with the password, then writes the account to msmtp's file and the password to the
   * key ring msmtp reads. The password travels this one way only: nothing ever sends it back to the window.
   */
  saveAccount(request: AccountRequest, password: string): Promise<AccountSaveResult>;
  /** Removes an account the app wrote (hand-written ones are never touched). */
  removeAccount(address: string): Promise<ActionResult>;
  /** Opens the provider's page from the app's own provider table, for an address looked up before. */
  openAccountPage(address: string, page: AccountPage): Promise<ActionResult>;
  /** Native file picker for a certificate msmtp should trust; the chosen path or null. */
  chooseTrustFile(): Promise<string | null>;
  onLog(listener: (entry: LogEntry) => void): () => void;
  onStatus(listener: (status: RelayStatus) => void): () => void;
}

/** The methods that travel over ipcRenderer.invoke; ipc.ts must handle each one. */
export type Invokable = Exclude<keyof RendererApi, 'onLog' | 'onStatus' | 'onOutbox'>;

export type PushChannel = 'log' | 'status' | 'outbox';

export interface PushPayloads {
  log: LogEntry;
  status: RelayStatus;
  outbox: OutboxView;
}

/** The main process's side of the contract: every invokable method, same signatures. */
export type MainApi = Pick<RendererApi, Invokable>;

/** A problem on this machine that keeps mail from flowing, named with its cause and what fixes it. */
export type HealthKind =
  | 'port-in-use' | 'no-keyring' | 'msmtp-missing' | 'msmtp-no-config' | 'msmtp-no-account' | 'msmtp-permissions'
  | 'msmtp-config' | 'no-tray' | 'account-attention';

/** A one-click fix the window may ask for; the main process decides the details (which file, which port is free). */
export type HealthFix =
  | { action: 'use-port'; port: number }
  | { action: 'retry' }
  | { action: 'fix-permissions' };

export interface HealthProblem {
  kind: HealthKind;
  /** One line naming the cause: "Port 2500 is in use by nginx (pid 812)". */
  title: string;
  /** What it means and what to do, a sentence or two. */
  detail: string;
  /** Commands or steps, in order; commands are shown as code to copy. */
  steps: string[];
  /** A sample file to start from (an msmtp configuration). */
  sample?: string;
  fix?: HealthFix & { label: string };
  /** A place in the window that fixes it (the window opens it itself; nothing goes to the main process). */
  opens?: { pane: 'accounts'; form?: 'add'; address?: string; label: string };
}

export interface TestMailResult {
  outcome: 'sent' | 'queued' | 'failed' | 'not-running' | 'refused';
  from: string;
  to: string;
  /** The msmtp account msmtp chose for this sender, and its file. */
  account?: string;
  accountFile?: string;
  /** One sentence: went out, kept in the outbox, or where it failed. */
  headline: string;
  /** Where it failed: 'name lookup', 'connect', 'TLS', 'login', 'rejected by the server'... or 'relay'. */
  stage?: string;
  /** msmtp's own words. */
  said?: string;
  advice?: string;
  /** The relay's reply to the mail. */
  serverReply?: string;
  /** The provider's reply line, when msmtp quoted one. */
  providerReply?: string;
  queueId?: string;
  /** The test mail reached the relay over STARTTLS, with the relay's certificate verified. */
  encrypted?: boolean;
}

export type AccountTls = 'tls' | 'starttls';

/** Where msmtp gets an account's password from. */
export type AccountPasswordPlace = 'file' | 'passwordeval' | 'keyring' | 'missing' | 'not-needed' | 'unknown';

/** One account as msmtp reads it. Values come from the user's file: show them as text, never as markup. */
export interface AccountView {
  name: string;
  /** The file it is in (~ for the home folder). */
  file: string;
  host?: string;
  port?: number;
  user?: string;
  tls?: AccountTls;
  tlsTrustFile?: string;
  tlsFingerprint?: string;
  /** The From addresses (or patterns) msmtp picks this account for. */
  from: string[];
  /** msmtp's default account: it sends every From address no account names. */
  isDefault: boolean;
  /** Written by the app: it can be edited, verified again and removed. Hand-written ones are shown read-only. */
  appWritten: boolean;
  password: AccountPasswordPlace;
  /** "msmtp finds its password in the key ring", "No password: msmtp will fail to log in"... */
  passwordWords: string;
  /** Why it needs attention (the provider refused the login, no password), when it does. */
  attention?: string;
}

/** A From address the user sends with that no account matches: msmtp sends it through the default account. */
export interface SenderWarning {
  address: string;
  /** "Thunderbird (default-esr)", "the test mail". */
  where: string;
}

export interface AccountsView {
  /** The file msmtp reads (~ for the home folder). */
  file: string;
  accounts: AccountView[];
  /** Why msmtp would refuse the file, when the app sees it. */
  problem?: string;
  /** The account msmtp sends unmatched senders through, when there is one. */
  defaultAccount?: string;
  unmatched: SenderWarning[];
}

export type AccountSource = 'bundled' | 'autoconfig' | 'well-known' | 'ispdb' | 'mx' | 'srv' | 'probe';

export interface AccountSettingsView {
  address: string;
  host: string;
  port: number;
  tls: AccountTls;
  user: string;
}

export type AccountLookupView =
  | {
    found: true;
    settings: AccountSettingsView;
    source: AccountSource;
    /** Where they came from, in words: "msmtp Relay's provider table (Gmail)". */
    sourceWords: string;
    providerName?: string;
    /** Learnt from unauthenticated DNS, a guess or another host: shown and confirmed before the password goes there. */
    needsConfirmation: boolean;
    confirmReason?: string;
    /** openAccountPage(address, 'app-password') opens the provider's app-password page. */
    appPasswordPage: boolean;
    /** Outlook.com and Hotmail: passwords are refused, msmtp Relay cannot sign in. */
    passwordNeverWorks: boolean;
    enableAccessFirst?: string;
    /** openAccountPage(address, 'enable-access') opens where to switch it on. */
    enableAccessPage: boolean;
    /** A trust file or fingerprint is needed (Proton Mail Bridge). */
    needsTrust: boolean;
    notes: string[];
    warnings: string[];
  }
  | { found: false; tried: string[]; warnings: string[]; error?: string };

/** What "Verify and save" sends, besides the password. */
export interface AccountRequest extends AccountSettingsView {
  tlsTrustFile?: string;
  tlsFingerprint?: string;
  /** The user confirmed settings that needed it (needsConfirmation). */
  confirmed: boolean;
}

export type AccountSaveStage = 'settings' | 'confirm' | 'file' | 'login' | 'keyring' | 'msmtp';

export type AccountSaveResult =
  | { ok: true; account: string; message: string }
  | {
    ok: false;
    stage: AccountSaveStage;
    /** The login's named cause ('wrong-password', 'app-password-required', 'certificate-not-trusted'...). */
    cause?: string;
    message: string;
    /** The provider's own reply line, when it refused. */
    serverReply?: string;
  };

export type AccountPage = 'app-password' | 'enable-access';
