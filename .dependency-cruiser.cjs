/**
 * Import boundaries (npm run check:boundaries). A module is a folder src/<name>/; the kernel is
 * src/kernel/; files at the root of src/ (app, server, modules, database, config) and src/cli/
 * compose them.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'kernel-imports-no-module',
      comment: 'The kernel is what every module stands on: it imports nothing of src/ outside src/kernel/ (src/kernel/README.md).',
      severity: 'error',
      from: { path: '^src/kernel/' },
      to: { path: '^src/', pathNot: '^src/kernel/' },
    },
    {
      name: 'no-foreign-tables',
      comment: "A module's tables are its own: other modules reach them through its service or repository functions.",
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { path: '^src/([^/]+)/[^/]+[.]tables[.]ts$', pathNot: ['^src/$1/', '^src/kernel/'] },
    },
    {
      name: 'modules-import-no-composition',
      comment: 'Modules do not import the files that compose them (app, server, modules, database, config) nor the CLI.',
      severity: 'error',
      from: { path: '^src/(?!cli/)[^/]+/' },
      to: { path: ['^src/[^/]+[.]ts$', '^src/cli/'] },
    },
    {
      name: 'no-cycles',
      comment: 'No import cycles between files. Cycles between modules are checked on the graph collapsed to modules (npm run check:cycles).',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
}
