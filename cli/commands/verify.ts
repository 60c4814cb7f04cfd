/**
 * `signflow verify <contractId>` (or `--signature <id>`): exit 0 when the stored MD5 matches the recomputed one, the
 * Prüfprotokoll's hash matches the audit trail and, when the contract has a QES countersignature, that signature is
 * valid (ByteRange, CMS, chain to `SIGNFLOW_QES_TRUST_ANCHORS`); 1 when anything does not. Like every other verb it
 * takes the contract id; the signature id is for rows a contract no longer points at (a withdrawn request's, or one
 * found in a report). `signflow verify --file <pdf>` checks the QES of any signed PDF, without the database.
 */
import { Option, type Command } from 'commander';
import { parseId } from '../arguments';
import type { CliContext } from '../context';
import { ExitCode, usageError } from '../exit-codes';
import type { Runner } from '../runner';
import { verifyCertificate } from '../certificate-verification';
import { signatureIdOfContract, verifySignature } from '../signature-verification';

/**
 * The QES checks (node-forge's ASN.1 reader under them) are loaded by this verb when it runs: every verb's module is
 * loaded by the CLI, also by `signflow worker`, which must not hold them while contracts wait.
 */
const qesChecks = () => import('../countersignature-verification');

async function verifyFile(ctx: CliContext, file: string): Promise<ExitCode> {
  const { describeQes, loadTrustAnchors, verifyPdfFile } = await qesChecks();
  const v = verifyPdfFile(file, loadTrustAnchors(ctx.config));
  ctx.out.result({ file, ...v }, () => describeQes(v, file));
  return v.valid ? ExitCode.OK : ExitCode.REJECTED;
}

async function verify(
  ctx: CliContext,
  contractId: number | undefined,
  bySignature: number | undefined
): Promise<ExitCode> {
  if ((contractId === undefined) === (bySignature === undefined)) {
    throw usageError('give a contract id, or --signature <id> instead of it (not both)');
  }
  const { describeQes, loadTrustAnchors, verifyCountersignature } = await qesChecks();
  const signatureId = bySignature ?? (await signatureIdOfContract(ctx.db, ctx.config.crm, contractId as number));
  const v = await verifySignature(ctx.db, ctx.config.crm, signatureId);
  // The Prüfprotokoll of the contract (when one was made): its bytes against the hash in the audit trail.
  const certificate =
    contractId === undefined ? undefined : await verifyCertificate(ctx.db, ctx.config.crm, contractId);
  // The practice's QES countersignature (when there is one): checked offline against the configured trust anchors.
  const qes =
    contractId === undefined
      ? undefined
      : await verifyCountersignature(ctx.db, ctx.config.crm, contractId, loadTrustAnchors(ctx.config));
  ctx.out.result({ ...v, certificate: certificate ?? null, qes: qes ?? null }, () => {
    const subject = `${v.contractId === null ? '' : `contract ${v.contractId}, `}signature ${signatureId}`;
    const head = v.match
      ? `${subject}: MD5 matches (${v.computedMd5})`
      : `${subject}: MISMATCH: stored ${v.storedMd5}, recomputed ${v.computedMd5}`;
    const recovered = v.signedAtRecovered
      ? `\nthe signing-time column keeps whole seconds; the hash was made at ${v.signedAtRecovered} (within the stored second)`
      : '';
    const doc =
      v.documentDigestMatches === false
        ? `\ndocument ${v.inputs.documentId}: its bytes no longer match its stored SHA-256: the document was changed`
        : '';
    const cert = !certificate
      ? ''
      : certificate.match
        ? `\nPrüfprotokoll (document ${certificate.documentId}): SHA-256 matches the audit trail (${certificate.auditedSha256})`
        : `\nPrüfprotokoll (document ${certificate.documentId}): MISMATCH: audit trail ${certificate.auditedSha256}, ` +
          `now ${certificate.actualSha256 ?? 'document missing'}: the certificate was changed`;
    const countersignature = qes
      ? `\n${describeQes(qes, `QES countersignature (document ${qes.qesDocumentId}, ${qes.variant})`)}`
      : '';
    return `${head}${recovered}${doc}${cert}${countersignature}\n\nhashed:\n${v.canonicalText}`;
  });
  return v.match && certificate?.match !== false && qes?.valid !== false ? ExitCode.OK : ExitCode.REJECTED;
}

export function registerVerify(program: Command, run: Runner): void {
  program
    .command('verify')
    .description("recompute a contract's signature MD5 hash from the database and compare it with the stored one")
    .argument('[contractId]', 'Honorarvertrag id (its gültig signature is checked)', parseId)
    .addOption(new Option('--signature <id>', "check this Unterschrift id instead of a contract's").argParser(parseId))
    .option('--file <pdf>', 'check the QES (PAdES) of this signed PDF instead, against SIGNFLOW_QES_TRUST_ANCHORS')
    .option('--json', 'print one JSON document (for scripts)')
    .action((id: number | undefined, opts: { json?: boolean; signature?: number; file?: string }) =>
      run(opts, async (ctx) => {
        if (opts.file !== undefined) {
          if (id !== undefined || opts.signature !== undefined) {
            throw usageError('--file checks one PDF on its own: give no contract id or --signature with it');
          }
          return verifyFile(ctx, opts.file);
        }
        return verify(ctx, id, opts.signature);
      })
    );
}
