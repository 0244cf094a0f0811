/**
 * The house's import rules, checked by `npm run lint:imports` (part of `npm test`):
 * - no import circle anywhere;
 * - core's folders are layers, and a folder imports only from the layers below it (tests excepted);
 * - core never imports the node library, the editor or plugins, and the node library never imports the editor.
 */
const CORE = '^packages/core/src/';

/** Each core folder (or root file) and the folders it may import from, lowest layers first. */
const LAYERS = {
  util: [],
  tensor: ['util'],
  graph: ['tensor', 'util'],
  backend: ['graph', 'tensor', 'util'],
  worker: ['backend', 'graph', 'tensor', 'util'],
  ops: ['graph', 'tensor', 'util'],
  sdk: ['ops', 'backend', 'graph', 'tensor', 'util'],
  workflow: ['util'],
  registry: ['sdk', 'workflow', 'tensor', 'util'],
  validate: ['registry', 'sdk', 'workflow', 'tensor', 'util'],
  plugins: ['registry', 'sdk', 'workflow', 'tensor', 'util'],
  scheduler: ['validate', 'registry', 'sdk', 'ops', 'workflow', 'tensor', 'util'],
  host: ['scheduler', 'util'],
};

const layerRules = Object.entries(LAYERS).map(([layer, below]) => ({
  name: `core-layer-${layer}`,
  comment: `${layer}/ may import only from ${below.join(', ') || 'nothing else in core'}`,
  severity: 'error',
  from: { path: `${CORE}${layer}/`, pathNot: '\\.test\\.ts$' },
  to: { path: CORE, pathNot: [`${CORE}(${[layer, ...below].join('|')})/`] },
}));

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    ...layerRules,
    {
      name: 'core-knows-no-host-above-it',
      comment: 'the runtime and the CLI do not import test support or the testing entry (which sits above them)',
      severity: 'error',
      from: { path: CORE, pathNot: ['\\.test\\.ts$', `${CORE}test-support/`, `${CORE}testing/`] },
      to: { path: [`${CORE}test-support/`, `${CORE}testing/`] },
    },
    {
      name: 'core-is-headless',
      severity: 'error',
      from: { path: '^packages/core/' },
      to: { path: ['^packages/(nodes|editor)/', '^plugins/', '@kinegraph/(nodes|editor)'] },
    },
    {
      name: 'nodes-below-editor',
      severity: 'error',
      from: { path: '^packages/nodes/' },
      to: { path: ['^packages/editor/', '@kinegraph/editor'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['(^|/)dist/', '(^|/)node_modules/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'types', 'node', 'default'] },
  },
};
