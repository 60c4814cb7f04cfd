/**
 * History events and billable Temporal actions per workflow, counted from its history. Actions as Temporal Cloud
 * bills them where a history shows them: the start, every activity attempt, signals, accepted Updates, timers and
 * search-attribute upserts. Patch markers (`patched()`) are counted on their own line, and so is the upsert of
 * `TemporalChangeVersion` alone that the SDK's core writes with each marker: Temporal Cloud's pricing page exempts
 * that attribute from action counting. Heartbeats and queries leave no history event and are not counted here.
 */
import type { History } from '@temporalio/common/lib/proto-utils';

/** The search attribute the SDK upserts for `patched()` (exempt from Temporal Cloud's action count). */
const VERSION_ATTRIBUTE = 'TemporalChangeVersion';

export interface ActionCounts {
  events: number;
  starts: number;
  /** Activity attempts (a retry is another action). */
  activities: number;
  /** Signals received plus Updates accepted. */
  messages: number;
  timers: number;
  upserts: number;
  /** Marker events (patch markers); listed apart from the actions. */
  markers: number;
  /** Upserts of `TemporalChangeVersion` only (the SDK's, one per patch marker); listed apart from the actions. */
  versionUpserts: number;
  /** starts + activities + messages + timers + upserts. */
  actions: number;
}

function zeroCounts(): ActionCounts {
  return {
    events: 0,
    starts: 0,
    activities: 0,
    messages: 0,
    timers: 0,
    upserts: 0,
    markers: 0,
    versionUpserts: 0,
    actions: 0,
  };
}

export function actionCounts(history: History): ActionCounts {
  const c = zeroCounts();
  for (const e of history.events ?? []) {
    c.events++;
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
    } else if (e.markerRecordedEventAttributes) c.markers++;
  }
  // The server writes ActivityTaskStarted once, with the attempt that completed: earlier attempts are retries.
  for (const e of history.events ?? []) {
    const attempt = e.activityTaskStartedEventAttributes?.attempt ?? 1;
    if (attempt > 1) c.activities += attempt - 1;
  }
  c.actions = c.starts + c.activities + c.messages + c.timers + c.upserts;
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
