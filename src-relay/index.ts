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
export { spawnDetached } from './deliver';
export type { CommandSpawner, SpawnedCommand } from './deliver';
export { createLauncherSpawner } from './spawner-launcher';
export { shareAuthFailures } from './auth';
export type { ThrottleStore } from './auth';
export { authStateDir, openAuthFailureFile } from './auth-failure-file';
