/**
 * Step 5, portal door: `recordSignature` by click and by drawn PNG. Exact rows after, the MD5 recomputed from the
 * database, retries that change nothing, and every rejection leaving the database as it was.
 */
import { createContractActivities } from '../../../activities/contract.activities';
import type { PreparedRequest } from '../../../activities/types';
import { readContract, readDocument, readSignature, toBool } from '../../../db/crm-repository';
import { ErrorCode } from '../../../domain/errors';
import { md5Hex, sha256Hex, signatureMd5 } from '../../../domain/signature-hash';
import { createTestDb, testDatabases, type TestDb } from '../../../harness/databases';
import {
  countRows,
  expectRejected,
  insertFreshContract,
  pngBase64,
  snapshotTables,
  strokePngBase64,
  type FreshContract,
} from './fixtures';

describe.each(testDatabases())('recordSignature on $name', ({ name }) => {
  let t: TestDb;
  let activities: ReturnType<typeof createContractActivities>;

  beforeAll(async () => {
    t = await createTestDb(name);
    activities = createContractActivities({ db: t.db, config: t.config });
  });
  afterAll(async () => {
    await t?.destroy();
  });

  async function prepared(): Promise<{ fresh: FreshContract; prep: PreparedRequest }> {
    const fresh = await insertFreshContract(t.db, t.config.crm);
    return { fresh, prep: await activities.prepareSignatureRequest(fresh.ref) };
  }

  /** Recomputes the signature's MD5 from what the database holds, as `signflow verify` does. */
  async function md5FromDatabase(signatureId: number, method: 'click' | 'drawn' | 'staff'): Promise<string> {
    const crm = t.config.crm;
    const signature = (await readSignature(t.db, crm, signatureId))!;
    const document = (await readDocument(t.db, crm, signature.documentId))!;
    const image = signature.imageDocumentId ? await readDocument(t.db, crm, signature.imageDocumentId) : undefined;
    return signatureMd5({
      documentSha256: sha256Hex(document.content!),
      signerContactId: signature.userId!,
      method,
      imageSha256: image ? sha256Hex(image.content!) : undefined,
      signedAt: signature.signedAt!,
    });
  }

  test('by click: signature gültig, contract in Durchführung, exactly as the seed describes', async () => {
    const crm = t.config.crm;
    const { fresh, prep } = await prepared();
    const contractBefore = (await readContract(t.db, crm, fresh.contractId))!;
    const documentsBefore = await countRows(t.db, 'dokumente');
    // The click's milliseconds are cut: the CRM's DATETIME column must hold exactly the hashed time.
    const signedAt = '2026-11-23T17:30:00.000Z';

    const outcome = await activities.recordSignature({
      ...fresh.ref,
      signatureId: prep.signatureId,
      contactId: fresh.contactId,
      method: 'click',
      signedAt: '2026-11-23T17:30:00.123Z',
    });

    const md5Hash = await md5FromDatabase(prep.signatureId, 'click');
    expect(outcome).toEqual({
      kind: 'signed',
      signatureId: prep.signatureId,
      userContactId: fresh.contactId,
      method: 'click',
      confirmedAt: signedAt,
      md5Hash,
    });
    expect(await readSignature(t.db, crm, prep.signatureId)).toEqual({
      id: prep.signatureId,
      status: 'gültig',
      contactId: fresh.contactId,
      documentId: prep.documentId,
      linkedObjectType: 'Honorarvertrag',
      linkedObjectId: fresh.contractId,
      byAuthenticatedClick: true,
      imageDocumentId: null,
      userId: fresh.contactId,
      md5Hash,
      signedAt: new Date(signedAt),
    });
    expect(await readContract(t.db, crm, fresh.contractId)).toEqual({
      ...contractBefore,
      status: 'in Durchführung',
      confirmedByFreelancer: true,
      lastStatusChange: new Date(signedAt),
      confirmedAt: new Date(signedAt),
      confirmedBy: fresh.contactId,
    });
    // Raw values: the label with its umlaut, booleans as the mapping's yes, milliseconds kept.
    const raw = await t.db('unterschriften').where('id', prep.signatureId).first();
    expect(raw.status).toBe('gültig');
    expect(toBool(raw.unterschrift_per_authentifiziertem_klick, crm)).toBe(true);
    expect(await countRows(t.db, 'unterschriften', { status: 'gültig', id: prep.signatureId })).toBe(1);
    expect(await countRows(t.db, 'dokumente')).toBe(documentsBefore);

    const audit = await t.db('signflow_audit_events').where({ workflow_id: fresh.ref.workflowId }).orderBy('id');
    expect(audit.map((a: { event: string }) => a.event)).toEqual(['signature-request-prepared', 'signature-recorded']);
    expect(JSON.parse(audit[1].detail)).toEqual({
      signatureId: prep.signatureId,
      userContactId: fresh.contactId,
      method: 'click',
      imageDocumentId: null,
      md5Hash,
      ip: null,
      userAgent: null,
    });
  });

  test('drawn, all-white PNG: accepted, stored as Unterschriftenbild and linked; MD5 covers the image', async () => {
    const crm = t.config.crm;
    const { fresh, prep } = await prepared();
    const image = pngBase64();
    const signedAt = '2026-11-24T08:15:42.000Z';
    const outcome = await activities.recordSignature({
      ...fresh.ref,
      signatureId: prep.signatureId,
      contactId: fresh.contactId,
      method: 'drawn',
      imagePngBase64: image,
      signedAt: '2026-11-24T08:15:42.007Z',
    });

    const signature = (await readSignature(t.db, crm, prep.signatureId))!;
    expect(signature).toEqual({
      id: prep.signatureId,
      status: 'gültig',
      contactId: fresh.contactId,
      documentId: prep.documentId,
      linkedObjectType: 'Honorarvertrag',
      linkedObjectId: fresh.contractId,
      byAuthenticatedClick: false,
      imageDocumentId: expect.any(Number),
      userId: fresh.contactId,
      md5Hash: expect.stringMatching(/^[0-9a-f]{32}$/),
      signedAt: new Date(signedAt),
    });
    expect(signature.imageDocumentId).not.toBe(prep.documentId);
    const bytes = Buffer.from(image, 'base64');
    expect(await readDocument(t.db, crm, signature.imageDocumentId!)).toEqual({
      id: signature.imageDocumentId,
      title: `Unterschriftenbild zu Honorarvertrag ${fresh.contractId}`,
      templateKind: 'Unterschriftenbild',
      mimeType: 'image/png',
      content: bytes,
      md5: md5Hex(bytes),
      sha256: sha256Hex(bytes),
      linkedObjectType: 'Honorarvertrag',
      linkedObjectId: fresh.contractId,
      createdAt: new Date(signedAt),
    });
    const md5Hash = await md5FromDatabase(prep.signatureId, 'drawn');
    expect(outcome).toEqual({
      kind: 'signed',
      signatureId: prep.signatureId,
      userContactId: fresh.contactId,
      method: 'drawn',
      confirmedAt: signedAt,
      md5Hash,
    });
    expect(signature.md5Hash).toBe(md5Hash);
    // Without the image the hash would differ: the image is really part of it.
    expect(
      signatureMd5({
        documentSha256: prep.documentSha256,
        signerContactId: fresh.contactId,
        method: 'drawn',
        signedAt,
      })
    ).not.toBe(md5Hash);
    expect(await readContract(t.db, crm, fresh.contractId)).toMatchObject({
      status: 'in Durchführung',
      confirmedByFreelancer: true,
      confirmedBy: fresh.contactId,
      confirmedAt: new Date(signedAt),
    });
  });

  test.each(['click', 'drawn'] as const)(
    'a retry (%s) returns the stored outcome and changes nothing',
    async (method) => {
      const { fresh, prep } = await prepared();
      const input = {
        ...fresh.ref,
        signatureId: prep.signatureId,
        contactId: fresh.contactId,
        method,
        imagePngBase64: method === 'drawn' ? strokePngBase64() : undefined,
        signedAt: '2026-11-25T10:00:00.500Z',
      };
      const first = await activities.recordSignature(input);
      const after = await snapshotTables(t.db, t.config.crm);
      const second = await activities.recordSignature(input);
      expect(second).toEqual(first);
      expect(await snapshotTables(t.db, t.config.crm)).toEqual(after);
    }
  );

  test.each(['click', 'drawn'] as const)(
    'the same Update again with a later time (%s; a local activity after a lost workflow task) returns the stored outcome',
    async (method) => {
      const { fresh, prep } = await prepared();
      const input = {
        ...fresh.ref,
        signatureId: prep.signatureId,
        contactId: fresh.contactId,
        method,
        imagePngBase64: method === 'drawn' ? strokePngBase64() : undefined,
        signedAt: '2026-11-25T10:00:00.000Z',
        updateId: 'update-of-the-portal',
      };
      const first = await activities.recordSignature(input);
      const after = await snapshotTables(t.db, t.config.crm);
      // The workflow task that ran it was lost; the Update came again in a task 30 s later (its workflow time).
      expect(await activities.recordSignature({ ...input, signedAt: '2026-11-25T10:00:30.000Z' })).toEqual(first);
      expect(await snapshotTables(t.db, t.config.crm)).toEqual(after);
      // Another Update (or none) at another time is another signature, refused as before.
      for (const updateId of ['another-update', undefined]) {
        await expectRejected(
          activities.recordSignature({ ...input, signedAt: '2026-11-25T10:00:30.000Z', updateId }),
          ErrorCode.SIGNATURE_ALREADY_CONFIRMED
        );
      }
      // The same Update with another signer or method is not the recorded signature either.
      await expectRejected(
        activities.recordSignature({
          ...input,
          method: method === 'click' ? 'drawn' : 'click',
          imagePngBase64: method === 'click' ? strokePngBase64() : undefined,
          signedAt: '2026-11-25T10:00:30.000Z',
        }),
        ErrorCode.SIGNATURE_ALREADY_CONFIRMED
      );
      expect(await snapshotTables(t.db, t.config.crm)).toEqual(after);
    }
  );

  test('a gültig signature never changes: another time, method or image is SIGNATURE_ALREADY_CONFIRMED', async () => {
    const { fresh, prep } = await prepared();
    const base = { ...fresh.ref, signatureId: prep.signatureId, contactId: fresh.contactId };
    await activities.recordSignature({ ...base, method: 'click', signedAt: '2026-11-25T10:00:00.000Z' });
    const after = await snapshotTables(t.db, t.config.crm);
    // Signing times are whole seconds (what a DATETIME column keeps): another second is another signature.
    await expectRejected(
      activities.recordSignature({ ...base, method: 'click', signedAt: '2026-11-25T10:00:01.000Z' }),
      ErrorCode.SIGNATURE_ALREADY_CONFIRMED,
      [fresh.firstName, fresh.lastName, fresh.email]
    );
    await expectRejected(
      activities.recordSignature({
        ...base,
        method: 'drawn',
        imagePngBase64: pngBase64(),
        signedAt: '2026-11-25T10:00:00.000Z',
      }),
      ErrorCode.SIGNATURE_ALREADY_CONFIRMED
    );
    await expectRejected(
      activities.recordManualConfirmation({
        ...fresh.ref,
        signatureId: prep.signatureId,
        staffContactId: t.seed.staffContactId,
        confirmedAt: '2026-11-25T11:00:00.000Z',
      }),
      ErrorCode.SIGNATURE_ALREADY_CONFIRMED
    );
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(after);
  });

  test('WRONG_SIGNER: only the contact the document was made for may sign', async () => {
    const { fresh, prep } = await prepared();
    const before = await snapshotTables(t.db, t.config.crm);
    const failure = await expectRejected(
      activities.recordSignature({
        ...fresh.ref,
        signatureId: prep.signatureId,
        contactId: t.seed.contactIds[0]!,
        method: 'click',
        signedAt: '2026-11-25T10:00:00.000Z',
      }),
      ErrorCode.WRONG_SIGNER
    );
    expect(failure.message).toContain(`signature ${prep.signatureId} of contract ${fresh.contractId}`);
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(before);
  });

  const garbage: Array<[string, string | undefined, 'click' | 'drawn']> = [
    ['no image for drawn', undefined, 'drawn'],
    ['not base64', 'this is not base64!', 'drawn'],
    ['base64 of text', Buffer.from('GIF89a not a png at all').toString('base64'), 'drawn'],
    ['a truncated PNG', Buffer.from(pngBase64(), 'base64').subarray(0, 60).toString('base64'), 'drawn'],
    ['a PNG with a broken CRC', corruptCrc(pngBase64()), 'drawn'],
    ['an image on a click signature', pngBase64(), 'click'],
  ];
  test.each(garbage)('INVALID_SIGNATURE_INPUT for %s, nothing written', async (_label, imagePngBase64, method) => {
    const { fresh, prep } = await prepared();
    const before = await snapshotTables(t.db, t.config.crm);
    await expectRejected(
      activities.recordSignature({
        ...fresh.ref,
        signatureId: prep.signatureId,
        contactId: fresh.contactId,
        method,
        imagePngBase64,
        signedAt: '2026-11-25T10:00:00.000Z',
      }),
      ErrorCode.INVALID_SIGNATURE_INPUT
    );
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(before);
  });

  test('INVALID_SIGNATURE_INPUT for an image above the configured limit, and for a bad time', async () => {
    const { fresh, prep } = await prepared();
    const small = createContractActivities({
      db: t.db,
      config: { ...t.config, signature: { ...t.config.signature, maxImageBytes: 100 } },
    });
    const input = {
      ...fresh.ref,
      signatureId: prep.signatureId,
      contactId: fresh.contactId,
      method: 'drawn' as const,
      imagePngBase64: pngBase64(400, 200),
      signedAt: '2026-11-25T10:00:00.000Z',
    };
    const before = await snapshotTables(t.db, t.config.crm);
    await expectRejected(small.recordSignature(input), ErrorCode.INVALID_SIGNATURE_INPUT);
    await expectRejected(
      activities.recordSignature({ ...input, signedAt: 'gestern' }),
      ErrorCode.INVALID_SIGNATURE_INPUT
    );
    await expectRejected(
      activities.recordSignature({ ...input, method: 'stamp' as 'click' }),
      ErrorCode.INVALID_SIGNATURE_INPUT
    );
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(before);
  });

  test('INVALID_SIGNATURE_INPUT for a signature of another contract', async () => {
    const a = await prepared();
    const b = await prepared();
    const before = await snapshotTables(t.db, t.config.crm);
    await expectRejected(
      activities.recordSignature({
        ...a.fresh.ref,
        signatureId: b.prep.signatureId,
        contactId: a.fresh.contactId,
        method: 'click',
        signedAt: '2026-11-25T10:00:00.000Z',
      }),
      ErrorCode.INVALID_SIGNATURE_INPUT
    );
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(before);
  });

  test.each([
    ['withdrawn', ErrorCode.SIGNATURE_WITHDRAWN],
    ['expired', ErrorCode.SIGNATURE_EXPIRED],
  ] as const)('a %s request cannot be signed (%s)', async (reason, code) => {
    const { fresh, prep } = await prepared();
    await activities.voidSignatureRequest({
      ...fresh.ref,
      signatureId: prep.signatureId,
      reason,
      at: '2026-11-26T09:00:00.000Z',
    });
    const before = await snapshotTables(t.db, t.config.crm);
    await expectRejected(
      activities.recordSignature({
        ...fresh.ref,
        signatureId: prep.signatureId,
        contactId: fresh.contactId,
        method: 'click',
        signedAt: '2026-11-26T10:00:00.000Z',
      }),
      code
    );
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(before);
  });

  test('the same signer and method again within the same second is the same signature: nothing new is written', async () => {
    const { fresh, prep } = await prepared();
    const base = { ...fresh.ref, signatureId: prep.signatureId, contactId: fresh.contactId, method: 'click' as const };
    const first = await activities.recordSignature({ ...base, signedAt: '2026-11-27T11:00:00.100Z' });
    const after = await snapshotTables(t.db, t.config.crm);
    expect(await activities.recordSignature({ ...base, signedAt: '2026-11-27T11:00:00.900Z' })).toEqual(first);
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(after);
  });

  test('two concurrent signatures with different times: exactly one wins, the other is rejected', async () => {
    const { fresh, prep } = await prepared();
    const base = { ...fresh.ref, signatureId: prep.signatureId, contactId: fresh.contactId, method: 'click' as const };
    const results = await Promise.allSettled([
      activities.recordSignature({ ...base, signedAt: '2026-11-27T10:00:00.000Z' }),
      activities.recordSignature({ ...base, signedAt: '2026-11-27T10:00:01.999Z' }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    await expectRejected(Promise.reject(lost[0]!.reason), ErrorCode.SIGNATURE_ALREADY_CONFIRMED);
    const winner = (won[0] as PromiseFulfilledResult<{ confirmedAt: string }>).value;
    expect((await readSignature(t.db, t.config.crm, prep.signatureId))?.signedAt?.toISOString()).toBe(
      winner.confirmedAt
    );
  });
});

/** Flips one byte inside the IHDR chunk's CRC: the bytes stay PNG-shaped but fail pngjs's checksum. */
function corruptCrc(base64: string): string {
  const bytes = Buffer.from(base64, 'base64');
  bytes[29] = bytes[29]! ^ 0xff; // 8 signature + 4 length + 4 type + 13 data = CRC at offset 29
  return bytes.toString('base64');
}
