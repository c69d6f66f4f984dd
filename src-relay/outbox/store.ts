import { createReadStream, readFileSync } from 'node:fs';
import { chmod, open, readdir, readFile, readlink, rename, rm, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { addressProblem } from '../smtp/address';
import { privateFolder, syncFolder, writeTextDurably } from './durable-file';
import type { MailCopy } from './mail-copy';

/** Everything the outbox knows of one kept mail; stored as ID.json beside the mail itself, ID.eml. */
export interface KeptRecord {
  readonly version: 1;
  readonly id: string;
  readonly from: string;
  readonly to: readonly string[];
  readonly receivedAt: number;
  readonly subject: string;
  /** A Message-ID header line the outbox adds in front of the mail when it is sent, because the mail had none. */
  readonly addedHeader: string;
  state: 'waiting' | 'failed';
  attempts: number;
  nextAttemptAt: number;
  lastAttemptAt: number;
  lastError: string;
  lastOutput: string;
  /** Where the last try failed (a FailureStage), so a returning network retries only what the network stopped. */
  lastStage: string;
  /** It was in flight when a relay died: the provider may have it already. */
  maySendTwice: boolean;
}

/** This process, as it names its claims: the pid and, where the OS tells, the pid's start time (pids get reused). */
export interface ProcessIdentity {
  readonly pid: number;
  readonly start: string;
}

/** A process registered as a relay on this spool. */
export interface RelayRegistration extends ProcessIdentity {
  /**
   * It said it retries at once on SIGUSR1, and it is proven to be the process that registered: it holds its
   * registration file open (Linux, /proc/PID/fd). Only such a process may be sent the signal, whose default action kills.
   */
  readonly takesFlushSignal: boolean;
}

/** A kept mail renamed away from ID.json by one process: while the claim stands, nobody else touches the mail. */
export interface Claim {
  readonly id: string;
  readonly file: string;
  readonly owner: ProcessIdentity;
}

/** A queue id: what newQueueId makes. Anything else (`../x`, a path) never becomes a file name. */
const ID = /^[0-9A-F]{1,32}$/;
const CLAIM = /^([0-9A-F]{1,32})\.json\.(flight|recover)\.(\d+)\.([0-9a-z]+)$/;
const RECORD = /^([0-9A-F]{1,32})\.json$/;
const MAIL = /^([0-9A-F]{1,32})\.eml$/;
const TEMPORARY = /\.(\d+)\.[0-9a-f]+\.tmp$/;
/** A mail file without a record older than this is a leftover of a crash between the two writes. */
const ORPHAN_AGE_MS = 10 * 60_000;

/**
 * The spool on disk, and the only code that knows its layout. Every change is a write to a temporary file that is
 * flushed and renamed into place, or a rename: a crash leaves each mail either kept whole or not at all. Claims are
 * renames too, which the OS makes atomic: of two relays on one spool, only one can claim a mail.
 */
export class OutboxStore {
  readonly me: ProcessIdentity;
  /** This process's registration, held open while it stands: the proof that it is this relay. */
  private registration: FileHandle | null = null;

  constructor(readonly dir: string) {
    this.me = currentProcess();
  }

  get temporaryDir(): string {
    return join(this.dir, 'tmp');
  }

  async open(): Promise<void> {
    await privateFolder(this.dir);
    // mkdir sets the mode only when it creates the folder: a spool made by hand, or by an older version, may be wider.
    if (process.platform !== 'win32') await chmod(this.dir, 0o700);
    await privateFolder(this.temporaryDir);
    await privateFolder(join(this.dir, 'relays'));
    // Temporary files of processes that are gone: half-written copies that no client was told about.
    for (const name of await readdir(this.temporaryDir)) {
      const pid = TEMPORARY.exec(name)?.[1];
      if (pid && !pidAlive(Number(pid))) await rm(join(this.temporaryDir, name), { force: true });
    }
  }

  /** Keeps a mail: the mail first, then its record; only once both are on disk is the mail in the outbox. */
  async keep(record: KeptRecord, copy: MailCopy): Promise<void> {
    const mail = this.mailFile(record.id);
    try {
      await copy.persist(mail);
      await writeTextDurably(this.recordFile(record.id), serialise(record));
    } catch (error) {
      await unlink(mail).catch(() => undefined);
      throw error;
    }
  }

  /** The records on disk, claims of processes that died (to recover), and the ids claimed by live ones. */
  async scan(): Promise<{ records: KeptRecord[]; deadClaims: Claim[]; claimed: Set<string> }> {
    const names = await readdir(this.dir);
    const records: KeptRecord[] = [];
    const deadClaims: Claim[] = [];
    const claimed = new Set<string>();
    const recordIds = new Set<string>();
    for (const name of names) {
      const claim = parseClaim(this.dir, name);
      if (claim) {
        if (sameProcess(claim.owner, this.me) || processAlive(claim.owner)) claimed.add(claim.id);
        else deadClaims.push(claim);
        continue;
      }
      const id = RECORD.exec(name)?.[1];
      if (!id) continue;
      const record = await this.readRecord(join(this.dir, name), id);
      if (record) {
        records.push(record);
        recordIds.add(id);
      }
    }
    for (const name of names) {
      const id = MAIL.exec(name)?.[1];
      if (id && !recordIds.has(id) && !claimed.has(id) && !deadClaims.some((claim) => claim.id === id)) {
        await this.removeOrphan(id);
      }
    }
    return { records, deadClaims, claimed };
  }

  /** Takes a waiting mail for one try; null when another process has it (or it is gone). */
  async claim(id: string): Promise<{ claim: Claim; record: KeptRecord } | null> {
    if (!ID.test(id)) return null; // `--queue-remove ../x` names no mail of this spool
    const claim: Claim = { id, owner: this.me, file: join(this.dir, `${id}.json.flight.${this.me.pid}.${this.me.start}`) };
    try {
      await rename(this.recordFile(id), claim.file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    // The claim is the "in flight" mark: it must survive a power cut before the command starts.
    await syncFolder(this.dir);
    const record = await this.readRecord(claim.file, id);
    if (!record) {
      await rename(claim.file, this.recordFile(id)).catch(() => undefined);
      return null;
    }
    return { claim, record };
  }

  /** A claim of a dead process, taken over; its mail is marked as maybe sent already. Null if another got it first. */
  async recover(dead: Claim): Promise<KeptRecord | null> {
    const mine = join(this.dir, `${dead.id}.json.recover.${this.me.pid}.${this.me.start}`);
    try {
      await rename(dead.file, mine);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    const record = await this.readRecord(mine, dead.id);
    if (!record) return null;
    // The try the dead process had in flight counts: it may even have gone through.
    record.maySendTwice = true;
    record.attempts += 1;
    record.nextAttemptAt = 0;
    await writeTextDurably(this.recordFile(dead.id), serialise(record));
    await unlink(mine);
    return record;
  }

  /** The claimed mail goes back to waiting (or to the failed list) with its new state. */
  async release(claim: Claim, record: KeptRecord): Promise<void> {
    await writeTextDurably(this.recordFile(claim.id), serialise(record));
    await unlink(claim.file).catch(() => undefined);
  }

  /** The claimed mail was sent: it leaves the spool. */
  async finish(claim: Claim): Promise<void> {
    await unlink(claim.file);
    await unlink(this.mailFile(claim.id)).catch(() => undefined);
    await syncFolder(this.dir);
  }

  /** The mail exactly as the command gets it: the header the outbox adds, then what the first try was fed. */
  mailStream(id: string): Readable {
    return createReadStream(this.mailFile(id));
  }

  /** Processes that hold this spool now (to ask them to flush); registered by registerRelay. */
  async liveRelays(): Promise<RelayRegistration[]> {
    const found: RelayRegistration[] = [];
    for (const name of await readdir(join(this.dir, 'relays')).catch(() => [] as string[])) {
      const match = /^(\d+)\.([0-9a-z]+)$/.exec(name);
      if (!match) continue;
      const owner = { pid: Number(match[1]), start: match[2]! };
      const file = join(this.dir, 'relays', name);
      if (!processAlive(owner)) {
        await rm(file, { force: true });
        continue;
      }
      const said = await readFile(file, 'utf8').catch(() => '');
      found.push({ ...owner, takesFlushSignal: said === 'SIGUSR1\n' && (await holdsOpen(owner.pid, file)) });
    }
    return found;
  }

  /** Registers this process as a relay on the spool; `flushSignal` when it retries every waiting mail on SIGUSR1. */
  async registerRelay(flushSignal?: 'SIGUSR1'): Promise<void> {
    const handle = await open(this.registrationFile(), 'w', 0o600);
    await handle.writeFile(flushSignal ? `${flushSignal}\n` : '');
    await this.registration?.close().catch(() => undefined);
    this.registration = handle;
  }

  async unregisterRelay(): Promise<void> {
    await this.registration?.close().catch(() => undefined);
    this.registration = null;
    await rm(this.registrationFile(), { force: true });
  }

  private registrationFile(): string {
    return join(this.dir, 'relays', `${this.me.pid}.${this.me.start}`);
  }

  async readPaused(): Promise<boolean> {
    return readFile(join(this.dir, 'paused')).then(() => true, () => false);
  }

  async writePaused(paused: boolean): Promise<void> {
    const file = join(this.dir, 'paused');
    if (paused) await writeFile(file, '', { mode: 0o600 });
    else await rm(file, { force: true });
  }

  private recordFile(id: string): string {
    return join(this.dir, `${checkedId(id)}.json`);
  }

  private mailFile(id: string): string {
    return join(this.dir, `${checkedId(id)}.eml`);
  }

  /** The record in `file`, if it is one of ours for mail `id` whose addresses may reach an argv; else null. */
  private async readRecord(file: string, id: string): Promise<KeptRecord | null> {
    let record: unknown;
    try {
      record = JSON.parse(await readFile(file, 'utf8'));
    } catch {
      return null; // gone meanwhile (claimed by another process), or not ours
    }
    return recordProblem(record, id) === null ? record as KeptRecord : null;
  }

  private async removeOrphan(id: string): Promise<void> {
    const file = this.mailFile(id);
    const info = await stat(file).catch(() => null);
    if (info && Date.now() - info.mtimeMs > ORPHAN_AGE_MS) await unlink(file).catch(() => undefined);
  }
}

function checkedId(id: string): string {
  if (!ID.test(id)) throw new RangeError(`not a queue id: ${JSON.stringify(id.slice(0, 40))}`);
  return id;
}

/**
 * Why a record read from the spool is not used, or null. Read back from disk, it passes the same checks as a mail
 * at the door: its id is its file's, and its addresses are what the SMTP session would let reach the command's argv.
 */
function recordProblem(value: unknown, id: string): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const record = value as Record<string, unknown>;
  if (record.version !== 1) return 'unknown version';
  if (record.id !== id || !ID.test(id)) return 'its id is not its file name';
  if (typeof record.from !== 'string' || (record.from !== '' && addressProblem(record.from) !== null)) return 'bad sender';
  const to = record.to;
  if (!Array.isArray(to) || to.length === 0 || to.length > 1000) return 'bad recipients';
  for (let index = 0; index < to.length; index += 1) {
    const address: unknown = to[index];
    if (typeof address !== 'string' || address === '' || addressProblem(address) !== null) return 'bad recipient';
  }
  if (typeof record.addedHeader !== 'string' || !/^(?:Message-ID: [^\r\n]*\n)?$/.test(record.addedHeader)) return 'bad header';
  if (record.state !== 'waiting' && record.state !== 'failed') return 'bad state';
  return null;
}

function serialise(record: KeptRecord): string {
  return `${JSON.stringify(record, null, 1)}\n`;
}

function parseClaim(dir: string, name: string): Claim | null {
  const match = CLAIM.exec(name);
  if (!match) return null;
  return { id: match[1]!, file: join(dir, name), owner: { pid: Number(match[3]), start: match[4]! } };
}

/**
 * Whether process `pid` has `file` open: one of /proc/PID/fd/* is that very file (same device and inode). Only
 * Linux can tell; elsewhere (and for another user's process) the answer is no, and nobody is signalled.
 */
async function holdsOpen(pid: number, file: string): Promise<boolean> {
  if (process.platform !== 'linux') return false;
  try {
    const target = await stat(file);
    const fdDir = `/proc/${pid}/fd`;
    for (const fd of await readdir(fdDir)) {
      const link = await readlink(join(fdDir, fd)).catch(() => '');
      if (!link.startsWith('/')) continue; // sockets, pipes, anonymous inodes
      const info = await stat(join(fdDir, fd)).catch(() => null);
      if (info && info.ino === target.ino && info.dev === target.dev) return true;
    }
  } catch {
    return false;
  }
  return false;
}

function sameProcess(a: ProcessIdentity, b: ProcessIdentity): boolean {
  return a.pid === b.pid && a.start === b.start;
}

function processAlive(owner: ProcessIdentity): boolean {
  if (!pidAlive(owner.pid)) return false;
  const start = startTime(owner.pid);
  // Where the start time is known, a live pid with another start time is a new process that reused the number.
  return start === null || owner.start === 'x' || start === owner.start;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Linux's start time of a process (clock ticks since boot, field 22 of /proc/PID/stat), in base 36; else null. */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]).toString(36);
  } catch {
    return null;
  }
}

function currentProcess(): ProcessIdentity {
  return { pid: process.pid, start: startTime(process.pid) ?? 'x' };
}
