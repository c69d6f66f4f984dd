/**
 * Loaded with `node --require` in front of out/electron/glue/main.js, in a child process of a test only: resolves
 * `electron` to the stand-in (./electron.ts). electron-log is the real one; its `require('electron')` gets the
 * stand-in the same way. Nothing of this is in the package (build/electron-builder.yml takes only out/electron and
 * out/src-relay; test/e2e/packaging.test.ts checks).
 */
import Module from 'node:module';
import { join } from 'node:path';

const STAND_IN = join(__dirname, 'electron.js');
type Resolve = (request: string, ...rest: unknown[]) => string;
const internals = Module as unknown as { _resolveFilename: Resolve };
const original = internals._resolveFilename;
internals._resolveFilename = function resolveElectron(this: unknown, request: string, ...rest: unknown[]): string {
  if (request === 'electron') return STAND_IN;
  return original.call(this, request, ...rest);
};
