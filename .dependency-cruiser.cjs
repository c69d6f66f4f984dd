/**
 * The boundaries of docs/architecture.md, checked by `npm run lint` (and so by `npm test`).
 * Which files may import what:
 * - the engine (src-relay/) is a library: no desktop, bench or test code;
 * - only the Electron glue (GLUE below) imports electron or electron-log; the rest of electron/ runs under plain Node;
 * - the renderer imports only the IPC contract; the main process imports from renderer/ only the status wording
 *   it shares with the window (renderer/status-text.ts, import-free);
 * - callers of the engine (electron/, bench/, renderer/, the CLI, tests) use src-relay/index.ts only. The exception
 *   is a unit test: test/<module>.test.ts, its fast-check properties test/properties/<module>.ts and its shared cases
 *   test/cases/<module>.ts may import src-relay/<module>.ts itself, the internals they are there to test.
 */
const GLUE = '^electron/(main|preload|ipc|tray|window)[.]ts$';
const RENDERER_CONTRACT = '^(renderer/|electron/api[.]ts$)';
const UNIT_TEST = '^test/(?:properties/|cases/)?([a-z-]+)(?:[.]test)?[.]ts$';
const LAUNCHER_TEST = '^test/spawner-launcher[.]test[.]ts$';
const CLI = '^src-relay/(cli|cli-args|cli-lookup|cli-queue|cli-run|cli-startup|getopt|log)[.]ts$';
/** The account lookup's tests (test/src-relay/accounts/) test the modules of src-relay/accounts/, the folder they mirror. */
const ACCOUNTS_TEST = '^test/src-relay/accounts/[a-z-]+[.]test[.]ts$';

module.exports = {
  forbidden: [
    {
      name: 'engine-is-a-library',
      comment: 'src-relay/ imports no desktop, renderer, bench or test code.',
      severity: 'error',
      from: { path: '^src-relay/' },
      to: { path: '^(electron|renderer|bench|test)/' },
    },
    {
      name: 'electron-only-in-glue',
      comment: `Only the glue files (${GLUE}) import electron or electron-log; everything else must load under plain Node.`,
      severity: 'error',
      from: { pathNot: GLUE },
      to: { path: '^node_modules/(electron|electron-log)/' },
    },
    {
      name: 'renderer-imports-only-the-contract',
      comment: 'The settings window sees the main process only through the IPC contract (electron/api.ts).',
      severity: 'error',
      from: { path: '^renderer/' },
      to: { pathNot: RENDERER_CONTRACT },
    },
    {
      name: 'desktop-shares-only-status-text',
      comment: 'The main process and the window share one import-free module, renderer/status-text.ts; nothing else.',
      severity: 'error',
      from: { pathNot: '^renderer/' },
      to: { path: '^renderer/', pathNot: '^renderer/status-text[.]ts$' },
    },
    {
      name: 'status-text-is-import-free',
      comment: 'renderer/status-text.ts is compiled by both tsconfigs (Node and the browser): it imports nothing.',
      severity: 'error',
      from: { path: '^renderer/status-text[.]ts$' },
      to: {},
    },
    {
      name: 'callers-use-the-engine-index',
      comment: 'Desktop, bench and tests use the engine through src-relay/index.ts.',
      severity: 'error',
      from: { path: '^(electron|bench|renderer)/' },
      to: { path: '^src-relay/', pathNot: '^src-relay/index[.]ts$' },
    },
    {
      name: 'cli-uses-the-engine-index',
      comment: 'The CLI (its own modules aside) is a caller of src-relay/index.ts like the desktop app.',
      severity: 'error',
      from: { path: CLI },
      to: { path: '^src-relay/', pathNot: [CLI, '^src-relay/index[.]ts$'] },
    },
    {
      name: 'tests-use-the-engine-index',
      comment: 'A unit test imports engine internals only of the module it is named after: test/wire.test.ts, ' +
        'test/properties/wire.ts (fast-check properties) and test/cases/deliver.ts (cases shared by several tests) ' +
        '-> src-relay/wire.ts, src-relay/deliver.ts. Everything else in test/ uses src-relay/index.ts.',
      severity: 'error',
      from: { path: UNIT_TEST, pathNot: LAUNCHER_TEST },
      to: { path: '^src-relay/', pathNot: ['^src-relay/index[.]ts$', '^src-relay/$1[.]ts$'] },
    },
    {
      name: 'launcher-test-drives-deliver',
      comment: 'The launcher is a spawner for deliver.ts; its test drives it through deliverViaCommand, as the engine does.',
      severity: 'error',
      from: { path: LAUNCHER_TEST },
      to: { path: '^src-relay/', pathNot: '^src-relay/(index|spawner-launcher|deliver)[.]ts$' },
    },
    {
      name: 'accounts-tests-use-their-folder',
      comment: 'A test of test/src-relay/accounts/ imports the engine index or the modules of src-relay/accounts/.',
      severity: 'error',
      from: { path: ACCOUNTS_TEST },
      to: { path: '^src-relay/', pathNot: ['^src-relay/index[.]ts$', '^src-relay/accounts/'] },
    },
    {
      name: 'test-helpers-use-the-engine-index',
      comment: 'Test helpers, fixtures and stress runs use the engine through src-relay/index.ts.',
      severity: 'error',
      from: { path: '^test/', pathNot: [UNIT_TEST, ACCOUNTS_TEST] },
      to: { path: '^src-relay/', pathNot: '^src-relay/index[.]ts$' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^out/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
