// Copies the renderer's static files (everything that is not TypeScript) next to its compiled modules.
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
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
