/**
 * A delivery command for the app tests, in msmtp's place (compiled to out/test/helpers/app/app-mail-sink.js):
 *
 *   node app-mail-sink.js DIR -f SENDER -- RECIPIENT...
 *
 * Reads the whole mail from stdin and stores {argv, body} as DIR/<id>.mail.json (atomically). A recipient starting
 * with "hold" makes it first write DIR/<id>.held and wait (at most 20 s) until DIR/release exists: a mail kept in
 * flight for as long as a test needs. A recipient starting with "fail" makes it complain on stderr and exit 1.
 */
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, ...argv] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('app-mail-sink: no directory given\n');
  process.exit(64);
}
const recipients = argv.slice(argv.indexOf('--') + 1);
const id = `${Date.now()}-${process.pid}`;
const chunks: Buffer[] = [];
process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
process.stdin.on('end', () => void finish());

async function finish(): Promise<void> {
  if (recipients.some((to) => to.startsWith('hold'))) {
    writeFileSync(join(dir!, `${id}.held`), '');
    const deadline = Date.now() + 20_000;
    while (!existsSync(join(dir!, 'release'))) {
      if (Date.now() > deadline) process.exit(75);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  if (recipients.some((to) => to.startsWith('fail'))) {
    process.stderr.write(`msmtp: recipient address ${recipients[0]} not accepted by the server\n`);
    process.exit(1);
  }
  const record = JSON.stringify({ argv, body: Buffer.concat(chunks).toString('utf8') });
  writeFileSync(join(dir!, `${id}.mail.json.tmp`), record);
  renameSync(join(dir!, `${id}.mail.json.tmp`), join(dir!, `${id}.mail.json`));
  process.exit(0);
}
