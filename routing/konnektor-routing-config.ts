/**
 * Where the Konnektor activities run: part of `temporal.config.ts`.
 *
 * A practice's Konnektor sits in the practice network, while the CRM, the API, the main worker and Temporal may be
 * hosted elsewhere. An on-site worker (`signflow konnektor-worker`) then polls a task queue of its own and runs every
 * activity that talks to the Konnektor; it only connects out (to Temporal, the CRM database and the Konnektor).
 *
 * - One practice: `SIGNFLOW_KONNEKTOR_TASK_QUEUE` (e.g. `signflow-konnektor-praxis1`), set alike for the hosted side
 *   (which routes there) and the on-site worker (which polls it). Unset: everything runs on the main worker.
 * - One hosted CRM serving several practices: `SIGNFLOW_KONNEKTOR_MANDANTEN` (JSON) or `…_MANDANTEN_FILE` (its path)
 *   on the hosted side, one entry per Mandant: the value the CRM's Mandant column (`crm.contracts.mandant`) holds, the
 *   task queue of that practice's on-site worker and its eHBAs (ICCSN, the first is the default):
 *
 * ```json
 * { "praxis-nord": { "taskQueue": "signflow-konnektor-praxis-nord", "ehba": ["80276001011699910102"] },
 *   "praxis-sued": { "taskQueue": "signflow-konnektor-praxis-sued", "ehba": ["80276001011699920201"] } }
 * ```
 */
import { z } from 'zod';

/** Temporal accepts any non-empty name up to 1000 characters; keep it readable in the UI and in a unit file. */
export const ZTaskQueueName = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9._:@-]{1,200}$/, 'must be 1-200 characters of A-Z a-z 0-9 . _ : @ -');

/** An eHBA's ICCSN as the Konnektor reports it (ISO 7812: 19 or 20 digits, 80276… in Germany). */
export const ZIccsn = z
  .string()
  .trim()
  .regex(/^\d{19,20}$/, 'must be an ICCSN of 19 or 20 digits (as `signflow konnektor status` shows it)');

const ZMandantRoute = z
  .object({
    /** Task queue the Mandant's on-site Konnektor worker polls (its `SIGNFLOW_KONNEKTOR_TASK_QUEUE`). */
    taskQueue: ZTaskQueueName,
    /** ICCSN of the Mandant's eHBAs; the first countersigns contracts that name none (`crm.contracts.countersignIccsn`). */
    ehba: z.array(ZIccsn).min(1, 'must list at least one eHBA ICCSN'),
  })
  .strict();

export type MandantRoute = z.infer<typeof ZMandantRoute>;

/** The Mandanten by the value of the CRM's Mandant column. */
export const ZMandanten = z.record(
  z.string().trim().min(1, 'a Mandant key must not be empty').max(64, 'a Mandant key has at most 64 characters'),
  ZMandantRoute
);

/** `SIGNFLOW_KONNEKTOR_MANDANTEN` (inline JSON) or `SIGNFLOW_KONNEKTOR_MANDANTEN_FILE` (path): the raw value, or a sentence. */
export function mandantenFromEnv(
  inline: string | undefined,
  file: string | undefined,
  readFile: (file: string) => string
): unknown {
  if (inline !== undefined && file !== undefined) {
    throw new Error('set SIGNFLOW_KONNEKTOR_MANDANTEN or SIGNFLOW_KONNEKTOR_MANDANTEN_FILE, not both');
  }
  const [name, text] =
    inline !== undefined
      ? ['SIGNFLOW_KONNEKTOR_MANDANTEN', inline]
      : file !== undefined
        ? [`SIGNFLOW_KONNEKTOR_MANDANTEN_FILE (${file})`, readOrThrow(file, readFile)]
        : [undefined, undefined];
  if (name === undefined || text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`${name}: not JSON: ${(err as Error).message}`);
  }
}

function readOrThrow(file: string, readFile: (file: string) => string): string {
  try {
    return readFile(file);
  } catch (err) {
    throw new Error(`SIGNFLOW_KONNEKTOR_MANDANTEN_FILE: cannot read ${file}: ${(err as Error).message}`);
  }
}

/**
 * The rules across settings, checked once at start (the one validation the hosted side and the on-site worker share):
 * the Konnektor queue is not the main queue, every Mandant has its own queue and its own eHBAs, and a Mandant table
 * comes with the CRM column that says which Mandant a contract belongs to.
 */
export function routingIssues(cfg: {
  mainTaskQueue: string;
  konnektorTaskQueue?: string;
  mandanten?: Record<string, MandantRoute>;
  mandantColumn?: string;
}): Array<{ path: string[]; message: string }> {
  const issues: Array<{ path: string[]; message: string }> = [];
  const main = cfg.mainTaskQueue;
  if (cfg.konnektorTaskQueue === main) {
    issues.push({
      path: ['konnektor', 'taskQueue'],
      message:
        `SIGNFLOW_KONNEKTOR_TASK_QUEUE must differ from the main task queue (${main}); unset it to run the ` +
        'Konnektor activities on the main worker',
    });
  }
  const mandanten = Object.entries(cfg.mandanten ?? {});
  const queues = new Map<string, string>();
  const cards = new Map<string, string>();
  for (const [key, route] of mandanten) {
    const at = ['konnektor', 'mandanten', key];
    if (route.taskQueue === main) {
      issues.push({
        path: [...at, 'taskQueue'],
        message: `SIGNFLOW_KONNEKTOR_MANDANTEN: Mandant ${key} needs a task queue of its own, not the main one (${main})`,
      });
    }
    const other = queues.get(route.taskQueue);
    if (other !== undefined) {
      issues.push({
        path: [...at, 'taskQueue'],
        message:
          `SIGNFLOW_KONNEKTOR_MANDANTEN: Mandanten ${other} and ${key} share task queue ${route.taskQueue}; ` +
          "each practice's on-site worker talks to its own Konnektor and needs its own queue",
      });
    }
    queues.set(route.taskQueue, key);
    for (const iccsn of route.ehba) {
      const owner = cards.get(iccsn);
      if (owner !== undefined) {
        issues.push({
          path: [...at, 'ehba'],
          message: `SIGNFLOW_KONNEKTOR_MANDANTEN: eHBA ${iccsn} is listed for ${owner} and ${key}; an eHBA belongs to one Mandant`,
        });
      }
      cards.set(iccsn, key);
    }
  }
  if (mandanten.length > 0 && !cfg.mandantColumn) {
    issues.push({
      path: ['konnektor', 'mandanten'],
      message:
        'SIGNFLOW_KONNEKTOR_MANDANTEN is set but the CRM mapping names no Mandant column: set contracts.mandant in ' +
        'SIGNFLOW_CRM_MAPPING to the column that says which Mandant a contract belongs to',
    });
  }
  return issues;
}

/**
 * The Konnektor runs on-site (`konnektor.taskQueue` or Mandanten set): the main worker then builds no Konnektor client
 * and registers none of the Konnektor activities.
 */
export function konnektorRunsOnSite(konnektor: {
  taskQueue?: string;
  mandanten?: Record<string, MandantRoute>;
}): boolean {
  return konnektor.taskQueue !== undefined || Object.keys(konnektor.mandanten ?? {}).length > 0;
}
