// Lint rules that keep the architecture honest: no floating promises, exhaustive switches,
// no `any`, and one context reaches another only through its index.ts.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const contexts = [
  'platform', 'events', 'catalog', 'inventory', 'customers', 'checkout', 'payments',
  'processor-sim', 'analytics', 'bi', 'storefront', 'simulate',
];
const deepImport = `^(\\.\\./)+(${contexts.join('|')})/(?!index\\.(js|ts)$).+`;

export default tseslint.config(
  { ignores: ['node_modules/**', '.build/**', 'data/**', '.test-data/**', 'web/assets/vendor/**', 'bin/**', 'scripts/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', {
        // node:test's test()/describe() return promises the runner itself awaits.
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }],
      }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
    },
  },
  {
    // Inside src/<context>/ a sibling context is reached only through its index.ts.
    // platform is shared infrastructure and may be imported anywhere.
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          regex: deepImport.replace('platform|', ''),
          message: 'Import another context only through its index.ts.',
        }],
      }],
    },
  },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
  {
    // Browser pages: plain ES modules, no type information.
    files: ['web/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: globals.browser, sourceType: 'module' },
  },
);
