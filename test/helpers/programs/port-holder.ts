import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Another program holding a port: a node process listening on host:port (0 = any free one) until killed or 60 s
 * passed. Resolves with the process and the port it holds.
 */
export async function holdPort(host: string, port = 0): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-e', `
    const server = require('node:net').createServer().listen(${port}, ${JSON.stringify(host)}, () => console.log(server.address().port));
    setTimeout(() => process.exit(0), 60000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
    child.once('exit', (code) => reject(new Error(`the port holder exited with ${code}`)));
  });
  return { child, port: Number(line) };
}
