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

/** A question's records, or why there are none beyond "no such record" (a timeout, an unreachable server). */
export interface DnsAnswer<T> {
  readonly records: T[];
  readonly problem?: string;
}

/** c-ares codes that mean the name or the record does not exist: an answer, not a problem. */
const ABSENT = new Set(['ENOTFOUND', 'ENODATA']);

/** Runs one query with a deadline. */
async function bounded<T>(made: Resolver, query: Promise<T[]>, timeoutMs: number): Promise<DnsAnswer<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<DnsAnswer<T>>((resolve) => {
    timer = setTimeout(() => {
      made.cancel();
      resolve({ records: [], problem: 'timed out' });
    }, timeoutMs);
  });
  const answer = query.then(
    (records): DnsAnswer<T> => ({ records }),
    (error: NodeJS.ErrnoException): DnsAnswer<T> => (ABSENT.has(error.code ?? '') ? { records: [] } : { records: [], problem: error.code ?? error.message }),
  );
  try {
    return await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The domain's mail exchangers, most preferred first, as lower-case names without the trailing dot. */
export async function lookupMx(domain: string, seams: DnsSeams, timeoutMs: number): Promise<DnsAnswer<string>> {
  const made = resolver(seams, timeoutMs);
  const answer = await bounded(made, made.resolveMx(domain), timeoutMs);
  const records = answer.records
    .sort((a, b) => a.priority - b.priority)
    .map((record) => record.exchange.replace(/\.$/, '').toLowerCase())
    .filter((exchange) => exchange !== '');
  return { ...answer, records };
}

/** An SRV name's targets by priority then weight; "." (RFC 2782: no such service here) is left out. */
export async function lookupSrv(name: string, seams: DnsSeams, timeoutMs: number): Promise<DnsAnswer<SrvTarget>> {
  const made = resolver(seams, timeoutMs);
  const answer = await bounded(made, made.resolveSrv(name), timeoutMs);
  const records = answer.records
    .sort((a, b) => a.priority - b.priority || b.weight - a.weight)
    .map((record) => ({ host: record.name.replace(/\.$/, '').toLowerCase(), port: record.port }))
    .filter((target) => target.host !== '' && target.port > 0);
  return { ...answer, records };
}
