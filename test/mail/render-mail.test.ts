import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DEFAULT_MAIL_TEMPLATES_DIR,
  loadMailTemplates,
  MAIL_KINDS,
  portalDocumentUrl,
  renderMail,
  TemplateValueMissingError,
  type CommonMailValues,
} from '../../mail/render-mail';
import { ErrorCode } from '../../domain/errors';

const base: CommonMailValues = {
  practiceName: 'Praxis Dr. Beispiel',
  recipientName: 'Anna Müller',
  contractTitle: 'Honorarvertrag Logopädie Q1/2027',
  documentUrl: 'http://portal.test/p/dokumente/17',
};

describe('renderMail', () => {
  test('invitation: German, greeting, practice, title and the portal link in subject, HTML and text', () => {
    const mail = renderMail('invitation', base);
    expect(mail.subject).toBe('Bitte unterzeichnen: Honorarvertrag „Honorarvertrag Logopädie Q1/2027“');
    for (const part of [mail.html, mail.text]) {
      expect(part).toContain('Guten Tag Anna Müller,');
      expect(part).toContain('bitte unterzeichnen Sie den Honorarvertrag „Honorarvertrag Logopädie Q1/2027“');
      expect(part).toContain('Praxis Dr. Beispiel');
      expect(part).toContain('http://portal.test/p/dokumente/17');
    }
    expect(mail.html).toContain('<a href="http://portal.test/p/dokumente/17"');
    expect(mail.html).toMatch(/^<!DOCTYPE html>\n<html lang="de">/);
    // The text part is plain text: no markup from the layout leaks into it.
    expect(mail.text).not.toMatch(/<[a-z!/]/i);
  });

  test('reminder says it is a reminder and which one', () => {
    const mail = renderMail('reminder', { ...base, reminderNumber: 2 });
    expect(mail.subject).toBe(
      'Erinnerung: Honorarvertrag „Honorarvertrag Logopädie Q1/2027“ wartet auf Ihre Unterschrift'
    );
    expect(mail.text).toContain('Dies ist unsere 2. Erinnerung.');
    expect(mail.html).toContain('Dies ist unsere 2. Erinnerung.');
    expect(mail.text).toContain('http://portal.test/p/dokumente/17');
  });

  test('confirmation thanks a signer and names the new status; a staff confirmation does not thank', () => {
    const signed = renderMail('confirmation', { ...base, contractStatus: 'in Durchführung', signedByContact: true });
    expect(signed.subject).toBe('Bestätigt: Honorarvertrag „Honorarvertrag Logopädie Q1/2027“');
    expect(signed.text).toContain('vielen Dank für Ihre Unterschrift.');
    expect(signed.text).toContain('hat jetzt den Status „in Durchführung“');
    expect(signed.html).toContain('hat jetzt den Status „in Durchführung“');

    const staff = renderMail('confirmation', { ...base, contractStatus: 'in Durchführung', signedByContact: false });
    expect(staff.text).not.toContain('Unterschrift');
    expect(staff.text).toContain('wurde von Praxis Dr. Beispiel bestätigt und hat jetzt den Status „in Durchführung“');
  });

  test('HTML part escapes values, text part and subject do not', () => {
    const mail = renderMail('invitation', {
      ...base,
      recipientName: '<b>Anna</b> & "Co"',
      contractTitle: 'Vertrag <script>alert(1)</script>',
    });
    expect(mail.html).toContain('Guten Tag &lt;b&gt;Anna&lt;/b&gt; &amp; &quot;Co&quot;,');
    expect(mail.html).not.toContain('<b>Anna</b>');
    expect(mail.html).not.toContain('<script>');
    // The subject reaches the HTML <title> escaped too.
    expect(mail.html).toContain('<title>Bitte unterzeichnen: Honorarvertrag „Vertrag &lt;script&gt;');
    expect(mail.text).toContain('Guten Tag <b>Anna</b> & "Co",');
    expect(mail.subject).toContain('Vertrag <script>alert(1)</script>');
  });

  test.each([
    ['undefined', undefined],
    ['null', null],
    ['empty', ''],
    ['whitespace', '  \t'],
  ])('a %s placeholder value throws TemplateValueMissingError naming it', (_label, value) => {
    const values = { ...base, contractTitle: value as unknown as string };
    let error: unknown;
    try {
      renderMail('invitation', values);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TemplateValueMissingError);
    const e = error as TemplateValueMissingError;
    expect(e.placeholder).toBe('contractTitle');
    expect(e.code).toBe(ErrorCode.TEMPLATE_VALUE_MISSING);
    expect(e.template).toBe('de/invitation.subject.hbs');
    expect(e.message).toBe('mail template de/invitation.subject.hbs has no value for placeholder "contractTitle"');
  });

  test('an empty practice name (used in the layout partial) is caught too', () => {
    const values = { ...base, practiceName: '' };
    expect(() => renderMail('invitation', values)).toThrow(/placeholder "practiceName"/);
  });

  test('a missing reminder number is an error, not a blank', () => {
    const values = { ...base } as CommonMailValues & { reminderNumber: number };
    expect(() => renderMail('reminder', values)).toThrow(
      'mail template de/reminder.html.hbs has no value for placeholder "reminderNumber"'
    );
  });

  test('the subject is one line even if a value carries a line break', () => {
    const mail = renderMail('invitation', { ...base, contractTitle: 'Zeile 1\r\nBcc: x@example.org' });
    expect(mail.subject).not.toMatch(/[\r\n]/);
    expect(mail.subject).toBe('Bitte unterzeichnen: Honorarvertrag „Zeile 1 Bcc: x@example.org“');
  });

  test('templates are compiled once per process and folder', () => {
    const a = loadMailTemplates();
    const b = loadMailTemplates({ locale: 'de', templatesDir: DEFAULT_MAIL_TEMPLATES_DIR });
    expect(b).toBe(a);
    for (const kind of MAIL_KINDS) expect(Object.keys(a.mails[kind]).sort()).toEqual(['html', 'subject', 'text']);
  });

  test('every template file of every kind exists for German', () => {
    for (const kind of MAIL_KINDS) {
      for (const part of ['subject', 'html', 'text']) {
        expect(fs.existsSync(path.join(DEFAULT_MAIL_TEMPLATES_DIR, 'de', `${kind}.${part}.hbs`))).toBe(true);
      }
    }
  });

  describe('with another templates folder', () => {
    let dir: string;
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-mail-templates-'));
      fs.mkdirSync(path.join(dir, 'de', 'partials'), { recursive: true });
      for (const kind of MAIL_KINDS) {
        fs.writeFileSync(path.join(dir, 'de', `${kind}.subject.hbs`), '{{contractTitle}}\n');
        fs.writeFileSync(path.join(dir, 'de', `${kind}.html.hbs`), '{{#> layout}}<p>{{unknownThing}}</p>{{/layout}}');
        fs.writeFileSync(path.join(dir, 'de', `${kind}.text.hbs`), '{{> footer}}');
      }
      fs.writeFileSync(path.join(dir, 'de', 'partials', 'layout.html.hbs'), '<div>{{> @partial-block}}</div>');
      fs.writeFileSync(path.join(dir, 'de', 'partials', 'footer.text.hbs'), '{{practiceName}} & Co');
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    test('a placeholder no caller provides is reported by name', () => {
      expect(() => renderMail('invitation', base, { templatesDir: dir })).toThrow(
        'mail template de/invitation.html.hbs has no value for placeholder "unknownThing"'
      );
    });

    test('text partials are not escaped', () => {
      const mail = renderMail('invitation', { ...base, unknownThing: 'x' } as CommonMailValues, { templatesDir: dir });
      expect(mail.text).toBe('Praxis Dr. Beispiel & Co');
      expect(mail.html).toBe('<div><p>x</p></div>');
    });

    test('a template with a syntax error fails when the folder is loaded', () => {
      const broken = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-mail-broken-'));
      try {
        fs.cpSync(dir, broken, { recursive: true });
        fs.writeFileSync(path.join(broken, 'de', 'reminder.text.hbs'), 'Hallo {{#if x}}');
        expect(() => loadMailTemplates({ templatesDir: broken })).toThrow(/Parse error|Expecting/);
      } finally {
        fs.rmSync(broken, { recursive: true, force: true });
      }
    });
  });
});

describe('portalDocumentUrl', () => {
  test.each([
    ['http://localhost:3000/portal', '/dokumente/{documentId}', 'http://localhost:3000/portal/dokumente/42'],
    ['https://praxis.example/portal/', '/dokumente/{documentId}', 'https://praxis.example/portal/dokumente/42'],
    ['https://praxis.example', 'dok?id={documentId}&x={documentId}', 'https://praxis.example/dok?id=42&x=42'],
  ])('%s + %s', (baseUrl, documentPath, expected) => {
    expect(portalDocumentUrl({ baseUrl, documentPath }, 42)).toBe(expected);
  });
});
