/**
 * The layer order of src/, checked by `npm run lint` (`depcruise src`). See ARCHITECTURE.md.
 *
 * Each row may import the rows below it, never a row above it nor a folder beside it in its own
 * row. The order, top to bottom:
 */
const LAYERS = [
  ['cli'], //                   yargs wiring, the exit-code policy, output files
  ['pipeline'], //              the use cases: import, plan, verify, schema, preflight
  ['preflight', 'verify'], //   what preflight asks; how verify compares
  ['read', 'write'], //         the one read path (scan + normalize -> RecordSink); schema and writes
  ['config'], //                one resolved config
  ['report'], //                report shapes and renderers
  ['ledger'], //                what was imported, for resume; the lease
  ['scan', 'normalize'], //     files and lines out of the source; pure record -> document
  ['server', 'runtime'], //     the server profile and its commands; how this process runs
  ['domain'], //                shared vocabulary; imports nothing else from src/
];

const folder = (names) => `^src/(${names.join('|')})/`;

/**
 * One rule per layer: no import of a layer above it, nor of a folder beside it in its row
 * (domain/ has the stronger rule `domain-imports-nothing` below).
 */
const layerRules = LAYERS.slice(0, -1).flatMap((row, index) =>
  row.flatMap((name) => {
    const forbidden = [...LAYERS.slice(0, index).flat(), ...row.filter((other) => other !== name)];
    if (forbidden.length === 0) return [];
    return {
      name: `layer-${name}`,
      comment: `${name}/ imports only the layers below it (the order is in .dependency-cruiser.cjs and ARCHITECTURE.md): not ${forbidden.join(', ')}`,
      severity: 'error',
      from: { path: folder([name]) },
      to: { path: folder(forbidden) },
    };
  }),
);

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'domain-imports-nothing',
      comment: 'domain/ is the shared vocabulary every stage imports: it imports nothing else from src/ (errors.ts and tool-version.ts included)',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { path: '^src/(?!domain/)' },
    },
    {
      name: 'verify-not-write',
      comment: 'verify/ compares with its own reads; the version rules it shares with write/ live in domain/',
      severity: 'error',
      from: { path: '^src/verify/' },
      to: { path: '^src/write/' },
    },
    {
      name: 'write-not-ledger',
      comment: 'write/ is handed what it needs of the ledger (the marks, through its FileMarks contract); it does not import ledger/',
      severity: 'error',
      from: { path: '^src/write/' },
      to: { path: '^src/ledger/' },
    },
    {
      name: 'pure-core',
      comment: 'domain/ and normalize/ are pure: data in, data out; no file system, processes or network',
      severity: 'error',
      from: { path: '^src/(domain|normalize)/' },
      to: { dependencyTypes: ['core'], path: '^(node:)?(fs|fs/promises|child_process|net|http|https|worker_threads)$' },
    },
    {
      name: 'public-api-not-imported',
      comment: 'src/index.ts is the programmatic API: nothing inside src/ imports it',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/index\\.ts$' },
    },
    {
      name: 'errors-import-nothing',
      comment: 'errors.ts (the three error classes) is imported from everywhere: it imports nothing from src/',
      severity: 'error',
      from: { path: '^src/errors\\.ts$' },
      to: { path: '^src/' },
    },
    {
      name: 'no-circular',
      comment: 'No import cycles, between folders or between files of one folder',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'Every import resolves to a file or an installed package',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-dev-dependencies-in-src',
      comment: 'Only dist/src is published: src/ imports runtime dependencies, never devDependencies (type-only imports aside)',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-non-package-json',
      comment: 'Every package src/ imports is declared in package.json',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a layer must not know the types of a layer above it either.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
  },
};
