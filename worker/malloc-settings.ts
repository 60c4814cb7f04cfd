/**
 * glibc's allocator settings for the worker process. They are read by glibc when the process starts, so they cannot be
 * configured from inside it (no signflow variable can set them): they belong in the environment of whatever starts
 * the worker (the systemd unit in docs/ops.md, the bench's worker process), and the worker only says at start when
 * they are missing.
 *
 * Why: every thread that allocates gets a malloc arena of its own (up to 8 per core): the Temporal Core's Rust threads,
 * the workflow sandbox thread, the PDF threads, V8's and libuv's helpers. After a burst of starts each arena keeps the
 * memory its thread freed, in pieces the allocator does not hand back. `MALLOC_ARENA_MAX=2` caps the arenas; alone it
 * moves the pieces into the main arena (which then grew to 170 MB after a fast burst), so blocks of 64 KiB and more
 * are also taken from mmap and returned whole when freed (`MALLOC_MMAP_THRESHOLD_`). Measured side by side with 1,000
 * contracts waiting (docs/benchmarks.md, "Target 4"): 344 MB without, 310 MB with the arena cap, 278 MB with both.
 * Cost: a system call pair per large allocation.
 */

/** What the worker's environment should hold (docs/ops.md, systemd unit). */
export const WORKER_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '65536',
};

/** True where the process runs on glibc (the only allocator these variables concern). */
export function runsOnGlibc(): boolean {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return typeof header?.glibcVersionRuntime === 'string';
}

/**
 * A warning for the worker's start log when the allocator settings are not in the environment on glibc; undefined
 * when they are (any value: a deliberate other setting is the operator's) or the allocator is another one.
 */
export function mallocSettingsWarning(
  env: NodeJS.ProcessEnv = process.env,
  glibc: boolean = runsOnGlibc()
): string | undefined {
  if (!glibc) return undefined;
  const missing = Object.keys(WORKER_MALLOC_ENV).filter((name) => env[name] === undefined || env[name] === '');
  if (missing.length === 0) return undefined;
  const wanted = missing.map((name) => `${name}=${WORKER_MALLOC_ENV[name]}`).join(' ');
  return (
    `${missing.join(', ')} not set: glibc keeps a malloc arena per allocating thread and the worker holds ~65 MB ` +
    `more with thousands of contracts waiting; set ${wanted} in the environment that starts the worker ` +
    `(systemd: Environment=${wanted}; docs/ops.md "Worker memory")`
  );
}
