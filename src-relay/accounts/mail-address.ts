/** The address a lookup is for, checked before any name from it goes into a URL or a DNS question. */
import { domainToASCII } from 'node:url';

export interface ParsedAddress {
  /** As typed (trimmed): the From address and, for most providers, the login name. */
  readonly address: string;
  /** Lower-case ASCII (IDNA), safe in a host name. */
  readonly domain: string;
}

/** The text given as an address is not one (the CLI's exit status 64). */
export class AddressError extends Error {}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** The address and its domain, or null when it is not a plain user@domain.tld address. */
export function parseMailAddress(input: string): ParsedAddress | null {
  const address = input.trim();
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1 || address.length > 254) return null;
  const local = address.slice(0, at);
  // No spaces, controls or a second @ outside quotes: msmtp's `from` and `user` take the address as one word.
  if (/[\s\x00-\x1f\x7f@<>(),;:\\"[\]]/.test(local)) return null;
  const domain = domainToASCII(address.slice(at + 1).toLowerCase());
  if (domain === '' || domain.length > 253) return null;
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((label) => LABEL.test(label))) return null;
  return { address, domain };
}
