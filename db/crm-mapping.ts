import { z } from 'zod';

/** A table or column name: knex quotes it, so any non-empty name the CRM uses is fine. */
const zName = z.string().trim().min(1, 'must be a non-empty table or column name');

/**
 * The CRM's own names. A real install has its own table and column names and its own status labels; signflow reads and
 * writes the CRM only through this mapping. The defaults follow the objects and attributes of the CRM's process
 * description (see ../README.md "CRM mapping"), snake_case German without umlauts.
 */
export const ZCrmMapping = z
  .object({
    /** Kontakt. */
    contacts: z
      .object({
        /** @default 'kontakte' */
        table: zName.default('kontakte'),
        /** @default 'id' */
        id: zName.default('id'),
        /** @default 'vorname' */
        firstName: zName.default('vorname'),
        /** @default 'nachname' */
        lastName: zName.default('nachname'),
        /** @default 'email' */
        email: zName.default('email'),
        /**
         * Optional column that marks staff members (the CRM's "Mitarbeiter" flag): when set, only contacts whose
         * column holds `values.yes` (or 1/true) may confirm or withdraw as staff. Unset: any contact other than the
         * contract's freelancer may.
         */
        staffMarker: zName.optional(),
      })
      .strict()
      .prefault({}),
    /** Honorarvertrag. */
    contracts: z
      .object({
        /** @default 'honorarvertraege' */
        table: zName.default('honorarvertraege'),
        /** @default 'id' */
        id: zName.default('id'),
        /** The freelancer (Honorarkraft), a Kontakt id. @default 'kontakt_id' */
        contactId: zName.default('kontakt_id'),
        /** @default 'titel' */
        title: zName.default('titel'),
        /** @default 'status' */
        status: zName.default('status'),
        /** Timestamp of the last status change. @default 'letzte_statusaenderung' */
        lastStatusChange: zName.default('letzte_statusaenderung'),
        /** Boolean "bestätigt durch Honorarkraft". @default 'bestaetigt_durch_honorarkraft' */
        confirmedByFreelancer: zName.default('bestaetigt_durch_honorarkraft'),
        /** @default 'bestaetigt_am' */
        confirmedAt: zName.default('bestaetigt_am'),
        /** Kontakt id of whoever confirmed (freelancer or staff). @default 'bestaetigt_durch' */
        confirmedBy: zName.default('bestaetigt_durch'),
        /** @default 'beginn' */
        start: zName.default('beginn'),
        /** @default 'ende' */
        end: zName.default('ende'),
        /** Fee in euro cents. @default 'honorar_cent' */
        feeCents: zName.default('honorar_cent'),
        /** @default 'beschreibung' */
        description: zName.default('beschreibung'),
        /**
         * Optional column naming the practice (Mandant) a contract belongs to, when one signflow serves several
         * (`SIGNFLOW_KONNEKTOR_MANDANTEN` has an entry per value): its countersignature goes to that practice's
         * Konnektor. Unset: one practice.
         */
        mandant: zName.optional(),
        /**
         * Optional column with the ICCSN of the eHBA that countersigns the contract (a practice with several eHBAs).
         * Empty in a row: the Mandant's first eHBA, else `SIGNFLOW_KONNEKTOR_HBA_ICCSN`, else the first the Konnektor
         * reports. Unset: always that default.
         */
        countersignIccsn: zName.optional(),
      })
      .strict()
      .prefault({}),
    /** Dokument. */
    documents: z
      .object({
        /** @default 'dokumente' */
        table: zName.default('dokumente'),
        /** @default 'id' */
        id: zName.default('id'),
        /** @default 'titel' */
        title: zName.default('titel'),
        /** Template kind; `Vertrag` for a Honorarvertrag. @default 'vorlagenart' */
        templateKind: zName.default('vorlagenart'),
        /** @default 'mime_type' */
        mimeType: zName.default('mime_type'),
        /** Bytes of the document. @default 'inhalt' */
        content: zName.default('inhalt'),
        /** @default 'md5' */
        md5: zName.default('md5'),
        /** @default 'sha256' */
        sha256: zName.default('sha256'),
        /** @default 'verknuepftes_objekt_typ' */
        linkedObjectType: zName.default('verknuepftes_objekt_typ'),
        /** @default 'verknuepftes_objekt_id' */
        linkedObjectId: zName.default('verknuepftes_objekt_id'),
        /** @default 'erstellt_am' */
        createdAt: zName.default('erstellt_am'),
      })
      .strict()
      .prefault({}),
    /** Unterschrift. */
    signatures: z
      .object({
        /** @default 'unterschriften' */
        table: zName.default('unterschriften'),
        /** @default 'id' */
        id: zName.default('id'),
        /** @default 'status' */
        status: zName.default('status'),
        /** @default 'kontakt_id' */
        contactId: zName.default('kontakt_id'),
        /** @default 'dokument_id' */
        documentId: zName.default('dokument_id'),
        /** @default 'verknuepftes_objekt_typ' */
        linkedObjectType: zName.default('verknuepftes_objekt_typ'),
        /** @default 'verknuepftes_objekt_id' */
        linkedObjectId: zName.default('verknuepftes_objekt_id'),
        /** Boolean "Unterschrift per authentifiziertem Klick". @default 'unterschrift_per_authentifiziertem_klick' */
        byAuthenticatedClick: zName.default('unterschrift_per_authentifiziertem_klick'),
        /** Document id of the drawn signature image. @default 'unterschriftenbild' */
        image: zName.default('unterschriftenbild'),
        /** Kontakt id of the user who signed (or the staff member who confirmed). @default 'benutzer_id' */
        userId: zName.default('benutzer_id'),
        /** @default 'md5_hash' */
        md5Hash: zName.default('md5_hash'),
        /** @default 'unterschrieben_am' */
        signedAt: zName.default('unterschrieben_am'),
      })
      .strict()
      .prefault({}),
    /** Labels and values the CRM stores. */
    values: z
      .object({
        /** Object type written into `verknuepftes_objekt_typ` for a contract. @default 'Honorarvertrag' */
        contractObjectType: zName.default('Honorarvertrag'),
        /** Template kind of a contract document. @default 'Vertrag' */
        contractTemplateKind: zName.default('Vertrag'),
        /** Template kind of a drawn signature image. @default 'Unterschriftenbild' */
        signatureImageTemplateKind: zName.default('Unterschriftenbild'),
        /** Template kind of the practice's QES countersignature. @default 'Signatur' */
        qesTemplateKind: zName.default('Signatur'),
        /** Template kind of the completion certificate (Prüfprotokoll). @default 'Prüfprotokoll' */
        certificateTemplateKind: zName.default('Prüfprotokoll'),
        /** Contract statuses that allow sending. @default ['erstellt'] */
        contractSendableStatuses: z.array(z.string()).nonempty().default(['erstellt']),
        /** @default 'versendet' */
        contractSent: zName.default('versendet'),
        /** @default 'in Durchführung' */
        contractInProgress: zName.default('in Durchführung'),
        /** @default 'ausstehend' */
        signaturePending: zName.default('ausstehend'),
        /** @default 'gültig' */
        signatureValid: zName.default('gültig'),
        /** @default 'zurückgezogen' */
        signatureWithdrawn: zName.default('zurückgezogen'),
        /** @default 'abgelaufen' */
        signatureExpired: zName.default('abgelaufen'),
        /** Value written for boolean "yes" in the contract's confirmed-by-freelancer column. @default true */
        yes: z.union([z.boolean(), z.string(), z.number()]).default(true),
        /**
         * Optional list of the Kontakt ids of staff members, for a CRM without a staff column: when set, only these
         * may confirm or withdraw as staff.
         */
        staffContactIds: z.array(z.number().int().positive()).optional(),
        /** Value written for boolean "no". @default false */
        no: z.union([z.boolean(), z.string(), z.number()]).default(false),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export type CrmMapping = z.infer<typeof ZCrmMapping>;

/** The mapping with every default, for dev, tests and the shipped migration. */
export const DEFAULT_CRM_MAPPING: CrmMapping = ZCrmMapping.parse({});

/** The valid keys of the mapping, per section (`''` = the top level), for suggestions on a typo. */
function validKeys(section: string | undefined): string[] {
  if (!section) return Object.keys(DEFAULT_CRM_MAPPING);
  const part = (DEFAULT_CRM_MAPPING as unknown as Record<string, Record<string, unknown> | undefined>)[section];
  return part ? Object.keys(part) : [];
}

/** Levenshtein distance, case-insensitive: typos in a hand-written JSON file are mostly one or two letters. */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, i) => i);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (cur[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (x[i - 1] === y[j - 1] ? 0 : 1)
      );
    }
    prev = cur;
  }
  return prev[y.length] ?? 0;
}

/** The valid key closest to a mistyped one, when it is close enough to be a likely typo. */
export function nearestKey(key: string, candidates: readonly string[]): string | undefined {
  let best: { key: string; d: number } | undefined;
  for (const c of candidates) {
    const d = distance(key, c);
    if (!best || d < best.d) best = { key: c, d };
  }
  if (!best) return undefined;
  const close = best.d <= Math.max(2, Math.floor(best.key.length / 3));
  const prefix =
    best.key.toLowerCase().startsWith(key.toLowerCase()) || key.toLowerCase().startsWith(best.key.toLowerCase());
  return close || prefix ? best.key : undefined;
}

/**
 * One sentence per problem of a mapping (zod issues with paths relative to the mapping): unknown keys name the nearest
 * valid key, or list the valid ones. Used by the config loader, which adds the variable and the file.
 */
export function describeMappingIssue(issue: {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
}): string[] {
  const where = issue.path.map(String);
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    const section = where[0];
    const valid = validKeys(section);
    return issue.keys.map((key) => {
      const full = [...where, key].join('.');
      const near = nearestKey(key, valid);
      return near
        ? `unknown key "${full}": did you mean "${[...where, near].join('.')}"?`
        : `unknown key "${full}"; valid keys${section ? ` of "${section}"` : ''}: ${valid.join(', ')}`;
    });
  }
  return [`${where.join('.') || '(top level)'}: ${issue.message}`];
}
