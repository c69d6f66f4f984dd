// The guides' snippets are run as written, against the real relay: the `git config` lines and git send-email,
// the muttrc with mutt, the Python script with python3, the Node script with nodemailer. The test adds only the
// password (which no snippet holds) and the names of temporary files.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseShellWords } from 'shell-quote';
import type { ClientGuide, ClientSetupView } from '../../../electron/contract/api';
import { PASSWORD_VARIABLE, SAMPLE_TO, clientGuides } from '../../../electron/setup/mail-clients';
import { tempDir } from '../../helpers/app/app-env';
import { REPO_ROOT as repoRoot } from '../../helpers/paths';
import { startRelayHarness, type RelayHarness } from '../../helpers/relay/relay-harness';
import { describeProgram, runProgram } from '../../helpers/programs/run-program';

const USER = 'msmtpd-user';
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
const FROM = 'guide-user@example.org';

function snippet(guides: ClientGuide[], id: ClientGuide['id']): string {
  const guide = guides.find((candidate) => candidate.id === id);
  assert.ok(guide && guide.snippets.length === 1, `one snippet for ${id}`);
  return guide.snippets[0]!.text;
}

describe('client guides', () => {
  const plain: ClientSetupView = { host: 'localhost', port: 2500, user: USER, security: 'none', authentication: 'normal-password' };

  it('covers every program the issue names, with the settings filled in', () => {
    const guides = clientGuides(plain, { from: FROM });
    assert.deepEqual(guides.map((guide) => guide.id), [
      'thunderbird', 'apple-mail', 'outlook-classic', 'outlook-new', 'evolution', 'kmail', 'mutt', 'git-send-email', 'python', 'node',
    ]);
    for (const guide of guides.filter((candidate) => candidate.supported && candidate.id !== 'outlook-new')) {
      const text = [...guide.steps, ...guide.snippets.map((piece) => piece.text)].join('\n');
      assert.match(text, /localhost/, `${guide.id} names the host`);
      assert.match(text, /2500/, `${guide.id} names the port`);
      assert.match(text, /msmtpd-user/, `${guide.id} names the user`);
    }
    const newOutlook = guides.find((guide) => guide.id === 'outlook-new')!;
    assert.equal(newOutlook.supported, false);
    assert.match(newOutlook.steps.join(' '), /sends your mail from Microsoft's cloud, not from this computer, so it cannot reach a relay/);
    assert.match(guides.find((guide) => guide.id === 'apple-mail')!.note!, /SMTP-only profile is not valid/);
    assert.match(guides.find((guide) => guide.id === 'evolution')!.steps.join(' '), /Sendmail.*msmtp/);
    assert.match(snippet(guides, 'python'), new RegExp(`os\\.environ\\["${PASSWORD_VARIABLE}"\\]`));
    assert.match(snippet(guides, 'node'), new RegExp(`process\\.env\\.${PASSWORD_VARIABLE}`));
  });

  it('quotes odd values so the scripts and the git lines still parse to the same text', async () => {
    const odd = { ...plain, user: `o"dd'user\\` };
    const guides = clientGuides(odd, { from: 'Ann "A" <ann@example.org>' });
    assert.deepEqual(await pythonScriptValues(guides), [[odd.user], ['Ann "A" <ann@example.org>']]);
    const node = await runProgram(process.execPath, ['--input-type=module', '--check', '-'], { input: snippet(guides, 'node') });
    assert.equal(node.code, 0, describeProgram('node --check', node));
    const words = snippet(guides, 'git-send-email').split('\n').filter(Boolean).map((line) => parseShellWords(line).at(-1));
    assert.deepEqual(words, ['localhost', '2500', odd.user, 'Ann "A" <ann@example.org>']);
  });

  it('switches every guide to STARTTLS when local TLS is on', () => {
    const guides = clientGuides({ ...plain, security: 'starttls' });
    assert.match(snippet(guides, 'mutt'), /set ssl_starttls = yes\nset ssl_force_tls = yes/);
    assert.match(snippet(guides, 'git-send-email'), /sendemail\.smtpEncryption tls/);
    assert.match(snippet(guides, 'python'), /smtp\.starttls\(context=ssl\.create_default_context\(cafile="msmtp-relay\.pem"\)\)/);
    assert.match(snippet(guides, 'node'), /requireTLS: true/);
    for (const id of ['apple-mail', 'outlook-classic', 'evolution', 'kmail'] as const) {
      assert.match(guides.find((guide) => guide.id === id)!.steps.join(' '), /STARTTLS|tick “Use TLS\/SSL”/, id);
    }
    assert.match(snippet(clientGuides(plain), 'mutt'), /set ssl_starttls = no\nset ssl_force_tls = no/);
  });
});

describe('client guide snippets with hostile values, run by their real consumers (issue #16, 4)', { timeout: 60_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir('hostile-snippets');
  });
  after(() => dir?.remove());

  /** Hostile values whose commands would touch a marker file of this test's own. */
  function hostile(tag: string) {
    const marker = join(dir.path, `MARK-${tag}`);
    // A From that mutt keeps as an address, full of what mutt, a shell, Python and JS would expand or end at.
    const from = `"Ann \\"A\\" \`touch ${marker}\` $HOME \${HOME} $(touch ${marker}) !! !x" <a\`touch\${IFS}${marker}\`$HOME'{x}#\\u@example.org>`;
    // A user name the settings accept (no spaces or controls): quotes, backslashes, expansions, U+2028, a non-BMP character.
    const user = `u\`touch\${IFS}${marker}\`$HOME'"\\;#!x$(touch\${IFS}${marker})\u2028\u00e9\u{1F600}`;
    const guides = clientGuides({ host: 'localhost', port: 2500, user, security: 'none', authentication: 'normal-password' }, { from });
    const noCommandRan = () => assert.rejects(access(marker), /ENOENT/, 'a command in a value was run');
    return { from, user, guides, noCommandRan };
  }

  it('mutt reads back the exact From and user name, and runs nothing', async () => {
    const { from, user, guides, noCommandRan } = hostile('mutt');
    const home = join(dir.path, 'mutt');
    await mkdir(home);
    await writeFile(join(home, 'muttrc'), snippet(guides, 'mutt'));
    const result = await runProgram('mutt', ['-n', '-F', join(home, 'muttrc'), '-Q', 'from', '-Q', 'smtp_url'], { env: { HOME: home, TERM: 'dumb' } });
    assert.equal(result.code, 0, describeProgram('mutt -Q', result));
    // mutt -Q prints name="value" with backslash and double quote escaped.
    const values = Object.fromEntries(result.stdout.trim().split('\n').map((line) => {
      const match = /^(\w+)="(.*)"$/.exec(line)!;
      return [match[1]!, match[2]!.replace(/\\(.)/g, '$1')];
    }));
    assert.equal(values.from, from);
    assert.equal(decodeURIComponent(/^smtp:\/\/(.*)@localhost:2500\/$/.exec(values.smtp_url ?? '')?.[1] ?? ''), user);
    await noCommandRan();
  });

  it('the git lines, pasted into an interactive bash, store the exact values and run nothing', async () => {
    const { from, user, guides, noCommandRan } = hostile('git');
    const home = join(dir.path, 'git');
    await mkdir(home);
    const env = { HOME: home, GIT_CONFIG_NOSYSTEM: '1', HISTFILE: join(home, 'history') };
    const pasted = await runProgram('bash', ['--norc', '--noprofile', '-i'], { env, input: `${snippet(guides, 'git-send-email')}exit\n` });
    assert.equal(pasted.code, 0, describeProgram('bash -i', pasted));
    assert.doesNotMatch(pasted.stderr, /event not found|command not found|error/);
    const read = async (key: string) => (await runProgram('git', ['config', '--global', '--get', `sendemail.${key}`], { env })).stdout.replace(/\n$/, '');
    assert.equal(await read('from'), from);
    assert.equal(await read('smtpUser'), user);
    await noCommandRan();
    // A From that looks like an option stays a value.
    const dashed = clientGuides({ host: 'localhost', port: 2500, user: '-u', security: 'none', authentication: 'normal-password' }, { from: '--file=x' });
    const again = await runProgram('bash', ['--norc', '--noprofile', '-i'], { env, input: `${snippet(dashed, 'git-send-email')}exit\n` });
    assert.equal(again.code, 0, describeProgram('bash -i', again));
    assert.equal(await read('from'), '--file=x');
    assert.equal(await read('smtpUser'), '-u');
  });

  it('Python and Node read the exact values from their scripts', async () => {
    const { from, user, guides, noCommandRan } = hostile('code');
    assert.deepEqual(await pythonScriptValues(guides), [[user], [from]]);
    // The Node script runs against a stand-in nodemailer that prints what it was given.
    const project = join(dir.path, 'node');
    await mkdir(join(project, 'node_modules', 'nodemailer'), { recursive: true });
    await writeFile(join(project, 'node_modules', 'nodemailer', 'package.json'), '{"name":"nodemailer","main":"index.js"}');
    await writeFile(join(project, 'node_modules', 'nodemailer', 'index.js'),
      'exports.createTransport = (options) => ({ async sendMail(mail) { return { response: JSON.stringify([options.auth.user, mail.from]) }; } });\n');
    await writeFile(join(project, 'send-mail.mjs'), snippet(guides, 'node'));
    const node = await runProgram(process.execPath, [join(project, 'send-mail.mjs')], { cwd: project });
    assert.equal(node.code, 0, describeProgram('node', node));
    assert.deepEqual(JSON.parse(node.stdout), [user, from]);
    await noCommandRan();
  });
});

describe('client guide snippets against the real relay', { timeout: 90_000 }, () => {
  let relay: RelayHarness;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let guides: ClientGuide[];

  before(async () => {
    dir = await tempDir('client-guides');
    relay = await startRelayHarness({ options: { host: 'localhost', port: 0, auth: { user: USER, password: PASSWORD } } });
    guides = clientGuides({ host: 'localhost', port: relay.port, user: USER, security: 'none', authentication: 'normal-password' }, { from: FROM });
  });
  after(async () => {
    await relay?.close();
    await dir?.remove();
  });

  /** The one recording whose mail holds the marker. */
  function delivered(marker: string) {
    const found = relay.recordings().filter((recording) => recording.stdin.includes(marker));
    assert.equal(found.length, 1, `one delivery with ${marker}; recordings: ${relay.recordings().length}`);
    return found[0]!;
  }

  it('the git config lines, then git send-email, deliver a patch', async () => {
    const home = join(dir.path, 'git-home');
    const repo = join(home, 'repo');
    await mkdir(repo, { recursive: true });
    const env = { HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'Guide', GIT_AUTHOR_EMAIL: FROM, GIT_COMMITTER_NAME: 'Guide', GIT_COMMITTER_EMAIL: FROM };
    for (const line of snippet(guides, 'git-send-email').split('\n').filter(Boolean)) {
      const argv = parseShellWords(line) as string[];
      assert.ok(argv.every((word) => typeof word === 'string') && argv[0] === 'git', line);
      const result = await runProgram('git', argv.slice(1), { env, cwd: repo });
      assert.equal(result.code, 0, describeProgram(line, result));
    }
    const marker = `git-${randomBytes(4).toString('hex')}`;
    await writeFile(join(repo, 'README'), `${marker}\n`);
    for (const argv of [['init', '-q'], ['add', 'README'], ['commit', '-q', '-m', marker], ['format-patch', '--root', '-o', 'patches']]) {
      const result = await runProgram('git', argv, { env, cwd: repo });
      assert.equal(result.code, 0, describeProgram(`git ${argv.join(' ')}`, result));
    }
    // The password is what git would ask for; --smtp-pass stands in for the prompt.
    const sent = await runProgram('git', ['send-email', '--to=maintainer@example.com', '--confirm=never', `--smtp-pass=${PASSWORD}`, 'patches'], { env, cwd: repo, timeoutMs: 30_000 });
    assert.equal(sent.code, 0, describeProgram('git send-email', sent));
    const recording = delivered(marker);
    // git send-email copies the patch's author (the sendemail.from of the snippet) by default.
    assert.deepEqual(recording.argv, ['-f', FROM, '--', 'maintainer@example.com', FROM]);
    assert.match(recording.stdin.toString(), new RegExp(`^Subject: \\[PATCH\\] ${marker}$`, 'm'));
  });

  it('the muttrc, with mutt, delivers', async () => {
    const home = join(dir.path, 'mutt-home');
    await mkdir(home, { recursive: true });
    const muttrc = join(home, '.muttrc');
    // Only the password (mutt would prompt for it) and no copy to a sent folder are the test's.
    await writeFile(muttrc, `${snippet(guides, 'mutt')}set smtp_pass = "${PASSWORD}"\nset record = ""\n`);
    const marker = `mutt-${randomBytes(4).toString('hex')}`;
    const result = await runProgram('mutt', ['-n', '-F', muttrc, '-s', marker, '--', 'reader@example.com'], {
      env: { HOME: home, TERM: 'dumb' }, input: `Sent by mutt through the relay.\n`, timeoutMs: 30_000,
    });
    assert.equal(result.code, 0, describeProgram('mutt', result));
    const recording = delivered(marker);
    assert.deepEqual(recording.argv, ['-f', FROM, '--', 'reader@example.com']);
  });

  it('the Python script delivers', async () => {
    const script = join(dir.path, 'send_mail.py');
    const marker = `python-${randomBytes(4).toString('hex')}`;
    await writeFile(script, snippet(guides, 'python').replace('Hello from a script', marker));
    const result = await runProgram('python3', [script], { env: { [PASSWORD_VARIABLE]: PASSWORD }, timeoutMs: 30_000 });
    assert.equal(result.code, 0, describeProgram('python3', result));
    assert.deepEqual(delivered(marker).argv, ['-f', FROM, '--', SAMPLE_TO]);
  });

  it('the Node script delivers, and fails visibly with a wrong password', async () => {
    // An ES module finds nodemailer by walking up from its own folder: the script goes under the repository.
    await mkdir(join(repoRoot, 'test-artifacts'), { recursive: true });
    const scripts = await mkdtemp(join(repoRoot, 'test-artifacts', 'node-snippet-'));
    try {
      const script = join(scripts, 'send-mail.mjs');
      const marker = `node-${randomBytes(4).toString('hex')}`;
      await writeFile(script, snippet(guides, 'node').replace('Hello from a script', marker));
      const result = await runProgram(process.execPath, [script], { env: { [PASSWORD_VARIABLE]: PASSWORD }, timeoutMs: 30_000 });
      assert.equal(result.code, 0, describeProgram('node', result));
      assert.match(result.stdout, /^250 /);
      assert.deepEqual(delivered(marker).argv, ['-f', FROM, '--', SAMPLE_TO]);
      const wrong = await runProgram(process.execPath, [script], { env: { [PASSWORD_VARIABLE]: 'wrong' }, timeoutMs: 30_000 });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /535/);
    } finally {
      await rm(scripts, { recursive: true, force: true });
    }
  });
});

/** Python parses the guide's script (no run) and gives the user names passed to login() and the From values it sets. */
async function pythonScriptValues(guides: ClientGuide[]): Promise<[string[], string[]]> {
  const reader = [
    'import ast, json, sys',
    'tree = ast.parse(sys.stdin.read())',
    'login = [n.args[0].value for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "login"]',
    'sender = [n.value.value for n in ast.walk(tree) if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "message[\'From\']"]',
    'print(json.dumps([login, sender]))',
  ].join('\n');
  const python = await runProgram('python3', ['-c', reader], { input: snippet(guides, 'python') });
  assert.equal(python.code, 0, describeProgram('python3 ast', python));
  return JSON.parse(python.stdout) as [string[], string[]];
}
