import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { syncFolder, temporaryName, writeFileDurably } from './durable-file';

/** How much of a mail is kept in memory before the copy moves to a file in the spool. */
const DEFAULT_SPILL_BYTES = 1024 * 1024;
/** The part of the copy searched for headers (Subject, Message-ID). */
const HEAD_BYTES = 64 * 1024;

/**
 * A copy of exactly what the delivery command was fed, made while it is fed, so that a mail the command could not
 * send yet can be kept without asking the client for it again. Small mails stay in memory; a large one moves to a
 * private file in the spool's temporary folder, so a big attachment costs disk, not memory.
 */
export class MailCopy {
  private chunks: Buffer[] = [];
  private head: Buffer[] = [];
  private headSize = 0;
  private size = 0;
  private file: FileHandle | null = null;
  private filePath: string | null = null;
  /** A failed write to the spill file: the copy is incomplete and persist() reports it. Delivery goes on. */
  private failure: Error | null = null;

  constructor(private readonly temporaryDir: string, private readonly spillBytes = DEFAULT_SPILL_BYTES) {}

  get bytes(): number {
    return this.size;
  }

  /**
   * The chunk must not change afterwards (the command's input pieces never do). Never throws. Returns a promise
   * only when there is disk work to wait for: a mail that stays in memory costs no await per piece.
   */
  add(chunk: Buffer): Promise<void> | undefined {
    if (chunk.length === 0 || this.failure) return undefined;
    this.size += chunk.length;
    if (this.headSize < HEAD_BYTES) {
      this.head.push(chunk);
      this.headSize += chunk.length;
    }
    if (this.file) return this.guard(this.file.write(chunk));
    this.chunks.push(chunk);
    return this.size > this.spillBytes ? this.guard(this.spill()) : undefined;
  }

  /** The start of the mail, for reading its header fields later (the recently-sent list). */
  headBytes(): Buffer {
    return Buffer.concat(this.head).subarray(0, HEAD_BYTES);
  }

  /** The start of the mail as text, for reading its header fields. */
  headText(): string {
    return this.headBytes().toString('latin1');
  }

  /** Writes the copy to `target` durably: flushed to disk and renamed into place, the folder flushed too. */
  async persist(target: string): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.file) {
      const chunks = this.chunks;
      await writeFileDurably(target, async (handle) => {
        await handle.writev(chunks);
      });
      this.chunks = [];
      return;
    }
    const file = this.file;
    const path = this.filePath!;
    this.file = null;
    this.filePath = null;
    try {
      await file.sync();
      await file.close();
      await rename(path, target);
    } catch (error) {
      await file.close().catch(() => undefined);
      await unlink(path).catch(() => undefined);
      throw error;
    }
    await syncFolder(join(target, '..'));
  }

  /** Forgets the copy (the mail was delivered, or refused for good). */
  async discard(): Promise<void> {
    this.chunks = [];
    this.head = [];
    const file = this.file;
    const path = this.filePath;
    this.file = null;
    this.filePath = null;
    if (file) {
      await file.close().catch(() => undefined);
      await unlink(path!).catch(() => undefined);
    }
  }

  private async guard(work: Promise<unknown>): Promise<void> {
    try {
      await work;
    } catch (error) {
      this.failure = error as Error;
      await this.discard();
    }
  }

  private async spill(): Promise<void> {
    const path = temporaryName(join(this.temporaryDir, 'copy'));
    const file = await open(path, 'wx', 0o600);
    this.file = file;
    this.filePath = path;
    const chunks = this.chunks;
    this.chunks = [];
    await file.writev(chunks);
  }
}

/** The value of a header field in the head of a mail (LF line ends), unfolded; null when absent. */
export function headerField(head: string, name: string): string | null {
  const end = head.search(/\n\n|\r\n\r\n/);
  const header = end < 0 ? head : head.slice(0, end);
  const match = new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(header);
  return match ? match[1]!.replace(/\r?\n[ \t]+/g, ' ').trim() : null;
}
