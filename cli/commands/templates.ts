/**
 * `signflow templates check` and `signflow templates preview <contractId>`: the practice's own templates
 * (`SIGNFLOW_TEMPLATES_DIR`, or `--dir`) checked the way the worker checks them at start, and rendered for a real
 * contract into files (PDF, HTML, text) without sending or storing anything.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { certificateEvidence } from '../../activities/certificate.activities';
import { AUDIT_TABLE, REQUESTS_TABLE } from '../../activities/contract/plugin-tables';
import type { MailKind } from '../../activities/types';
import { readContact, readContract } from '../../db/crm-repository';
import { renderCertificate } from '../../documents/render-certificate';
import { contractDocumentData, renderContractDocument } from '../../documents/render-contract';
import { composeContractMail } from '../../mail/contract-mail';
import { MAIL_KINDS } from '../../mail/render-mail';
import { checkTemplates, type TemplateProblem } from '../../templating/check-templates';
import { useTemplatesDir } from '../../templating/template-files';
import { parseId } from '../arguments';
import type { CliContext } from '../context';
import { CliError, ExitCode, usageError } from '../exit-codes';
import type { Runner } from '../runner';

function folderOf(ctx: CliContext, dir: string | undefined): string | undefined {
  return dir ?? ctx.config.evidence.templatesDir;
}

/** The folder's problems, or a CliError (exit 1) listing them. */
function assertSound(dir: string): void {
  const problems = checkTemplates(dir);
  if (problems.length > 0) {
    throw new CliError(
      ExitCode.REJECTED,
      'TEMPLATES_INVALID',
      `${problems.length} problem(s) in ${dir}:\n${problems.map((p) => `  ${p.message}`).join('\n')}`,
      { problems }
    );
  }
}

function check(ctx: CliContext, dirOption: string | undefined): ExitCode {
  const dir = folderOf(ctx, dirOption);
  if (!dir) throw usageError('no templates folder: set SIGNFLOW_TEMPLATES_DIR or give --dir <folder>');
  const problems: TemplateProblem[] = checkTemplates(dir);
  ctx.out.result({ dir, ok: problems.length === 0, problems }, () =>
    problems.length === 0
      ? `${dir}: every template is sound`
      : [`${dir}: ${problems.length} problem(s)`, ...problems.map((p) => `  ${p.message}`)].join('\n')
  );
  return problems.length === 0 ? ExitCode.OK : ExitCode.REJECTED;
}

async function preview(
  ctx: CliContext,
  contractId: number,
  opts: { dir?: string; mail?: MailKind; out?: string }
): Promise<ExitCode> {
  const dir = folderOf(ctx, opts.dir);
  if (dir) assertSound(dir);
  useTemplatesDir(dir);
  const { db, config } = ctx;
  const contract = await readContract(db, config.crm, contractId);
  if (!contract) {
    throw new CliError(ExitCode.NOT_FOUND, 'CONTRACT_NOT_FOUND', `contract ${contractId} does not exist`);
  }
  const contact = await readContact(db, config.crm, contract.contactId);
  if (!contact) {
    throw new CliError(ExitCode.NOT_FOUND, 'CONTACT_NOT_FOUND', `contact ${contract.contactId} does not exist`);
  }
  const out = path.resolve(opts.out ?? `signflow-preview-${contractId}`);
  fs.mkdirSync(out, { recursive: true });
  const written: string[] = [];
  const write = (name: string, content: string | Buffer) => {
    const file = path.join(out, name);
    fs.writeFileSync(file, content);
    written.push(file);
  };
  // The latest request's document id, when there is one (the portal link of the mails); else a stand-in id.
  const request = (await db(REQUESTS_TABLE).where({ contract_id: contractId }).orderBy('id', 'desc').first()) as
    Record<string, unknown> | undefined;
  const documentId = request ? Number(request.document_id) : 0;

  const kinds = opts.mail ? [opts.mail] : MAIL_KINDS;
  for (const kind of kinds) {
    const mail = composeContractMail(config, contract, contact, { kind, documentId, sequence: 1 });
    write(`mail-${kind}.html`, mail.rendered.html);
    write(`mail-${kind}.txt`, `Subject: ${mail.rendered.subject}\nTo: ${mail.to}\n\n${mail.rendered.text}`);
  }
  if (!opts.mail) {
    const document = await renderContractDocument(
      contractDocumentData(contract, contact, config.mail.practiceName, new Date())
    );
    write('honorarvertrag.pdf', document.pdf);
    write('honorarvertrag.html', document.html);
    // The Prüfprotokoll from what the database holds now (a contract not yet completed shows what it has so far).
    if (request) {
      const made = (await db(AUDIT_TABLE)
        .where({ contract_id: contractId, event: 'certificate-created' })
        .orderBy('id', 'desc')
        .first()) as Record<string, unknown> | undefined;
      const { data } = await certificateEvidence({ db, config }).collect({
        contractId,
        workflowId: String(made?.workflow_id ?? request.workflow_id),
        runId: '(Vorschau)',
        documentId,
        signatureId: Number(request.signature_id),
        completedAt: new Date().toISOString(),
        requestKey: String(request.workflow_id),
      });
      write('pruefprotokoll.pdf', await renderCertificate(data));
    }
  }
  ctx.out.result({ contractId, dir: dir ?? null, out, files: written }, () =>
    [`contract ${contractId}: rendered with ${dir ?? 'the built-in templates'} (nothing sent):`, ...written].join('\n')
  );
  return ExitCode.OK;
}

export function registerTemplates(program: Command, run: Runner): void {
  const templates = program
    .command('templates')
    .description("check the practice's templates (SIGNFLOW_TEMPLATES_DIR) or render them for a contract");
  templates
    .command('check')
    .description(
      'check every template of the folder: known names, syntax, placeholders (file and line of each problem)'
    )
    .option('--dir <folder>', 'the templates folder (default: SIGNFLOW_TEMPLATES_DIR)')
    .option('--json', 'print one JSON document (for scripts)')
    .action((opts: { dir?: string; json?: boolean }) => run(opts, async (ctx) => check(ctx, opts.dir)));
  templates
    .command('preview')
    .description('render the document, the Prüfprotokoll and the mails of a contract into files; sends nothing')
    .argument('<contractId>', 'Honorarvertrag id', parseId)
    .addOption(new Option('--mail <kind>', 'only this mail (HTML and text)').choices([...MAIL_KINDS]))
    .option('--dir <folder>', 'the templates folder (default: SIGNFLOW_TEMPLATES_DIR; none: the built-in ones)')
    .option('--out <folder>', 'where the files go (default: ./signflow-preview-<contractId>)')
    .option('--json', 'print one JSON document (for scripts)')
    .action((id: number, opts: { dir?: string; mail?: MailKind; out?: string; json?: boolean }) =>
      run(opts, (ctx) => preview(ctx, id, opts))
    );
  for (const cmd of templates.commands) cmd.exitOverride().configureOutput(program.configureOutput());
}
