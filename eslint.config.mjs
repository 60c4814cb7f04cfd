// ESLint (flat config) for signflow: typescript-eslint's recommended rules plus the type-aware rules that catch what
// bites in Temporal code (unawaited promises), and a sandbox guard for workflows/.
import { builtinModules } from 'node:module';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

// Every Node built-in by its bare name (fs, fs/promises, …); the node: prefix is a pattern below.
const nodeBuiltins = builtinModules.filter((m) => !m.startsWith('_'));
const builtinMessage =
  'Workflow code runs in the deterministic sandbox: no Node built-ins. Do I/O in an activity (activities/).';
const sandboxMessage = 'Workflow code runs in the sandbox: import only types from here (import type …).';

export default defineConfig(
  {
    ignores: ['node_modules/', '.tools/', 'data/', 'dist/', 'coverage/', 'test-results/', '**/*.d.ts', '**/.tmp*'],
  },
  tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          caughtErrors: 'none',
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { module: 'writable', require: 'readonly', __dirname: 'readonly', process: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The workflow sandbox: deterministic code only. Type imports stay allowed (they vanish at compile time).
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: builtinMessage })),
            ...['@temporalio/worker', '@temporalio/client', '@temporalio/activity', '@temporalio/testing'].map(
              (name) => ({ name, message: sandboxMessage, allowTypeImports: true })
            ),
          ],
          patterns: [
            // node:fs, node:test, … (also the prefix-only modules that builtinModules does not list)
            { group: ['node:*'], message: builtinMessage },
            {
              group: ['../activities', '../activities/*', '../db/*', '../mail/*', '../documents/*', '../worker/*'],
              message: sandboxMessage,
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  }
);
