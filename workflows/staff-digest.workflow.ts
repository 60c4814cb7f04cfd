/**
 * The staff digest, started by the Temporal Schedule `signflow-staff-digest` (staff/digest-schedule.ts) at
 * `staff.digestCron`. One activity reads the reports and sends the mail (once per day, keyed); this workflow only
 * gives it retries.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { StaffDigestResult, StaffMailActivities } from '../activities/staff-mail.activities';

const { sendStaffDigest } = proxyActivities<StaffMailActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', maximumAttempts: 20 },
});

export async function staffDigest(): Promise<StaffDigestResult> {
  return sendStaffDigest();
}
