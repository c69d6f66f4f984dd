/**
 * The two DNS questions of the lookup, MX and SRV, each bounded in time. Plain DNS is unauthenticated: whatever
 * it says must be confirmed by the user before a password goes there (the caller marks it so).
 */
import { Resolver } from 'node:dns/promises';

export interface DnsSeams {
  /** The DNS servers to ask ("127.0.0.1:5353"); default: the system's. Tests run a loopback DNS server. */
  readonly dnsServers?: readonly string[];
}

export interface SrvTarget {
  readonly host: string;
  readonly port: number;
}

function resolver(seams: DnsSeams, timeoutMs: number): Resolver {
  const made = new Resolver({ timeout: timeoutMs, tries: 1 });
  if (seams.dnsServers) made.setServers([...seams.dnsServers]);
  return made;
}

/** Runs one query with a deadline; a name without the record, or no answer in time, is an empty list. */
async function bounded<T>(made: Resolver, query: Promise<T[]>, timeoutMs: number): Promise<T[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T[]>((resolve) => {
    timer = setTimeout(() => {
      made.cancel();
      resolve([]);
    }, timeoutMs);
  });
  try {
    return await Promise.race([query.catch(() => []), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The domain's mail exchangers, most preferred first, as lower-case names without the trailing dot. */
export async function lookupMx(domain: string, seams: DnsSeams, timeoutMs: number): Promise<string[]> {
  const made = resolver(seams, timeoutMs);
  const records = await bounded(made, made.resolveMx(domain), timeoutMs);
  return records
    .sort((a, b) => a.priority - b.priority)
    .map((record) => record.exchange.replace(/\.$/, '').toLowerCase())
    .filter((exchange) => exchange !== '');
}

/** An SRV name's targets by priority then weight; "." (RFC 2782: no such service here) is left out. */
export async function lookupSrv(name: string, seams: DnsSeams, timeoutMs: number): Promise<SrvTarget[]> {
  const made = resolver(seams, timeoutMs);
  const records = await bounded(made, made.resolveSrv(name), timeoutMs);
  return records
    .sort((a, b) => a.priority - b.priority || b.weight - a.weight)
    .map((record) => ({ host: record.name.replace(/\.$/, '').toLowerCase(), port: record.port }))
    .filter((target) => target.host !== '' && target.port > 0);
}
