import { connect, createServer } from 'node:net';

// No side effects on import (unlike ./processes, which installs exit and signal handlers): the tests use it too.

/** A port that was free a moment ago (the kernel picks it; the small race is harmless on a quiet loopback). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

/** Waits until an SMTP server greets on the port (connect, read the 220, QUIT); bounded. */
export async function waitForSmtp(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await smtpGreets(port)) return;
    if (Date.now() > deadline) throw new Error(`no SMTP server on port ${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * One probe: does a server on 127.0.0.1:port answer 220? It says QUIT, so the server sees an orderly session
 * rather than a dropped connection.
 */
export function smtpGreets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), 2000);
    let text = '';
    let quitting = false;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (quitting || !text.includes('\n')) return;
      quitting = true;
      if (!text.startsWith('220')) return finish(false);
      socket.write('QUIT\r\n');
      socket.once('close', () => finish(true));
      socket.resume();
    });
    socket.on('error', () => finish(false));
  });
}
