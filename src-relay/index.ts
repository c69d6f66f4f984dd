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
export type { FailureClass, FailureStage } from './failure-class';
export { writeTextDurably } from './durable-file';
export { decodeEncodedWords } from './encoded-words';
export { headerField } from './mail-copy';
export { isListenHost } from './listen';
export { lookupAccount, AddressError } from './accounts/lookup';
export type { LookupSeams } from './accounts/lookup';
export type { LookupResult, LookupFound, LookupNotFound, LookupSource } from './accounts/lookup-result';
export type { AccountSettings, TlsMode } from './accounts/account-settings';
