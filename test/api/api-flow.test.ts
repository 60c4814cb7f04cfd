/**
 * The API over real HTTP against the real Temporal dev server and a real signflow worker (real activities, real test
 * database on SQLite and MariaDB, SMTP inbox on loopback): start (idempotent), bulk, the portal's click and drawn
 * signatures, staff confirmation, withdrawal, reminder, the state, the pending list, the reports, and the rejections
 * that come from the workflow. Database rows are checked after each write.
 */
import { PNG } from 'pngjs';
import { toBool, toDate } from '../../db/crm-repository';
import { sha256Hex, signatureMd5 } from '../../domain/signature-hash';
import { testDatabases } from '../../harness/databases';
import { addSendableContract } from '../helpers/contract-stack';
import { startDevServer, type DevServerHandle } from '../../harness/temporal';
import { startApiStack, type ApiStack, type HttpAnswer } from './api-stack';

jest.setTimeout(120_000);

function drawnPng(): Buffer {
  const image = new PNG({ width: 300, height: 100 });
  image.data.fill(255);
  for (let x = 20; x < 280; x++) {
    const y = 50 + Math.round(20 * Math.sin(x / 15));
    image.data.writeUInt32BE(0x0b1f3aff, (y * 300 + x) * 4);
  }
  return PNG.sync.write(image);
}

describe.each(testDatabases())('API flow on $name', (database) => {
  // A dev server per database: contract ids (and so workflow ids) start from the same seed in each one.
  let server: DevServerHandle;
  let api: ApiStack;

  beforeAll(async () => {
    server = await startDevServer();
    api = await startApiStack(server, { db: database.name, dev: true });
  });

  afterAll(async () => {
    await api?.stop();
    await server?.stop();
  });

  const v1 = (method: string, path: string, opts: Parameters<ApiStack['call']>[2] = {}) =>
    api.call(method, `/api/v1${path}`, opts);

  const expectRejection = (answer: HttpAnswer, status: number, code: string) => {
    expect([answer.status, answer.json?.code, typeof answer.json?.message]).toEqual([status, code, 'string']);
  };

  /** Polls the state route until the workflow is in `phase` (bounded). */
  async function waitForPhase(contractId: number, phase: string, timeoutMs = 30_000): Promise<HttpAnswer> {
    const deadline = Date.now() + timeoutMs;
    let last: HttpAnswer | undefined;
    while (Date.now() < deadline) {
      last = await v1('GET', `/contracts/${contractId}`, { as: 'ops' });
      if (last.status === 200 && last.json.state?.phase === phase) return last;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`contract ${contractId} did not reach ${phase}; last answer ${last?.status} ${last?.text}`);
  }

  async function startedAndWaiting(): Promise<{ contractId: number; contactId: number; documentId: number }> {
    const contactId = api.stack.t.seed.contactIds[0] as number;
    const contractId = await addSendableContract(api.stack.t, contactId);
    const started = await v1('POST', `/contracts/${contractId}/signature-request`, { as: 'crm' });
    expect(started.status).toBe(202);
    const state = await waitForPhase(contractId, 'awaiting-signature');
    return { contractId, contactId, documentId: state.json.state.documentId };
  }

  const signatureRow = async (id: number) => {
    const s = api.config.crm.signatures;
    return api.stack.t.db(s.table).where(s.id, id).first();
  };
  const contractRow = async (id: number) => {
    const c = api.config.crm.contracts;
    return api.stack.t.db(c.table).where(c.id, id).first();
  };

  test('start is idempotent: the same contract answers the same run, also after it was sent', async () => {
    const contractId = await addSendableContract(api.stack.t);
    const first = await v1('POST', `/contracts/${contractId}/signature-request`, { as: 'crm' });
    const second = await v1('POST', `/contracts/${contractId}/signature-request`, { as: 'crm' });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(first.json).toEqual({ contractId, workflowId: `honorarvertrag-${contractId}`, runId: expect.any(String) });
    expect(second.json.runId).toBe(first.json.runId);
    await waitForPhase(contractId, 'awaiting-signature');
    // Now `versendet`: no longer a sendable status, yet a repeated start still joins the running request.
    expect((await contractRow(contractId))[api.config.crm.contracts.status]).toBe(api.config.crm.values.contractSent);
    const third = await v1('POST', `/contracts/${contractId}/signature-request`, { as: 'crm' });
    expect([third.status, third.json.runId]).toEqual([202, first.json.runId]);
    // HMAC-signed, as a CRM automation would call it: still the same run.
    const { callHmac } = await import('./api-stack');
    const signed = await callHmac(api.url, 'POST', `/api/v1/contracts/${contractId}/signature-request`, '');
    expect([signed.status, signed.json.runId]).toEqual([202, first.json.runId]);
  });

  test('bulk start answers per contract', async () => {
    const a = await addSendableContract(api.stack.t);
    const b = await addSendableContract(api.stack.t);
    const inProgress = api.stack.t.seed.inProgressContractId;
    const answer = await v1('POST', '/contracts/signature-requests', {
      as: 'crm',
      body: { contractIds: [a, 987_654, b, inProgress] },
    });
    expect(answer.status).toBe(200);
    expect(answer.json.started).toBe(2);
    expect(answer.json.failed).toBe(2);
    expect(answer.json.results).toEqual([
      { contractId: a, ok: true, workflowId: `honorarvertrag-${a}`, runId: expect.any(String) },
      expect.objectContaining({ contractId: 987_654, ok: false, status: 404, code: 'CONTRACT_NOT_FOUND' }),
      { contractId: b, ok: true, workflowId: `honorarvertrag-${b}`, runId: expect.any(String) },
      expect.objectContaining({ contractId: inProgress, ok: false, status: 409, code: 'CONTRACT_NOT_SENDABLE' }),
    ]);
    const again = await v1('POST', '/contracts/signature-requests', { as: 'crm', body: { contractIds: [b, a] } });
    expect(again.json.results.map((r: { runId: string }) => r.runId)).toEqual([
      answer.json.results[2].runId,
      answer.json.results[0].runId,
    ]);
  });

  test('the portal signs by click: rows exactly as the seed says, and the pending list empties', async () => {
    const { contractId, contactId, documentId } = await startedAndWaiting();
    const pending = await v1('GET', `/contacts/${contactId}/pending-signatures`, { as: 'portal' });
    expect(pending.status).toBe(200);
    const item = pending.json.items.find((i: { contractId: number }) => i.contractId === contractId);
    expect(item).toEqual(
      expect.objectContaining({ documentId, portalUrl: `${api.config.portal.baseUrl}/dokumente/${documentId}` })
    );

    const signed = await v1('POST', `/contracts/${contractId}/signature`, {
      as: 'portal',
      body: { contactId, method: 'click' },
    });
    expect(signed.status).toBe(200);
    expect(signed.json).toEqual({
      kind: 'signed',
      signatureId: item.signatureId,
      userContactId: contactId,
      method: 'click',
      confirmedAt: expect.any(String),
      md5Hash: expect.stringMatching(/^[0-9a-f]{32}$/),
    });

    const s = api.config.crm.signatures;
    const sig = await signatureRow(signed.json.signatureId);
    expect(sig[s.status]).toBe(api.config.crm.values.signatureValid);
    expect(toBool(sig[s.byAuthenticatedClick], api.config.crm)).toBe(true);
    expect(Number(sig[s.userId])).toBe(contactId);
    expect(sig[s.image]).toBeNull();
    expect(sig[s.md5Hash]).toBe(signed.json.md5Hash);
    expect(toDate(sig[s.signedAt])?.toISOString()).toBe(signed.json.confirmedAt);

    const c = api.config.crm.contracts;
    const contract = await contractRow(contractId);
    expect(contract[c.status]).toBe(api.config.crm.values.contractInProgress);
    expect(toBool(contract[c.confirmedByFreelancer], api.config.crm)).toBe(true);
    expect(Number(contract[c.confirmedBy])).toBe(contactId);
    expect(toDate(contract[c.confirmedAt])?.toISOString()).toBe(signed.json.confirmedAt);

    const after = await v1('GET', `/contacts/${contactId}/pending-signatures`, { as: 'portal' });
    expect(after.json.items.map((i: { contractId: number }) => i.contractId)).not.toContain(contractId);

    // Signed once is signed forever: a second signature is a 409, not a 500.
    const twice = await v1('POST', `/contracts/${contractId}/signature`, {
      as: 'portal',
      body: { contactId, method: 'click' },
    });
    expectRejection(twice, 409, 'SIGNATURE_ALREADY_CONFIRMED');
    const confirm = await v1('POST', `/contracts/${contractId}/confirmation`, {
      as: 'staff',
      body: { staffContactId: api.stack.t.seed.staffContactId },
    });
    expectRejection(confirm, 409, 'SIGNATURE_ALREADY_CONFIRMED');
    const withdraw = await v1('POST', `/contracts/${contractId}/withdrawal`, { as: 'staff' });
    expectRejection(withdraw, 409, 'SIGNATURE_ALREADY_CONFIRMED');

    const done = await waitForPhase(contractId, 'completed');
    expect(done.json.state.outcome).toEqual(
      expect.objectContaining({ kind: 'signed', signatureId: signed.json.signatureId })
    );
    expect(done.json.crm).toEqual(
      expect.objectContaining({ status: api.config.crm.values.contractInProgress, confirmedBy: contactId })
    );
  });

  test('a drawn signature stores the PNG, linked, and its MD5 can be recomputed', async () => {
    const { contractId, contactId } = await startedAndWaiting();
    const png = drawnPng();
    const signed = await v1('POST', `/contracts/${contractId}/signature`, {
      as: 'portal',
      body: { contactId, method: 'drawn', imagePngBase64: `data:image/png;base64,${png.toString('base64')}` },
    });
    expect(signed.status).toBe(200);
    expect(signed.json.method).toBe('drawn');

    const s = api.config.crm.signatures;
    const d = api.config.crm.documents;
    const sig = await signatureRow(signed.json.signatureId);
    expect(sig[s.status]).toBe(api.config.crm.values.signatureValid);
    expect(toBool(sig[s.byAuthenticatedClick], api.config.crm)).toBe(false);
    const imageId = Number(sig[s.image]);
    expect(imageId).toBeGreaterThan(0);
    const image = await api.stack.t.db(d.table).where(d.id, imageId).first();
    expect(image[d.mimeType]).toBe('image/png');
    expect(Buffer.from(image[d.content]).equals(png)).toBe(true);

    const contractDoc = await api.stack.t.db(d.table).where(d.id, Number(sig[s.documentId])).first();
    expect(
      signatureMd5({
        documentSha256: String(contractDoc[d.sha256]),
        signerContactId: contactId,
        method: 'drawn',
        imageSha256: sha256Hex(png),
        signedAt: signed.json.confirmedAt,
      })
    ).toBe(sig[s.md5Hash]);
  });

  test('only the contact the document was made for may sign (422 WRONG_SIGNER, nothing written)', async () => {
    const { contractId } = await startedAndWaiting();
    const other = api.stack.t.seed.contactIds[1] as number;
    const answer = await v1('POST', `/contracts/${contractId}/signature`, {
      as: 'portal',
      body: { contactId: other, method: 'click' },
    });
    expectRejection(answer, 422, 'WRONG_SIGNER');
    const state = await v1('GET', `/contracts/${contractId}`, { as: 'ops' });
    expect(state.json.state.phase).toBe('awaiting-signature');
    const s = api.config.crm.signatures;
    const sig = await signatureRow(state.json.state.signatureId);
    expect(sig[s.status]).toBe(api.config.crm.values.signaturePending);
  });

  test('staff confirm manually: the staff contact is recorded, the portal and crm roles may not', async () => {
    const { contractId } = await startedAndWaiting();
    const staffContactId = api.stack.t.seed.staffContactId;
    expectRejection(
      await v1('POST', `/contracts/${contractId}/confirmation`, { as: 'portal', body: { staffContactId } }),
      403,
      'ROLE_NOT_ALLOWED'
    );
    const answer = await v1('POST', `/contracts/${contractId}/confirmation`, { as: 'staff', body: { staffContactId } });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual(
      expect.objectContaining({ kind: 'confirmed', method: 'staff', userContactId: staffContactId })
    );
    const c = api.config.crm.contracts;
    const contract = await contractRow(contractId);
    expect(contract[c.status]).toBe(api.config.crm.values.contractInProgress);
    expect(Number(contract[c.confirmedBy])).toBe(staffContactId);
    const s = api.config.crm.signatures;
    const sig = await signatureRow(answer.json.signatureId);
    expect([sig[s.status], Number(sig[s.userId])]).toEqual([api.config.crm.values.signatureValid, staffContactId]);
  });

  test('withdrawal: 200 withdrawn (what happened, not "accepted"), the signature is voided, signing is a 409', async () => {
    const { contractId, contactId } = await startedAndWaiting();
    const answer = await v1('POST', `/contracts/${contractId}/withdrawal`, {
      as: 'staff',
      body: { staffContactId: api.stack.t.seed.staffContactId, reason: 'Vertrag doppelt angelegt' },
    });
    expect([answer.status, answer.json]).toEqual([
      200,
      { contractId, workflowId: `honorarvertrag-${contractId}`, result: 'withdrawn' },
    ]);
    const state = await waitForPhase(contractId, 'withdrawn');
    const s = api.config.crm.signatures;
    const sig = await signatureRow(state.json.state.signatureId);
    expect(sig[s.status]).toBe(api.config.crm.values.signatureWithdrawn);
    const sign = await v1('POST', `/contracts/${contractId}/signature`, {
      as: 'portal',
      body: { contactId, method: 'click' },
    });
    expectRejection(sign, 409, 'SIGNATURE_WITHDRAWN');
    expectRejection(
      await v1('POST', `/contracts/${contractId}/withdrawal`, { as: 'staff' }),
      409,
      'SIGNATURE_WITHDRAWN'
    );
    expectRejection(await v1('POST', `/contracts/${contractId}/reminder`, { as: 'staff' }), 409, 'SIGNATURE_WITHDRAWN');
    // A finished request is not restarted by accident: the CRM must make the contract sendable again first.
    const restart = await v1('POST', `/contracts/${contractId}/signature-request`, { as: 'crm' });
    expectRejection(restart, 409, 'CONTRACT_NOT_SENDABLE');
    expect(restart.json.message).toContain('ended withdrawn');
  });

  test('withdrawal racing a signature: each answer says what actually happened', async () => {
    // Several races, so both orders are likely to occur; every answer must match the contract's final state.
    for (let round = 0; round < 4; round++) {
      const { contractId, contactId } = await startedAndWaiting();
      const [withdraw, sign] = await Promise.all([
        v1('POST', `/contracts/${contractId}/withdrawal`, { as: 'staff', body: {} }),
        v1('POST', `/contracts/${contractId}/signature`, { as: 'portal', body: { contactId, method: 'click' } }),
      ]);
      const s = api.config.crm.signatures;
      if (withdraw.status === 200) {
        expect(withdraw.json.result).toBe('withdrawn');
        expectRejection(sign, 409, 'SIGNATURE_WITHDRAWN');
        const state = await waitForPhase(contractId, 'withdrawn');
        expect((await signatureRow(state.json.state.signatureId))[s.status]).toBe(
          api.config.crm.values.signatureWithdrawn
        );
      } else {
        // The signature won: the withdrawal says so, with the outcome that stands.
        expectRejection(withdraw, 409, 'SIGNATURE_ALREADY_CONFIRMED');
        expect(sign.status).toBe(200);
        expect(withdraw.json.details.outcome).toMatchObject({ kind: 'signed', signatureId: sign.json.signatureId });
        expect((await signatureRow(sign.json.signatureId))[s.status]).toBe(api.config.crm.values.signatureValid);
      }
    }
  });

  test('a withdrawn contract may be sent again once the CRM made it sendable; a signed one never', async () => {
    const { contractId } = await startedAndWaiting();
    const first = await waitForPhase(contractId, 'awaiting-signature');
    expect((await v1('POST', `/contracts/${contractId}/withdrawal`, { as: 'staff', body: {} })).status).toBe(200);
    await waitForPhase(contractId, 'withdrawn');
    const refused = await v1('POST', `/contracts/${contractId}/signature-request`, { as: 'crm' });
    expectRejection(refused, 409, 'CONTRACT_NOT_SENDABLE');
    expect(refused.json.message).toMatch(
      /ended withdrawn; to send it anew on purpose, set its status back to "erstellt"/
    );
    // The CRM corrects the contract and sets it back to sendable: a new request with a new document and signature.
    const c = api.config.crm.contracts;
    await api.stack.t
      .db(c.table)
      .where(c.id, contractId)
      .update({ [c.status]: api.config.crm.values.contractSendableStatuses[0] });
    const again = await v1('POST', `/contracts/${contractId}/signature-request`, { as: 'crm' });
    expect(again.status).toBe(202);
    expect(again.json.runId).not.toBe(first.json.workflow.runId);
    const second = await waitForPhase(contractId, 'awaiting-signature');
    expect(second.json.state.signatureId).not.toBe(first.json.state.signatureId);
    expect(second.json.state.documentId).not.toBe(first.json.state.documentId);
    const contactId = api.stack.t.seed.contactIds[0] as number;
    const signed = await v1('POST', `/contracts/${contractId}/signature`, {
      as: 'portal',
      body: { contactId, method: 'click' },
    });
    expect(signed.status).toBe(200);
    await waitForPhase(contractId, 'completed', 60_000);
    // Signed: never again, even when the CRM status is set back.
    await api.stack.t
      .db(c.table)
      .where(c.id, contractId)
      .update({ [c.status]: api.config.crm.values.contractSendableStatuses[0] });
    expectRejection(
      await v1('POST', `/contracts/${contractId}/signature-request`, { as: 'crm' }),
      409,
      'CONTRACT_WORKFLOW_CLOSED'
    );
  });

  test('reminder: 202 and an extra mail to the contact', async () => {
    const { contractId } = await startedAndWaiting();
    const key = `honorarvertrag-${contractId}`;
    await api.stack.waitForMail((m) => (m.headers['x-signflow-mail-key'] ?? '').startsWith(`${key}:invitation`));
    const answer = await v1('POST', `/contracts/${contractId}/reminder`, { as: 'staff' });
    expect(answer.status).toBe(202);
    const mail = await api.stack.waitForMail((m) =>
      (m.headers['x-signflow-mail-key'] ?? '').startsWith(`${key}:reminder`)
    );
    expect(mail.to).toEqual(['anna.mueller@example.org']);
  });

  test('the invitation link opens the document page of this API (200), an unknown document is a 404', async () => {
    const { contractId, documentId } = await startedAndWaiting();
    const key = `honorarvertrag-${contractId}:invitation`;
    const mail = await api.stack.waitForMail((m) => m.headers['x-signflow-mail-key'] === key);
    const link = `${api.config.portal.baseUrl}/dokumente/${documentId}`;
    expect(mail.text).toContain(link);
    const page = await fetch(link);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Anna Müller');
    expect(html).toContain('Dieses Dokument unterzeichnen');
    expect(html).toContain('Unterschrift jetzt setzen');
    expect((await fetch(`${api.config.portal.baseUrl}/dokumente/99999999`)).status).toBe(404);
    expect((await fetch(`${api.config.portal.baseUrl}/dokumente/abc`)).status).toBe(404);
  });

  test('404 and 409 answers that come from Temporal', async () => {
    const fresh = await addSendableContract(api.stack.t);
    // In the CRM, never started: the state has no workflow; messages have nothing to go to.
    const state = await v1('GET', `/contracts/${fresh}`, { as: 'ops' });
    expect([state.status, state.json.workflow, state.json.state]).toEqual([200, null, null]);
    expect(state.json.crm.status).toBe(api.config.crm.values.contractSendableStatuses[0]);
    expectRejection(await v1('GET', '/contracts/987654', { as: 'ops' }), 404, 'CONTRACT_NOT_FOUND');
    for (const [path, role, body] of [
      [`/contracts/${fresh}/signature`, 'portal', { contactId: 1, method: 'click' }],
      [`/contracts/${fresh}/confirmation`, 'staff', { staffContactId: 4 }],
      [`/contracts/${fresh}/withdrawal`, 'staff', {}],
      [`/contracts/${fresh}/reminder`, 'staff', undefined],
    ] as const) {
      expectRejection(await v1('POST', path, { as: role, body }), 404, 'SIGNATURE_REQUEST_NOT_FOUND');
    }
    expectRejection(
      await v1('POST', `/contracts/${api.stack.t.seed.inProgressContractId}/signature-request`, { as: 'crm' }),
      409,
      'CONTRACT_NOT_SENDABLE'
    );
  });

  test('/healthz, /readyz and /metrics answer without credentials; a signature shows in the counters', async () => {
    const metricValue = (text: string, series: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line ? Number(line.slice(series.length + 1)) : 0;
    };
    const signedSeries = 'signflow_contracts_total{event="signed"}';
    const signatureRoute =
      'signflow_api_requests_total{route="/api/v1/contracts/:id/signature",method="POST",status="200"}';
    const before = await api.call('GET', '/metrics');
    expect(before.status).toBe(200);

    const { contractId, contactId } = await startedAndWaiting();
    const signed = await v1('POST', `/contracts/${contractId}/signature`, {
      as: 'portal',
      body: { contactId, method: 'click' },
    });
    expect(signed.status).toBe(200);

    expect((await api.call('GET', '/healthz')).status).toBe(200);
    const ready = await api.call('GET', '/readyz');
    expect(ready.status).toBe(200);
    const after = await api.call('GET', '/metrics');
    expect(after.status).toBe(200);
    expect(metricValue(after.text, signatureRoute)).toBe(metricValue(before.text, signatureRoute) + 1);
    expect(metricValue(after.text, signedSeries)).toBeGreaterThan(metricValue(before.text, signedSeries));
  });

  test('the reports show the signed contracts, as JSON and as CSV', async () => {
    const { contractId, contactId } = await startedAndWaiting();
    const signed = await v1('POST', `/contracts/${contractId}/signature`, {
      as: 'portal',
      body: { contactId, method: 'click' },
    });
    expect(signed.status).toBe(200);

    const contracts = await v1('GET', `/reports/contracts?contactId=${contactId}`, { as: 'ops' });
    const row = contracts.json.rows.find((r: { contractId: number }) => r.contractId === contractId);
    expect(row).toEqual(
      expect.objectContaining({
        status: 'in Durchführung',
        confirmedByFreelancer: true,
        confirmedBy: contactId,
        contactName: 'Anna Müller',
        signatureId: signed.json.signatureId,
        signatureStatus: 'gültig',
      })
    );
    const signatures = await v1('GET', `/reports/signatures?contractId=${contractId}`, { as: 'staff' });
    expect(signatures.json.rows).toEqual([
      expect.objectContaining({
        signatureId: signed.json.signatureId,
        status: 'gültig',
        byAuthenticatedClick: true,
        md5Hash: signed.json.md5Hash,
        signedAt: signed.json.confirmedAt,
      }),
    ]);

    const csv = await v1('GET', `/reports/signatures?contractId=${contractId}`, {
      as: 'crm',
      headers: { accept: 'text/csv' },
    });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = csv.text.trim().split(/\r\n/);
    expect(lines[0]).toContain('Unterschrift-ID,Status,Kontakt-ID,Kontakt');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(`${signed.json.signatureId},gültig,${contactId},Anna Müller`);
    expect(lines[1]).toContain(',Ja,');
    expect(lines[1]).toContain(signed.json.md5Hash);
  });
});
