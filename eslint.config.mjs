// typescript-eslint with type information (`recommendedTypeChecked`) over both tsconfigs, so the renderer is
// checked against the DOM types it compiles with. `npm run lint` runs it; `npm test` runs `npm run lint` first.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['out/', 'node_modules/', 'dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        project: ['./tsconfig.json', './renderer/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // node:test's test() and describe() return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }],
      }],
      // Async methods that implement a promise-returning interface (MainApi, Autostart, LogSink) need no await:
      // `async` is what turns their throws into rejections.
      '@typescript-eslint/require-await': 'off',
      // SMTP, shell words and user names are checked for control characters on purpose, by regular expression.
      'no-control-regex': 'off',
    },
  },
  {
    // Plain JavaScript (build scripts, fixtures run as child processes): no types to check against.
    files: ['**/*.mjs', '**/*.cjs', '**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },
);
