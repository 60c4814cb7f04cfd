/**
 * The logger given to `bundleWorkflowCode` wherever the workflows are bundled (the production build, the tests' and
 * the bench's bundle): webpack's info lines would fill every build and test log; warnings and errors still show.
 */
export const quietBundlerLogger = {
  trace: (): undefined => undefined,
  debug: (): undefined => undefined,
  info: (): undefined => undefined,
  warn: (message: string, meta?: Record<string, unknown>): void => console.warn(message, meta ?? ''),
  error: (message: string, meta?: Record<string, unknown>): void => console.error(message, meta ?? ''),
  log: (): undefined => undefined,
};
