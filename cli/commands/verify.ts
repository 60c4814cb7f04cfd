/**
 * `signflow verify <contractId>` (or `--signature <id>`): exit 0 when the stored MD5 matches the recomputed one, 1 when
 * it does not. Like every other verb it takes the contract id; the signature id is for rows a contract no longer
 * points at (a withdrawn request's, or one found in a report).
 */
import { Option, type Command } from 'commander';
import { parseId } from '../arguments';
import type { CliContext } from '../context';
import { ExitCode, usageError } from '../exit-codes';
import type { Runner } from '../runner';
import { verifyCertificate } from '../certificate-verification';
import { signatureIdOfContract, verifySignature } from '../signature-verification';

async function verify(
  ctx: CliContext,
  contractId: number | undefined,
  bySignature: number | undefined
): Promise<ExitCode> {
  if ((contractId === undefined) === (bySignature === undefined)) {
    throw usageError('give a contract id, or --signature <id> instead of it (not both)');
  }
  const signatureId = bySignature ?? (await signatureIdOfContract(ctx.db, ctx.config.crm, contractId as number));
  const v = await verifySignature(ctx.db, ctx.config.crm, signatureId);
  // The Prüfprotokoll of the contract (when one was made): its bytes against the hash in the audit trail.
  const certificate =
    contractId === undefined ? undefined : await verifyCertificate(ctx.db, ctx.config.crm, contractId);
  ctx.out.result({ ...v, certificate: certificate ?? null }, () => {
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
    return `${head}${recovered}${doc}${cert}\n\nhashed:\n${v.canonicalText}`;
  });
  return v.match && certificate?.match !== false ? ExitCode.OK : ExitCode.REJECTED;
}

export function registerVerify(program: Command, run: Runner): void {
  program
    .command('verify')
    .description("recompute a contract's signature MD5 hash from the database and compare it with the stored one")
    .argument('[contractId]', 'Honorarvertrag id (its gültig signature is checked)', parseId)
    .addOption(new Option('--signature <id>', "check this Unterschrift id instead of a contract's").argParser(parseId))
    .option('--json', 'print one JSON document (for scripts)')
    .action((id: number | undefined, opts: { json?: boolean; signature?: number }) =>
      run(opts, (ctx) => verify(ctx, id, opts.signature))
    );
}
