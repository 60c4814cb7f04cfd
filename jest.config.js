/**
 * jest for signflow: TypeScript through ts-jest, Node environment, one run over test/**.
 *
 * - Transpile only (isolatedModules): type errors are `npm run typecheck`'s job (tsc --noEmit); type-checking every file
 *   again inside each jest worker costs tens of seconds on 2 cores.
 * - Workflow code is bundled once per run by the globalSetup (test/helpers/global-setup.ts).
 * - Timeouts: workflow and end-to-end tests start real servers and workers; 2 minutes per test is the ceiling, each
 *   test bounds its own waits below that.
 * @type {import('jest').Config}
 */
module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: { isolatedModules: true } }],
  },
  moduleFileExtensions: ['ts', 'js', 'json', 'node'],
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
  testTimeout: 120_000,
  // The machines have 2 cores; Temporal servers and workers run beside the jest workers.
  maxWorkers: process.env.SIGNFLOW_JEST_WORKERS ? Number(process.env.SIGNFLOW_JEST_WORKERS) : 2,
  slowTestThreshold: 30,
  modulePathIgnorePatterns: ['<rootDir>/.tools/', '<rootDir>/data/', '<rootDir>/dist/'],
  watchPathIgnorePatterns: ['<rootDir>/.tools/', '<rootDir>/data/', '<rootDir>/test-results/'],
};
