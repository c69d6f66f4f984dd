/**
 * Finds a mail address's outgoing server settings the way Thunderbird does: the bundled table, the provider's own
 * autoconfig file, the live ISPDB, the MX's provider, SRV records, then a probe of smtp./mail. hosts. Every network
 * step is bounded in time and goes through the seams, so tests never leave loopback and the bundled answer needs
 * no network at all. Nothing here logs in or writes anything.
 */
import type { TlsMode } from './account-settings';
import { parseAutoconfig } from './autoconfig-xml';
import { lookupMx, lookupSrv, type DnsSeams } from './dns-records';
import { fetchHttpsText, type NetworkSeams } from './https-fetch';
import { bare, fromProvider, type LookupFound, type LookupResult, type LookupSource, type Origin } from './lookup-result';
import { AddressError, parseMailAddress } from './mail-address';
import { bundledProvider } from './provider-table';
import { probeSmtp } from './smtp-probe';

export interface LookupSeams extends NetworkSeams, DnsSeams {
  /** The live ISPDB's base URL, the domain is appended. Default: Thunderbird's. */
  readonly ispdbBase?: string;
  /** The bound for each HTTPS fetch, DNS question and probe. */
  readonly stepTimeoutMs?: number;
  /** The bound for the whole lookup. */
  readonly totalTimeoutMs?: number;
}

export const DEFAULT_ISPDB_BASE = 'https://autoconfig.thunderbird.net/v1.1/';
const DEFAULT_STEP_MS = 6_000;
const DEFAULT_TOTAL_MS = 30_000;
/** An autoconfig file is a few KiB; anything much bigger is not one. */
const MAX_XML_BYTES = 64 * 1024;
const MAX_REDIRECTS = 3;

/** Throws AddressError for an address that is not user@domain.tld. */
export async function lookupAccount(input: string, seams: LookupSeams = {}): Promise<LookupResult> {
  const parsed = parseMailAddress(input);
  if (!parsed) throw new AddressError(`not a mail address: ${JSON.stringify(input)}`);
  const run = new LookupRun(parsed.address, parsed.domain, seams);
  return run.find();
}

class LookupRun {
  private readonly tried: string[] = [];
  private readonly warnings: string[] = [];
  private readonly signal: AbortSignal;
  private readonly stepMs: number;

  constructor(private readonly address: string, private readonly domain: string, private readonly seams: LookupSeams) {
    this.signal = AbortSignal.timeout(seams.totalTimeoutMs ?? DEFAULT_TOTAL_MS);
    this.stepMs = seams.stepTimeoutMs ?? DEFAULT_STEP_MS;
  }

  async find(): Promise<LookupResult> {
    const steps = [
      () => this.bundled(),
      () => this.autoconfigAndIspdb(),
      () => this.mx(),
      () => this.srv(),
      () => this.probe(),
    ];
    for (const step of steps) {
      if (this.signal.aborted) break;
      const found = await step();
      if (found) return { ...found, warnings: [...this.warnings, ...found.warnings] };
    }
    if (this.signal.aborted) this.warnings.push('The lookup ran out of time.');
    return { found: false, tried: this.tried, warnings: this.warnings };
  }

  /** A provider entry's answer, or undefined (with the refusal kept as a warning) when it offers no TLS. */
  private take(config: Parameters<typeof fromProvider>[0], origin: Origin): LookupFound | undefined {
    const answer = fromProvider(config, this.address, origin);
    if ('refused' in answer) {
      this.warnings.push(...answer.refused);
      this.tried.push(`${origin.source}: ${origin.sourceDetail}: no server with TLS`);
      return undefined;
    }
    return answer;
  }

  private async bundled(): Promise<LookupFound | undefined> {
    const config = bundledProvider(this.domain);
    if (!config) {
      this.tried.push(`bundled: no entry for ${this.domain}`);
      return undefined;
    }
    return this.take(config, { source: 'bundled', sourceDetail: `bundled table: ${config.id}`, trustedId: true });
  }

  /** Steps 2 and 3 ask at once (they are independent); the answer is taken in Thunderbird's order. */
  private async autoconfigAndIspdb(): Promise<LookupFound | undefined> {
    const asks: { source: LookupSource; url: string }[] = [
      { source: 'autoconfig', url: `https://autoconfig.${this.domain}/mail/config-v1.1.xml` },
      { source: 'well-known', url: `https://${this.domain}/.well-known/autoconfig/mail/config-v1.1.xml` },
      { source: 'ispdb', url: this.ispdbUrl(this.domain) },
    ];
    const answers = await Promise.all(asks.map((ask) => this.fetchConfig(ask.source, ask.url)));
    for (const answer of answers) if (answer) return answer;
    return undefined;
  }

  private ispdbUrl(domain: string): string {
    return `${this.seams.ispdbBase ?? DEFAULT_ISPDB_BASE}${domain}`;
  }

  private async fetchConfig(source: LookupSource, url: string, mxOf?: string): Promise<LookupFound | undefined> {
    let fetched;
    let config;
    try {
      fetched = await fetchHttpsText(url, this.seams, {
        maxBytes: MAX_XML_BYTES, maxRedirects: MAX_REDIRECTS, timeoutMs: this.stepMs, signal: this.signal,
      });
      config = parseAutoconfig(fetched.text);
    } catch (error) {
      this.tried.push(`${source}: ${(error as Error).message}`);
      return undefined;
    }
    const detail = fetched.finalUrl === url ? url : `${url} (redirected to ${fetched.finalUrl})`;
    const origin: Origin = {
      source,
      sourceDetail: mxOf ? `MX ${mxOf}, then ${detail}` : detail,
      trustedId: source === 'ispdb' || source === 'mx',
      confirmReason: mxOf ? `found through the MX record (${mxOf}), which is unauthenticated DNS`
        : fetched.crossedHosts ? `the settings came from another host (${new URL(fetched.finalUrl).hostname})` : undefined,
      fullAddressLogin: mxOf !== undefined,
    };
    const answer = this.take(config, origin);
    if (!answer || answer.needsConfirmation || source === 'ispdb') return answer;
    // A provider's own file naming a server outside its domain may be a hijacked web site: ask first.
    if (this.withinDomain(answer.settings.host)) return answer;
    return { ...answer, needsConfirmation: true, confirmReason: `the server ${answer.settings.host} is outside ${this.domain}` };
  }

  private withinDomain(host: string): boolean {
    return host === this.domain || host.endsWith(`.${this.domain}`);
  }

  /**
   * Step 4: the provider of the first MX host. Its name is cut down label by label (aspmx.l.google.com →
   * l.google.com → google.com; x.mail.protection.outlook.com → mail.protection.outlook.com, Microsoft 365's entry),
   * each looked up in the bundled table; then the live ISPDB for the two most telling names.
   */
  private async mx(): Promise<LookupFound | undefined> {
    const answer = await lookupMx(this.domain, this.seams, this.stepMs);
    const [exchange] = answer.records;
    if (!exchange) {
      this.tried.push(answer.problem ? `mx: MX ${this.domain}: ${answer.problem}` : `mx: no MX record for ${this.domain}`);
      return undefined;
    }
    const labels = exchange.split('.');
    const candidates = labels.slice(1, -1).map((_label, index) => labels.slice(index + 1).join('.'));
    const confirmReason = `found through the MX record (${exchange}), which is unauthenticated DNS`;
    for (const candidate of candidates) {
      const config = bundledProvider(candidate);
      if (config) {
        const found = this.take(config, {
          source: 'mx', sourceDetail: `MX ${exchange} → bundled table: ${config.id}`, trustedId: true, confirmReason, fullAddressLogin: true,
        });
        if (found) return found;
      }
    }
    const live = [...new Set([candidates[0], candidates[candidates.length - 1]])].filter((name): name is string => !!name);
    for (const candidate of live) {
      const found = await this.fetchConfig('mx', this.ispdbUrl(candidate), exchange);
      if (found) return found;
    }
    this.tried.push(`mx: no provider known for ${exchange}`);
    return undefined;
  }

  /** Step 5: RFC 6186 / 8314 SRV records, implicit TLS first. */
  private async srv(): Promise<LookupFound | undefined> {
    const kinds: { name: string; tls: TlsMode }[] = [
      { name: `_submissions._tcp.${this.domain}`, tls: 'tls' },
      { name: `_submission._tcp.${this.domain}`, tls: 'starttls' },
    ];
    for (const kind of kinds) {
      const answer = await lookupSrv(kind.name, this.seams, this.stepMs);
      const [target] = answer.records;
      if (!target) {
        this.tried.push(answer.problem ? `srv: SRV ${kind.name}: ${answer.problem}` : `srv: no ${kind.name} record`);
        continue;
      }
      const settings = { address: this.address, host: target.host, port: target.port, tls: kind.tls, user: this.address };
      return bare(settings, 'srv', `${kind.name} SRV ${target.host}:${target.port}`, `found through the SRV record ${kind.name}, which is unauthenticated DNS`);
    }
    return undefined;
  }

  /** Step 6: smtp.<domain> and mail.<domain>, 465 with TLS then 587 with STARTTLS, all at once; first in order wins. */
  private async probe(): Promise<LookupFound | undefined> {
    const guesses = ['smtp', 'mail'].flatMap((prefix) => [
      { host: `${prefix}.${this.domain}`, port: 465, tls: 'tls' as const },
      { host: `${prefix}.${this.domain}`, port: 587, tls: 'starttls' as const },
    ]);
    const outcomes = await Promise.all(guesses.map((guess) => probeSmtp(guess.host, guess.port, guess.tls, this.seams, this.stepMs, this.signal)));
    for (const [index, guess] of guesses.entries()) {
      const outcome = outcomes[index]!;
      if (outcome.ok) {
        const settings = { address: this.address, host: guess.host, port: guess.port, tls: guess.tls, user: this.address };
        return bare(settings, 'probe', `${guess.host}:${guess.port} answered with ${guess.tls === 'tls' ? 'TLS' : 'STARTTLS'}`,
          'a guess: the server answered, but the login name is not known');
      }
      this.tried.push(`probe: ${guess.host}:${guess.port}: ${outcome.reason}`);
    }
    return undefined;
  }
}
