/**
 * `scripts/prepare-cluster.ts` against a Temporal server that knows nothing of signflow yet (started without our
 * search attributes): afterwards the four attributes are registered and the outbox schedule exists with the
 * configured interval; a second run changes nothing but the interval it is told.
 */
import { Client, Connection } from '@temporalio/client';
import { startTemporalDevServer, type RunningDevServer } from '../../dev-stack/temporal-dev-server';
import { OUTBOX_SCHEDULE_ID } from '../../outbox/schedule';
import { prepareCluster } from '../../scripts/prepare-cluster';
import { loadConfig } from '../../temporal.config';
import { SEARCH_ATTRIBUTES } from '../../workflows/definitions';

describe('prepare-cluster', () => {
  let server: RunningDevServer;
  beforeAll(async () => {
    server = await startTemporalDevServer({ searchAttributes: {} });
  });
  afterAll(async () => {
    await server?.stop();
  });

  test('registers the search attributes and creates, then updates, the outbox schedule', async () => {
    const config = (pollInterval: string) =>
      loadConfig({ temporal: { address: server.address } }, { SIGNFLOW_OUTBOX_POLL_INTERVAL: pollInterval });
    const connection = await Connection.connect({ address: server.address });
    try {
      const before = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(Object.keys(before.customAttributes ?? {})).not.toContain('CrmContractId');

      const first = await prepareCluster(config('30s'));
      expect(first).toEqual({
        namespace: 'default',
        searchAttributes: Object.keys(SEARCH_ATTRIBUTES),
        outboxScheduleId: OUTBOX_SCHEDULE_ID,
      });
      const after = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(Object.keys(after.customAttributes ?? {})).toEqual(expect.arrayContaining(Object.keys(SEARCH_ATTRIBUTES)));

      const schedule = new Client({ connection }).schedule.getHandle(OUTBOX_SCHEDULE_ID);
      expect((await schedule.describe()).spec.intervals?.[0]?.every).toBe(30_000);

      // Again, with another interval: no error for what exists, the schedule follows the config.
      await prepareCluster(config('1m'), { searchAttributes: true });
      expect((await schedule.describe()).spec.intervals?.[0]?.every).toBe(60_000);
      expect(await prepareCluster(config('1m'), { searchAttributes: false, outboxSchedule: false })).toEqual({
        namespace: 'default',
        searchAttributes: [],
      });
    } finally {
      await connection.close();
    }
  });
});
