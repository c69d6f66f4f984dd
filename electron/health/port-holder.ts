/**
 * "Port in use": which program holds a TCP port, and the next port that is free. Linux answers from /proc without
 * any tool; macOS asks lsof, Windows netstat and tasklist (argv only, bounded). Every lookup may come back empty:
 * another user's processes are not visible to us, and then the message names the port only.
 */
import { execFile } from 'node:child_process';
import { readFile, readdir, readlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

export interface PortHolder {
  pid: number;
  /** The program's short name (comm on Linux, the image name on Windows). */
  name: string;
  /** The whole command line where the OS shows it. */
  commandLine?: string;
}

export interface PortLookupOptions {
  platform?: NodeJS.Platform;
  /** Where /proc is; tests keep the real one. */
  procRoot?: string;
  timeoutMs?: number;
}

export async function findPortHolder(port: number, options: PortLookupOptions = {}): Promise<PortHolder | null> {
  const platform = options.platform ?? process.platform;
  try {
    if (platform === 'linux') return await linuxHolder(port, options.procRoot ?? '/proc');
    if (platform === 'win32') return await windowsHolder(port, options.timeoutMs ?? 3000);
    return await lsofHolder(port, options.timeoutMs ?? 3000);
  } catch {
    return null;
  }
}

/** The socket inodes listening on `port` (state 0A = LISTEN) in /proc/net/tcp or tcp6 text. */
export function listeningInodes(procNetTcp: string, port: number): string[] {
  const inodes: string[] = [];
  for (const line of procNetTcp.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10) continue;
    const local = fields[1]!;
    const localPort = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
    if (localPort === port && fields[3] === '0A' && fields[9] !== '0') inodes.push(fields[9]!);
  }
  return inodes;
}

async function linuxHolder(port: number, proc: string): Promise<PortHolder | null> {
  const tables = await Promise.all(['tcp', 'tcp6'].map((name) => readFile(join(proc, 'net', name), 'utf8').catch(() => '')));
  const inodes = new Set(tables.flatMap((table) => listeningInodes(table, port)));
  if (inodes.size === 0) return null;
  const wanted = new Set([...inodes].map((inode) => `socket:[${inode}]`));
  for (const entry of await readdir(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = await readdir(join(proc, entry, 'fd'));
    } catch {
      continue; // gone, or another user's process
    }
    for (const fd of fds) {
      const target = await readlink(join(proc, entry, 'fd', fd)).catch(() => '');
      if (!wanted.has(target)) continue;
      const name = (await readFile(join(proc, entry, 'comm'), 'utf8').catch(() => '')).trim();
      const commandLine = (await readFile(join(proc, entry, 'cmdline'), 'utf8').catch(() => '')).split('\0').filter(Boolean).join(' ');
      return { pid: Number(entry), name: name || `process ${entry}`, ...(commandLine ? { commandLine } : {}) };
    }
  }
  return null;
}

/** `lsof -nP -iTCP:PORT -sTCP:LISTEN -Fpc` prints fields one per line: p<pid>, c<command>. */
export function parseLsof(output: string): PortHolder | null {
  let pid: number | null = null;
  for (const line of output.split('\n')) {
    if (line.startsWith('p')) pid = Number(line.slice(1));
    else if (line.startsWith('c') && pid !== null) return { pid, name: line.slice(1) };
  }
  return null;
}

async function lsofHolder(port: number, timeoutMs: number): Promise<PortHolder | null> {
  const output = await run('lsof', ['-nP', `-iTCP:${port}`, '-sTCP:LISTEN', '-Fpc'], timeoutMs);
  return parseLsof(output);
}

/** The pid in `netstat -ano -p TCP` whose local address ends in :PORT and whose state is LISTENING. */
export function parseNetstatPid(output: string, port: number): number | null {
  for (const line of output.split(/\r?\n/)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || !/^TCP/i.test(fields[0]!)) continue;
    if (fields[1]!.endsWith(`:${port}`) && /^LISTEN/i.test(fields[3]!)) return Number(fields[4]);
  }
  return null;
}

async function windowsHolder(port: number, timeoutMs: number): Promise<PortHolder | null> {
  const pid = parseNetstatPid(await run('netstat', ['-ano', '-p', 'TCP'], timeoutMs), port);
  if (pid === null) return null;
  const csv = await run('tasklist', ['/FI', `PID eq ${pid}`, '/FO', 'CSV', '/NH'], timeoutMs).catch(() => '');
  const name = /^"([^"]+)"/.exec(csv.trim())?.[1];
  return { pid, name: name ?? `process ${pid}` };
}

function run(program: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(program, args, { timeout: timeoutMs, shell: false, windowsHide: true, encoding: 'utf8' }, (error, stdout) => {
      // lsof exits 1 when nothing matched; its output is still the answer.
      if (error && !stdout) reject(new Error(error.message));
      else resolve(stdout);
    });
  });
}

/**
 * The first port after `from` that can be listened on at `host` right now (tried by binding, then let go).
 * `localhost` means both loopback addresses; one the machine lacks (no IPv6) does not count against a port.
 */
export async function nextFreePort(host: string, from: number, tries = 100): Promise<number | null> {
  const hosts = host === 'localhost' ? ['127.0.0.1', '::1'] : [host];
  for (let port = from + 1; port <= Math.min(65535, from + tries); port += 1) {
    const free = await Promise.all(hosts.map((address) => canListen(address, port)));
    if (free.every(Boolean)) return port;
  }
  return null;
}

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EADDRNOTAVAIL' && host === '::1'));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
