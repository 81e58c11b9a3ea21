// ESLint flat config. Deliberately not type-aware so that `npm run lint` stays fast;
// `tsc --noEmit` already does the type checking. No stylistic rules: formatting is not linted.
const { defineConfig, globalIgnores } = require('eslint/config');
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');

// The few Node.js globals the plain CommonJS files (configs, bin/) use. Listed by hand because
// the `globals` package is not a declared dependency of this project.
const nodeCommonJsGlobals = {
  __dirname: 'readonly',
  __filename: 'readonly',
  Buffer: 'readonly',
  clearImmediate: 'readonly',
  clearInterval: 'readonly',
  clearTimeout: 'readonly',
  console: 'readonly',
  exports: 'writable',
  fetch: 'readonly',
  module: 'writable',
  process: 'readonly',
  queueMicrotask: 'readonly',
  require: 'readonly',
  setImmediate: 'readonly',
  setInterval: 'readonly',
  setTimeout: 'readonly',
  structuredClone: 'readonly',
  URL: 'readonly',
};

const unusedVarsOptions = {
  args: 'after-used',
  argsIgnorePattern: '^_',
  varsIgnorePattern: '^_',
  caughtErrorsIgnorePattern: '^_',
  destructuredArrayIgnorePattern: '^_',
  ignoreRestSiblings: true,
};

module.exports = defineConfig(
  globalIgnores(['dist/', 'node_modules/', 'data/', 'coverage/']),
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },

  // Plain JavaScript: config files and the bin/ launcher, all CommonJS.
  {
    files: ['**/*.js', '**/*.cjs'],
    extends: [js.configs.recommended],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'commonjs',
      globals: nodeCommonJsGlobals,
    },
    rules: {
      'no-unused-vars': ['error', unusedVarsOptions],
    },
  },

  // TypeScript sources, tests and benchmarks.
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', unusedVarsOptions],
      // `require` stays an error (from the recommended set); the few places that need it
      // (ES-module-only packages loaded from CommonJS) say so with
      // `// eslint-disable-next-line @typescript-eslint/no-require-imports`.
      '@typescript-eslint/no-require-imports': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-console': 'error',
      'no-throw-literal': 'error',
      'prefer-promise-reject-errors': 'error',
    },
  },

  // The web console (console/, built by Vite for the browser): TypeScript and TSX, browser globals
  // come from its own tsconfig's DOM library (tsc -p console), so no globals list is needed here.
  {
    files: ['console/**/*.ts', 'console/**/*.tsx', 'console/**/*.mts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      parserOptions: { ecmaFeatures: { jsx: true } },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', unusedVarsOptions],
      // Undefined names are tsc's job (it knows the DOM); ESLint's own check does not.
      'no-undef': 'off',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-console': 'error',
    },
  },

  // Command-line tools and benchmarks talk to the terminal; the service logs through its logger.
  {
    files: ['src/cli/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'],
    rules: {
      'no-console': 'off',
    },
  },
);
