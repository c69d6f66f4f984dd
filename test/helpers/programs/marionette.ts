import { connect, type Socket } from 'node:net';

/**
 * A client of Marionette, the remote protocol Thunderbird and Firefox speak when started with --marionette:
 * messages are `length:json` over TCP; a command is [0, id, name, params], its answer [1, id, error, result].
 */
export class Marionette {
  private buffer = Buffer.alloc(0);
  private readonly waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private greeting: ((value: unknown) => void) | null = null;
  private nextId = 0;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('close', () => this.failAll(new Error('Marionette connection closed')));
    socket.on('error', (error) => this.failAll(error));
  }

  /** Connects, reads the greeting and opens a session in the chrome context (where MailServices lives). */
  static async open(port: number, timeoutMs = 10_000): Promise<Marionette> {
    const socket = connect(port, '127.0.0.1');
    const client = new Marionette(socket);
    const greeted = new Promise((resolve) => (client.greeting = resolve));
    await client.bounded(new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }), timeoutMs, 'connect');
    try {
      await client.bounded(greeted, timeoutMs, 'greeting');
      await client.command('WebDriver:NewSession', { capabilities: {} }, timeoutMs);
      await client.command('Marionette:SetContext', { value: 'chrome' }, timeoutMs);
    } catch (error) {
      // A session that was still being made when the wait ran out would deny every later attempt ("an active
      // session has been found"): closing the connection ends it.
      socket.destroy();
      throw error;
    }
    return client;
  }

  /** Runs a chrome-context function body; a returned promise is awaited by Marionette. */
  async execute<T>(script: string, args: readonly unknown[] = [], timeoutMs = 30_000): Promise<T> {
    await this.command('WebDriver:SetTimeouts', { script: timeoutMs }, timeoutMs);
    const result = await this.command('WebDriver:ExecuteScript', { script, args, sandbox: 'system' }, timeoutMs + 2000);
    return (result as { value: T }).value;
  }

  command(name: string, params: object, timeoutMs: number): Promise<unknown> {
    const id = (this.nextId += 1);
    const text = JSON.stringify([0, id, name, params]);
    const reply = new Promise<unknown>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    this.socket.write(`${Buffer.byteLength(text)}:${text}`);
    return this.bounded(reply, timeoutMs, name).finally(() => this.waiting.delete(id));
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const colon = this.buffer.indexOf(0x3a);
      if (colon < 0) return;
      const length = Number(this.buffer.subarray(0, colon).toString('ascii'));
      if (this.buffer.length < colon + 1 + length) return;
      const message: unknown = JSON.parse(this.buffer.subarray(colon + 1, colon + 1 + length).toString('utf8'));
      this.buffer = this.buffer.subarray(colon + 1 + length);
      if (!Array.isArray(message)) {
        this.greeting?.(message);
        this.greeting = null;
        continue;
      }
      const [, id, error, result] = message as [number, number, { error: string; message: string } | null, unknown];
      const waiter = this.waiting.get(id);
      if (!waiter) continue;
      if (error) waiter.reject(new Error(`Marionette ${error.error}: ${error.message}`));
      else waiter.resolve(result);
    }
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }

  private bounded<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Marionette: no answer to ${what} within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}
