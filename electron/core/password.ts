import { randomBytes } from 'node:crypto';
import type { SecretStore } from '../../src-relay/index';
import type { AppLog } from './app-log';

/** 24 random bytes as base64url: 32 characters, 192 bits, nothing a mail client's password field chokes on. */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

/** A password the user types in the Relay pane; returns the problem in words, or null when it is acceptable. */
export function passwordProblem(password: unknown): string | null {
  if (typeof password !== 'string' || password.length === 0) return 'Enter a password';
  if (password.length < 8) return 'Use at least 8 characters';
  if (password.length > 1024) return 'Use at most 1024 characters';
  // SASL PLAIN separates fields with NUL, and line breaks cannot be typed into mail clients' password fields.
  if (/[\0-\x1f\x7f]/.test(password)) return 'The password cannot contain control characters or line breaks';
  return null;
}

/** The relay's password for `user`, created and stored on first use. Throws when the keyring is unavailable. */
export async function ensureRelayPassword(secrets: SecretStore, user: string, log: AppLog): Promise<string> {
  const stored = await secrets.get(user);
  if (stored) return stored;
  const fresh = generatePassword();
  await secrets.set(user, fresh);
  log.app('info', `generated a new password for user ${user} and stored it in the keyring`);
  return fresh;
}
