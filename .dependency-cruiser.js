// Layer rules for Union Ledger, checked in CI by `npm run lint`:
//   npx depcruise src --config .dependency-cruiser.js
// Type-only imports count too (tsPreCompilationDeps), because a type import still couples
// a layer to another layer's model.

const SPEC_FILE = '\\.spec\\.ts$';

// Integration-level tests (`*.int.spec.ts`, `*.api.spec.ts`, `*.e2e.spec.ts`) exist to wire several
// layers together, e.g. an event-store spec that runs a projection on top of the store. They are
// exempt from the outer-layer rules below; unit specs (`*.unit.spec.ts`) and domain specs are not.
const INTEGRATION_SPEC = '\\.(int|api|e2e)\\.spec\\.ts$';

// The layers whose second level is the bounded context (docs/ARCHITECTURE.md), and a context's
// folder in any of them (api/common and api/health are the HTTP chassis, not contexts).
const LAYERS = 'domain|application|projections|api|workers';
const CONTEXT_FOLDER = `(${LAYERS})/(?!common/|health/)[^/]+/`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    // ---- Domain: pure functions, no framework, no I/O ----
    {
      name: 'domain-imports-only-domain',
      severity: 'error',
      comment:
        'src/domain/ may import only src/domain/, Node built-ins (node:crypto ...) and decimal.js (exact ' +
        'money arithmetic, pure): no framework, database, queue or event-store package, and nothing from the outer layers.',
      from: { path: '^src/domain/', pathNot: SPEC_FILE },
      to: { pathNot: ['^src/domain/', '(^|/)node_modules/decimal\\.js/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'domain-specs-stay-pure',
      severity: 'error',
      comment:
        'Domain unit specs may add test tooling (devDependencies such as fast-check) and test/ helpers, ' +
        'but no outer layer and no framework or infrastructure package.',
      from: { path: `^src/domain/.+${SPEC_FILE}` },
      to: {
        pathNot: ['^src/domain/', '^test/'],
        dependencyTypesNot: ['core', 'npm-dev'],
      },
    },

    // ---- Bounded contexts ----
    {
      name: 'contexts-only-through-index',
      severity: 'error',
      comment:
        'Inside each layer the second level is the bounded context (src/<layer>/<context>/). Code outside any ' +
        "context's folder (the chassis, the composition root, the CLI) reaches a context only through its index.ts. " +
        'api/common and api/health are chassis, not contexts. Specs may reach inside to test.',
      from: { path: '^src/', pathNot: [SPEC_FILE, `^src/${CONTEXT_FOLDER}`] },
      to: { path: `^src/${CONTEXT_FOLDER}`, pathNot: ['^src/[^/]+/[^/]+/index\\.ts$'] },
    },
    {
      name: 'contexts-reach-other-contexts-through-index',
      severity: 'error',
      comment:
        "A context's files import their own folder freely; another context's (or the same context's in another " +
        'layer) only through its index.ts.',
      from: { path: `^src/(${LAYERS})/((?!common/|health/)[^/]+)/`, pathNot: SPEC_FILE },
      to: { path: `^src/${CONTEXT_FOLDER}`, pathNot: ['^src/$1/$2/', '^src/[^/]+/[^/]+/index\\.ts$'] },
    },

    // ---- Event store ----
    {
      name: 'eventstore-not-to-upper-layers',
      severity: 'error',
      comment: 'src/eventstore/ is a library for the layers above it: it must not import api, projections or workers.',
      from: { path: '^src/eventstore/', pathNot: INTEGRATION_SPEC },
      to: { path: '^src/(api|projections|workers)/' },
    },
    {
      name: 'eventstore-no-nest-or-bullmq',
      severity: 'error',
      comment: 'src/eventstore/ must not depend on NestJS or BullMQ; wiring into Nest happens in the api/app module.',
      from: { path: '^src/eventstore/', pathNot: INTEGRATION_SPEC },
      to: { path: '(^|/)node_modules/(@nestjs/|bullmq)(/|$)' },
    },

    // ---- Projections ----
    {
      name: 'projections-not-to-api-or-workers',
      severity: 'error',
      comment: 'src/projections/ must not import src/api/ or src/workers/.',
      from: { path: '^src/projections/', pathNot: INTEGRATION_SPEC },
      to: { path: '^src/(api|workers)/' },
    },

    // ---- Application (command handlers and services) ----
    {
      name: 'application-not-to-api-or-workers',
      severity: 'error',
      comment: 'src/application/ holds the use cases; it must not import src/api/ or src/workers/, which drive it.',
      from: { path: '^src/application/', pathNot: INTEGRATION_SPEC },
      to: { path: '^src/(api|workers)/' },
    },
    {
      name: 'application-no-nest-or-bullmq',
      severity: 'error',
      comment: 'src/application/ is framework-free: no NestJS, no BullMQ.',
      from: { path: '^src/application/' },
      to: { path: 'node_modules/(@nestjs|bullmq)/' },
    },

    // ---- Composition root ----
    {
      name: 'composition-root-not-to-api-or-workers',
      severity: 'error',
      comment: 'src/composition-root.ts wires contexts for every driver (HTTP, CLI, workers, tests); it must not depend on a driver.',
      from: { path: '^src/composition-root\\.ts$' },
      to: { path: '^src/(api|workers|cli)/' },
    },

    // ---- API ----
    {
      name: 'controllers-no-database',
      severity: 'error',
      comment:
        'A controller parses the request and dispatches a command or query through the @nestjs/cqrs buses; the ' +
        'handlers call the application layer and the read models. So a controller imports no database, Redis, ' +
        'event store, application service or composition root.',
      // The health check is the exception: pinging PostgreSQL and Redis is its whole job.
      from: { path: '^src/api/.+\\.controller\\.ts$', pathNot: '^src/api/health/' },
      to: {
        path: [
          '^src/infra/',
          '^src/eventstore/',
          '^src/application/',
          '^src/composition-root\\.ts$',
          '(^|/)node_modules/(pg-promise|pg|ioredis)/',
        ],
      },
    },
    {
      name: 'api-not-to-workers',
      severity: 'error',
      comment: 'src/api/ must not import src/workers/; it hands work to workers through queues.',
      from: { path: '^src/api/', pathNot: INTEGRATION_SPEC },
      to: { path: '^src/workers/' },
    },
    {
      name: 'api-projections-only-through-index',
      severity: 'error',
      comment:
        "api may import src/projections only through src/projections/index.ts or a context's " +
        'src/projections/<context>/index.ts; table layouts and appliers are private.',
      from: { path: '^src/api/', pathNot: INTEGRATION_SPEC },
      to: {
        path: '^src/projections/',
        pathNot: ['^src/projections/index\\.ts$', '^src/projections/[^/]+/index\\.ts$'],
      },
    },

    // ---- Workers ----
    {
      name: 'workers-not-to-api',
      severity: 'error',
      comment: 'src/workers/ must not import src/api/.',
      from: { path: '^src/workers/', pathNot: INTEGRATION_SPEC },
      to: { path: '^src/api/' },
    },

    // ---- Whole tree ----
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No circular dependencies in src/ (cycles made only of type-only imports are harmless at run time and allowed).',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'not-to-dev-dep',
      severity: 'error',
      comment:
        'Production code in src/ must not import devDependencies (jest, ts-jest, fast-check ...): ' +
        'the image is built with `npm ci --omit=dev`. Only *.spec.ts files may.',
      from: { path: '^src/', pathNot: SPEC_FILE },
      to: {
        dependencyTypes: ['npm-dev'],
        // Type-only imports (e.g. from @types/*) vanish at compile time.
        dependencyTypesNot: ['type-only'],
        pathNot: ['(^|/)node_modules/@types/'],
      },
    },
    {
      name: 'no-non-package-json',
      severity: 'error',
      comment:
        'Import only packages declared in package.json; transitive dependencies (for example `pg` under ' +
        'pg-promise) can disappear or change version without notice. Type-only imports (such as ' +
        "`import type { FastifyReply } from 'fastify'`) are erased at compile time and tsc guards them.",
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'Every import must resolve to a file or an installed package.',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
    {
      name: 'not-to-spec',
      severity: 'error',
      comment: 'Production code must not import spec files.',
      from: { path: '^src/', pathNot: SPEC_FILE },
      to: { path: SPEC_FILE },
    },
    {
      name: 'src-not-to-test',
      severity: 'error',
      comment: 'Production code must not import test/ helpers.',
      from: { path: '^src/', pathNot: SPEC_FILE },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules'] },
    exclude: { path: ['^dist/', '^coverage/', '^data/'] },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    // CommonJS project: resolve the `require` export condition, then types, like tsc and Node do.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['require', 'node', 'default', 'types'],
      mainFields: ['main', 'types', 'typings'],
      extensions: ['.ts', '.d.ts', '.js', '.json'],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
