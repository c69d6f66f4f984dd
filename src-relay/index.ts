/** The engine's public surface: the CLI and the desktop app use nothing else. */
export { createRelay } from './server';
export type { RelayEngine, RelayStats } from './server';
export {
  resolveOptions, parseCommand, clientSetup, defaultOptions, DEFAULT_COMMAND, OptionError,
} from './options';
export type { RelayOptions, AuthOptions, TlsOptions, ClientSetup } from './options';
export { describeEvent, formatHostPort } from './events';
export type { RelayEvent, MailOutcome, SessionEndReason, LogLevel } from './events';
export { SmtpError, formatReply } from './reply';
export type { EnhancedCode } from './reply';
export { Outbox } from './outbox';
export type { OutboxEntry, OutboxOptions, SentEntry } from './outbox';
export { decodeEncodedWords } from './encoded-words';
