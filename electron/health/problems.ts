/**
 * The health checks' words: each problem the app can detect, with its cause named for this machine (which
 * program, which desktop, which distribution, which file) and the fix. Pure functions of what was measured, so
 * each message is tested for each case without that machine.
 */
import { readFile } from 'node:fs/promises';
import type { HealthProblem } from '../contract/api';
import type { PortHolder } from './port-holder';
import type { MsmtpProbe } from './msmtp-pretend';
import { shellPath } from '../desktop/shell-word';

export interface OsRelease {
  id: string;
  idLike: string[];
  prettyName: string;
}

/** /etc/os-release (or /usr/lib/os-release) as the fields the install lines need; null off Linux or when absent. */
export async function readOsRelease(files = ['/etc/os-release', '/usr/lib/os-release']): Promise<OsRelease | null> {
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => null);
    if (text !== null) return parseOsRelease(text);
  }
  return null;
}

export function parseOsRelease(text: string): OsRelease {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match) fields.set(match[1]!, match[2]!.replace(/^(["'])(.*)\1$/, '$2'));
  }
  const id = (fields.get('ID') ?? 'linux').toLowerCase();
  return {
    id,
    idLike: (fields.get('ID_LIKE') ?? '').toLowerCase().split(/\s+/).filter(Boolean),
    prettyName: fields.get('PRETTY_NAME') ?? fields.get('NAME') ?? 'Linux',
  };
}

/** The package manager line for a package on this system, or null where there is no standard one. */
export function installLine(platform: NodeJS.Platform, os: OsRelease | null, packages: Record<'debian' | 'fedora' | 'arch' | 'suse' | 'alpine' | 'brew', string>): string | null {
  if (platform === 'darwin') return `brew install ${packages.brew}`;
  if (platform !== 'linux' || !os) return null;
  const family = [os.id, ...os.idLike];
  if (family.some((id) => ['debian', 'ubuntu'].includes(id))) return `sudo apt install ${packages.debian}`;
  if (family.some((id) => ['fedora', 'rhel', 'centos'].includes(id))) return `sudo dnf install ${packages.fedora}`;
  if (family.some((id) => ['arch', 'manjaro'].includes(id))) return `sudo pacman -S ${packages.arch}`;
  if (family.some((id) => id.includes('suse'))) return `sudo zypper install ${packages.suse}`;
  if (family.includes('alpine')) return `sudo apk add ${packages.alpine}`;
  return null;
}

const MSMTP_PACKAGES = { debian: 'msmtp', fedora: 'msmtp', arch: 'msmtp', suse: 'msmtp', alpine: 'msmtp', brew: 'msmtp' };

export function portInUseProblem(host: string, port: number, holder: PortHolder | null, nextPort: number | null): HealthProblem {
  const who = holder ? `${holder.name} (pid ${holder.pid})` : 'another program';
  const steps: string[] = [];
  if (holder?.commandLine) steps.push(`It was started as: ${holder.commandLine}`);
  if (!holder) steps.push(`This account cannot see which one (a system service or another user's). To find it: sudo ss -ltnp 'sport = :${port}'`);
  if (nextPort !== null) steps.push(`Or use port ${nextPort}, which is free, and change the port in your mail client to match.`);
  return {
    kind: 'port-in-use',
    title: `Port ${port} is in use by ${who}`,
    detail: holder
      ? `${holder.name} already listens on ${host}:${port}, so the relay cannot. Stop ${holder.name}, or move the relay to another port.`
      : `Something already listens on ${host}:${port}, so the relay cannot. Stop it, or move the relay to another port.`,
    steps,
    ...(nextPort !== null ? { fix: { action: 'use-port' as const, port: nextPort, label: `Use port ${nextPort}` } } : {}),
  };
}

/** Which desktop this is, from XDG_CURRENT_DESKTOP ("ubuntu:GNOME" → GNOME); '' when it is not set. */
export function desktopName(env: NodeJS.ProcessEnv): string {
  const parts = (env.XDG_CURRENT_DESKTOP ?? '').split(':').map((part) => part.trim()).filter(Boolean);
  const known = parts.find((part) => /^(GNOME|KDE|XFCE|X-Cinnamon|Cinnamon|MATE|Unity|Budgie|Pantheon|LXQt|LXDE|sway|Hyprland)$/i.test(part));
  return (known ?? parts[0] ?? '').replace(/^X-/, '');
}

export interface KeyringFacts {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  os: OsRelease | null;
  /** Whether org.freedesktop.secrets has an owner on the session bus (Linux). */
  secretServiceRunning: boolean;
  /** What the keyring library said. */
  error: string;
}

export function keyringProblem(facts: KeyringFacts): HealthProblem {
  const retry = { action: 'retry' as const, label: 'Retry' };
  if (facts.platform === 'darwin' || facts.platform === 'win32') {
    const store = facts.platform === 'darwin' ? 'the macOS Keychain' : 'the Windows Credential Manager';
    return {
      kind: 'no-keyring',
      title: `The password could not be read from or stored in ${store}`,
      detail: `${store} said: ${facts.error}. Unlock it (log in again if needed), then Retry.`,
      steps: [],
      fix: retry,
    };
  }
  const desktop = desktopName(facts.env);
  const where = desktop ? `This is ${desktop}${facts.os ? ` on ${facts.os.prettyName}` : ''}` : `No desktop is named (XDG_CURRENT_DESKTOP is not set)${facts.os ? ` on ${facts.os.prettyName}` : ''}`;
  const steps: string[] = [];
  if (!facts.env.DBUS_SESSION_BUS_ADDRESS && !facts.env.XDG_RUNTIME_DIR) {
    steps.push('There is no D-Bus session: start msmtp Relay from your desktop session, not from a bare terminal or ssh.');
  }
  const gnomeKeyring = installLine('linux', facts.os, { debian: 'gnome-keyring', fedora: 'gnome-keyring', arch: 'gnome-keyring', suse: 'gnome-keyring', alpine: 'gnome-keyring', brew: 'gnome-keyring' });
  if (/^KDE$/i.test(desktop)) {
    steps.push('KDE Plasma: turn on the KDE Wallet in System Settings › KDE Wallet; KWallet answers as the Secret Service (KDE Frameworks 5.97 or later).');
    const kwallet = installLine('linux', facts.os, { debian: 'kwalletmanager', fedora: 'kwalletmanager5', arch: 'kwalletmanager', suse: 'kwalletmanager', alpine: 'kwalletmanager', brew: 'kwalletmanager' });
    if (kwallet) steps.push(kwallet);
  } else {
    steps.push(`Install and start GNOME Keyring${gnomeKeyring ? `: ${gnomeKeyring}` : ''}, then log out and back in (or run: gnome-keyring-daemon --start --components=secrets).`);
  }
  steps.push('Or use KeePassXC as the keyring: Tools › Settings › Secret Service Integration › enable it, and expose a database group.');
  return {
    kind: 'no-keyring',
    title: facts.secretServiceRunning ? 'The keyring refused to store the relay\'s password' : 'No keyring (Secret Service) is running',
    detail: `${where}. msmtp Relay keeps its password in a keyring that speaks the Secret Service protocol, and does not run without one. The keyring said: ${facts.error}`,
    steps,
    fix: retry,
  };
}

export function msmtpMissingProblem(program: string, platform: NodeJS.Platform, os: OsRelease | null): HealthProblem {
  const line = installLine(platform, os, MSMTP_PACKAGES);
  const steps = line ? [line] : platform === 'win32'
    ? ['Download a Windows build of msmtp from the msmtp website (marlam.de/msmtp), then choose msmtp.exe with Browse… in the Relay pane.']
    : ['Install msmtp with your system\'s package manager.'];
  steps.push('Or, if msmtp is installed somewhere else, choose it with Browse… next to the command.');
  return {
    kind: 'msmtp-missing',
    title: `msmtp is not installed (${program} was not found${/[\\/]/.test(program) ? '' : ' in PATH'})`,
    detail: `The relay hands every mail to msmtp, so it cannot start without it.${os ? ` On ${os.prettyName}:` : ''}`,
    steps,
    fix: { action: 'retry', label: 'Retry' },
  };
}

/** A problem from `msmtp --pretend`, or null when msmtp accepted its configuration. `userFile` is where a new one goes. */
export function msmtpConfigProblem(probe: MsmtpProbe, userFile: string): HealthProblem | null {
  if (probe.ok || !probe.problem) return null;
  const said = probe.said.join('; ');
  const recheck = { action: 'retry' as const, label: 'Check again' };
  switch (probe.problem) {
    case 'no-config':
      return {
        kind: 'msmtp-no-config',
        title: 'msmtp has no configuration file',
        detail: `msmtp said: "${said}". Add your mail account: msmtp Relay finds its server, checks the password with your provider and writes ${userFile} for msmtp.`,
        steps: [],
        opens: { pane: 'accounts', form: 'add', label: 'Add an account' },
        fix: recheck,
      };
    case 'no-account':
      return {
        kind: 'msmtp-no-account',
        title: `msmtp's configuration ${probe.problemFile} defines no account to send with`,
        detail: `msmtp said: "${said}". Add your mail account: msmtp Relay finds its server, checks the password with your provider and adds it to ${probe.problemFile}.`,
        steps: [],
        opens: { pane: 'accounts', form: 'add', label: 'Add an account' },
        fix: recheck,
      };
    case 'permissions': {
      const file = probe.problemFile ?? userFile;
      const owned = /must be owned by you/.test(said);
      return {
        kind: 'msmtp-permissions',
        title: `msmtp refuses ${probe.problemFile} because of its permissions`,
        detail: `msmtp said: "${said}". It holds a password, so msmtp reads it only when it is yours and private.`,
        steps: (owned ? [`sudo chown "$USER" ${shellPath(file)}`] : []).concat(`chmod 600 ${shellPath(file)}`),
        fix: owned ? recheck : { action: 'fix-permissions', label: 'Make it private (chmod 600)' },
      };
    }
    case 'other':
      return {
        kind: 'msmtp-config',
        title: 'msmtp does not accept its configuration',
        detail: `msmtp said: "${said || `exit status ${probe.exitCode}`}".`,
        steps: probe.file ? [`Edit ${probe.file}`] : [],
        fix: recheck,
      };
  }
}

/** GNOME Shell shows no tray icons by itself; the AppIndicator extension adds them. */
export function noTrayProblem(env: NodeJS.ProcessEnv, os: OsRelease | null): HealthProblem {
  const line = installLine('linux', os, {
    debian: 'gnome-shell-extension-appindicator', fedora: 'gnome-shell-extension-appindicator',
    arch: 'gnome-shell-extension-appindicator', suse: 'gnome-shell-extension-appindicator',
    alpine: 'gnome-shell-extension-appindicator', brew: 'gnome-shell-extension-appindicator',
  });
  const desktop = desktopName(env) || 'This desktop';
  return {
    kind: 'no-tray',
    title: `${desktop} shows no tray icons, so this window is the way to msmtp Relay`,
    detail: 'GNOME Shell has no tray of its own. The AppIndicator and KStatusNotifierItem Support extension adds one; with it msmtp Relay waits in the top bar. Until then, closing this window keeps the relay running, and starting msmtp Relay again brings the window back.',
    steps: [
      ...(line ? [line] : ['Install the "AppIndicator and KStatusNotifierItem Support" extension (extensions.gnome.org).']),
      'Log out and back in, then turn it on: gnome-extensions enable appindicatorsupport@rgcjonas.gmail.com',
    ],
  };
}
