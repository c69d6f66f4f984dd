import { isIP } from 'node:net';
import { formatHostPort } from './events';

/** 'localhost' (both loopbacks) or a numeric address; other names are refused, like msmtpd does. */
export function isListenHost(host: string): boolean {
  return host === 'localhost' || isIP(host) !== 0;
}

/** Something listening, and the address it got (the port is the kernel's choice for port 0). */
export interface Bound {
  bound: { host: string; port: number };
}

/**
 * One listener, or for 'localhost' one on 127.0.0.1 and one on ::1 with the same port. A machine without one of the
 * loopbacks (IPv6 switched off, a container without 127.0.0.1) is served on the other, with a notice; a port taken
 * on either one is a failure, or clients resolving localhost there would reach another program.
 */
export async function listenOnAll<T extends Bound>(
  spec: { host: string; port: number },
  listenOn: (host: string, port: number) => Promise<T>,
  close: (opened: T) => void,
  notice: (message: string) => void,
): Promise<T[]> {
  if (spec.host !== 'localhost') return [await listenOn(spec.host, spec.port)];
  const opened: T[] = [];
  try {
    for (const host of ['127.0.0.1', '::1']) {
      // The second address takes the port the first one got (which matters for port 0).
      const port = opened[0]?.bound.port ?? spec.port;
      try {
        opened.push(await listenOn(host, port));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EADDRNOTAVAIL' && code !== 'EAFNOSUPPORT') throw error;
        notice(`not listening on ${formatHostPort(host, port)}: this machine has no such loopback address (${code})`);
      }
    }
  } catch (error) {
    for (const one of opened) close(one);
    throw error;
  }
  if (opened.length === 0) throw Object.assign(new Error('neither 127.0.0.1 nor ::1 can be listened on'), { code: 'EADDRNOTAVAIL' });
  return opened;
}
