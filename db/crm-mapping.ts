import { z } from 'zod';

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
        table: z.string().default('kontakte'),
        /** @default 'id' */
        id: z.string().default('id'),
        /** @default 'vorname' */
        firstName: z.string().default('vorname'),
        /** @default 'nachname' */
        lastName: z.string().default('nachname'),
        /** @default 'email' */
        email: z.string().default('email'),
      })
      .prefault({}),
    /** Honorarvertrag. */
    contracts: z
      .object({
        /** @default 'honorarvertraege' */
        table: z.string().default('honorarvertraege'),
        /** @default 'id' */
        id: z.string().default('id'),
        /** The freelancer (Honorarkraft), a Kontakt id. @default 'kontakt_id' */
        contactId: z.string().default('kontakt_id'),
        /** @default 'titel' */
        title: z.string().default('titel'),
        /** @default 'status' */
        status: z.string().default('status'),
        /** Timestamp of the last status change. @default 'letzte_statusaenderung' */
        lastStatusChange: z.string().default('letzte_statusaenderung'),
        /** Boolean "bestätigt durch Honorarkraft". @default 'bestaetigt_durch_honorarkraft' */
        confirmedByFreelancer: z.string().default('bestaetigt_durch_honorarkraft'),
        /** @default 'bestaetigt_am' */
        confirmedAt: z.string().default('bestaetigt_am'),
        /** Kontakt id of whoever confirmed (freelancer or staff). @default 'bestaetigt_durch' */
        confirmedBy: z.string().default('bestaetigt_durch'),
        /** @default 'beginn' */
        start: z.string().default('beginn'),
        /** @default 'ende' */
        end: z.string().default('ende'),
        /** Fee in euro cents. @default 'honorar_cent' */
        feeCents: z.string().default('honorar_cent'),
        /** @default 'beschreibung' */
        description: z.string().default('beschreibung'),
      })
      .prefault({}),
    /** Dokument. */
    documents: z
      .object({
        /** @default 'dokumente' */
        table: z.string().default('dokumente'),
        /** @default 'id' */
        id: z.string().default('id'),
        /** @default 'titel' */
        title: z.string().default('titel'),
        /** Template kind; `Vertrag` for a Honorarvertrag. @default 'vorlagenart' */
        templateKind: z.string().default('vorlagenart'),
        /** @default 'mime_type' */
        mimeType: z.string().default('mime_type'),
        /** Bytes of the document. @default 'inhalt' */
        content: z.string().default('inhalt'),
        /** @default 'md5' */
        md5: z.string().default('md5'),
        /** @default 'sha256' */
        sha256: z.string().default('sha256'),
        /** @default 'verknuepftes_objekt_typ' */
        linkedObjectType: z.string().default('verknuepftes_objekt_typ'),
        /** @default 'verknuepftes_objekt_id' */
        linkedObjectId: z.string().default('verknuepftes_objekt_id'),
        /** @default 'erstellt_am' */
        createdAt: z.string().default('erstellt_am'),
      })
      .prefault({}),
    /** Unterschrift. */
    signatures: z
      .object({
        /** @default 'unterschriften' */
        table: z.string().default('unterschriften'),
        /** @default 'id' */
        id: z.string().default('id'),
        /** @default 'status' */
        status: z.string().default('status'),
        /** @default 'kontakt_id' */
        contactId: z.string().default('kontakt_id'),
        /** @default 'dokument_id' */
        documentId: z.string().default('dokument_id'),
        /** @default 'verknuepftes_objekt_typ' */
        linkedObjectType: z.string().default('verknuepftes_objekt_typ'),
        /** @default 'verknuepftes_objekt_id' */
        linkedObjectId: z.string().default('verknuepftes_objekt_id'),
        /** Boolean "Unterschrift per authentifiziertem Klick". @default 'unterschrift_per_authentifiziertem_klick' */
        byAuthenticatedClick: z.string().default('unterschrift_per_authentifiziertem_klick'),
        /** Document id of the drawn signature image. @default 'unterschriftenbild' */
        image: z.string().default('unterschriftenbild'),
        /** Kontakt id of the user who signed (or the staff member who confirmed). @default 'benutzer_id' */
        userId: z.string().default('benutzer_id'),
        /** @default 'md5_hash' */
        md5Hash: z.string().default('md5_hash'),
        /** @default 'unterschrieben_am' */
        signedAt: z.string().default('unterschrieben_am'),
      })
      .prefault({}),
    /** Labels and values the CRM stores. */
    values: z
      .object({
        /** Object type written into `verknuepftes_objekt_typ` for a contract. @default 'Honorarvertrag' */
        contractObjectType: z.string().default('Honorarvertrag'),
        /** Template kind of a contract document. @default 'Vertrag' */
        contractTemplateKind: z.string().default('Vertrag'),
        /** Template kind of a drawn signature image. @default 'Unterschriftenbild' */
        signatureImageTemplateKind: z.string().default('Unterschriftenbild'),
        /** Template kind of the practice's QES countersignature. @default 'Signatur' */
        qesTemplateKind: z.string().default('Signatur'),
        /** Contract statuses that allow sending. @default ['erstellt'] */
        contractSendableStatuses: z.array(z.string()).nonempty().default(['erstellt']),
        /** @default 'versendet' */
        contractSent: z.string().default('versendet'),
        /** @default 'in Durchführung' */
        contractInProgress: z.string().default('in Durchführung'),
        /** @default 'ausstehend' */
        signaturePending: z.string().default('ausstehend'),
        /** @default 'gültig' */
        signatureValid: z.string().default('gültig'),
        /** @default 'zurückgezogen' */
        signatureWithdrawn: z.string().default('zurückgezogen'),
        /** @default 'abgelaufen' */
        signatureExpired: z.string().default('abgelaufen'),
        /** Value written for boolean "yes" in the contract's confirmed-by-freelancer column. @default true */
        yes: z.union([z.boolean(), z.string(), z.number()]).default(true),
        /** Value written for boolean "no". @default false */
        no: z.union([z.boolean(), z.string(), z.number()]).default(false),
      })
      .prefault({}),
  })
  .prefault({});

export type CrmMapping = z.infer<typeof ZCrmMapping>;

/** The mapping with every default, for dev, tests and the shipped migration. */
export const DEFAULT_CRM_MAPPING: CrmMapping = ZCrmMapping.parse({});
