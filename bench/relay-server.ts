/**
 * msmtp-relay for the benchmark, in its own process: `node out/bench/relay-server.js [--ballast-mib=N] PORT SPAWNER
 * COMMAND...`. With --ballast-mib the process first takes that much heap (bench/ballast.ts), to be measured at
 * the size of the desktop app's main process.
 * SPAWNER picks how the engine starts the delivery command, so the options can be measured under the same load:
 * 'default' (what the engine ships with), 'node' (child_process.spawn from the relay) or 'launcher' (the python3
 * launcher of src-relay/spawner-launcher.ts). Prints "listening PORT" once it accepts connections.
 */
import { addBallast } from './ballast';
import { createLauncherSpawner, createRelay, spawnDetached, type CommandSpawner } from '../src-relay/index';

const spawnerNames = ['default', 'node', 'launcher'] as const;

function pickSpawner(name: string): CommandSpawner | undefined {
  switch (name) {
    case 'default':
      return undefined;
    case 'node':
      return spawnDetached;
    case 'launcher':
      return createLauncherSpawner().spawn;
    default:
      throw new Error(`unknown spawner '${name}' (one of ${spawnerNames.join(', ')})`);
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const ballast = /^--ballast-mib=(\d+)$/.exec(args[0] ?? '');
  if (ballast) {
    addBallast(Number(ballast[1]));
    args.shift();
  }
  const [port, spawnerName, ...command] = args;
  const spawner = pickSpawner(spawnerName ?? 'default');
  const relay = createRelay({ host: '127.0.0.1', port: Number(port), command }, spawner ? { spawner } : {});
  const address = await relay.start();
  process.stdout.write(`listening ${address.port}\n`);
  const stop = () => {
    relay.stop(1000).then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`relay-server: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
