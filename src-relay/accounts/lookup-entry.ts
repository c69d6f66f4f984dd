/**
 * The lookup as the engine index offers it: the provider table, the XML parser and HTTPS are loaded on the first
 * lookup, not when the relay starts (the CLI starts once per session in inetd mode; the app at login).
 */
import type { LookupSeams } from './lookup';
import type { LookupResult } from './lookup-result';

/** See lookup.ts: throws AddressError for an address that is not user@domain.tld. */
export async function lookupAccount(address: string, seams?: LookupSeams): Promise<LookupResult> {
  const { lookupAccount: lookup } = await import('./lookup.js');
  return lookup(address, seams);
}
