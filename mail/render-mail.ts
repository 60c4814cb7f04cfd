/**
 * Renders the contract mails (invitation, reminder, confirmation) from the Handlebars templates in `templates/mail/`.
 *
 * Layout of a locale folder (German first: `templates/mail/de/`):
 * - `<kind>.subject.hbs`, `<kind>.html.hbs`, `<kind>.text.hbs` for every mail kind;
 * - `partials/<name>.html.hbs` (HTML partials, e.g. the `layout` every HTML mail is wrapped in) and
 *   `partials/<name>.text.hbs` (text partials, e.g. the `signoff`).
 *
 * Every template is compiled once per process with `strict: true`, so a placeholder without a value throws instead of
 * rendering a blank; empty strings, `null` and `undefined` count as missing (`TemplateValueMissingError`). The HTML part
 * is HTML-escaped (`{{ }}`); subject and text part are plain text and compiled with `noEscape`.
 */
import fs from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import { ErrorCode } from '../domain/errors';
import { templateFile, templatesDirInUse } from '../templating/template-files';
import type { MailKind } from '../activities/types';

export type MailLocale = 'de';

/** Values every contract mail needs. */
export interface CommonMailValues {
  /** `config.mail.practiceName`. */
  practiceName: string;
  /** The contact's full name, e.g. `Max Mustermann`. */
  recipientName: string;
  /** The contract's title (`titel`). */
  contractTitle: string;
  /** Absolute URL of the document's detail page in the portal. */
  documentUrl: string;
}

/** The values of each mail kind; booleans that choose a branch are typed as required, since strict mode checks only output. */
export interface MailValues {
  invitation: CommonMailValues;
  reminder: CommonMailValues & {
    /** 1-based number of this reminder. */
    reminderNumber: number;
  };
  confirmation: CommonMailValues & {
    /** The contract status label after confirmation (`crm.values.contractInProgress`, e.g. `in Durchführung`). */
    contractStatus: string;
    /** True when the contact signed; false when staff confirmed on their behalf (no thanks for a signature then). */
    signedByContact: boolean;
  };
  /** The request was withdrawn: nothing left to do for the contact. */
  withdrawal: CommonMailValues;
}

/** Mails to the practice's staff address (`SIGNFLOW_STAFF_MAIL`), not to a contact. */
export type StaffMailKind = 'staff-parked' | 'staff-digest';
export const STAFF_MAIL_KINDS: readonly StaffMailKind[] = ['staff-parked', 'staff-digest'];

/** One line of the digest's lists. */
export interface DigestLine {
  contractId: number;
  /** The contract's title, e.g. `Honorarvertrag Physiotherapie`. */
  title: string;
  /** What to say about it: since when, which mail, which gematik code. */
  detail: string;
}

export interface StaffMailValues {
  'staff-parked': {
    practiceName: string;
    /** True for the one reminder after the configured wait. */
    reminder: boolean;
    /** Local time the signer parked, e.g. `30.11.2026, 14:05`. */
    parkedSince: string;
    failureType: string;
    gematikCode?: number;
    /** The eHBA's ICCSN, or `Standard-eHBA`. */
    card: string;
    waiting: number;
    /** `waiting === 1`, for the singular. */
    waitingOne: boolean;
    what: string;
    action: string;
    command?: string;
  };
  'staff-digest': {
    practiceName: string;
    /** Local date of the digest. */
    date: string;
    pendingDays: number;
    pending: DigestLine[];
    parked: DigestLine[];
    refused: DigestLine[];
    /** True when all three lists are empty. */
    nothing: boolean;
  };
}

export interface RenderedMail {
  subject: string;
  html: string;
  text: string;
}

export interface RenderMailOptions {
  /** @default 'de' */
  locale?: MailLocale;
  /** Root of the mail templates (holds one folder per locale). @default `<repo>/templates/mail` */
  templatesDir?: string;
}

/**
 * A placeholder of a mail template had no value. Carries only the placeholder's and the template's names, never the
 * values, so it can go into a failure message without personal data.
 */
export class TemplateValueMissingError extends Error {
  override readonly name = 'TemplateValueMissingError';
  readonly code = ErrorCode.TEMPLATE_VALUE_MISSING;
  constructor(
    readonly placeholder: string,
    readonly template: string
  ) {
    super(`mail template ${template} has no value for placeholder "${placeholder}"`);
  }
}

export const MAIL_KINDS: readonly MailKind[] = ['invitation', 'reminder', 'confirmation', 'withdrawal'];
/** Kinds added after the first release: a templates folder made before them gets the built-in templates. */
const LATER_KINDS: readonly string[] = [...STAFF_MAIL_KINDS, 'withdrawal'];
export const DEFAULT_MAIL_TEMPLATES_DIR = path.resolve(__dirname, '..', 'templates', 'mail');

export type Compiled = (context: unknown) => string;

export interface CompiledMail {
  subject: Compiled;
  html: Compiled;
  text: Compiled;
}

export interface CompiledLocale {
  mails: Record<MailKind, CompiledMail>;
  staff: Record<StaffMailKind, CompiledMail>;
}

const cache = new Map<string, CompiledLocale>();

/** Text parts and subjects: no HTML escaping, since they are not HTML. */
const TEXT_OPTIONS: CompileOptions = { strict: true, noEscape: true };
const HTML_OPTIONS: CompileOptions = { strict: true };

/** Handlebars's strict-mode message: `"name" not defined in [object Object] - 1:5`. */
const STRICT_MISSING = /^"([^"]+)" not defined in /;

/**
 * Wraps a compiled template so a strict-mode miss becomes a `TemplateValueMissingError` that names the placeholder and
 * the template file (relative to the templates folder).
 */
function wrap(template: HandlebarsTemplateDelegate, name: string): Compiled {
  return (context) => {
    try {
      return template(context);
    } catch (err) {
      const missing = err instanceof Error ? STRICT_MISSING.exec(err.message) : null;
      if (missing?.[1]) throw new TemplateValueMissingError(missing[1], name);
      throw err;
    }
  };
}

function readTemplate(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`mail template missing: ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
}

/**
 * Resolves a file of the mail templates by its name below the mail root (`de/invitation.subject.hbs`): from an explicit
 * folder (a whole mail root, `RenderMailOptions.templatesDir`), else file by file from `SIGNFLOW_TEMPLATES_DIR` over the
 * built-in ones (templating/template-files.ts).
 */
type MailFileResolver = { file(name: string): string; partials(locale: MailLocale): string[] };

function explicitRoot(templatesDir: string): MailFileResolver {
  return {
    // A folder made before a kind existed gets the built-in template (rendered with the folder's own partials).
    file: (name) => {
      const kind = /^[^/]+\/([^.]+)\./.exec(name)?.[1] ?? '';
      const own = path.join(templatesDir, name);
      return LATER_KINDS.includes(kind) && !fs.existsSync(own) ? path.join(DEFAULT_MAIL_TEMPLATES_DIR, name) : own;
    },
    partials: (locale) => {
      const dir = path.join(templatesDir, locale, 'partials');
      return fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => path.join(dir, f)) : [];
    },
  };
}

const overlayRoot: MailFileResolver = {
  file: (name) => templateFile(`mail/${name}`),
  partials: (locale) => {
    const names = new Set<string>();
    for (const dir of [path.join(DEFAULT_MAIL_TEMPLATES_DIR, locale, 'partials'), overlayPartialsDir(locale)]) {
      if (dir && fs.existsSync(dir)) for (const f of fs.readdirSync(dir)) names.add(f);
    }
    return [...names].sort().map((f) => templateFile(`mail/${locale}/partials/${f}`));
  },
};

function overlayPartialsDir(locale: MailLocale): string | undefined {
  const dir = templatesDirInUse();
  return dir ? path.join(dir, 'mail', locale, 'partials') : undefined;
}

function compileLocale(resolver: MailFileResolver, locale: MailLocale): CompiledLocale {
  // Two environments because partials are shared per environment: HTML partials must escape, text partials must not.
  const htmlEnv = Handlebars.create();
  const textEnv = Handlebars.create();
  for (const file of resolver.partials(locale)) {
    const base = path.basename(file);
    const html = /^(.+)\.html\.hbs$/.exec(base);
    const text = /^(.+)\.text\.hbs$/.exec(base);
    const source = html || text ? readTemplate(file) : undefined;
    if (html?.[1] && source !== undefined) htmlEnv.registerPartial(html[1], htmlEnv.compile(source, HTML_OPTIONS));
    if (text?.[1] && source !== undefined) textEnv.registerPartial(text[1], textEnv.compile(source, TEXT_OPTIONS));
  }
  const compile = (kind: MailKind | StaffMailKind, part: 'subject' | 'html' | 'text'): Compiled => {
    const name = `${locale}/${kind}.${part}.hbs`;
    const source = readTemplate(resolver.file(name));
    const env = part === 'html' ? htmlEnv : textEnv;
    // Handlebars compiles lazily on first use; parse now so a syntax error fails the load, not the first send.
    env.parse(source);
    return wrap(env.compile(source, part === 'html' ? HTML_OPTIONS : TEXT_OPTIONS), name);
  };
  const mails = {} as Record<MailKind, CompiledMail>;
  for (const kind of MAIL_KINDS) {
    mails[kind] = { subject: compile(kind, 'subject'), html: compile(kind, 'html'), text: compile(kind, 'text') };
  }
  const staff = {} as Record<StaffMailKind, CompiledMail>;
  for (const kind of STAFF_MAIL_KINDS) {
    staff[kind] = { subject: compile(kind, 'subject'), html: compile(kind, 'html'), text: compile(kind, 'text') };
  }
  return { mails, staff };
}

/**
 * Compiles (once per process and folder) and returns the templates of a locale. The worker may call it at start so a
 * broken template fails the start instead of the first mail; `renderMail` calls it on demand.
 */
export function loadMailTemplates(options: RenderMailOptions = {}): CompiledLocale {
  const locale = options.locale ?? 'de';
  const given = options.templatesDir ? path.resolve(options.templatesDir) : undefined;
  // The built-in folder named explicitly is the same as no folder (with the overrides in use).
  const explicit = given === DEFAULT_MAIL_TEMPLATES_DIR ? undefined : given;
  const key = `${explicit ?? `overlay:${templatesDirInUse() ?? ''}`}\0${locale}`;
  let compiled = cache.get(key);
  if (!compiled) {
    compiled = compileLocale(explicit ? explicitRoot(explicit) : overlayRoot, locale);
    cache.set(key, compiled);
  }
  return compiled;
}

/** A blank is not a value: drop empty or whitespace-only strings, `null`, `undefined` and non-finite numbers. */
function presentValues(values: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || v === null) continue;
    if (typeof v === 'string' && v.trim() === '') continue;
    if (typeof v === 'number' && !Number.isFinite(v)) continue;
    out[k] = v;
  }
  return out;
}

/** Subjects are one line: template files end with a newline, and a value must not smuggle in a header line break. */
function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/**
 * Renders one mail. Throws `TemplateValueMissingError` when a placeholder has no value (nothing is rendered half).
 */
export function renderMail<K extends MailKind>(
  kind: K,
  values: MailValues[K],
  options: RenderMailOptions = {}
): RenderedMail {
  const templates = loadMailTemplates(options).mails[kind];
  const context = presentValues(values);
  const subject = oneLine(templates.subject(context));
  const html = templates.html({ ...context, subject });
  const text = templates.text(context);
  return { subject, html, text };
}

/** Renders one staff mail, like `renderMail`. */
export function renderStaffMail<K extends StaffMailKind>(
  kind: K,
  values: StaffMailValues[K],
  options: RenderMailOptions = {}
): RenderedMail {
  const templates = loadMailTemplates(options).staff[kind];
  const context = presentValues(values);
  const subject = oneLine(templates.subject(context));
  return { subject, html: templates.html({ ...context, subject }), text: templates.text(context) };
}

/** The document's detail page in the portal: `config.portal.baseUrl + config.portal.documentPath`, `{documentId}` replaced. */
export function portalDocumentUrl(portal: { baseUrl: string; documentPath: string }, documentId: number): string {
  const base = portal.baseUrl.replace(/\/+$/, '');
  const docPath = portal.documentPath.replace(/\{documentId\}/g, encodeURIComponent(String(documentId)));
  return `${base}${docPath.startsWith('/') ? '' : '/'}${docPath}`;
}
