/**
 * `scripts/prepare-cluster.ts` against a Temporal server that knows nothing of signflow yet (started without our
 * search attributes): afterwards the four attributes are registered and the outbox poller workflow runs with the
 * configured interval; a second run with another interval replaces the poller, a third with the same keeps it.
 */
import { Client, Connection } from '@temporalio/client';
import { startTemporalDevServer, type RunningDevServer } from '../../dev-stack/temporal-dev-server';
import { OUTBOX_POLLER_WORKFLOW_ID } from '../../outbox/poller';
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

  test('registers the search attributes and starts, then replaces, the outbox poller', async () => {
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
        outboxPollerWorkflowId: OUTBOX_POLLER_WORKFLOW_ID,
      });
      const after = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(Object.keys(after.customAttributes ?? {})).toEqual(expect.arrayContaining(Object.keys(SEARCH_ATTRIBUTES)));

      const poller = new Client({ connection }).workflow.getHandle(OUTBOX_POLLER_WORKFLOW_ID);
      const first30s = await poller.describe();
      expect(first30s.status.name).toBe('RUNNING');
      expect(JSON.parse(String(first30s.memo?.settings))).toMatchObject({ pollIntervalMs: 30_000 });

      // Again, with another interval: no error for what exists, a poller with the new settings replaces the old.
      await prepareCluster(config('1m'), { searchAttributes: true });
      const second = await poller.describe();
      expect(second.runId).not.toBe(first30s.runId);
      expect(JSON.parse(String(second.memo?.settings))).toMatchObject({ pollIntervalMs: 60_000 });
      // The same settings keep the running poller.
      await prepareCluster(config('1m'), { searchAttributes: false });
      expect((await poller.describe()).runId).toBe(second.runId);
      expect(await prepareCluster(config('1m'), { searchAttributes: false, outboxPoller: false })).toEqual({
        namespace: 'default',
        searchAttributes: [],
      });
    } finally {
      await connection.close();
    }
  });
});
