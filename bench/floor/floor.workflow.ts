/**
 * The benchmark's floor: a bare workflow of the contract workflow's shape and nothing else. Three no-op activities
 * (load, prepare, invite), an Update whose handler runs one no-op activity (sign), one more no-op activity (confirm).
 * What signflow's contract path costs beyond this is what signflow itself adds.
 */
import * as wf from '@temporalio/workflow';
import type { FloorActivities } from './floor-activities';
import { floorSignUpdate } from './floor-definitions';

const acts = wf.proxyActivities<FloorActivities>({ startToCloseTimeout: '10 seconds' });

export async function floorContract(id: number): Promise<string> {
  let signed = false;
  let ready = false;
  wf.setHandler(
    floorSignUpdate,
    async (by: number) => {
      const result = await acts.record(id, by);
      signed = true;
      return result;
    },
    {
      // The same one check signflow's validator makes first: nothing to sign before the request exists.
      validator: (by: number) => {
        if (!ready || !Number.isSafeInteger(by)) throw new Error('not ready');
      },
    }
  );
  await acts.load(id);
  await acts.prepare(id);
  ready = true;
  await acts.invite(id);
  await wf.condition(() => signed);
  await acts.confirm(id);
  return 'signed';
}
