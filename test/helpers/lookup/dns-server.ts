/**
 * A tiny authoritative DNS server on 127.0.0.1 (UDP) for the account lookup's tests: it answers MX and SRV
 * questions from a table and NXDOMAIN for everything else, so the lookup's DNS steps never leave loopback.
 * Raw packets (RFC 1035 §4), no compression in the answers' names.
 */
import { createSocket, type RemoteInfo } from 'node:dgram';

export interface DnsZone {
  /** name → mail exchangers, in preference order. */
  readonly mx?: Readonly<Record<string, readonly string[]>>;
  /** name → SRV targets. */
  readonly srv?: Readonly<Record<string, readonly { readonly target: string; readonly port: number; readonly priority?: number }[]>>;
  /** Names whose questions get no answer at all: a DNS server that has gone quiet. */
  readonly silent?: readonly string[];
}

export interface DnsServer {
  /** "127.0.0.1:port", for the lookup's dnsServers seam. */
  readonly address: string;
  /** Every question asked, as "TYPE name". */
  readonly questions: readonly string[];
  close(): Promise<void>;
}

const TYPE_MX = 15;
const TYPE_SRV = 33;
const TYPE_NAMES: Record<number, string> = { 1: 'A', 28: 'AAAA', [TYPE_MX]: 'MX', [TYPE_SRV]: 'SRV' };

export async function startDnsServer(zone: DnsZone): Promise<DnsServer> {
  const socket = createSocket('udp4');
  const questions: string[] = [];
  socket.on('message', (packet: Buffer, from: RemoteInfo) => {
    const question = readQuestion(packet);
    if (!question) return;
    questions.push(`${TYPE_NAMES[question.type] ?? question.type} ${question.name}`);
    if (zone.silent?.includes(question.name)) return;
    socket.send(answer(packet, question, zone), from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    questions,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

interface Question {
  readonly name: string;
  readonly type: number;
  /** Where the question section ends (the header plus the question is echoed in the reply). */
  readonly end: number;
}

function readQuestion(packet: Buffer): Question | null {
  if (packet.length < 12 || packet.readUInt16BE(4) !== 1) return null;
  const labels: string[] = [];
  let offset = 12;
  while (offset < packet.length) {
    const length = packet[offset]!;
    offset += 1;
    if (length === 0) break;
    labels.push(packet.subarray(offset, offset + length).toString('ascii').toLowerCase());
    offset += length;
  }
  if (offset + 4 > packet.length) return null;
  return { name: labels.join('.'), type: packet.readUInt16BE(offset), end: offset + 4 };
}

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'ascii')]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function record(type: number, data: Buffer): Buffer {
  const fixed = Buffer.alloc(12);
  fixed.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
  fixed.writeUInt16BE(type, 2);
  fixed.writeUInt16BE(1, 4); // class IN
  fixed.writeUInt32BE(60, 6);
  fixed.writeUInt16BE(data.length, 10);
  return Buffer.concat([fixed, data]);
}

function answer(packet: Buffer, question: Question, zone: DnsZone): Buffer {
  const records: Buffer[] = [];
  if (question.type === TYPE_MX) {
    (zone.mx?.[question.name] ?? []).forEach((exchange, index) => {
      const preference = Buffer.alloc(2);
      preference.writeUInt16BE((index + 1) * 10);
      records.push(record(TYPE_MX, Buffer.concat([preference, encodeName(exchange)])));
    });
  } else if (question.type === TYPE_SRV) {
    for (const target of zone.srv?.[question.name] ?? []) {
      const fixed = Buffer.alloc(6);
      fixed.writeUInt16BE(target.priority ?? 10, 0);
      fixed.writeUInt16BE(1, 2);
      fixed.writeUInt16BE(target.port, 4);
      records.push(record(TYPE_SRV, Buffer.concat([fixed, encodeName(target.target)])));
    }
  }
  const known = zone.mx?.[question.name] !== undefined || zone.srv?.[question.name] !== undefined;
  const header = Buffer.from(packet.subarray(0, 12));
  header.writeUInt16BE(0x8500 | (packet.readUInt16BE(2) & 0x0100) | (known ? 0 : 3), 2); // QR AA (RD copied), NXDOMAIN if unknown
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length, 6);
  header.writeUInt16BE(0, 8);
  header.writeUInt16BE(0, 10);
  return Buffer.concat([header, packet.subarray(12, question.end), ...records]);
}
