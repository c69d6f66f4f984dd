// Copies the renderer's static files (everything that is not TypeScript) next to its compiled modules.
import { chmodSync, cpSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'renderer');
const target = join(root, 'out', 'ui', 'renderer');
mkdirSync(target, { recursive: true });
for (const file of readdirSync(source)) {
  if (file.endsWith('.ts') || file === 'tsconfig.json') continue;
  cpSync(join(source, file), join(target, file), { recursive: true });
}

// The python launcher (src-relay/delivery/launcher.ts reads it as text at run time).
cpSync(join(root, 'src-relay', 'delivery', 'launcher.py'), join(root, 'out', 'src-relay', 'delivery', 'launcher.py'));

// tsc writes plain files; the CLI is run directly too (./out/src-relay/cli/main.js, npm's bin link).
chmodSync(join(root, 'out', 'src-relay', 'cli', 'main.js'), 0o755);
