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
export { createKeyringStore, findPassword, PasswordError, APP_SERVICE } from './secrets';
export type { SecretStore, PasswordSource } from './secrets';
export { findExecutable } from './delivery/executable';
export { buildArgv, deliverViaCommand, spawnDetached } from './delivery/deliver';
export type { CommandSpawner, SpawnedCommand } from './delivery/deliver';
export type { DeliveryReport } from './smtp/handler';
export { createLauncherSpawner } from './delivery/launcher';
export type { ThrottleStore } from './smtp/auth';
export { authStateDir, openAuthFailureFile } from './smtp/auth-throttle-file';
export { Outbox, defaultOutboxTiming } from './outbox/outbox';
export type { OutboxOptions, OutboxEntry } from './outbox/outbox';
export { classifyCommandFailure, describeFailure, STAGE_LABELS } from './delivery/msmtp-failures';
export type { FailureClass } from './delivery/msmtp-failures';
export { writeTextDurably } from './outbox/durable-file';
export { headerField } from './outbox/mail-copy';
export { isListenHost } from './listen';
