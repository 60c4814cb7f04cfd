/**
 * How deep the workflow sandbox captures stack traces, set in every workflow bundle signflow builds (the production
 * build, the worker bundling `workflows/` at start, the tests' and the bench's bundles, the bench's floor included).
 *
 * The Temporal SDK (1.24) installs a promise hook in the workflow thread that captures a stack trace, mapped through
 * the bundle's source map, for every promise created in workflow code (for the `__stack_trace` and
 * `__enhanced_stack_trace` queries); it has no option to turn that off. A contract creates some 150 promises (its own
 * awaits and the SDK's per activity, timer and condition), and that capture was most of the sandbox's CPU beyond the
 * floor's. The capture's depth is the sandbox realm's `Error.stackTraceLimit` (V8 reads it from the realm whose
 * `Error` builds the trace), so the bundle sets it first thing, before the SDK freezes the sandbox's globals.
 *
 * With 1 frame a promise's captured frame is the SDK's hook itself, so the stack trace queries (the UI's "Stack Trace"
 * tab) answer without frames; an error thrown in workflow code keeps its first frame (file and line, source-mapped),
 * which is where a bug in workflow code threw. Where a contract waits is in its status query and its current details
 * (docs/ops.md). Activities run outside the sandbox and keep Node's full stacks.
 */
import type { BundleOptions } from '@temporalio/worker';

export const WORKFLOW_STACK_TRACE_LIMIT = 1;

type WebpackConfig = Parameters<NonNullable<BundleOptions['webpackConfigHook']>>[0];

/** `webpackConfigHook` for `bundleWorkflowCode` (and the worker's `bundlerOptions`): the limit as the bundle's first line. */
export function limitWorkflowStackTraces(config: WebpackConfig): WebpackConfig {
  return {
    ...config,
    plugins: [
      ...(config.plugins ?? []),
      {
        apply(compiler) {
          new compiler.webpack.BannerPlugin({
            banner: `Error.stackTraceLimit = ${WORKFLOW_STACK_TRACE_LIMIT};`,
            raw: true,
            entryOnly: true,
          }).apply(compiler);
        },
      },
    ],
  };
}
