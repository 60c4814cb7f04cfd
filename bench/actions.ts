/**
 * History events and billable Temporal actions per workflow, counted from its history. Actions as Temporal Cloud
 * bills them where a history shows them: the start, every activity attempt, signals, accepted Updates, timers,
 * search-attribute upserts, and local activities. Local activities by the rule of Temporal Cloud's Actions page
 * (docs.temporal.io/cloud/actions, "Local Activity started"): all local activities of one workflow task count as a
 * single action, because Temporal Cloud counts the RecordMarker commands of a workflow task as one action; every
 * further workflow task heartbeat of a local activity that outlives its task counts as one more (not seen in a
 * history as such and not counted here: it needs a local activity running longer than 80 % of the workflow task
 * timeout). Patch markers (`patched()`) are counted on their own line, and so is the upsert of `TemporalChangeVersion`
 * alone that the SDK's core writes with each marker: the page exempts that attribute from action counting (a patch
 * marker is a RecordMarker command too, so by the rule above its workflow task could count as one action; signflow's
 * plain contracts have none since generation 2). Heartbeats and queries leave no history event and are not counted.
 */
import type { History } from '@temporalio/common/lib/proto-utils';

/** The search attribute the SDK upserts for `patched()` (exempt from Temporal Cloud's action count). */
const VERSION_ATTRIBUTE = 'TemporalChangeVersion';
/** The marker name the SDK's core records a local activity's result under (`core_patch` for `patched()`). */
export const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

export interface ActionCounts {
  events: number;
  /** Workflow tasks completed (not an action; each is a round trip through the server's task queue). */
  workflowTasks: number;
  starts: number;
  /** Activity attempts (a retry is another action). */
  activities: number;
  /** Signals received plus Updates accepted. */
  messages: number;
  timers: number;
  upserts: number;
  /** Local activities (their result markers, retries inside the worker included in one). */
  localActivities: number;
  /** Workflow tasks that ran local activities: one action each (see above). */
  localActivityTasks: number;
  /** Patch markers and any other marker but a local activity's; listed apart from the actions. */
  markers: number;
  /** Upserts of `TemporalChangeVersion` only (the SDK's, one per patch marker); listed apart from the actions. */
  versionUpserts: number;
  /** starts + activities + messages + timers + upserts + localActivityTasks. */
  actions: number;
}

function zeroCounts(): ActionCounts {
  return {
    events: 0,
    workflowTasks: 0,
    starts: 0,
    activities: 0,
    messages: 0,
    timers: 0,
    upserts: 0,
    localActivities: 0,
    localActivityTasks: 0,
    markers: 0,
    versionUpserts: 0,
    actions: 0,
  };
}

export function actionCounts(history: History): ActionCounts {
  const c = zeroCounts();
  const localActivityTasks = new Set<string>();
  for (const e of history.events ?? []) {
    c.events++;
    if (e.workflowTaskCompletedEventAttributes) c.workflowTasks++;
    if (e.workflowExecutionStartedEventAttributes) c.starts++;
    else if (e.activityTaskStartedEventAttributes) c.activities += 1;
    else if (e.activityTaskScheduledEventAttributes) {
      // Counted when started (attempt by attempt); one never started is still one action.
    } else if (e.workflowExecutionSignaledEventAttributes) c.messages++;
    else if (e.workflowExecutionUpdateAcceptedEventAttributes) c.messages++;
    else if (e.timerStartedEventAttributes) c.timers++;
    else if (e.upsertWorkflowSearchAttributesEventAttributes) {
      const keys = Object.keys(e.upsertWorkflowSearchAttributesEventAttributes.searchAttributes?.indexedFields ?? {});
      if (keys.length === 1 && keys[0] === VERSION_ATTRIBUTE) c.versionUpserts++;
      else c.upserts++;
    } else if (e.markerRecordedEventAttributes) {
      const m = e.markerRecordedEventAttributes;
      if (m.markerName === LOCAL_ACTIVITY_MARKER) {
        c.localActivities++;
        localActivityTasks.add(String(m.workflowTaskCompletedEventId));
      } else c.markers++;
    }
  }
  c.localActivityTasks = localActivityTasks.size;
  // The server writes ActivityTaskStarted once, with the attempt that completed: earlier attempts are retries.
  for (const e of history.events ?? []) {
    const attempt = e.activityTaskStartedEventAttributes?.attempt ?? 1;
    if (attempt > 1) c.activities += attempt - 1;
  }
  c.actions = c.starts + c.activities + c.messages + c.timers + c.upserts + c.localActivityTasks;
  return c;
}

/** Mean of each count over `histories`. */
export function meanCounts(histories: History[]): ActionCounts {
  const sum = histories.map(actionCounts).reduce((a, b) => {
    for (const k of Object.keys(a) as (keyof ActionCounts)[]) a[k] += b[k];
    return a;
  }, zeroCounts());
  const n = Math.max(histories.length, 1);
  for (const k of Object.keys(sum) as (keyof ActionCounts)[]) sum[k] /= n;
  return sum;
}
