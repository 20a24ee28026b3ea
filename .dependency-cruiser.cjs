/**
 * Package direction (DESIGN.md §2): imports go down this list only, nothing imports
 * `server`, `discovery` and `xds` never import each other, and no package reaches into
 * another's internals. Cycles inside a package fail too.
 */
const allowed = {
  model: [],
  discovery: ['model'],
  ca: ['model'],
  xds: ['model'],
  policy: ['model'],
  testkit: ['model'],
  server: ['model', 'discovery', 'ca', 'xds', 'policy'],
};

const packageRules = Object.entries(allowed).map(([pkg, deps]) => ({
  name: `${pkg}-imports-only-${deps.join('-') || 'nothing'}`,
  comment: `@meridian/${pkg} may import only: ${deps.join(', ') || 'no other package'}`,
  severity: 'error',
  from: { path: `^packages/${pkg}/src` },
  to: {
    path: '^packages/([^/]+)/',
    pathNot: [`^packages/(${[pkg, ...deps].join('|')})/`],
  },
}));

module.exports = {
  forbidden: [
    ...packageRules,
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'testing-entry-for-tests-only',
      comment: "A package's testing entry (src/testing/) is for tests and benchmarks: no source module imports it.",
      severity: 'error',
      from: { path: '^packages/[^/]+/src/', pathNot: ['\\.test\\.ts$', '^packages/[^/]+/src/testing/'] },
      to: { path: '^packages/[^/]+/src/testing/' },
    },
    {
      name: 'public-entry-only',
      comment: "Another package is imported through its src/index.ts (or, in tests, src/testing/index.ts) only.",
      severity: 'error',
      from: { path: '^(packages/([^/]+)/|test/|scripts/)' },
      to: { path: '^packages/([^/]+)/src/(?!index\\.ts$|testing/index\\.ts$)', pathNot: ['^packages/$2/'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
    combinedDependencies: true,
  },
};
