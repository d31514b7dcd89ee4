// ESLint flat config (`npm run lint`): typescript-eslint's recommended type-checked rules over every
// TypeScript file tsconfig.json covers (house style 13). Formatting is Prettier's job (`npm run format:check`).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**', 'coverage/**', '.sluice/**', 'bench/.compiled/**'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // `async` methods implementing a Promise interface (LocalTransport) turn a throw into a rejection, as callers expect.
      '@typescript-eslint/require-await': 'off',
      // Rethrowing a caught value as a rejection keeps it as it was; wrapping it would hide its class.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // `let sub; sub = x.subscribe(...)` is kept where a callback may read it before the assignment.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // A leading underscore marks a value left unused on purpose (rest-sibling omission, positional args).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // Library, operator, topology and demo code logs through the topology's logger, never the console.
    files: ['src/**/*.ts', 'operators/**/*.ts', 'topologies/**/*.ts', 'demo/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: { 'no-console': 'error' },
  },
  {
    // Tests poke at decoded JSON and internals: `any` from JSON.parse and comma sequences are fine there.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
  {
    // Plain JavaScript (bin/, this file) is outside tsconfig.json: lint it without type information.
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
