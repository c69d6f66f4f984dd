import { loopbackName } from '../../src-relay/index';
import type { AppSettings, ClientGuide, ClientSetupView, RelayFacts } from '../contract/api';
import { shellWord } from '../desktop/shell-word';

/**
 * What a mail client must be told; the port is the one really in use while the relay runs. The app always
 * requires a password, and offers STARTTLS when "Encrypt connections from mail clients" is on.
 */
export function clientSetupView(settings: AppSettings, status: Pick<RelayFacts, 'state' | 'port'>): ClientSetupView {
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

/** Stands in for the password in every snippet: the password itself is only ever copied to the clipboard. */
export const PASSWORD_VARIABLE = 'MSMTP_RELAY_PASSWORD';
/** The certificate file name the guides refer to once the user exported it (with local TLS). */
export const CERTIFICATE_FILE = 'msmtp-relay.pem';
export const SAMPLE_FROM = 'you@example.org';
export const SAMPLE_TO = 'friend@example.org';

export interface GuideOptions {
  /** The From address to show, e.g. the one of msmtp's default account. */
  from?: string;
}

/** Every guide, in the order the pane shows them; snippets carry the current host, port, user and security. */
export function clientGuides(view: ClientSetupView, options: GuideOptions = {}): ClientGuide[] {
  const from = options.from ?? SAMPLE_FROM;
  const tls = view.security === 'starttls';
  const security = tls ? 'STARTTLS' : 'None';
  const password = 'paste the password (Password > Copy above)';
  return [
    {
      id: 'thunderbird',
      title: 'Thunderbird',
      supported: true,
      steps: [
        'Account Settings › Outgoing Server (SMTP) › Add…',
        `Server Name ${view.host}, Port ${view.port}, Connection security ${security}.`,
        `Authentication method “Normal password”, User Name ${view.user}.`,
        'Select your account and choose the new server under “Outgoing Server (SMTP)”.',
        `On the first send, ${password} and let Thunderbird remember it.`,
      ],
      snippets: [],
      note: 'Or quit Thunderbird and click “Add to Thunderbird” above: it makes these settings for you.',
    },
    {
      id: 'apple-mail',
      title: 'Apple Mail',
      supported: true,
      steps: [
        'Mail › Settings… › Accounts, select the account, open “Server Settings”.',
        'Under “Outgoing Mail Account” choose “Edit SMTP Server List…” and click +.',
        'Description “msmtp Relay”.',
        `Host Name ${view.host}; untick “Automatically manage connection settings”.`,
        `Port ${view.port}; ${tls ? 'tick' : 'untick'} “Use TLS/SSL”${tls ? ' (Mail uses STARTTLS on this port)' : ''}; Authentication “Password”.`,
        `User Name ${view.user}; ${password}. Click OK, then pick “msmtp Relay” as the account's outgoing mail account.`,
      ],
      snippets: [],
      note: 'A configuration profile (.mobileconfig) cannot do this: a Mail payload must describe the incoming server too, so an SMTP-only profile is not valid and macOS refuses it.',
    },
    {
      id: 'outlook-classic',
      title: 'Outlook (classic, for Windows)',
      supported: true,
      steps: [
        'File › Account Settings › Account Settings…, select the POP or IMAP account, click “Change…”.',
        `Outgoing mail server (SMTP): ${view.host}.`,
        `More Settings… › Outgoing Server: tick “My outgoing server (SMTP) requires authentication”, choose “Log on using”, User Name ${view.user}, ${password}, tick “Remember password”.`,
        `Advanced: Outgoing server (SMTP) ${view.port}, “Use the following type of encrypted connection” ${tls ? 'STARTTLS' : 'None'}.`,
        'OK, Next: Outlook sends a test message through the relay.',
      ],
      snippets: [],
      note: 'Microsoft 365 and Exchange accounts send through Exchange; only POP and IMAP accounts have an outgoing server to change.',
    },
    {
      id: 'outlook-new',
      title: 'The new Outlook (and Outlook on the web)',
      supported: false,
      steps: [
        'The new Outlook for Windows sends your mail from Microsoft\'s cloud, not from this computer, so it cannot reach a relay that runs here. Use classic Outlook, Thunderbird or another program from this list.',
      ],
      snippets: [],
    },
    {
      id: 'evolution',
      title: 'Evolution',
      supported: true,
      steps: [
        'Edit › Accounts, select the account, “Edit”, open “Sending Email”.',
        `Server Type SMTP; Server ${view.host}, Port ${view.port}.`,
        `Tick “Server requires authentication”; Encryption method ${tls ? '“STARTTLS after connecting”' : '“No encryption”'}.`,
        `Authentication Type PLAIN, Username ${view.user}; Evolution asks for the password on the first send.`,
        'Or skip the relay: Server Type “Sendmail”, tick “Use custom binary instead of sendmail” and enter msmtp\'s full path (`command -v msmtp` prints it). Evolution runs it as msmtp -i -f <from> -- <recipients>.',
      ],
      snippets: [],
    },
    {
      id: 'kmail',
      title: 'KMail',
      supported: true,
      steps: [
        'Settings › Configure KMail… › Accounts › Sending › Add… › SMTP.',
        `General: Outgoing mail server ${view.host}; tick “Server requires authentication”; Login ${view.user}; ${password}.`,
        `Advanced: Encryption ${tls ? 'STARTTLS' : 'None'}, Port ${view.port}, Authentication PLAIN.`,
        'Choose the new transport for your identity (Identities › Modify… › Advanced › Outgoing account).',
      ],
      snippets: [],
    },
    {
      id: 'mutt',
      title: 'mutt and neomutt',
      supported: true,
      steps: ['Add these lines to ~/.muttrc (neomutt: ~/.config/neomutt/neomuttrc). mutt asks for the password when it first sends.'],
      snippets: [{ label: 'muttrc', language: 'muttrc', text: muttrc(view, from) }],
    },
    {
      id: 'git-send-email',
      title: 'git send-email',
      supported: true,
      steps: ['Run these lines once; git send-email asks for the password on the first mail (a credential helper can keep it).'],
      snippets: [{ label: 'git config', language: 'shell', text: gitConfig(view, from) }],
    },
    {
      id: 'python',
      title: 'A Python script',
      supported: true,
      steps: [`The script reads the password from the environment variable ${PASSWORD_VARIABLE}.`],
      snippets: [{ label: 'send_mail.py', language: 'python', text: pythonScript(view, from) }],
    },
    {
      id: 'node',
      title: 'A Node.js script (nodemailer)',
      supported: true,
      steps: [`Save it as send-mail.mjs in a folder where you ran npm install nodemailer; it reads the password from the environment variable ${PASSWORD_VARIABLE}.`],
      snippets: [{ label: 'send-mail.mjs', language: 'javascript', text: nodeScript(view, from) }],
    },
  ];
}

/**
 * Each snippet quotes its values by its own language's rules, so that a hostile From or user name (backticks,
 * `$VAR`, quotes, backslashes, `!`, control characters) comes out as exactly that text and runs nothing.
 */

/** A Python or JavaScript string literal in plain ASCII: every other character as an escape both languages read alike. */
function codeString(text: string, language: 'python' | 'javascript'): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === '"' || char === '\\') out += `\\${char}`;
    else if (code >= 0x20 && code < 0x7f) out += char;
    else if (code <= 0xff) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code <= 0xffff) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += language === 'python' ? `\\U${code.toString(16).padStart(8, '0')}` : `\\u{${code.toString(16)}}`;
  }
  return `${out}"`;
}

/**
 * A muttrc string: inside double quotes mutt expands `command` and $VAR unless backslash-escaped, and reads a
 * backslash with three octal digits as that byte; every character mutt treats specially is escaped so.
 */
function muttString(text: string): string {
  return `"${text.replace(/[\\"`$]/g, (char) => `\\${char}`).replace(/[\x00-\x1f\x7f]/g, (char) => `\\${char.charCodeAt(0).toString(8).padStart(3, '0')}`)}"`;
}

/** One `git config` line, its value one shell word; before a value that starts with "-", `--` ends git's options. */
function gitLine(key: string, value: string): string {
  return `git config --global ${value.startsWith('-') ? '-- ' : ''}sendemail.${key}${value === '' ? ' ' : ` ${shellWord(value)}`}`;
}

/** The host as a URL authority: an IPv6 address goes in brackets. */
function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function muttrc(view: ClientSetupView, from: string): string {
  const tls = view.security === 'starttls';
  return [
    `set from = ${muttString(from)}`,
    `set smtp_url = ${muttString(`smtp://${encodeURIComponent(view.user)}@${urlHost(view.host)}:${view.port}/`)}`,
    `set ssl_starttls = ${tls ? 'yes' : 'no'}`,
    // neomutt refuses plain connections by default; without local TLS the relay speaks plain SMTP on loopback.
    `set ssl_force_tls = ${tls ? 'yes' : 'no'}`,
    ...(tls ? [`set certificate_file = "~/.mutt/certificates"  # accept the relay's certificate once (or append ${CERTIFICATE_FILE} to it)`] : []),
    '',
  ].join('\n');
}

function gitConfig(view: ClientSetupView, from: string): string {
  const tls = view.security === 'starttls';
  return [
    gitLine('smtpServer', view.host),
    gitLine('smtpServerPort', String(view.port)),
    gitLine('smtpUser', view.user),
    ...(tls
      ? [gitLine('smtpEncryption', 'tls'), `${gitLine('smtpSSLCertPath', '')}~/${CERTIFICATE_FILE}`]
      : []),
    gitLine('from', from),
    '',
  ].join('\n');
}

function pythonScript(view: ClientSetupView, from: string): string {
  const tls = view.security === 'starttls';
  return [
    'import os',
    'import smtplib',
    ...(tls ? ['import ssl'] : []),
    'from email.message import EmailMessage',
    '',
    'message = EmailMessage()',
    `message["From"] = ${codeString(from, 'python')}`,
    `message["To"] = ${codeString(SAMPLE_TO, 'python')}`,
    'message["Subject"] = "Hello from a script"',
    'message.set_content("Sent through msmtp Relay.")',
    '',
    `with smtplib.SMTP(${codeString(view.host, 'python')}, ${view.port}, timeout=30) as smtp:`,
    ...(tls ? [`    smtp.starttls(context=ssl.create_default_context(cafile="${CERTIFICATE_FILE}"))`] : []),
    `    smtp.login(${codeString(view.user, 'python')}, os.environ["${PASSWORD_VARIABLE}"])`,
    '    smtp.send_message(message)',
    '',
  ].join('\n');
}

function nodeScript(view: ClientSetupView, from: string): string {
  const tls = view.security === 'starttls';
  return [
    "import nodemailer from 'nodemailer';",
    ...(tls ? ["import { readFileSync } from 'node:fs';"] : []),
    '',
    'const transport = nodemailer.createTransport({',
    `  host: ${codeString(view.host, 'javascript')},`,
    `  port: ${view.port},`,
    '  secure: false,',
    ...(tls ? ['  requireTLS: true,', `  tls: { ca: readFileSync('${CERTIFICATE_FILE}') },`] : ['  ignoreTLS: true,']),
    `  auth: { user: ${codeString(view.user, 'javascript')}, pass: process.env.${PASSWORD_VARIABLE} },`,
    '});',
    '',
    'try {',
    '  const info = await transport.sendMail({',
    `    from: ${codeString(from, 'javascript')},`,
    `    to: ${codeString(SAMPLE_TO, 'javascript')},`,
    "    subject: 'Hello from a script',",
    "    text: 'Sent through msmtp Relay.',",
    '  });',
    '  console.log(info.response);',
    '} catch (error) {',
    '  console.error(error.message);',
    '  process.exitCode = 1;',
    '}',
    '',
  ].join('\n');
}
