/**
 * The Temporal Schedule that sends the staff digest at `staff.digestCron` (time zone `staff.digestTimeZone`). It
 * exists only while the digest is switched on and a staff address is set: `ensureStaffDigestSchedule` creates,
 * updates or deletes it to match the config, so switching it off is one restart of whoever calls it (dev stack,
 * `scripts/prepare-cluster.ts`).
 */
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { SignflowConfig } from '../temporal.config';

export const STAFF_DIGEST_SCHEDULE_ID = 'signflow-staff-digest';

/** Creates or updates the schedule when the digest is on, deletes it when off. Returns the id, or undefined when off. */
export async function ensureStaffDigestSchedule(client: Client, config: SignflowConfig): Promise<string | undefined> {
  const handle = client.schedule.getHandle(STAFF_DIGEST_SCHEDULE_ID);
  if (!config.staff.mail || !config.staff.digestEnabled) {
    await handle.delete().catch((err: unknown) => {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    });
    return undefined;
  }
  const spec = { cronExpressions: [config.staff.digestCron], timezone: config.staff.digestTimeZone };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'staffDigest',
    taskQueue: config.temporal.taskQueue,
    workflowId: 'signflow-staff-digest',
    args: [],
    workflowExecutionTimeout: '6 hours' as const,
    staticSummary: 'Tagesübersicht an das Praxis-Team',
  };
  // A digest missed while the cluster was down still goes out within the hour.
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' as const };
  try {
    await client.schedule.create({ scheduleId: STAFF_DIGEST_SCHEDULE_ID, spec, action, policies });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await handle.update((previous) => ({ ...previous, spec, action, policies: { ...previous.policies, ...policies } }));
  }
  return STAFF_DIGEST_SCHEDULE_ID;
}
