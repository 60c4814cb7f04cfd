/**
 * The QES part of `signflow verify`: the practice's countersignature of a contract (PAdES in the signed PDF, or a
 * detached CAdES over the contract document) checked offline against the configured trust anchors
 * (`SIGNFLOW_QES_TRUST_ANCHORS`), and the same check for any signed PDF (`signflow verify --file`).
 */
import fs from 'node:fs';
import type { X509Certificate } from 'node:crypto';
import type { Knex } from 'knex';
import { QES_TABLE } from '../activities/konnektor/qes-tables';
import type { CrmMapping } from '../db/crm-mapping';
import { readDocument } from '../db/crm-repository';
import {
  parseTrustAnchors,
  verifyDetachedCms,
  verifyPadesPdf,
  type QesVerification,
} from '../documents/qes-verification';
import type { SignflowConfig } from '../temporal.config';
import { CliError, ExitCode } from './exit-codes';

export interface CountersignatureVerification extends QesVerification {
  qesDocumentId: number;
  variant: 'PAdES' | 'CAdES';
}

/** The configured trust anchors; none when the variable is unset. A set but unreadable file is a configuration error. */
export function loadTrustAnchors(config: SignflowConfig): X509Certificate[] {
  const file = config.evidence.qesTrustAnchorsPath;
  if (!file) return [];
  let anchors: X509Certificate[];
  try {
    anchors = parseTrustAnchors(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(
      ExitCode.CONFIG,
      'CONFIG_INVALID',
      `SIGNFLOW_QES_TRUST_ANCHORS: cannot read certificates from ${file}: ${(err as Error).message}`
    );
  }
  if (anchors.length === 0) {
    throw new CliError(
      ExitCode.CONFIG,
      'CONFIG_INVALID',
      `SIGNFLOW_QES_TRUST_ANCHORS: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`
    );
  }
  return anchors;
}

/** The contract's stored countersignature, checked; undefined when it has none (no QES configured, or not yet). */
export async function verifyCountersignature(
  db: Knex,
  crm: CrmMapping,
  contractId: number,
  anchors: X509Certificate[]
): Promise<CountersignatureVerification | undefined> {
  const row = (await db(QES_TABLE)
    .where({ contract_id: contractId })
    .whereNotNull('qes_document_id')
    .orderBy('signed_at', 'desc')
    .first()) as Record<string, unknown> | undefined;
  if (!row) return undefined;
  const qesDocumentId = Number(row.qes_document_id);
  const variant = row.variant === 'PAdES' ? 'PAdES' : 'CAdES';
  const stored = await readDocument(db, crm, qesDocumentId);
  if (!stored?.content) {
    return {
      qesDocumentId,
      variant,
      valid: false,
      checks: [],
      reason: `the countersignature document ${qesDocumentId} is missing or empty`,
    };
  }
  if (variant === 'PAdES') return { qesDocumentId, variant, ...verifyPadesPdf(stored.content, anchors) };
  const source = await readDocument(db, crm, Number(row.source_document_id));
  if (!source?.content) {
    return {
      qesDocumentId,
      variant,
      valid: false,
      checks: [],
      reason: `the signed document ${String(row.source_document_id)} is missing or empty`,
    };
  }
  return { qesDocumentId, variant, ...verifyDetachedCms(source.content, stored.content, anchors) };
}

/** `signflow verify --file <pdf>`: the QES of any signed PDF. */
export function verifyPdfFile(file: string, anchors: X509Certificate[]): QesVerification {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new CliError(ExitCode.USAGE, 'USAGE', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  if (bytes.subarray(0, 5).toString('latin1') !== '%PDF-') {
    throw new CliError(ExitCode.USAGE, 'USAGE', `${file} is not a PDF`);
  }
  return verifyPadesPdf(bytes, anchors);
}

/** Human lines for a QES result. */
export function describeQes(v: QesVerification, what: string): string {
  const head = v.valid ? `${what}: QES valid` : `${what}: QES INVALID: ${v.reason ?? 'unknown reason'}`;
  const signer = v.signer
    ? [
        `  signer:       ${v.signer.subject}`,
        `  issuer:       ${v.signer.issuer}`,
        `  serial:       ${v.signer.serialNumber}`,
        `  signing time: ${v.signer.signingTime ?? '–'}`,
        `  format:       ${v.signer.format}, ${v.signer.algorithm}`,
      ]
    : [];
  const checks = v.checks.map((c) => `  [${c.ok ? 'ok' : 'FAILED'}] ${c.name}: ${c.detail}`);
  return [head, ...signer, ...checks].join('\n');
}
