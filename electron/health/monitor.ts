/**
 * Runs the health checks against the real machine and hands their findings to the RelayHost, which puts them in
 * the status the window and the tray show. A relay error is diagnosed when it appears (who holds the port, which
 * keyring is missing, how to install msmtp); msmtp's configuration is checked with `msmtp --pretend` at start,
 * after a save and on request. Electron-free: main.ts passes the platform facts.
 */
import { chmod, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { parseCommand } from '../../src-relay/index';
import type { AppSettings, HealthProblem, RelayStatus } from '../contract/api';
import { keyringProblem, msmtpConfigProblem, msmtpMissingProblem, noTrayProblem, portInUseProblem, type OsRelease } from './problems';
import { findPortHolder, nextFreePort } from './port-holder';
import { msmtpConfigFiles } from './msmtp-check';
import { isMsmtp, probeMsmtp, type MsmtpProbe } from './msmtp-pretend';

/** What the monitor needs of the relay: its status, and a place to put what it found. */
export interface HealthSubject {
  current(): RelayStatus;
  onStatus(listener: (status: RelayStatus) => void): () => void;
  setProblems(source: string, problems: HealthProblem[]): void;
}

export interface HealthMonitorDeps {
  /** The app's status (core/app-status.ts): what the checks watch, and where their findings go. */
  status: HealthSubject;
  settings: () => AppSettings;
  platform?: NodeJS.Platform;
  env?: NodeJS.ProcessEnv;
  home?: string;
  os: OsRelease | null;
  /** Whether a Secret Service answers on the session bus (desktop/session-bus.ts createBusProbe on Linux). */
  secretServiceRunning: () => Promise<boolean>;
}

export class HealthMonitor {
  private diagnosed = '';
  private generation = 0;
  private lastProbe: MsmtpProbe | null = null;
  private readonly platform: NodeJS.Platform;
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly deps: HealthMonitorDeps) {
    this.platform = deps.platform ?? process.platform;
    this.env = deps.env ?? process.env;
  }

  /** Follows the host's status from now on; returns the unsubscribe function. */
  watch(): () => void {
    const stop = this.deps.status.onStatus((status) => void this.onStatus(status));
    void this.onStatus(this.deps.status.current());
    return stop;
  }

  /** No tray icon can be shown (GNOME without the AppIndicator extension): say so in the window. */
  trayMissing(missing: boolean): void {
    this.deps.status.setProblems('tray', missing ? [noTrayProblem(this.env, this.deps.os)] : []);
  }

  /** Runs `msmtp --pretend` the way the relay's command would run, and reports what msmtp refuses. */
  async checkMsmtp(): Promise<MsmtpProbe | null> {
    let argv: string[];
    try {
      argv = parseCommand(this.deps.settings().command);
    } catch {
      this.deps.status.setProblems('msmtp', []);
      return null; // the settings error is shown next to the field
    }
    if (!isMsmtp(argv[0]!)) {
      this.deps.status.setProblems('msmtp', []);
      return null;
    }
    const probe = await probeMsmtp(argv, undefined, { env: this.env });
    this.lastProbe = probe;
    // A missing program is the relay's own error (command-not-found), diagnosed there.
    const missing = probe.exitCode === null && probe.said.length === 0;
    const problem = missing ? null : msmtpConfigProblem(probe, this.userConfigFile());
    this.deps.status.setProblems('msmtp', problem ? [problem] : []);
    return probe;
  }

  /** The one-click fix for msmtp's permission refusal: chmod 600 on the file msmtp named, if it is ours. */
  async fixPermissions(): Promise<string> {
    const file = this.lastProbe?.problem === 'permissions' ? this.lastProbe.problemFile : undefined;
    if (!file) throw new Error('msmtp reported no file with wrong permissions');
    const info = await stat(file);
    if (typeof process.getuid === 'function' && info.uid !== process.getuid()) throw new Error(`${file} belongs to another user`);
    await chmod(file, 0o600);
    await this.checkMsmtp();
    return file;
  }

  private userConfigFile(): string {
    const home = this.deps.home ?? homedir();
    return msmtpConfigFiles(this.env, home)[0]!.replace(`${home}/`, '~/');
  }

  private async onStatus(status: RelayStatus): Promise<void> {
    const key = status.state === 'error' ? `${status.errorKind}|${status.host}|${status.port}|${status.error}` : '';
    if (key === this.diagnosed) return;
    this.diagnosed = key;
    const generation = ++this.generation;
    const problem = key ? await this.diagnose(status) : null;
    if (generation !== this.generation) return; // a newer status arrived meanwhile
    this.deps.status.setProblems('relay', problem ? [problem] : []);
  }

  private async diagnose(status: RelayStatus): Promise<HealthProblem | null> {
    switch (status.errorKind) {
      case 'port-in-use': {
        const [holder, next] = await Promise.all([
          findPortHolder(status.port, { platform: this.platform }),
          nextFreePort(status.host, status.port),
        ]);
        return portInUseProblem(status.host, status.port, holder, next);
      }
      case 'keyring':
        return keyringProblem({
          platform: this.platform,
          env: this.env,
          os: this.deps.os,
          secretServiceRunning: await this.deps.secretServiceRunning().catch(() => false),
          error: (status.error ?? '').replace(/^No keyring: /, '').replace(/\. The relay does not run without its password\.$/, ''),
        });
      case 'command-not-found': {
        let program: string;
        try {
          program = parseCommand(this.deps.settings().command)[0]!;
        } catch {
          return null;
        }
        return isMsmtp(program) ? msmtpMissingProblem(program, this.platform, this.deps.os) : null;
      }
      default:
        return null;
    }
  }
}
