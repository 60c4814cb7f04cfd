/**
 * `SIGNFLOW_TEMPLATES_DIR`: a folder that overrides EVERY built-in template (contract document, Prüfprotokoll, each
 * mail part, each partial) is used for every rendering; `signflow templates check` and `preview` work on it without
 * sending anything; and each kind of template error (unknown file, syntax, unknown placeholder, unknown partial, missing
 * required placeholder) is caught with its file and line, at worker start too.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderCertificateHtml } from '../../documents/render-certificate';
import { renderContractHtml } from '../../documents/render-contract';
import { MAIL_KINDS, renderMail, renderStaffMail } from '../../mail/render-mail';
import { loadConfig } from '../../temporal.config';
import { checkTemplates, TemplateCheckError } from '../../templating/check-templates';
import { TEMPLATE_CATALOG } from '../../templating/catalog';
import { BUILTIN_TEMPLATES_DIR, listTemplateFiles, useTemplatesDir } from '../../templating/template-files';
import { createWorker } from '../../worker/run-worker';
import { createTestDb, type TestDb } from '../../harness/databases';
import { runCli } from '../cli/run-cli';

const marker = (file: string) => `EIGEN:${file}`;

/** A copy of the built-in templates with a visible marker in each file, the way a practice writes its own texts. */
function overrideEverything(dir: string): string[] {
  const files = listTemplateFiles(BUILTIN_TEMPLATES_DIR);
  for (const file of files) {
    let source = fs.readFileSync(path.join(BUILTIN_TEMPLATES_DIR, file), 'utf8');
    if (file.startsWith('documents/')) source = source.replace('</article>', `<p>${marker(file)}</p>\n</article>`);
    else if (file.endsWith('.subject.hbs')) source = `${source.trim()} ${marker(file)}\n`;
    else if (file.endsWith('layout.html.hbs'))
      source = source.replace('{{> @partial-block}}', `{{> @partial-block}}<p>${marker(file)}</p>`);
    else source = `${source.trimEnd()}\n${marker(file)}\n`;
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), source);
  }
  return files;
}

const mailValues = {
  practiceName: 'Praxis Test',
  recipientName: 'Anna Müller',
  contractTitle: 'Honorarvertrag Logopädie',
  documentUrl: 'http://portal.test/dokumente/5',
};

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-templates-'));
});
afterAll(() => {
  useTemplatesDir(undefined);
  fs.rmSync(root, { recursive: true, force: true });
});

describe('a folder overriding every template', () => {
  let dir: string;
  let files: string[];
  beforeAll(() => {
    dir = path.join(root, 'eigen');
    files = overrideEverything(dir);
  });
  afterEach(() => useTemplatesDir(undefined));

  test('covers every template of the catalog, and the check finds nothing wrong', () => {
    expect(files.sort()).toEqual(Object.keys(TEMPLATE_CATALOG).sort());
    expect(checkTemplates(dir)).toEqual([]);
  });

  test('every rendering uses the folder: document, Prüfprotokoll, each mail part and partial', () => {
    useTemplatesDir(dir);
    const contract = renderContractHtml({
      contractId: 7,
      practiceName: 'Praxis Test',
      title: 'Logopädie',
      freelancerName: 'Anna Müller',
      start: '2027-01-01',
      end: null,
      feeCents: 100,
      description: null,
      createdAt: new Date('2026-11-30T10:00:00Z'),
    });
    expect(contract).toContain(marker('documents/honorarvertrag.hbs'));
    const certificate = renderCertificateHtml({
      contractId: 7,
      contractTitle: 'Logopädie',
      practiceName: 'Praxis Test',
      documentId: 1,
      documentTitle: 'Logopädie',
      documentSha256: 'a'.repeat(64),
      signatureMd5: null,
      pageCount: 1,
      events: [],
      workflowId: 'honorarvertrag-7',
      runId: 'r',
      createdAt: new Date('2026-11-30T10:00:00Z'),
    });
    expect(certificate).toContain(marker('documents/pruefprotokoll.hbs'));
    const used = new Set<string>();
    const collect = (text: string) => {
      for (const m of text.matchAll(/EIGEN:([\w/.-]+\.hbs)/g)) used.add(m[1] as string);
    };
    for (const kind of MAIL_KINDS) {
      const mail = renderMail(kind, {
        ...mailValues,
        reminderNumber: 1,
        contractStatus: 'in Durchführung',
        signedByContact: true,
      });
      for (const part of ['subject', 'html', 'text'] as const) {
        expect(mail[part]).toContain(marker(`mail/de/${kind}.${part}.hbs`));
        collect(mail[part]);
      }
    }
    const parked = renderStaffMail('staff-parked', {
      practiceName: 'Praxis Test',
      reminder: false,
      parkedSince: '30.11.2026, 14:05',
      failureType: 'COMFORT_SIGNATURE_NOT_ACTIVE',
      card: 'Standard-eHBA',
      waiting: 1,
      waitingOne: true,
      what: 'x',
      action: 'y',
    });
    const digest = renderStaffMail('staff-digest', {
      practiceName: 'Praxis Test',
      date: '30.11.2026',
      pendingDays: 7,
      pending: [],
      parked: [],
      refused: [],
      nothing: true,
    });
    for (const m of [parked, digest]) for (const part of ['subject', 'html', 'text'] as const) collect(m[part]);
    collect(contract);
    collect(certificate);
    // Every file of the folder was used by some rendering (the partials through the mails that include them).
    expect([...used].sort()).toEqual([...files].sort());
  });

  test('signflow templates check and preview: files rendered from the folder, nothing sent or stored', async () => {
    const t: TestDb = await createTestDb('sqlite');
    try {
      const env = {
        SIGNFLOW_DATABASE_URL: t.url,
        SIGNFLOW_TEMPLATES_DIR: dir,
        SIGNFLOW_SMTP_URL: 'smtp://127.0.0.1:9',
      };
      const checked = await runCli(['templates', 'check', '--json'], env);
      expect(checked.code).toBe(0);
      expect(checked.json()).toMatchObject({ ok: true, problems: [] });
      const contractId = t.seed.contractIds[0] as number;
      const before = await t.db('signflow_mails').count({ n: '*' }).first();
      const out = path.join(root, 'preview');
      const previewed = await runCli(['templates', 'preview', String(contractId), '--out', out, '--json'], env);
      expect(previewed.code).toBe(0);
      expect(fs.readdirSync(out).sort()).toEqual(
        [
          'honorarvertrag.html',
          'honorarvertrag.pdf',
          ...MAIL_KINDS.flatMap((k) => [`mail-${k}.html`, `mail-${k}.txt`]),
        ].sort()
      );
      expect(fs.readFileSync(path.join(out, 'mail-invitation.txt'), 'utf8')).toContain(
        marker('mail/de/invitation.subject.hbs')
      );
      expect(fs.readFileSync(path.join(out, 'honorarvertrag.html'), 'utf8')).toContain(
        marker('documents/honorarvertrag.hbs')
      );
      expect(fs.readFileSync(path.join(out, 'honorarvertrag.pdf')).subarray(0, 5).toString()).toBe('%PDF-');
      const only = path.join(root, 'preview-reminder');
      const reminder = await runCli(
        ['templates', 'preview', String(contractId), '--mail', 'reminder', '--out', only],
        env
      );
      expect(reminder.code).toBe(0);
      expect(fs.readdirSync(only).sort()).toEqual(['mail-reminder.html', 'mail-reminder.txt']);
      expect(await t.db('signflow_mails').count({ n: '*' }).first()).toEqual(before);
    } finally {
      await t.destroy();
    }
  }, 120_000);
});

describe('each kind of template error, with its file and line', () => {
  let dir: string;
  beforeAll(() => {
    dir = path.join(root, 'kaputt');
    const write = (file: string, source: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), source);
    };
    // A misspelt file name: would silently be ignored.
    write('mail/de/invitaton.text.hbs', 'Hallo\n');
    // A syntax error on line 3.
    write('mail/de/reminder.text.hbs', 'Guten Tag {{recipientName}},\n\n{{#if contractTitle}}offen {{documentUrl}}\n');
    // An unknown placeholder on line 2 (a typo), the required ones present.
    write(
      'mail/de/invitation.text.hbs',
      'Guten Tag {{recipientName}},\nbitte unterzeichnen: {{contractTitel}}\n{{documentUrl}}\n'
    );
    // A required placeholder missing: an invitation without the portal link.
    write('mail/de/invitation.html.hbs', '{{#> layout}}\n<p>Guten Tag {{recipientName}}</p>\n{{/layout}}\n');
    // An unknown partial on line 4.
    write('mail/de/confirmation.text.hbs', 'Guten Tag {{recipientName}},\n\nbestätigt.\n{{> grussformel}}\n');
    // Inside {{#each events}} only the events' fields: `datum` on line 3 is unknown.
    write(
      'documents/pruefprotokoll.hbs',
      '<h1>{{contractId}}</h1><p>{{documentSha256}} {{signatureMd5}} {{verifyCommand}} {{workflowId}} {{runId}}</p>\n' +
        '{{#each events}}\n<li>{{datum}}: {{label}}</li>\n{{/each}}\n'
    );
  });

  test('checkTemplates names every problem by file, line and placeholder', () => {
    const problems = checkTemplates(dir).map(({ kind, file, line, placeholder }) => ({
      kind,
      file,
      line,
      placeholder,
    }));
    expect(problems).toEqual(
      expect.arrayContaining([
        { kind: 'unknown-file', file: 'mail/de/invitaton.text.hbs', line: 1, placeholder: undefined },
        { kind: 'syntax', file: 'mail/de/reminder.text.hbs', line: 3, placeholder: undefined },
        { kind: 'unknown-placeholder', file: 'mail/de/invitation.text.hbs', line: 2, placeholder: 'contractTitel' },
        { kind: 'missing-placeholder', file: 'mail/de/invitation.html.hbs', line: 1, placeholder: 'documentUrl' },
        { kind: 'unknown-placeholder', file: 'mail/de/confirmation.text.hbs', line: 4, placeholder: '> grussformel' },
        { kind: 'unknown-placeholder', file: 'documents/pruefprotokoll.hbs', line: 3, placeholder: 'datum' },
      ])
    );
    expect(problems).toHaveLength(6);
    const messages = checkTemplates(dir).map((p) => p.message);
    expect(messages).toContain(
      'mail/de/invitation.text.hbs:2: unknown placeholder "contractTitel" (this template knows: practiceName, recipientName, contractTitle, documentUrl)'
    );
  });

  test('the worker refuses to start, naming each problem; the CLI check exits 1 with them', async () => {
    const config = loadConfig({ evidence: { templatesDir: dir }, database: { url: ':memory:' } }, {});
    const err = await createWorker(config).then(
      () => undefined,
      (e: unknown) => e
    );
    expect(err).toBeInstanceOf(TemplateCheckError);
    expect((err as Error).message).toContain('mail/de/reminder.text.hbs:3: syntax error');
    expect((err as Error).message).toContain(
      'mail/de/invitation.html.hbs:1: required placeholder "documentUrl" is missing'
    );
    const cli = await runCli(['templates', 'check', '--dir', dir], {});
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain('mail/de/confirmation.text.hbs:4: unknown partial "grussformel"');
    expect(cli.stdout).toContain('mail/de/invitaton.text.hbs: not a template signflow knows');
  }, 60_000);
});
