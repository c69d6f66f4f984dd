/**
 * Loopback stand-ins for the servers an account lookup talks to: an HTTPS server for autoconfig and the ISPDB
 * (routed by host name and path), SMTP servers for the probe (TLS, STARTTLS, or plain only), and the seams that
 * map every name the lookup may ask for onto them. A name not mapped is refused, so a test cannot leave loopback.
 */
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { TLSSocket, createServer as createTlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { LookupSeams } from '../../../src-relay/index';
import type { TestCertificates } from './test-ca';

export type Route = (req: IncomingMessage, res: ServerResponse) => void;

export interface HttpsStub {
  readonly port: number;
  /** Every request, as "host path". */
  readonly requests: readonly string[];
  close(): Promise<void>;
}

/** An HTTPS server on 127.0.0.1 whose certificate carries all the test names; routes are keyed "host/path". */
export async function startHttpsStub(certificates: TestCertificates, routes: Readonly<Record<string, Route>>): Promise<HttpsStub> {
  const requests: string[] = [];
  const server = createHttpsServer({ key: certificates.key, cert: certificates.cert }, (req, res) => {
    const key = `${(req.headers.host ?? '').replace(/:\d+$/, '')}${req.url ?? ''}`;
    requests.push(key);
    const route = routes[key];
    if (route) route(req, res);
    else res.writeHead(404).end();
  });
  await listen(server);
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () => {
      server.closeAllConnections();
      return close(server);
    },
  };
}

/** A route answering an XML body. */
export function xml(body: string): Route {
  return (_req, res) => res.writeHead(200, { 'content-type': 'application/xml' }).end(body);
}

export function redirect(location: string, status = 302): Route {
  return (_req, res) => res.writeHead(status, { location }).end();
}

export type SmtpKind = 'tls' | 'starttls' | 'plain';

export interface SmtpStub {
  readonly port: number;
  /** Every command received (EHLO, STARTTLS, QUIT...), to check that nothing else (no AUTH) was sent. */
  readonly commands: readonly string[];
  close(): Promise<void>;
}

/** An SMTP server that greets, answers EHLO (listing STARTTLS for 'starttls'), does STARTTLS and QUIT; nothing else. */
export async function startSmtpStub(kind: SmtpKind, certificates: TestCertificates): Promise<SmtpStub> {
  const commands: string[] = [];
  const sockets = new Set<Socket>();
  const serve = (socket: Socket, secure: boolean) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      let end: number;
      while ((end = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        commands.push(line);
        const verb = line.split(' ')[0]!.toUpperCase();
        if (verb === 'EHLO') {
          socket.write(kind === 'starttls' && !secure ? '250-stub.test\r\n250-8BITMIME\r\n250 STARTTLS\r\n' : '250-stub.test\r\n250 AUTH PLAIN LOGIN\r\n');
        } else if (verb === 'STARTTLS' && kind === 'starttls' && !secure) {
          socket.off('data', onData);
          socket.write('220 go ahead\r\n', () => {
            const upgraded = new TLSSocket(socket, { isServer: true, key: certificates.key, cert: certificates.cert });
            serve(upgraded, true);
          });
          return;
        } else if (verb === 'QUIT') {
          socket.end('221 bye\r\n');
        } else {
          socket.write('502 not here\r\n');
        }
      }
    };
    socket.on('data', onData);
  };
  const server: Server = kind === 'tls'
    ? createTlsServer({ key: certificates.key, cert: certificates.cert }, (socket) => {
      socket.write('220 stub.test ESMTP\r\n');
      serve(socket, true);
    })
    : createTcpServer((socket) => {
      socket.write('220 stub.test ESMTP\r\n');
      serve(socket, false);
    });
  await listen(server);
  return {
    port: (server.address() as AddressInfo).port,
    commands,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await close(server);
    },
  };
}

/**
 * Seams that send "host:port" to the given loopback ports and refuse every other name; DNS goes to `dnsServer`
 * (or a closed loopback port, so an unexpected question fails at once instead of reaching the system's resolver).
 */
export function loopbackSeams(map: Readonly<Record<string, number>>, certificates: TestCertificates, extra: Partial<LookupSeams> = {}): LookupSeams {
  return {
    connectTo: (host, port) => {
      const to = map[`${host}:${port}`];
      if (to === undefined) throw new Error(`${host}:${port} is not mapped`);
      return { host: '127.0.0.1', port: to };
    },
    ca: certificates.ca,
    dnsServers: ['127.0.0.1:1'],
    // Generous for a loaded machine: the tests of the bounds set their own.
    stepTimeoutMs: 10_000,
    totalTimeoutMs: 60_000,
    ...extra,
  };
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
