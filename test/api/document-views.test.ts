/**
 * `POST /contracts/{id}/views`: the portal reports that the contact opened the document. Real API, worker, dev server
 * and SQLite; the answers and what the workflow and the audit trail keep.
 */
import { contractStatus } from '../../client/contract-client';
import { startApiStack, type ApiStack } from './api-stack';
import { addSendableContract } from '../helpers/contract-stack';
import { eventually } from '../helpers/waits';
import { startDevServer, type DevServerHandle } from '../../harness/temporal';

jest.setTimeout(180_000);

let server: DevServerHandle;
let api: ApiStack;

beforeAll(async () => {
  server = await startDevServer();
  api = await startApiStack(server);
});

afterAll(async () => {
  await api?.stop();
  await server?.stop();
});

test('views are counted for the signer, audited with the client as passed, refused once the contract ended', async () => {
  const { t, client } = api.stack;
  const contractId = await addSendableContract(t);
  const signer = t.seed.contactIds[0] as number;
  const start = await api.call('POST', `/api/v1/contracts/${contractId}/signature-request`, { as: 'crm' });
  expect(start.status).toBe(202);
  await eventually(async () => expect((await contractStatus(client, contractId)).phase).toBe('awaiting-signature'));

  const view = (body: unknown, as: 'portal' | 'crm' = 'portal') =>
    api.call('POST', `/api/v1/contracts/${contractId}/views`, { as, body });
  expect((await view({ contactId: signer, ip: '198.51.100.4', userAgent: 'Firefox/140' })).status).toBe(202);
  // Bad input changes nothing.
  expect((await view({ contactId: signer, ip: 'x'.repeat(65) })).status).toBe(400);
  expect((await view({ contactId: 0 })).status).toBe(400);
  expect((await view({ contactId: signer, extra: 1 })).status).toBe(400);
  expect((await view({ contactId: signer }, 'crm')).status).toBe(403);
  expect(
    (await api.call('POST', '/api/v1/contracts/999999/views', { as: 'portal', body: { contactId: 1 } })).status
  ).toBe(404);

  await eventually(async () => {
    const state = await contractStatus(client, contractId);
    expect(state.views).toBe(1);
    expect(state.firstViewedAt).toEqual(expect.any(String));
  });
  const audited = await eventually(async () => {
    const rows = await t.db('signflow_audit_events').where({ contract_id: contractId, event: 'document-viewed' });
    expect(rows).toHaveLength(1);
    return rows;
  });
  expect(JSON.parse(audited[0].detail)).toMatchObject({
    contactId: signer,
    viewNumber: 1,
    ip: '198.51.100.4',
    userAgent: 'Firefox/140',
  });

  // Withdrawn: the workflow has ended and takes no more views.
  expect((await api.call('POST', `/api/v1/contracts/${contractId}/withdrawal`, { as: 'staff' })).status).toBe(200);
  await eventually(async () => {
    const res = await view({ contactId: signer });
    expect(res.status).toBe(409);
    expect(res.json.code).toBe('SIGNATURE_WITHDRAWN');
  }, 60_000);
});
