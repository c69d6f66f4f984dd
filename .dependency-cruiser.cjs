/**
 * The boundaries of docs/architecture.md, as folder rules, checked by `npm run lint` (and so by `npm test`).
 * - src-relay/ is a library in layers: cli/ -> index.ts -> engine.ts -> outbox/ -> delivery/ -> smtp/ -> the root
 *   vocabulary (options, events, listen, secrets). Nothing imports a layer above its own. accounts/ (msmtp's file
 *   and key ring) sits beside engine.ts: below index.ts, above outbox/ (it writes through outbox/durable-file.ts).
 * - electron/ in layers: glue/ -> core/ -> setup/, accounts/ -> health/, tray/ -> desktop/, outbox/ -> contract/. Only glue/
 *   imports electron or electron-log; the rest runs under plain Node.
 * - renderer/ imports only electron/contract/ (as types) and its own modules.
 * - Callers of the engine (electron/, bench/, the CLI, tests) use src-relay/index.ts. A unit test is the exception: it
 *   sits at its module's path under test/ (test/src-relay/smtp/wire.test.ts for src-relay/smtp/wire.ts) and may
 *   reach that module; a fast-check suite test/properties/<name>.ts may reach the engine module of that name.
 */
const ENGINE_ABOVE = (layer) => ({
  smtp: '^src-relay/(delivery|outbox|cli)/|^src-relay/(engine|index)[.]ts$',
  delivery: '^src-relay/(outbox|cli)/|^src-relay/(engine|index)[.]ts$',
  outbox: '^src-relay/cli/|^src-relay/(engine|index)[.]ts$',
  accounts: '^src-relay/cli/|^src-relay/(engine|index)[.]ts$',
}[layer]);
/**
 * Three tests of the account lookup reach more of src-relay/accounts/ than their module: the table with its generated
 * rows and overlay, the XML reader with the rule that picks a server, the probe with the network seams' type.
 */
const ACCOUNTS_TEST = '^test/src-relay/accounts/(provider-table|autoconfig-xml|smtp-probe)[.]test[.]ts$';
const ELECTRON_ABOVE = {
  core: '^electron/glue/',
  setup: '^electron/(glue|core)/',
  accounts: '^electron/(glue|core)/',
  health: '^electron/(glue|core|setup|accounts)/',
  tray: '^electron/(glue|core|setup|accounts|health)/',
  desktop: '^electron/(glue|core|setup|accounts|health|tray)/',
  outbox: '^electron/(glue|core|setup|accounts|health|tray)/',
  contract: '^electron/(glue|core|setup|accounts|health|tray|desktop|outbox)/',
};

module.exports = {
  forbidden: [
    {
      name: 'engine-is-a-library',
      comment: 'src-relay/ imports no desktop, renderer, bench or test code.',
      severity: 'error',
      from: { path: '^src-relay/' },
      to: { path: '^(electron|renderer|bench|test)/' },
    },
    ...['smtp', 'delivery', 'outbox', 'accounts'].map((layer) => ({
      name: `engine-${layer}-imports-no-layer-above`,
      comment: `src-relay/${layer}/ is below ${ENGINE_ABOVE(layer)}.`,
      severity: 'error',
      from: { path: `^src-relay/${layer}/` },
      to: { path: ENGINE_ABOVE(layer) },
    })),
    {
      name: 'engine-vocabulary-is-the-bottom',
      comment: 'The root vocabulary (options, events, listen, secrets) imports only itself and node.',
      severity: 'error',
      from: { path: '^src-relay/(options|events|listen|secrets)[.]ts$' },
      to: { path: '^src-relay/', pathNot: '^src-relay/(options|events|listen|secrets)[.]ts$' },
    },
    {
      name: 'cli-uses-the-engine-index',
      comment: 'The CLI (its own modules aside) is a caller of src-relay/index.ts like the desktop app.',
      severity: 'error',
      from: { path: '^src-relay/cli/' },
      to: { path: '^src-relay/', pathNot: '^src-relay/(cli/|index[.]ts$)' },
    },
    {
      name: 'electron-only-in-glue',
      comment: 'Only electron/glue/ imports electron or electron-log; everything else must load under plain Node.',
      severity: 'error',
      from: { pathNot: '^electron/glue/' },
      to: { path: '^node_modules/(electron|electron-log)/' },
    },
    ...Object.entries(ELECTRON_ABOVE).map(([layer, above]) => ({
      name: `electron-${layer}-imports-no-layer-above`,
      comment: `electron/${layer}/ is below ${above}.`,
      severity: 'error',
      from: { path: `^electron/${layer}/` },
      to: { path: above },
    })),
    {
      name: 'renderer-imports-only-the-contract',
      comment: 'The settings window sees the main process only through the IPC contract (electron/contract/).',
      severity: 'error',
      from: { path: '^renderer/' },
      to: { pathNot: '^(renderer|electron/contract)/' },
    },
    {
      name: 'nothing-imports-the-renderer',
      comment: 'The window is a browser page: the main process sends it words, it does not share modules.',
      severity: 'error',
      from: { pathNot: '^renderer/' },
      to: { path: '^renderer/' },
    },
    {
      name: 'callers-use-the-engine-index',
      comment: 'Desktop, bench and renderer use the engine through src-relay/index.ts.',
      severity: 'error',
      from: { path: '^(electron|bench|renderer)/' },
      to: { path: '^src-relay/', pathNot: '^src-relay/index[.]ts$' },
    },
    {
      name: 'unit-tests-reach-only-their-module',
      comment: 'test/src-relay/<path>.test.ts (and <path>.cases.ts) may import src-relay/<path>.ts; the rest of the ' +
        'engine only through src-relay/index.ts (and the session contract, smtp/handler.ts). The launcher test drives the launcher through deliverViaCommand.',
      severity: 'error',
      from: { path: '^test/(src-relay/[a-z/-]+)(?:[.]test|[.]cases)?[.]ts$', pathNot: ['^test/src-relay/delivery/launcher[.]test[.]ts$', ACCOUNTS_TEST] },
      to: { path: '^src-relay/', pathNot: ['^src-relay/index[.]ts$', '^$1[.]ts$', '^src-relay/smtp/handler[.]ts$'] },
    },
    {
      name: 'launcher-test-drives-deliver',
      comment: 'The launcher is a spawner for deliver.ts; its test drives it through deliverViaCommand, as the engine does.',
      severity: 'error',
      from: { path: '^test/src-relay/delivery/launcher[.]test[.]ts$' },
      to: { path: '^src-relay/', pathNot: '^src-relay/(index|delivery/launcher|delivery/deliver|smtp/handler)[.]ts$' },
    },
    {
      name: 'accounts-tests-reach-their-folder',
      comment: 'The three lookup tests named in ACCOUNTS_TEST may import src-relay/accounts/ and index.ts.',
      severity: 'error',
      from: { path: ACCOUNTS_TEST },
      to: { path: '^src-relay/', pathNot: ['^src-relay/index[.]ts$', '^src-relay/accounts/'] },
    },
    {
      name: 'properties-reach-only-their-module',
      comment: 'test/properties/<name>.ts and <name>.test.ts are the fast-check suite of the engine module <name>.',
      severity: 'error',
      from: { path: '^test/properties/([a-z-]+)(?:[.]test)?[.]ts$' },
      to: { path: '^src-relay/', pathNot: ['^src-relay/index[.]ts$', '^src-relay/$1[.]ts$', '^src-relay/(smtp|delivery|outbox)/$1[.]ts$'] },
    },
    {
      name: 'other-tests-use-the-engine-index',
      comment: 'Tests of the app, whole-product tests, helpers, fixtures and stress runs use src-relay/index.ts.',
      severity: 'error',
      from: { path: '^test/', pathNot: '^test/(src-relay|properties)/' },
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
