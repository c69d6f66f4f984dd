/** The engine's public surface: the CLI and the desktop app use nothing else. */
export { createRelay } from './server';
export type { RelayEngine, RelayStats } from './server';
export {
  resolveOptions, parseCommand, defaultOptions, DEFAULT_COMMAND, OptionError,
} from './options';
export type { RelayOptions, AuthOptions, TlsOptions } from './options';
export { describeEvent, formatHostPort } from './events';
export type { RelayEvent, MailOutcome, SessionEndReason, LogLevel } from './events';
export { SmtpError, formatReply } from './reply';
export type { EnhancedCode } from './reply';
export { createKeyringStore, findPassword, PasswordError, APP_SERVICE } from './secrets';
export type { SecretStore, PasswordSource } from './secrets';
export { findExecutable } from './executable';
export { loopbackName } from './events';
export type { EngineSeams } from './server';
export { deliverViaCommand, spawnDetached } from './deliver';
export type { CommandSpawner, SpawnedCommand, DeliveryOutcome, DeliveryReport, DeliveryFailure, Envelope } from './deliver';
export { createLauncherSpawner } from './spawner-launcher';
export type { ThrottleStore } from './auth';
export { authStateDir, openAuthFailureFile } from './auth-failure-file';
export { Outbox, defaultOutboxTiming } from './outbox';
export type { OutboxOptions, OutboxEntry, SentEntry, KeptMailSender } from './outbox';
export type { OutboxAction } from './events';
export { classifyCommandFailure, describeFailure, STAGE_LABELS } from './failure-class';
export type { FailureClass, FailureStage, AccountAttention } from './failure-class';
export { writeTextDurably } from './durable-file';
export { decodeEncodedWords } from './encoded-words';
export { headerField } from './mail-copy';
export { isListenHost } from './listen';
export type { AccountSettings, TlsMode } from './accounts/account-settings';
export { addAccount, removeAccount, listAccounts } from './accounts/accounts';
export type {
  AccountSeams, AddAccountResult, RemoveAccountResult, AccountList, ListedAccount, PasswordPlace, AccountProblemStage,
} from './accounts/accounts';
export { verifyLogin } from './accounts/verify-login';
export type { LoginCheck, LoginCause, VerifyOptions } from './accounts/verify-login';
export { msmtpKeyring, KeyringError } from './accounts/msmtp-keyring';
export type { MsmtpKeyring } from './accounts/msmtp-keyring';
export { msmtpUserConfigFile } from './accounts/msmtprc-file';
export { parseMsmtprc } from './accounts/msmtprc-parse';
export type { MsmtprcModel, MsmtprcAccount } from './accounts/msmtprc-parse';
