/**
 * Reads Thunderbird's autoconfig format (clientConfig version 1.1: the ISPDB's files and a provider's own
 * config-v1.1.xml) into a ProviderConfig. Only what msmtp needs is kept: the domains, the SMTP servers, the
 * provider's name and its "enable access first" step.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { ProviderConfig, SmtpServerEntry, SocketType } from './provider-config';

export class AutoconfigError extends Error {}

const LISTS = new Set(['domain', 'outgoingServer', 'authentication', 'instruction', 'emailProvider', 'enable']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  trimValues: true,
  isArray: (name) => LISTS.has(name),
});

type Node = Record<string, unknown>;

/** Parses one config-v1.1.xml; throws AutoconfigError when it is not well-formed or has no usable provider. */
export function parseAutoconfig(xml: string): ProviderConfig {
  // Autoconfig files never need a DTD; refusing one keeps entity expansion (billion laughs) out of the picture.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new AutoconfigError('the XML declares a DTD or entities');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new AutoconfigError(`malformed XML: ${valid.err.msg} (line ${valid.err.line})`);
  const document = parser.parse(xml) as Node;
  const root = asNode(document.clientConfig);
  if (!root) throw new AutoconfigError('no <clientConfig> element');
  const provider = nodes(root.emailProvider)[0];
  if (!provider) throw new AutoconfigError('no <emailProvider> element');
  const id = text(provider['@id']);
  if (!id) throw new AutoconfigError('the <emailProvider> has no id');
  const domains = items(provider.domain).map((domain) => text(domain).toLowerCase()).filter((domain) => domain !== '');
  const smtp = nodes(provider.outgoingServer)
    .filter((server) => text(server['@type']) === 'smtp')
    .map(readServer)
    .filter((server): server is SmtpServerEntry => server !== null);
  const name = text(provider.displayName) || undefined;
  // <enable> sits beside <emailProvider> in the ISPDB and inside it in some providers' own files.
  const enable = readEnable(nodes(root.enable)[0] ?? nodes(provider.enable)[0]);
  return { id: id.toLowerCase(), name, domains, smtp, ...(enable ? { enable } : {}) };
}

const SOCKETS: Record<string, SocketType> = { SSL: 'tls', STARTTLS: 'starttls', plain: 'plain' };

function readServer(server: Node): SmtpServerEntry | null {
  const host = text(server.hostname);
  const port = Number(text(server.port));
  const socket = SOCKETS[text(server.socketType)];
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535 || !socket) return null;
  const user = text(server.username) || '%EMAILADDRESS%';
  const auth = items(server.authentication).map(text).filter((method) => method !== '');
  return { host, port, socket, user, auth };
}

function readEnable(enable: Node | undefined): ProviderConfig['enable'] | undefined {
  if (!enable) return undefined;
  const url = text(enable['@visiturl']) || undefined;
  // An instruction without a language is the English one; en-US counts too.
  const english = items(enable.instruction).find((item) => /^(en\b|$)/i.test(text(asNode(item)?.['@lang'])));
  const instruction = text(english) || undefined;
  if (!url && !instruction) return undefined;
  return { ...(url ? { url } : {}), ...(instruction ? { text: instruction } : {}) };
}

function asNode(value: unknown): Node | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Node) : undefined;
}

/** A repeated element's values (the parser makes the LISTS arrays; this also copes with a lone value). */
function items(value: unknown): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : value === undefined ? [] : [value];
}

function nodes(value: unknown): Node[] {
  return items(value).map(asNode).filter((node): node is Node => node !== undefined);
}

/** An element's text: a string element, or the #text of an element with attributes. */
function text(value: unknown): string {
  if (typeof value === 'string') return value.trim();
  const node = asNode(value);
  if (node && typeof node['#text'] === 'string') return node['#text'].trim();
  return '';
}
