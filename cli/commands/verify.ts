/** `signflow verify <signatureId>`: exit 0 when the stored MD5 matches the recomputed one, 1 when it does not. */
import type { Command } from 'commander';
import { parseId } from '../arguments';
import type { CliContext } from '../context';
import { ExitCode } from '../exit-codes';
import type { Runner } from '../runner';
import { verifySignature } from '../signature-verification';

async function verify(ctx: CliContext, signatureId: number): Promise<ExitCode> {
  const v = await verifySignature(ctx.db, ctx.config.crm, signatureId);
  ctx.out.result(v, () => {
    const head = v.match
      ? `signature ${signatureId}: MD5 matches (${v.computedMd5})`
      : `signature ${signatureId}: MISMATCH: stored ${v.storedMd5}, recomputed ${v.computedMd5}`;
    const doc =
      v.documentDigestMatches === false
        ? `\ndocument ${v.inputs.documentId}: its bytes no longer match its stored SHA-256: the document was changed`
        : '';
    return `${head}${doc}\n\nhashed:\n${v.canonicalText}`;
  });
  return v.match ? ExitCode.OK : ExitCode.REJECTED;
}

export function registerVerify(program: Command, run: Runner): void {
  program
    .command('verify')
    .description("recompute a signature's MD5 hash from the database and compare it with the stored one")
    .argument('<signatureId>', 'Unterschrift id', parseId)
    .option('--json', 'print one JSON document (for scripts)')
    .action((id: number, opts: { json?: boolean }) => run(opts, (ctx) => verify(ctx, id)));
}
