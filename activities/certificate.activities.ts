/**
 * The completion certificate (Prüfprotokoll): gathered from what the database holds about the contract (the audit
 * trail, the mails, the CRM rows, the drawn image, the QES and its signer certificate; every request of the contract), rendered as PDF/A, stored as a Dokument linked to the contract like
 * the contract document, and its SHA-256 written to the audit trail (`certificate-created`), so a changed certificate
 * is detectable. Idempotent per workflow id: a retry returns the certificate made before.
 */
import type { Knex } from 'knex';
import {
  bufferOrNull,
  readContact,
  readContractWithContact,
  readDocument,
  toDate,
  type AlsoRead,
  type CrmContact,
} from '../db/crm-repository';
import {
  berlinAndUtc,
  countPdfPages,
  renderCertificate,
  type CertificateData,
  type CertificateEvent,
} from '../documents/render-certificate';
import type { QesSignerDetails } from '../documents/qes-verification';
import { md5Hex, sha256Hex } from '../domain/signature-hash';
import { compiledStatement, insertRow } from '../db/compiled';
import type { SignflowConfig } from '../temporal.config';
import { AUDIT_TABLE, appendAudit } from './contract/plugin-tables';
import { lockRow } from '../db/row-lock';
import type { CrmMapping } from '../db/crm-mapping';

export interface CreateCertificateInput {
  contractId: number;
  workflowId: string;
  runId: string;
  documentId: number;
  signatureId: number;
  /** ISO time of completion (workflow time): the certificate's creation time. */
  completedAt: string;
  /** The request key of a contract's later request (its rows are keyed by it); unset = `workflowId`. */
  requestKey?: string;
}

export interface CreatedCertificate {
  certificateDocumentId: number;
  sha256: string;
}

export const CERTIFICATE_EVENT = 'certificate-created';

type Detail = Record<string, unknown>;

/**
 * Gathers what the certificate shows from the database (no writes): used by the activity and by
 * `signflow templates preview`.
 */
export function certificateEvidence(deps: { db: Knex; config: SignflowConfig }) {
  const { db, config } = deps;
  const crm = config.crm;

  /**
   * Contacts already read for this certificate (the contract's own comes with the contract): the audit trail names the
   * same few people again and again, and each read is a statement.
   */
  type Contacts = Map<number, CrmContact | undefined>;

  async function contactLabel(id: unknown, contacts: Contacts): Promise<string> {
    if (typeof id !== 'number') return '–';
    let c = contacts.get(id);
    if (!contacts.has(id)) {
      c = await readContact(db, crm, id);
      contacts.set(id, c);
    }
    const name = c ? `${c.firstName} ${c.lastName}`.trim() : '';
    return name ? `${name} (Kontakt ${id})` : `Kontakt ${id}`;
  }

  function clientLines(d: Detail): string[] {
    return [
      ...(typeof d.ip === 'string' ? [`IP-Adresse (vom Portal übermittelt): ${d.ip}`] : []),
      ...(typeof d.userAgent === 'string' ? [`Browser (User-Agent, vom Portal übermittelt): ${d.userAgent}`] : []),
    ];
  }

  /** The drawn image of a signature, when there is one and it is still stored. */
  async function signatureImage(d: Detail): Promise<Buffer | undefined> {
    if (typeof d.imageDocumentId !== 'number') return undefined;
    return (await readDocument(db, crm, d.imageDocumentId))?.content ?? undefined;
  }

  /** Events of an earlier request of the same contract (withdrawn or expired) say so. */
  function requestNote(workflowId: string, current: string): string[] {
    return workflowId === current ? [] : [`frühere Unterschriftsanfrage (Schlüssel ${workflowId})`];
  }

  async function auditEvent(
    event: string,
    at: Date,
    d: Detail,
    contacts: Contacts
  ): Promise<CertificateEvent | undefined> {
    switch (event) {
      case 'signature-request-prepared':
        return {
          at,
          label: 'Dokument erstellt, Unterschrift angefordert',
          details: [
            `Dokument-ID ${String(d.documentId)}, Unterschrift-ID ${String(d.signatureId)}`,
            ...(typeof d.documentSha256 === 'string' ? [`SHA-256 des Dokuments: ${d.documentSha256}`] : []),
          ],
        };
      case 'document-viewed':
        return {
          at,
          label: `Dokument im Portal angesehen (${String(d.viewNumber)}. Ansicht)`,
          details: [`angemeldeter Kontakt: ${await contactLabel(d.contactId, contacts)}`, ...clientLines(d)],
        };
      case 'signature-recorded': {
        const image = d.method === 'drawn' ? await signatureImage(d) : undefined;
        return {
          at,
          label:
            d.method === 'drawn'
              ? 'Unterschrieben mit gezeichneter Unterschrift (Bild)'
              : 'Unterschrieben per authentifiziertem Klick',
          details: [
            `angemeldeter Kontakt: ${await contactLabel(d.userContactId, contacts)}`,
            ...(d.imageDocumentId
              ? [
                  `Unterschriftenbild: Dokument ${String(d.imageDocumentId)}${image ? ' (unten abgebildet)' : ' (nicht mehr vorhanden)'}`,
                ]
              : []),
            ...clientLines(d),
            `MD5 der Unterschrift: ${String(d.md5Hash)}`,
          ],
          ...(image ? { image } : {}),
        };
      }
      case 'signature-confirmed-manually':
        return {
          at,
          label: 'Von Mitarbeitenden der Praxis bestätigt',
          details: [
            `bestätigt durch ${await contactLabel(d.userContactId, contacts)}`,
            `MD5 der Unterschrift: ${String(d.md5Hash)}`,
          ],
        };
      case 'signature-withdrawn':
        return {
          at,
          label: 'Unterschriftsanfrage zurückgezogen',
          details:
            typeof d.staffContactId === 'number' ? [`von ${await contactLabel(d.staffContactId, contacts)}`] : [],
        };
      case 'signature-expired':
        return { at, label: 'Unterschriftsanfrage abgelaufen', details: [] };
      case 'mail-rejected':
        return {
          at,
          label: `E-Mail (${String(d.kind)}) vom Mailserver des Empfängers abgelehnt`,
          details: [`SMTP ${String(d.responseCode ?? '')} ${String(d.enhancedStatus ?? '')}`.trim()],
        };
      default:
        return undefined;
    }
  }

  function mailEvents(rows: Detail[], current: string): CertificateEvent[] {
    const out: CertificateEvent[] = [];
    for (const r of rows) {
      const at = toDate(r.at);
      // The confirmation carries this certificate: it is sent after it is made.
      if (!at || r.kind === 'confirmation') continue;
      const label = r.kind === 'invitation' ? 'Einladung gesendet' : `${String(r.sequence ?? '')}. Erinnerung gesendet`;
      out.push({
        at,
        label,
        details: [`an ${String(r.recipient)}`, ...requestNote(String(r.workflow_id), current)],
      });
    }
    return out;
  }

  /** The QES signer's certificate and the signature's details, read from the stored signature itself. */
  async function qesSigner(r: Detail): Promise<QesSignerDetails | undefined> {
    // Loaded here, for countersigned contracts only: its ASN.1 reader (node-forge, ~2 MB of heap) would otherwise sit in
    // every worker, QES on or off.
    const { verifyDetachedCms, verifyPadesPdf } = await import('../documents/qes-verification');
    const signature = Buffer.isBuffer(r.signature) ? r.signature : Buffer.from(r.signature as Uint8Array);
    if (r.variant === 'PAdES') return verifyPadesPdf(signature, []).signer;
    const source = await readDocument(db, crm, Number(r.source_document_id));
    return source?.content ? verifyDetachedCms(source.content, signature, []).signer : undefined;
  }

  async function qesEvents(contractId: number): Promise<CertificateEvent[]> {
    const rows = await compiledStatement<Detail[]>(
      db,
      'certificate:qes',
      (id) => db('signflow_qes').where({ contract_id: id }),
      [contractId]
    );
    const out: CertificateEvent[] = [];
    for (const r of rows) {
      const signer = await qesSigner(r);
      out.push({
        at: toDate(r.signed_at) ?? new Date(0),
        label: 'Qualifiziert elektronisch gegengezeichnet (QES der Praxis)',
        details: [
          ...(signer
            ? [
                `Zertifikat (Inhaber): ${signer.subject}`,
                `Aussteller: ${signer.issuer}`,
                `Seriennummer: ${signer.serialNumber}`,
                `Signaturzeitpunkt (laut Signatur): ${signer.signingTime ? berlinAndUtc(new Date(signer.signingTime)) : '–'}`,
                `Signaturformat: ${signer.format}, ${signer.algorithm}`,
              ]
            : [`Signaturformat: ${String(r.variant)} (Zertifikat nicht lesbar)`]),
          ...(r.card_iccsn ? [`eHBA (ICCSN): ${String(r.card_iccsn)}`] : []),
          ...(r.qes_document_id ? [`Signatur gespeichert als Dokument ${String(r.qes_document_id)}`] : []),
          `SHA-256 der Signatur: ${String(r.signature_sha256)}`,
        ],
      });
    }
    return out;
  }

  /**
   * The contract's audit trail (by id) and its sent mails in one statement (`UNION ALL`, the columns the other side
   * lacks as NULL), where they were two: both are signflow's own tables, so their names are fixed.
   */
  async function auditAndMails(contractId: number): Promise<{ audit: Detail[]; mails: Detail[] }> {
    const rows = await compiledStatement<Detail[]>(
      db,
      'certificate:auditAndMails',
      (id, mailContractId, status) =>
        db(AUDIT_TABLE)
          .where({ contract_id: id })
          .select(
            db.raw("'audit' as source"),
            'id',
            'workflow_id',
            'event',
            'at',
            'detail',
            db.raw('null as kind'),
            db.raw('null as sequence'),
            db.raw('null as recipient')
          )
          .unionAll((union) =>
            union
              .from('signflow_mails')
              .where({ contract_id: mailContractId, status })
              .select(
                db.raw("'mail' as source"),
                'id',
                'workflow_id',
                db.raw('null as event'),
                db.raw('sent_at as at'),
                db.raw('null as detail'),
                'kind',
                'sequence',
                'recipient'
              )
          ),
      [contractId, contractId, 'sent']
    );
    // The union's order is the database's: the audit trail is shown in the order it was written.
    const byId = (a: Detail, b: Detail) => Number(a.id) - Number(b.id);
    return {
      audit: rows.filter((r) => r.source === 'audit').sort(byId),
      mails: rows.filter((r) => r.source === 'mail').sort(byId),
    };
  }

  return {
    /** The certificate's data for a contract's completed request; throws when the contract or its document is gone. */
    async collect(input: CreateCertificateInput): Promise<{ data: CertificateData; contractId: number }> {
      const read = await readContractWithContact(
        db,
        crm,
        input.contractId,
        documentAndSignatureAlso(crm, input.documentId, input.signatureId)
      );
      const contract = read?.contract;
      const content = bufferOrNull(read?.also.documentContent);
      if (!contract || read?.also.documentId == null || !content) {
        throw new Error(`contract ${input.contractId} or its document ${input.documentId} is gone`);
      }
      const document = {
        id: Number(read.also.documentId),
        title: String(read.also.documentTitle ?? ''),
        sha256: read.also.documentSha256 == null ? null : String(read.also.documentSha256),
      };
      const md5 = read.also.signatureMd5;
      const signatureMd5 = md5 == null ? null : String(md5);
      // Every request of the contract, by contract id: a later request's rows are keyed by its request key, and an
      // earlier request's withdrawal or expiry belongs to the contract's history too.
      const request = input.requestKey ?? input.workflowId;
      const { audit, mails } = await auditAndMails(input.contractId);
      const events: CertificateEvent[] = [...mailEvents(mails, request), ...(await qesEvents(input.contractId))];
      const contacts: Contacts = new Map(read?.contact ? [[read.contact.id, read.contact]] : []);
      let views = 0;
      let firstView: Date | undefined;
      for (const row of audit) {
        const at = toDate(row.at);
        if (!at) continue;
        const detail = JSON.parse(String(row.detail)) as Detail;
        const e = await auditEvent(String(row.event), at, detail, contacts);
        if (!e) continue;
        if (row.event === 'document-viewed' && String(row.workflow_id) === request) {
          views++;
          if (!firstView || at < firstView) firstView = at;
        }
        e.details.push(...requestNote(String(row.workflow_id), request));
        events.push(e);
      }
      const createdAt = new Date(input.completedAt);
      const data: CertificateData = {
        contractId: contract.id,
        contractTitle: contract.title,
        practiceName: config.mail.practiceName,
        documentId: document.id,
        documentTitle: document.title,
        documentSha256: document.sha256 ?? sha256Hex(content),
        signatureMd5,
        pageCount: countPdfPages(content),
        views: { count: views, first: firstView ?? null },
        events,
        workflowId: input.workflowId,
        runId: input.runId,
        createdAt,
      };
      return { data, contractId: contract.id };
    },
  };
}

export function createCertificateActivities(deps: { db: Knex; config: SignflowConfig }) {
  const { db, config } = deps;
  const crm = config.crm;
  const evidence = certificateEvidence(deps);

  /** The certificate this workflow id stored before (an attempt that committed, then lost its answer). */
  async function existing(q: Knex | Knex.Transaction, workflowId: string): Promise<CreatedCertificate | undefined> {
    const row = await compiledStatement<Detail | undefined>(
      q,
      'certificate:existing',
      (id, event) => q(AUDIT_TABLE).where({ workflow_id: id, event }).first(),
      [workflowId, CERTIFICATE_EVENT]
    );
    if (!row) return undefined;
    const d = JSON.parse(String(row.detail)) as { documentId: number; sha256: string };
    return { certificateDocumentId: d.documentId, sha256: d.sha256 };
  }

  return {
    async createCompletionCertificate(input: CreateCertificateInput): Promise<CreatedCertificate> {
      // Not looked for before gathering and rendering: only a retry after a commit (rare) finds one, and the check
      // inside the transaction below returns it then; a look before as well cost every contract a statement. When
      // gathering fails (the contract or its document gone since), a certificate stored before is still the answer.
      let gathered: Awaited<ReturnType<typeof evidence.collect>>;
      try {
        gathered = await evidence.collect(input);
      } catch (err) {
        const stored = await existing(db, input.workflowId);
        if (stored) return stored;
        throw err;
      }
      const { data, contractId } = gathered;
      const createdAt = data.createdAt;
      const contract = { id: contractId };
      const pdf = await renderCertificate(data);
      const sha256 = sha256Hex(pdf);
      const d = crm.documents;
      return db.transaction(async (trx) => {
        // An earlier attempt (a retry after a lost answer) or one still running (a retry the server started after a
        // timeout) may have stored it. The contract row's lock makes overlapping attempts take turns: on MySQL a plain
        // check inside the transaction does not wait for the other attempt's uncommitted row and both stored one.
        // (SQLite's transaction holds the write lock from its BEGIN: nothing is sent.)
        await lockRow(trx, crm.contracts.table, crm.contracts.id, contractId);
        const stored = await existing(trx, input.workflowId);
        if (stored) return stored;
        const id = await insertRow(trx, d.table, {
          [d.title]: `Prüfprotokoll zu Honorarvertrag ${contract.id}`,
          [d.templateKind]: crm.values.certificateTemplateKind,
          [d.mimeType]: 'application/pdf',
          [d.content]: pdf,
          [d.md5]: md5Hex(pdf),
          [d.sha256]: sha256,
          [d.linkedObjectType]: crm.values.contractObjectType,
          [d.linkedObjectId]: contract.id,
          [d.createdAt]: createdAt,
        });
        const certificateDocumentId = Number(id);
        await appendAudit(trx, {
          workflowId: input.workflowId,
          contractId: contract.id,
          event: CERTIFICATE_EVENT,
          at: createdAt,
          detail: { documentId: certificateDocumentId, sha256 },
        });
        return { certificateDocumentId, sha256 };
      });
    },
  };
}

/**
 * The contract document and the signature's MD5 hash as part of the certificate's read of the contract
 * (`readContractWithContact`'s `also`: both left-joined by the ids the workflow passes, so null when gone), one
 * statement where they were two.
 */
function documentAndSignatureAlso(crm: CrmMapping, documentId: number, signatureId: number): AlsoRead {
  const d = crm.documents;
  const s = crm.signatures;
  return {
    key: 'certificateDocumentAndSignature',
    values: [documentId, signatureId],
    join: (query, [document, signature]) => {
      query
        .leftJoin(`${d.table} as sf_doc`, (on) => {
          on.onVal(`sf_doc.${d.id}`, '=', document as number);
        })
        .leftJoin(`${s.table} as sf_sig`, (on) => {
          on.onVal(`sf_sig.${s.id}`, '=', signature as number);
        });
    },
    columns: {
      documentId: `sf_doc.${d.id}`,
      documentTitle: `sf_doc.${d.title}`,
      documentContent: `sf_doc.${d.content}`,
      documentSha256: `sf_doc.${d.sha256}`,
      signatureMd5: `sf_sig.${s.md5Hash}`,
    },
  };
}
