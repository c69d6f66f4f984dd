import { homedir } from 'node:os';
import type {
  AccountLookupView, AccountPage, AccountRequest, AccountSaveResult, AccountsView, SenderWarning,
} from '../contract/api';
import { AccountsService, type AccountsDeps } from '../accounts/accounts-service';
import type {
  ActionResult, AppSettings, ClientGuide, ClientSetupView, GuideId, CommandCheck, CopyItem, HealthFix, LogEntry, MainApi, RelayStatus,
  SaveResult, TestMailResult, ThunderbirdProfileView, ThunderbirdRequest,
} from '../contract/api';
import type { HealthMonitor } from '../health/monitor';
import { isMsmtp, probeMsmtp } from '../health/msmtp-pretend';
import { classifyCommandFailure, parseCommand } from '../../src-relay/index';
import { defaultTestAddress, sendTestMail } from '../setup/test-mail';
import { exportCertificate, type LocalCertificate } from './tls-cert';
import type { OutboxView } from '../contract/api';
import type { Autostart } from '../desktop/autostart';
import { clientGuides, clientSetupText, clientSetupView } from '../setup/mail-clients';
import type { SecretStore } from '../../src-relay/index';
import { checkCommand, msmtpAccounts, type CheckOptions } from '../health/msmtp-check';
import { ensureRelayPassword, generatePassword, passwordProblem } from './password';
import type { AppCore } from './app-core';
import type { SettingsStore } from './settings';
import { addRelayToListedProfile, describeProfiles, type ThunderbirdPlaces } from '../setup/thunderbird-profiles';

/** The platform services the controller needs; main.ts passes Electron's, tests pass real stand-ins of their own. */
export interface AppCommandsDeps {
  /** The app's state, one owner per piece (app-core.ts). */
  app: AppCore;
  store: SettingsStore;
  secrets: SecretStore;
  autostart: Autostart;
  /** Electron 45's clipboard.writeText returns a promise; a test's array push does not. */
  writeClipboard(text: string): Promise<void> | void;
  /** Opens the log file in the desktop's viewer; resolves to an error message, or '' on success (shell.openPath). */
  openLogFile(): Promise<string>;
  chooseFile(): Promise<string | null>;
  checkOptions?: CheckOptions;
  /** The health checks (main.ts and the window tests pass one; without it the fixes only restart the relay). */
  health?: HealthMonitor;
  /** The relay's key and certificate for STARTTLS (tls-cert.ts's ensureCertificate for the app's data folder). */
  certificate?: () => Promise<LocalCertificate>;
  /** Native save dialog; resolves to the chosen path or null when cancelled. */
  chooseSavePath?: (suggestedName: string) => Promise<string | null>;
  /** Where to look for Thunderbird profiles; this user's home and %APPDATA% by default. */
  thunderbird?: ThunderbirdPlaces;
  /** Opens an https page in the user's browser (shell.openExternal); without it provider pages are not opened. */
  openExternal?: (url: string) => Promise<void>;
  /** Native file picker for a certificate to trust (Proton Mail Bridge's). */
  chooseTrustFile?: () => Promise<string | null>;
  /** The Accounts pane's engine seams and the attention hook (AccountsDeps). */
  accounts?: Pick<AccountsDeps, 'seams' | 'lookupSeams' | 'home' | 'onAttention'>;
}

/**
 * Everything the settings window can ask for, without Electron: ipc.ts calls these after checking the sender and
 * validating the input, the tray calls a few of them too.
 */
export class AppCommands implements MainApi {
  /** msmtp's accounts: the Accounts pane, and the accounts the relay could not log in with. */
  readonly accounts: AccountsService;

  constructor(private readonly deps: AppCommandsDeps) {
    const app = deps.app;
    this.accounts = new AccountsService({
      ...deps.accounts,
      host: {
        log: (level, message) => app.log.app(level, message),
        setProblems: (source, problems) => app.status.setProblems(source, problems),
        retryOutbox: async () => (await app.outbox?.retry(null)) ?? 0,
        onEvent: (listener) => app.relay.onEvent(listener),
      },
      senders: () => this.knownSenders(),
      openExternal: deps.openExternal ?? (() => Promise.reject(new Error('no browser here'))),
      chooseTrustFile: deps.chooseTrustFile ?? (() => Promise.resolve(null)),
    });
  }

  current(): AppSettings {
    return this.deps.app.settings.current();
  }

  private get settings(): AppSettings {
    return this.deps.app.settings.current();
  }

  async getSettings(): Promise<AppSettings> {
    return this.current();
  }

  async saveSettings(next: AppSettings): Promise<SaveResult> {
    const checked = await this.deps.store.save(next);
    if (!checked.ok) return checked;
    const saved = checked.settings;
    if (saved.launchAtLogin !== this.settings.launchAtLogin) {
      try {
        await this.deps.autostart.setEnabled(saved.launchAtLogin);
      } catch (error) {
        this.deps.app.log.app('error', `could not change start at login: ${(error as Error).message}`);
      }
    }
    this.deps.app.settings.replace(saved);
    await this.deps.app.relay.apply();
    void this.deps.health?.checkMsmtp();
    return { ok: true, settings: this.current(), status: this.deps.app.status.current() };
  }

  async setPassword(password: string): Promise<ActionResult> {
    const problem = passwordProblem(password);
    if (problem) return { ok: false, error: problem };
    return this.storePassword(password, 'Password saved in the keyring. Enter it in your mail client too.');
  }

  async regeneratePassword(): Promise<ActionResult> {
    return this.storePassword(generatePassword(), 'New password saved in the keyring. Copy it into your mail client.');
  }

  async copy(item: CopyItem): Promise<ActionResult> {
    const view = await this.clientSetup();
    let text: string;
    switch (item) {
      case 'host':
        text = view.host;
        break;
      case 'port':
        text = String(view.port);
        break;
      case 'user':
        text = view.user;
        break;
      case 'all':
        text = clientSetupText(view);
        break;
      case 'password':
        try {
          text = await this.relayPassword();
        } catch (error) {
          return { ok: false, error: `No keyring: ${(error as Error).message}` };
        }
        break;
    }
    await this.deps.writeClipboard(text);
    return { ok: true, message: item === 'password' ? 'Password copied' : `Copied ${item === 'all' ? 'settings' : item}` };
  }

  async getStatus(): Promise<RelayStatus> {
    return this.deps.app.status.current();
  }

  async setRunning(on: boolean): Promise<RelayStatus> {
    await (on ? this.deps.app.relay.start() : this.deps.app.relay.stop());
    return this.deps.app.status.current();
  }

  async recentLog(): Promise<LogEntry[]> {
    return this.deps.app.log.recent();
  }

  async clearLog(): Promise<void> {
    this.deps.app.log.clear();
  }

  async openLogFile(): Promise<ActionResult> {
    const problem = await this.deps.openLogFile();
    return problem ? { ok: false, error: problem } : { ok: true };
  }

  async checkCommand(command: string): Promise<CommandCheck> {
    return checkCommand(command, this.deps.checkOptions);
  }

  async chooseCommandFile(): Promise<string | null> {
    return this.deps.chooseFile();
  }

  async clientSetup(): Promise<ClientSetupView> {
    const view = clientSetupView(this.settings, this.deps.app.relay.state());
    if (view.security !== 'starttls' || !this.deps.certificate) return view;
    const certificate = await this.deps.certificate().catch(() => null);
    return certificate ? { ...view, fingerprint: certificate.fingerprint256 } : view;
  }

  async testMailDefaults(): Promise<{ from?: string; to?: string }> {
    const address = defaultTestAddress(await msmtpAccounts(this.deps.checkOptions));
    return address ? { from: address, to: address } : {};
  }

  async sendTestMail(to: string): Promise<TestMailResult> {
    const status = this.deps.app.relay.state();
    const from = (await this.testMailDefaults()).from ?? `${this.settings.user}@localhost`;
    const tlsCa = this.settings.tls && this.deps.certificate ? (await this.deps.certificate()).cert : undefined;
    const argv = parseCommand(this.settings.command);
    const result = await sendTestMail({
      address: status.state === 'running' ? { host: status.host, port: status.port } : null,
      user: this.settings.user,
      password: () => this.relayPassword(),
      from,
      to,
      ...(tlsCa !== undefined ? { tlsCa } : {}),
      subscribe: (listener) => this.deps.app.relay.onEvent(listener),
      probe: (sender) => (isMsmtp(argv[0]!) ? probeMsmtp(argv, sender, { env: this.deps.checkOptions?.env }) : Promise.resolve(null)),
      classify: classifyCommandFailure,
    });
    this.deps.app.log.app(result.outcome === 'sent' ? 'info' : 'error', `test mail to ${to}: ${result.headline}`);
    return result;
  }

  async applyFix(fix: HealthFix): Promise<ActionResult> {
    switch (fix.action) {
      case 'use-port': {
        const saved = await this.saveSettings({ ...this.settings, port: fix.port });
        if (!saved.ok) return { ok: false, error: Object.values(saved.errors).join('; ') };
        return saved.status.state === 'running'
          ? { ok: true, message: `The relay now listens on port ${fix.port}. Change the port in your mail client too.` }
          : { ok: false, error: saved.status.error ?? `The relay did not start on port ${fix.port}` };
      }
      case 'retry': {
        const [status] = await Promise.all([this.deps.app.relay.start(), this.deps.health?.checkMsmtp()]);
        return status.state === 'running' ? { ok: true, message: 'The relay is running' } : { ok: false, error: status.error ?? 'The relay did not start' };
      }
      case 'fix-permissions': {
        if (!this.deps.health) return { ok: false, error: 'The health checks are not available' };
        try {
          const file = await this.deps.health.fixPermissions();
          return { ok: true, message: `${file} is now private to you (chmod 600)` };
        } catch (error) {
          return { ok: false, error: (error as Error).message };
        }
      }
    }
  }

  async exportCertificate(): Promise<ActionResult> {
    if (!this.deps.certificate || !this.deps.chooseSavePath) return { ok: false, error: 'Encrypted connections are not available here' };
    const certificate = await this.deps.certificate();
    const target = await this.deps.chooseSavePath('msmtp-relay-localhost.pem');
    if (!target) return { ok: false, error: 'Not exported' };
    await exportCertificate(certificate.cert, target);
    return { ok: true, message: `Certificate saved to ${target}` };
  }

  async listOutbox(): Promise<OutboxView> {
    const outbox = this.deps.app.outbox;
    return outbox ? outbox.view() : { available: false, error: 'this app runs without an outbox', paused: false, keepUnsent: false, mails: [], sent: [] };
  }

  async retryOutbox(id: string | null): Promise<ActionResult> {
    const count = await this.deps.app.outbox?.retry(id) ?? 0;
    if (count === 0) return { ok: false, error: id === null ? 'No mail is waiting' : `Mail ${id} is not in the outbox (or it is being sent right now)` };
    const what = id === null ? (count === 1 ? 'the waiting mail' : `the ${count} waiting mails`) : 'the mail';
    if (!this.deps.app.relay.running) return { ok: true, message: `The relay is stopped: ${what} will be sent once it runs` };
    return { ok: true, message: `Trying ${what} now` };
  }

  async deleteFromOutbox(id: string): Promise<ActionResult> {
    const removed = await this.deps.app.outbox?.remove(id) ?? false;
    return removed ? { ok: true, message: 'Deleted from the outbox' } : { ok: false, error: `Mail ${id} is not in the outbox (or it is being sent right now)` };
  }

  async setSendingPaused(paused: boolean): Promise<OutboxView> {
    const outbox = this.deps.app.outbox;
    if (!outbox) throw new Error('this app runs without an outbox');
    await outbox.setPaused(paused);
    return outbox.view();
  }

  async clientGuides(): Promise<ClientGuide[]> {
    const from = defaultTestAddress(await msmtpAccounts(this.deps.checkOptions));
    return clientGuides(await this.clientSetup(), from ? { from } : {});
  }

  async copySnippet(id: GuideId, index: number): Promise<ActionResult> {
    const snippet = (await this.clientGuides()).find((guide) => guide.id === id)?.snippets[index];
    if (!snippet) return { ok: false, error: 'That snippet is not there any more' };
    await this.deps.writeClipboard(snippet.text);
    return { ok: true, message: `Copied ${snippet.label}` };
  }

  async thunderbirdProfiles(): Promise<ThunderbirdProfileView[]> {
    return describeProfiles(this.thunderbirdPlaces());
  }

  async addToThunderbird(request: ThunderbirdRequest): Promise<ActionResult> {
    const view = await this.clientSetup();
    const server = { host: view.host, port: view.port, user: view.user, starttls: view.security === 'starttls' };
    const result = await addRelayToListedProfile(this.thunderbirdPlaces(), request, server);
    if (result.ok) this.deps.app.log.app('info', result.logLine);
    return result.ok ? { ok: true, message: result.message } : result;
  }

  async listAccounts(): Promise<AccountsView> {
    return this.accounts.list();
  }

  async lookupAccount(address: string): Promise<AccountLookupView> {
    return this.accounts.lookup(address);
  }

  async saveAccount(request: AccountRequest, password: string): Promise<AccountSaveResult> {
    const result = await this.accounts.save(request, password);
    if (result.ok) void this.deps.health?.checkMsmtp();
    return result;
  }

  async removeAccount(address: string): Promise<ActionResult> {
    const result = await this.accounts.remove(address);
    if (result.ok) void this.deps.health?.checkMsmtp();
    return result;
  }

  async openAccountPage(address: string, page: AccountPage): Promise<ActionResult> {
    return this.accounts.openPage(address, page);
  }

  async chooseTrustFile(): Promise<string | null> {
    return this.accounts.chooseTrustFile();
  }

  /** The From addresses the user sends with: Thunderbird identities sending through the relay, and the test mail's. */
  private async knownSenders(): Promise<SenderWarning[]> {
    const profiles = await this.thunderbirdProfiles().catch(() => []);
    const identities = profiles.flatMap((profile) => profile.identities
      .filter((identity) => identity.usesRelay)
      .map((identity) => ({ address: identity.email, where: `Thunderbird (${profile.name})` })));
    const test = (await this.testMailDefaults()).from ?? `${this.settings.user}@localhost`;
    return [...identities, { address: test, where: 'the test mail' }];
  }

  private thunderbirdPlaces(): ThunderbirdPlaces {
    return this.deps.thunderbird ?? { platform: process.platform, home: homedir(), ...(process.env.APPDATA ? { appData: process.env.APPDATA } : {}) };
  }

  private async storePassword(password: string, message: string): Promise<ActionResult> {
    try {
      await this.deps.secrets.set(this.settings.user, password);
    } catch (error) {
      return { ok: false, error: `No keyring: ${(error as Error).message}` };
    }
    this.deps.app.log.app('info', `password for user ${this.settings.user} changed`);
    await this.deps.app.relay.restart();
    return { ok: true, message };
  }

  private relayPassword(): Promise<string> {
    return ensureRelayPassword(this.deps.secrets, this.settings.user, this.deps.app.log);
  }
}

