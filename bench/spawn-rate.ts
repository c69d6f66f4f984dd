/**
 * The ceiling: how fast a fresh Node process can run the delivery command with nothing else to do.
 * `node out/bench/spawn-rate.js '<json SpawnJob>'` prints {"perSecond": N}. Each run is what the relay does per
 * mail minus SMTP: start the command with the engine's own spawner, write a small mail, end stdin, wait for exit.
 */
import { performance } from 'node:perf_hooks';
import { createLauncherSpawner, spawnDetached, type CommandSpawner } from '../src-relay/index';

export interface SpawnJob {
  argv: string[];
  total: number;
  parallel: number;
  /** 'node' (child_process.spawn, the ceiling of the issue) or 'launcher' (the engine's python3 launcher). */
  spawner?: 'node' | 'launcher';
}

const MAIL = Buffer.from('Received: from bench\n\tby localhost;\nSubject: spawn rate\n\nA short mail.\n');

function runOnce(spawner: CommandSpawner, argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawner(argv);
    child.stdout?.resume();
    child.stderr?.resume();
    child.stdin?.on('error', () => {}); // the exit status says what went wrong
    child.stdin?.end(MAIL);
    child.once('error', reject as (error: Error) => void);
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`command ended with ${code ?? signal}`))));
  });
}

async function spawnRate(job: SpawnJob): Promise<number> {
  const launcher = job.spawner === 'launcher' ? createLauncherSpawner() : null;
  const spawner = launcher?.spawn ?? spawnDetached;
  await runOnce(spawner, job.argv); // starts the launcher, outside the measurement
  let left = job.total;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: job.parallel }, async () => {
      while (left > 0) {
        left -= 1;
        await runOnce(spawner, job.argv);
      }
    }),
  );
  const perSecond = job.total / ((performance.now() - started) / 1000);
  launcher?.close();
  return perSecond;
}

if (require.main === module) {
  const job = JSON.parse(process.argv[2] ?? '') as SpawnJob;
  spawnRate(job).then(
    (perSecond) => {
      process.stdout.write(`${JSON.stringify({ perSecond })}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`spawn-rate failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
