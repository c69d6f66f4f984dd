/**
 * The engine's public surface: the CLI, the desktop app, the bench and the whole-product tests use nothing else.
 * Unit tests reach the module they are named after directly (.dependency-cruiser.cjs).
 */
export { createRelay } from './engine';
export type { RelayEngine, RelayStats } from './engine';
export {
  resolveOptions, parseCommand, defaultOptions, DEFAULT_COMMAND, OptionError,
} from './options';
export type { RelayOptions, TlsOptions } from './options';
export { describeEvent, formatHostPort, loopbackName } from './events';
export type { RelayEvent, MailOutcome, SessionEndReason, LogLevel } from './events';
export { SmtpError } from './smtp/reply';
export { createKeyringStore, findPassword, PasswordError, APP_SERVICE, promptPassword } from './secrets';
export type { SecretStore, PasswordSource } from './secrets';
export { findExecutable } from './delivery/executable';
export { buildArgv, deliverViaCommand, spawnDetached } from './delivery/deliver';
export type { CommandSpawner, SpawnedCommand } from './delivery/deliver';
export type { DeliveryReport } from './smtp/handler';
export { createLauncherSpawner } from './delivery/launcher';
export type { ThrottleStore } from './smtp/auth';
export { authStateDir, openAuthFailureFile } from './smtp/auth-throttle-file';
export { Outbox, defaultOutboxTiming } from './outbox/outbox';
export type { OutboxOptions, OutboxEntry, SentEntry } from './outbox/outbox';
export { classifyCommandFailure, describeFailure, STAGE_LABELS } from './delivery/msmtp-failures';
export type { FailureClass } from './delivery/msmtp-failures';
export type { AccountAttention } from './smtp/handler';
export { writeTextDurably } from './outbox/durable-file';
export { headerField } from './outbox/mail-copy';
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
export { runMsmtp } from './accounts/msmtp-run';
export type { MsmtpRun, MsmtpRunOptions } from './accounts/msmtp-run';
export type { MsmtprcModel, MsmtprcAccount } from './accounts/msmtprc-parse';
export { lookupAccount } from './accounts/lookup-entry';
export { AddressError } from './accounts/mail-address';
export type { LookupSeams } from './accounts/lookup';
export type { LookupResult, LookupFound, LookupNotFound, LookupSource } from './accounts/lookup-result';
