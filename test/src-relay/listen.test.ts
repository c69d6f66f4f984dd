// 'localhost' as the listening host means both loopbacks: real clients on 127.0.0.1, on ::1 and on the name
// localhost all reach the relay. Machines without one of the loopbacks are made with `unshare -n` (a private
// network namespace where this test may switch IPv6 off or remove 127.0.0.1 without touching the host).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cliPath, commandString, readText } from '../helpers/relay/cli-process';
import { readRecordings, recordCommand, startRelayHarness, type RelayHarness } from '../helpers/relay/relay-harness';
import { describeProgram, runProgram } from '../helpers/programs/run-program';

const TEST_TIMEOUT = { timeout: 30_000 };
const FROM = 'sender@example.org';

function swaks(server: string, port: number, to: string) {
  return runProgram('swaks', ['--server', server, '--port', String(port), '--helo', 'loopback.test',
    '--from', FROM, '--to', to, '--timeout', '10', '--body', `to ${to}`]);
}

describe("the engine on 'localhost'", () => {
  let relay: RelayHarness;
  before(async () => {
    relay = await startRelayHarness({ options: { host: 'localhost', port: 0 } });
  });
  after(() => relay?.close());

  test('listens on 127.0.0.1 and ::1 on one port, and says so', () => {
    assert.deepEqual(relay.relay.addresses, [{ host: '127.0.0.1', port: relay.port }, { host: '::1', port: relay.port }]);
    assert.deepEqual(relay.relay.address, { host: '127.0.0.1', port: relay.port });
    const listening = relay.events.filter((event) => event.type === 'listening');
    assert.deepEqual(new Set(listening.map((event) => JSON.stringify(event))), new Set([
      JSON.stringify({ type: 'listening', host: '127.0.0.1', port: relay.port }), JSON.stringify({ type: 'listening', host: '::1', port: relay.port }),
    ]));
    assert.equal(listening.length, 2);
  });

  test('swaks on 127.0.0.1, swaks on ::1, curl on [::1] and python on the name localhost each deliver', TEST_TIMEOUT, async () => {
    const v4 = await swaks('127.0.0.1', relay.port, 'v4@example.com');
    assert.equal(v4.code, 0, describeProgram('swaks 127.0.0.1', v4));
    const v6 = await swaks('::1', relay.port, 'v6@example.com');
    assert.equal(v6.code, 0, describeProgram('swaks ::1', v6));
    assert.match(v6.stdout, /Connected to ::1/);
    const curl = await runProgram('curl', ['--silent', '--show-error', '--max-time', '10', `smtp://[::1]:${relay.port}/curl.test`,
      '--mail-from', FROM, '--mail-rcpt', 'curl6@example.com', '--upload-file', '-'], { input: 'Subject: curl\r\n\r\nover ::1\r\n' });
    assert.equal(curl.code, 0, describeProgram('curl', curl));
    const python = await runProgram('python3', ['-c', [
      'import smtplib, sys',
      `s = smtplib.SMTP("localhost", ${relay.port}, timeout=10)`,
      'print(s.sock.getpeername()[0])',
      `s.sendmail("${FROM}", ["named@example.com"], "Subject: py\\r\\n\\r\\nby name\\r\\n")`,
      's.quit()',
    ].join('\n')]);
    assert.equal(python.code, 0, describeProgram('python3', python));
    const recipients = relay.recordings().map((recording) => recording.argv.at(-1));
    assert.deepEqual(recipients, ['v4@example.com', 'v6@example.com', 'curl6@example.com', 'named@example.com']);
    const sessions = relay.events.filter((event) => event.type === 'session-open').map((event) => event.remote);
    assert.ok(sessions.includes('::1') && sessions.includes('127.0.0.1'), `remotes: ${sessions.join(', ')}`);
  });

  test('a numeric host keeps its meaning: 127.0.0.1 is not reachable on ::1', TEST_TIMEOUT, async () => {
    const only4 = await startRelayHarness({ options: { host: '127.0.0.1', port: 0 } });
    try {
      assert.deepEqual(only4.relay.addresses, [{ host: '127.0.0.1', port: only4.port }]);
      const v6 = await swaks('::1', only4.port, 'nobody@example.com');
      assert.notEqual(v6.code, 0, 'nothing listens on ::1');
      assert.equal(only4.recordings().length, 0);
    } finally {
      await only4.close();
    }
  });

  test('stop closes both listeners and start opens them again', TEST_TIMEOUT, async () => {
    const again = await startRelayHarness({ options: { host: 'localhost', port: 0 } });
    const port = again.port;
    await again.relay.stop(500);
    assert.deepEqual(again.relay.addresses, []);
    assert.notEqual((await swaks('::1', port, 'late@example.com')).code, 0);
    await again.relay.start();
    try {
      assert.equal(again.relay.addresses.length, 2);
      assert.equal((await swaks('::1', again.relay.address!.port, 'back@example.com')).code, 0);
    } finally {
      await again.close();
    }
  });
});

describe('msmtp-relay --interface=localhost on machines with one loopback', () => {
  let work: string;
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'relay-loopbacks-'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  /**
   * Runs `prepare` (as root, in a private network namespace), then the CLI on localhost:2525 and a swaks on
   * `client`, all inside that namespace, and returns the script's output and the CLI's log.
   */
  async function inNamespace(tag: string, prepare: string, client: string) {
    const log = join(work, `${tag}.log`);
    const records = join(work, tag);
    mkdirSync(records);
    const script = [
      'ip link set lo up',
      prepare,
      `"$0" "${cliPath}" --interface=localhost --port=2525 --log="$1" --command="$2" & relay=$!`,
      'for i in $(seq 100); do kill -0 $relay 2>/dev/null || break; grep -q "listening on" "$1" 2>/dev/null && break; sleep 0.05; done',
      `swaks --server ${client} --port 2525 --from ${FROM} --to ns@example.com --timeout 5 >/dev/null; echo "swaks exit $?"`,
      'kill $relay 2>/dev/null; wait $relay; echo "relay exit $?"',
    ].join('\n');
    const result = await runProgram('unshare', ['-n', 'sh', '-c', script, process.execPath, log, commandString(recordCommand(records))], { timeoutMs: 20_000 });
    return { result, log: readText(log), recordings: () => readRecordings(records) };
  }

  test('without IPv6 it serves on 127.0.0.1 and logs that ::1 is missing', TEST_TIMEOUT, async () => {
    const run = await inNamespace('no-ipv6', 'sysctl -qw net.ipv6.conf.lo.disable_ipv6=1', '127.0.0.1');
    assert.match(run.result.stdout, /swaks exit 0/, describeProgram('namespace script', run.result));
    assert.match(run.log, /listening on 127\.0\.0\.1:2525/);
    assert.match(run.log, /not listening on \[::1\]:2525: this machine has no such loopback address \(EADDRNOTAVAIL\)/);
    assert.equal(run.recordings().length, 1);
  });

  test('without 127.0.0.1 it serves on ::1', TEST_TIMEOUT, async () => {
    const run = await inNamespace('no-ipv4', 'ip addr del 127.0.0.1/8 dev lo', '::1');
    assert.match(run.result.stdout, /swaks exit 0/, describeProgram('namespace script', run.result));
    assert.match(run.log, /listening on \[::1\]:2525/);
    assert.match(run.log, /not listening on 127\.0\.0\.1:2525/);
    assert.equal(run.recordings().length, 1);
  });

  test('with neither it refuses to start, in one line', TEST_TIMEOUT, async () => {
    const run = await inNamespace('none', 'sysctl -qw net.ipv6.conf.lo.disable_ipv6=1; ip addr del 127.0.0.1/8 dev lo', '127.0.0.1');
    assert.match(run.result.stderr, /^msmtp-relay: cannot bind to localhost:2525: Cannot assign requested address/m, describeProgram('namespace script', run.result));
    assert.match(run.result.stdout, /relay exit 3/);
    assert.equal(run.recordings().length, 0);
  });
});
