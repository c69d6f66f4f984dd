import { loopbackName } from '../src-relay/index';
import type { AppSettings, ClientSetupView, RelayStatus } from './api';

/**
 * What a mail client must be told; the port is the one really in use while the relay runs. The app always
 * requires a password, and offers STARTTLS when "Encrypt connections from mail clients" is on.
 */
export function clientSetupView(settings: AppSettings, status: RelayStatus): ClientSetupView {
  const port = status.state === 'running' ? status.port : settings.port;
  const security = settings.tls ? 'starttls' : 'none';
  return { host: loopbackName(settings.host), port, user: settings.user, security, authentication: 'normal-password' };
}

/** "Copy mail client settings": everything but the password, which is copied on its own and never pasted around. */
export function clientSetupText(view: ClientSetupView): string {
  return [
    'Outgoing mail server (SMTP) for msmtp Relay',
    `Server: ${view.host}`,
    `Port: ${view.port}`,
    `Connection security: ${view.security === 'starttls' ? 'STARTTLS' : 'None'}`,
    'Authentication: Normal password',
    `User name: ${view.user}`,
    'Password: copy it from msmtp Relay (Mail client setup > Password > Copy)',
    '',
  ].join('\n');
}
