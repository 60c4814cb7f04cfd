/**
 * Every template a practice may override (by its name relative to `templates/`), the placeholders it may use and the
 * ones it must use. docs/templates.md documents each with an example; `checkTemplates` enforces this table at worker
 * start and in `signflow templates check`.
 *
 * A placeholder is the first name of a Handlebars path (`pending` in `{{pending.length}}`). Inside `{{#each list}}` the
 * names are those of the list's items (`itemFields`); `this`, `@index` and `../name` work as in Handlebars.
 */

export interface TemplateSpec {
  /** Names the template may use. */
  placeholders: readonly string[];
  /** Names it must use (itself or through a partial it includes); without them the document or mail is unfit. */
  required: readonly string[];
  /** Fields of the items of a list placeholder, for `{{#each list}}`; a list of strings has none (use `{{this}}`). */
  itemFields?: Readonly<Record<string, readonly string[]>>;
  /** May include the mail partials (`{{> layout}}`, `{{> document-link}}`, `{{> signoff}}`). */
  partials?: boolean;
}

const COMMON_MAIL = ['practiceName', 'recipientName', 'contractTitle', 'documentUrl'] as const;
const MAIL_EXTRA: Record<string, readonly string[]> = {
  invitation: [],
  reminder: ['reminderNumber'],
  confirmation: ['contractStatus', 'signedByContact'],
  withdrawal: [],
};
/** Mails that ask for a signature must carry the portal link. */
const NEEDS_LINK = new Set(['invitation', 'reminder']);

const STAFF: Record<string, readonly string[]> = {
  'staff-parked': [
    'practiceName',
    'reminder',
    'parkedSince',
    'failureType',
    'gematikCode',
    'card',
    'waiting',
    'waitingOne',
    'what',
    'action',
    'command',
  ],
  'staff-digest': ['practiceName', 'date', 'pendingDays', 'pending', 'parked', 'refused', 'nothing'],
};
const DIGEST_LINE = ['contractId', 'title', 'detail'] as const;

function catalog(): Record<string, TemplateSpec> {
  const out: Record<string, TemplateSpec> = {
    'documents/honorarvertrag.hbs': {
      placeholders: [
        'contractId',
        'createdOn',
        'practiceName',
        'freelancerName',
        'title',
        'description',
        'start',
        'end',
        'fee',
      ],
      required: ['practiceName', 'freelancerName', 'title'],
    },
    'documents/pruefprotokoll.hbs': {
      placeholders: [
        'contractId',
        'contractTitle',
        'practiceName',
        'createdAt',
        'documentTitle',
        'documentId',
        'documentSha256',
        'signatureMd5',
        'pageCount',
        'views',
        'events',
        'verifyCommand',
        'workflowId',
        'runId',
      ],
      required: ['documentSha256', 'signatureMd5', 'events', 'verifyCommand', 'workflowId', 'runId'],
      itemFields: { events: ['when', 'label', 'details', 'image'], details: [] },
    },
  };
  for (const [kind, extra] of Object.entries(MAIL_EXTRA)) {
    for (const part of ['subject', 'html', 'text'] as const) {
      out[`mail/de/${kind}.${part}.hbs`] = {
        // The HTML part also gets the rendered subject (for <title>).
        placeholders: [...COMMON_MAIL, ...extra, ...(part === 'html' ? ['subject'] : [])],
        required: part === 'subject' ? ['contractTitle'] : NEEDS_LINK.has(kind) ? ['documentUrl'] : [],
        partials: part !== 'subject',
      };
    }
  }
  for (const [kind, names] of Object.entries(STAFF)) {
    for (const part of ['subject', 'html', 'text'] as const) {
      out[`mail/de/${kind}.${part}.hbs`] = {
        placeholders: [...names, ...(part === 'html' ? ['subject'] : [])],
        required: [],
        itemFields: { pending: DIGEST_LINE, parked: DIGEST_LINE, refused: DIGEST_LINE },
      };
    }
  }
  // Partials see the values of whichever mail includes them, plus their own hash arguments (`label`).
  const partialNames = [...new Set([...COMMON_MAIL, ...Object.values(MAIL_EXTRA).flat(), 'subject', 'label'])];
  for (const partial of ['partials/layout.html.hbs', 'partials/document-link.html.hbs', 'partials/signoff.text.hbs']) {
    out[`mail/de/${partial}`] = { placeholders: partialNames, required: [], partials: true };
  }
  return out;
}

export const TEMPLATE_CATALOG: Readonly<Record<string, TemplateSpec>> = catalog();

/** The partial files by the name a template includes them with (`layout` → its HTML and text files). */
export function partialFiles(name: string): string[] {
  return [`mail/de/partials/${name}.html.hbs`, `mail/de/partials/${name}.text.hbs`].filter(
    (f) => f in TEMPLATE_CATALOG
  );
}
