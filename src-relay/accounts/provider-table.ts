/**
 * The bundled provider table: the ISPDB snapshot plus the hand-kept extras, indexed by mail domain. Answers
 * offline, so the common providers are found without a single network packet.
 */
import { ISPDB_PROVIDERS, ISPDB_SOURCE } from './ispdb-table';
import { ADVICE, EXTRA_PROVIDERS, type ProviderAdvice } from './provider-overlay';
import type { ProviderConfig } from './provider-config';

export { ISPDB_SOURCE };

let byDomain: Map<string, ProviderConfig> | undefined;

function index(): Map<string, ProviderConfig> {
  if (byDomain) return byDomain;
  byDomain = new Map();
  // The hand-kept extras win: they exist to correct or complete the snapshot.
  for (const provider of [...EXTRA_PROVIDERS, ...ISPDB_PROVIDERS]) {
    for (const domain of provider.domains) if (!byDomain.has(domain)) byDomain.set(domain, provider);
  }
  return byDomain;
}

export function bundledProvider(domain: string): ProviderConfig | undefined {
  return index().get(domain.toLowerCase());
}

/** Every domain the bundled table answers for. */
export function bundledDomains(): string[] {
  return [...index().keys()];
}

export function adviceFor(providerId: string): ProviderAdvice {
  return ADVICE[providerId] ?? {};
}
