/**
 * Konnektor faults: every gematik error code the Konnektor can answer with for the operations signflow calls
 * (GetCards, GetSignatureMode, Activate/DeactivateComfortSignature, GetJobNumber, SignDocument, VerifyDocument), each
 * mapped by an exhaustive switch to what happens next:
 *
 * - `transient`: Temporal retries the activity with exponential backoff. Some codes ("T1": the Konnektor or card may
 *   recover, but usually does not) escalate to a needs-a-person failure after `maxAttempts`.
 * - `needs-person`: a non-retryable `ApplicationFailure` whose `type` names the cause (`PIN_BLOCKED`,
 *   `COMFORT_SIGNATURE_EXPIRED`, …). The contract parks until staff have acted; the message says what to do.
 * - `recoverable`: the client repairs it itself once (new card handle, new job number, new UserId, smaller batch); if
 *   that does not help it becomes the listed failure type.
 * - `warning`: arrives inside `CONN:Status` with `Result=Warning`; the call succeeded.
 *
 * Sources: gemSpec_Kon 5.18 (TAB_KON_515, 089, 534, 543, 757, 824 …) and gemILF_PS 2.17, as summarised in the project's
 * Konnektor research notes. The gematik code is always the `Code` of the LAST `GERROR:Trace` (A_14159).
 *
 * Pure: no I/O, usable in workflows, activities, API and CLI.
 */
import { ApplicationFailure } from '@temporalio/common';

/** Every gematik code classified here. A code that is not in this list is `KONNEKTOR_UNKNOWN_ERROR` (needs a person). */
export const GEMATIK_CODES = [
  4000, 4001, 4002, 4003, 4004, 4005, 4006, 4007, 4008, 4009, 4010, 4011, 4012, 4013, 4014, 4015, 4016, 4018, 4019,
  4020, 4021, 4028, 4039, 4040, 4043, 4044, 4047, 4049, 4053, 4058, 4060, 4063, 4065, 4072, 4085, 4092, 4093, 4094,
  4101, 4110, 4111, 4112, 4118, 4120, 4123, 4124, 4125, 4126, 4131, 4146, 4157, 4174, 4197, 4204, 4208, 4221, 4222,
  4243, 4252, 4261, 4262, 4263, 4264, 4265, 4266, 4267, 4268, 4269, 4270, 4271, 4272, 4273, 4274, 4275, 4276, 4278,
  4279, 4280, 4283,
] as const;

export type GematikCode = (typeof GEMATIK_CODES)[number];

const GEMATIK_CODE_SET: ReadonlySet<number> = new Set(GEMATIK_CODES);

export function isGematikCode(code: number): code is GematikCode {
  return GEMATIK_CODE_SET.has(code);
}

/**
 * `ApplicationFailure.type` of every Konnektor failure. Stable names: the workflow, the API and ops dashboards match on
 * them.
 */
export const KonnektorFailureType = {
  // ---- needs a person: the contract parks until staff act ----
  /** No comfort session for this card and UserId (never activated, deactivated, or the card's security state was reset). Staff activate the comfort signature (one PIN entry). */
  COMFORT_SIGNATURE_NOT_ACTIVE: 'COMFORT_SIGNATURE_NOT_ACTIVE',
  /** 4271: the comfort session ended (timer expired or signature count used up). Staff re-activate (one PIN entry). */
  COMFORT_SIGNATURE_EXPIRED: 'COMFORT_SIGNATURE_EXPIRED',
  /** 4263: comfort signature is switched off in the Konnektor (SAK_COMFORT_SIGNATURE). An admin enables it. */
  COMFORT_SIGNATURE_DISABLED: 'COMFORT_SIGNATURE_DISABLED',
  /** 4278: the eHBA has no free comfort session. Staff deactivate the old sessions, then activate again. */
  COMFORT_SESSION_LIMIT: 'COMFORT_SESSION_LIMIT',
  /**
   * 4018: the eHBA is unlocked under another UserId. Staff reset the card (`signflow konnektor reset-card`: EjectCard
   * and RequestCard, A_21528; or pull and re-insert it where the Konnektor has no CardTerminalService), then activate.
   */
  CARD_SESSION_CONFLICT: 'CARD_SESSION_CONFLICT',
  /** 4063, 4275: PIN.QES blocked. The card holder unblocks it with the PUK, then staff activate again. */
  PIN_BLOCKED: 'PIN_BLOCKED',
  /** 4276: wrong PIN at activation. The card holder activates again with the right PIN. */
  PIN_WRONG: 'PIN_WRONG',
  /** 4043: nobody entered the PIN in time. Staff start the activation again with the card holder at the terminal. */
  PIN_TIMEOUT: 'PIN_TIMEOUT',
  /** 4049: the PIN entry was cancelled at the terminal. Staff start the activation again. */
  PIN_ENTRY_CANCELLED: 'PIN_ENTRY_CANCELLED',
  /** 4065: the eHBA still has its transport PIN. The card holder sets a PIN first. */
  PIN_NOT_SET: 'PIN_NOT_SET',
  /** No eHBA found (not inserted, stale handle that cannot be re-resolved). Staff insert the eHBA. */
  CARD_MISSING: 'CARD_MISSING',
  /** 4118, 4274, 4126: the card cannot do (batch/comfort) QES, e.g. an HBA-VK. The practice needs a current eHBA. */
  CARD_NOT_SUITABLE: 'CARD_NOT_SUITABLE',
  /** 4120 repeated: the card computed wrong signatures. Staff re-insert the eHBA; if it persists, replace it. */
  CARD_ERROR: 'CARD_ERROR',
  /** 4123 repeated, or the eHBA's QES certificate expired or is revoked. The card holder needs a valid eHBA. */
  CERTIFICATE_INVALID: 'CERTIFICATE_INVALID',
  /** Context ids, workplace/terminal assignment, remote PIN or signature module wrong in the Konnektor. An admin fixes it. */
  KONNEKTOR_CONFIGURATION: 'KONNEKTOR_CONFIGURATION',
  /**
   * 4157, 4204, TLS alerts from the Konnektor, HTTP 401/403, or the Konnektor closing the TLS connection without an alert
   * right after receiving the client certificate, several times in a row: the Konnektor does not accept signflow's
   * client certificate (the message names it). An admin exports a new client-system certificate or registers it.
   */
  KONNEKTOR_CLIENT_AUTH_FAILED: 'KONNEKTOR_CLIENT_AUTH_FAILED',
  /**
   * The TLS handshake failed before any certificate was exchanged: the Konnektor and signflow share no cipher suite,
   * ECDHE group or TLS version (e.g. a Konnektor offering only groups signflow does not). An admin compares the
   * Konnektor's TLS settings with what signflow offers (named in the message).
   */
  KONNEKTOR_TLS_NEGOTIATION_FAILED: 'KONNEKTOR_TLS_NEGOTIATION_FAILED',
  /** The Konnektor's server certificate does not match the configured CA, fingerprint or identity. An admin checks it. */
  KONNEKTOR_SERVER_UNTRUSTED: 'KONNEKTOR_SERVER_UNTRUSTED',
  /** 4000, 4003, 4058, 4072, 4111, 4272, 4279, other HTTP 4xx: signflow sent something the Konnektor rejects. A bug: report it. */
  KONNEKTOR_REQUEST_INVALID: 'KONNEKTOR_REQUEST_INVALID',
  /**
   * 4112, 4124, 4208, 4262, or a 4000 that only this document's request gets: the Konnektor rejects this one document
   * (conformance, content). Only that contract's countersignature fails; the rest of the batch is signed. Staff fix or
   * replace the contract document and request the countersignature again.
   */
  DOCUMENT_REJECTED: 'DOCUMENT_REJECTED',
  /**
   * 4280, 4283, or over 25 MB before sending: a Konnektor signs at most 25 MB per document (TIP1-A_4500). Only that
   * contract's countersignature fails. Staff shrink the document (fewer images, lower resolution) and request again.
   */
  DOCUMENT_TOO_LARGE: 'DOCUMENT_TOO_LARGE',
  /**
   * 4110, or a document that is not XML, PDF/A, text or TIFF (QES_DocFormate) before sending. Only that contract's
   * countersignature fails. Staff provide the contract document as PDF/A and request again.
   */
  DOCUMENT_FORMAT_UNSUPPORTED: 'DOCUMENT_FORMAT_UNSUPPORTED',
  /** A gematik code this table does not know, or a non-gematik fault that kept failing. Kept whole in the details. */
  KONNEKTOR_UNKNOWN_ERROR: 'KONNEKTOR_UNKNOWN_ERROR',
  // ---- transient: retried with backoff ----
  /** 4039, 4060, 4093: card, terminal or PIN pad busy with another operation. */
  KONNEKTOR_BUSY: 'KONNEKTOR_BUSY',
  /** 4002, 4174, network errors, HTTP 502/503/504: Konnektor booting, offline or unreachable. */
  KONNEKTOR_UNAVAILABLE: 'KONNEKTOR_UNAVAILABLE',
  /** 4028, 4040, 4044, 4221, 4222: the card terminal is not reachable right now. */
  CARD_TERMINAL_UNAVAILABLE: 'CARD_TERMINAL_UNAVAILABLE',
  /** 4094: the card did not answer in time. Escalates to `CARD_ERROR`. */
  CARD_TIMEOUT: 'CARD_TIMEOUT',
  /** 4001, 4267, 4268, 4269, HTTP 500 without gematik code: internal Konnektor error. Escalates after a few attempts. */
  KONNEKTOR_INTERNAL_ERROR: 'KONNEKTOR_INTERNAL_ERROR',
  /** 4120, 4123: signing failed once. Escalates to `CARD_ERROR` / `CERTIFICATE_INVALID`. */
  SIGNATURE_CREATION_FAILED: 'SIGNATURE_CREATION_FAILED',
  // ---- recoverable by the client itself ----
  /** 4008, 4047, 4101, 4131, 4146: the card handle is stale; the client resolves it again with GetCards. */
  CARD_HANDLE_STALE: 'CARD_HANDLE_STALE',
  /** 4252: job number reused; the client fetches a new one. */
  JOB_NUMBER_REUSED: 'JOB_NUMBER_REUSED',
  /** 4270: UserId reused; the client activates with a fresh UUIDv4. */
  USER_ID_REUSED: 'USER_ID_REUSED',
  // ---- warnings (Result=Warning, the call succeeded) ----
  KONNEKTOR_WARNING: 'KONNEKTOR_WARNING',
} as const;

export type KonnektorFailureType = (typeof KonnektorFailureType)[keyof typeof KonnektorFailureType];

export type KonnektorFaultClass = 'transient' | 'needs-person' | 'recoverable' | 'warning';

export interface GematikCodeClassification {
  code: GematikCode;
  faultClass: KonnektorFaultClass;
  failureType: KonnektorFailureType;
  /** Transient codes that rarely heal ("T1"): attempts (1-based, Temporal's `attempt`) before escalating. */
  maxAttempts?: number;
  /** The needs-a-person type a T1 code or a failed recovery becomes. */
  escalateTo?: KonnektorFailureType;
  /** Short German meaning as in gemSpec_Kon, for logs and the failure details. */
  konnektorText: string;
}

const T1_ATTEMPTS = 3;

function c(
  code: GematikCode,
  faultClass: KonnektorFaultClass,
  failureType: KonnektorFailureType,
  konnektorText: string,
  escalation?: { maxAttempts?: number; escalateTo: KonnektorFailureType }
): GematikCodeClassification {
  return { code, faultClass, failureType, konnektorText, ...escalation };
}

export function assertNever(value: never): never {
  throw new Error(`unhandled value: ${String(value)}`);
}

/** The one table. Exhaustive: adding a code to `GEMATIK_CODES` without a case here does not compile. */
export function classifyGematikCode(code: GematikCode): GematikCodeClassification {
  const T = KonnektorFailureType;
  switch (code) {
    // Request syntax. 4000 on a batch means "too many SignRequests": the client splits; on a single request it is a bug.
    case 4000:
      return c(code, 'recoverable', T.KONNEKTOR_REQUEST_INVALID, 'Syntaxfehler', {
        escalateTo: T.KONNEKTOR_REQUEST_INVALID,
      });
    case 4001:
      return c(code, 'transient', T.KONNEKTOR_INTERNAL_ERROR, 'Interner Fehler', {
        maxAttempts: T1_ATTEMPTS,
        escalateTo: T.KONNEKTOR_UNKNOWN_ERROR,
      });
    case 4002:
      return c(code, 'transient', T.KONNEKTOR_UNAVAILABLE, 'Konnektor in kritischem Betriebszustand');
    case 4003:
      return c(code, 'needs-person', T.KONNEKTOR_REQUEST_INVALID, 'Keine User-ID angegeben');
    // Call context unknown or not assigned in the Konnektor's information model.
    case 4004:
    case 4005:
    case 4006:
    case 4007:
    case 4009:
    case 4010:
    case 4011:
    case 4012:
    case 4013:
    case 4014:
    case 4015:
    case 4016:
    case 4020:
    case 4021:
      return c(code, 'needs-person', T.KONNEKTOR_CONFIGURATION, 'Aufrufkontext ungültig oder nicht zugeordnet');
    case 4019:
      return c(
        code,
        'needs-person',
        T.KONNEKTOR_CONFIGURATION,
        'Zu den Parametern konnte keine Regel ermittelt werden'
      );
    case 4008:
    case 4047:
    case 4101:
    case 4131:
    case 4146:
      return c(code, 'recoverable', T.CARD_HANDLE_STALE, 'Karten-Handle ungültig oder Karte nicht gesteckt', {
        escalateTo: T.CARD_MISSING,
      });
    case 4018:
      return c(
        code,
        'needs-person',
        T.CARD_SESSION_CONFLICT,
        'HBA hat Kartensitzung zu anderer UserId mit erhöhtem Sicherheitszustand'
      );
    case 4028:
    case 4040:
    case 4044:
    case 4221:
    case 4222:
      return c(code, 'transient', T.CARD_TERMINAL_UNAVAILABLE, 'Kartenterminal nicht verbunden oder nicht erreichbar');
    case 4039:
      return c(code, 'transient', T.KONNEKTOR_BUSY, 'Kartenterminal durch andere Nutzung belegt');
    case 4043:
      return c(code, 'needs-person', T.PIN_TIMEOUT, 'Timeout bei der PIN-Eingabe');
    case 4049:
      return c(code, 'needs-person', T.PIN_ENTRY_CANCELLED, 'Abbruch durch den Benutzer');
    case 4053:
    case 4092:
      return c(code, 'needs-person', T.KONNEKTOR_CONFIGURATION, 'Remote-PIN nicht möglich oder nicht konfiguriert');
    case 4058:
      return c(code, 'needs-person', T.KONNEKTOR_REQUEST_INVALID, 'Aufruf nicht zulässig');
    case 4060:
      return c(code, 'transient', T.KONNEKTOR_BUSY, 'Ressource belegt');
    case 4063:
      return c(code, 'needs-person', T.PIN_BLOCKED, 'PIN bereits gesperrt');
    case 4065:
      return c(code, 'needs-person', T.PIN_NOT_SET, 'PIN ist transportgeschützt');
    case 4072:
      return c(code, 'needs-person', T.KONNEKTOR_REQUEST_INVALID, 'Ungültige PIN-Referenz');
    case 4085:
      return c(code, 'needs-person', T.COMFORT_SIGNATURE_NOT_ACTIVE, 'Zugriffsbedingungen nicht erfüllt');
    case 4093:
      return c(code, 'transient', T.KONNEKTOR_BUSY, 'Karte wird in anderer Kartensitzung exklusiv verwendet');
    case 4094:
      return c(code, 'transient', T.CARD_TIMEOUT, 'Timeout beim Kartenzugriff', {
        maxAttempts: T1_ATTEMPTS,
        escalateTo: T.CARD_ERROR,
      });
    case 4110:
      return c(code, 'needs-person', T.DOCUMENT_FORMAT_UNSUPPORTED, 'Ungültiges Dokumentformat');
    case 4111:
      return c(code, 'needs-person', T.KONNEKTOR_REQUEST_INVALID, 'Ungültiger Signaturtyp oder Signaturvariante');
    case 4112:
    case 4124:
    case 4208:
    case 4262:
      return c(code, 'needs-person', T.DOCUMENT_REJECTED, 'Dokument nicht konform');
    case 4118:
    case 4274:
      return c(code, 'needs-person', T.CARD_NOT_SUITABLE, 'Stapel- oder Komfortsignatur nur mit HBA möglich');
    case 4126:
      return c(code, 'needs-person', T.CARD_NOT_SUITABLE, 'Kartentyp nicht zulässig für Signatur');
    case 4120:
      return c(code, 'transient', T.SIGNATURE_CREATION_FAILED, 'Kartenfehler', {
        maxAttempts: T1_ATTEMPTS,
        escalateTo: T.CARD_ERROR,
      });
    case 4123:
      return c(code, 'transient', T.SIGNATURE_CREATION_FAILED, 'Fehler bei Signaturerstellung', {
        maxAttempts: T1_ATTEMPTS,
        escalateTo: T.CERTIFICATE_INVALID,
      });
    case 4125:
      return c(code, 'needs-person', T.KONNEKTOR_CONFIGURATION, 'LU_SAK nicht aktiviert');
    case 4157:
    case 4204:
      return c(
        code,
        'needs-person',
        T.KONNEKTOR_CLIENT_AUTH_FAILED,
        'Clientsystem konnte nicht authentifiziert werden'
      );
    case 4174:
      return c(code, 'transient', T.KONNEKTOR_UNAVAILABLE, 'TI-VPN-Tunnel nicht aufgebaut');
    case 4197:
    case 4261:
    case 4264:
    case 4273:
      return c(code, 'warning', T.KONNEKTOR_WARNING, 'Parameter ignoriert');
    case 4243:
    case 4265:
    case 4266:
      return c(code, 'warning', T.KONNEKTOR_WARNING, 'Nichts zu tun (Job oder Sitzung existiert nicht)');
    case 4252:
      return c(code, 'recoverable', T.JOB_NUMBER_REUSED, 'Jobnummer bereits verwendet', {
        escalateTo: T.KONNEKTOR_INTERNAL_ERROR,
      });
    case 4263:
      return c(code, 'needs-person', T.COMFORT_SIGNATURE_DISABLED, 'Komfortsignaturfunktion nicht aktiviert');
    case 4267:
      return c(code, 'transient', T.KONNEKTOR_INTERNAL_ERROR, 'Fehler beim Aktivieren des Komfortsignaturmodus', {
        maxAttempts: T1_ATTEMPTS,
        escalateTo: T.COMFORT_SIGNATURE_NOT_ACTIVE,
      });
    case 4268:
    case 4269:
      return c(code, 'transient', T.KONNEKTOR_INTERNAL_ERROR, 'Fehler beim Deaktivieren oder Lesen des Signaturmodus', {
        maxAttempts: T1_ATTEMPTS,
        escalateTo: T.KONNEKTOR_UNKNOWN_ERROR,
      });
    case 4270:
      return c(code, 'recoverable', T.USER_ID_REUSED, 'UserId bereits verwendet', {
        escalateTo: T.KONNEKTOR_REQUEST_INVALID,
      });
    case 4271:
      return c(code, 'needs-person', T.COMFORT_SIGNATURE_EXPIRED, 'Komfortsignaturmodus abgebrochen');
    case 4272:
      return c(code, 'needs-person', T.KONNEKTOR_REQUEST_INVALID, 'UserId nicht zulässig');
    case 4275:
      return c(code, 'needs-person', T.PIN_BLOCKED, 'PIN jetzt gesperrt');
    case 4276:
      return c(code, 'needs-person', T.PIN_WRONG, 'PIN falsch');
    case 4278:
      return c(code, 'needs-person', T.COMFORT_SESSION_LIMIT, 'Keine Komfortsignatursession mehr verfügbar');
    case 4279:
      return c(code, 'needs-person', T.KONNEKTOR_REQUEST_INVALID, 'S/MIME nicht unterstützt');
    case 4280:
    case 4283:
      return c(code, 'needs-person', T.DOCUMENT_TOO_LARGE, 'Dokument zu groß');
    default:
      return assertNever(code);
  }
}

/** Classification of any numeric code; unknown codes need a person (never silently retried). */
export function classifyAnyGematikCode(code: number): Omit<GematikCodeClassification, 'code'> & { code: number } {
  if (isGematikCode(code)) return classifyGematikCode(code);
  return {
    code,
    faultClass: 'needs-person',
    failureType: KonnektorFailureType.KONNEKTOR_UNKNOWN_ERROR,
    konnektorText: 'Unbekannter Fehlercode',
  };
}

/** What staff must do, per needs-a-person (or escalated) failure type. */
export function staffActionFor(type: KonnektorFailureType): string {
  const T = KonnektorFailureType;
  switch (type) {
    case T.COMFORT_SIGNATURE_NOT_ACTIVE:
      return 'Activate the comfort signature for the eHBA (signflow konnektor activate; the card holder enters the PIN once at the card terminal).';
    case T.COMFORT_SIGNATURE_EXPIRED:
      return 'The comfort signature ran out (time or signature count). Re-activate it (signflow konnektor activate; one PIN entry at the card terminal).';
    case T.COMFORT_SIGNATURE_DISABLED:
      return 'Comfort signature is switched off in the Konnektor. An admin enables it in the Konnektor management UI, then activate it.';
    case T.COMFORT_SESSION_LIMIT:
      return 'The eHBA has no free comfort session. Deactivate the old sessions (signflow konnektor deactivate), then activate again.';
    case T.CARD_SESSION_CONFLICT:
      return 'The eHBA is unlocked under another user. Reset it with `signflow konnektor reset-card` (EjectCard/RequestCard at its card terminal; the card holder inserts it again when asked), or pull and re-insert it where the Konnektor offers no CardTerminalService, then run `signflow konnektor activate`.';
    case T.PIN_BLOCKED:
      return 'The QES PIN of the eHBA is blocked. The card holder unblocks it with the PUK, then activate the comfort signature again.';
    case T.PIN_WRONG:
      return 'A wrong PIN was entered. Activate the comfort signature again and enter the right PIN (attention: the PIN blocks after 3 wrong entries).';
    case T.PIN_TIMEOUT:
      return 'Nobody entered the PIN in time. Start the activation again with the card holder at the card terminal.';
    case T.PIN_ENTRY_CANCELLED:
      return 'The PIN entry was cancelled at the card terminal. Start the activation again.';
    case T.PIN_NOT_SET:
      return 'The eHBA still has its transport PIN. The card holder sets a personal PIN first, then activate.';
    case T.CARD_MISSING:
      return 'No eHBA found in the Konnektor. Insert the eHBA into a card terminal of this workplace, then re-activate the comfort signature.';
    case T.CARD_NOT_SUITABLE:
      return 'This card cannot create batch or comfort QES (e.g. an old HBA generation). The practice needs a current eHBA.';
    case T.CARD_ERROR:
      return 'The eHBA keeps failing. Pull and re-insert it; if the error persists, the card must be replaced.';
    case T.CERTIFICATE_INVALID:
      return "The eHBA's QES certificate is not valid (expired, revoked or not verifiable). The card holder needs a valid eHBA.";
    case T.KONNEKTOR_CONFIGURATION:
      return 'The Konnektor rejects the call context or configuration (Mandant, client system, workplace, card terminal). An admin checks the Konnektor information model and the signflow konnektor settings.';
    case T.KONNEKTOR_CLIENT_AUTH_FAILED:
      return "The Konnektor does not accept signflow's client certificate. An admin exports a new client-system certificate (ZIP) from the Konnektor and configures it.";
    case T.KONNEKTOR_TLS_NEGOTIATION_FAILED:
      return "The Konnektor and signflow share no TLS cipher suite or ECDHE group. An admin compares the Konnektor's TLS settings (groups, cipher suites, TLS version) with the ones signflow offers, named in the message.";
    case T.KONNEKTOR_SERVER_UNTRUSTED:
      return "The Konnektor's server certificate does not match the configured CA, fingerprint or identity. An admin compares it with the Konnektor management UI.";
    case T.KONNEKTOR_REQUEST_INVALID:
      return 'The Konnektor rejected the request as invalid. This is a signflow bug or an unsupported Konnektor version: report it with the failure details.';
    case T.DOCUMENT_REJECTED:
      return 'The Konnektor rejected this contract document (e.g. PDF/A conformance); the other documents were signed. Fix or replace the contract document, then request the countersignature again.';
    case T.DOCUMENT_TOO_LARGE:
      return 'The contract document is larger than the 25 MB a Konnektor signs; the other documents were signed. Make the document smaller, then request the countersignature again.';
    case T.DOCUMENT_FORMAT_UNSUPPORTED:
      return 'The contract document is not in a format a QES accepts (PDF/A, XML, text, TIFF); the other documents were signed. Provide it as PDF/A, then request the countersignature again.';
    case T.KONNEKTOR_UNKNOWN_ERROR:
      return 'The Konnektor answered with an error signflow does not know. An admin checks the Konnektor log with the failure details.';
    case T.KONNEKTOR_BUSY:
    case T.KONNEKTOR_UNAVAILABLE:
    case T.CARD_TERMINAL_UNAVAILABLE:
    case T.CARD_TIMEOUT:
    case T.KONNEKTOR_INTERNAL_ERROR:
    case T.SIGNATURE_CREATION_FAILED:
      return 'Nothing to do: signflow retries automatically. If it persists, check that the Konnektor and the card terminal are online.';
    case T.CARD_HANDLE_STALE:
    case T.JOB_NUMBER_REUSED:
    case T.USER_ID_REUSED:
      return 'Nothing to do: signflow repairs this automatically.';
    case T.KONNEKTOR_WARNING:
      return 'Nothing to do.';
    default:
      return assertNever(type);
  }
}

/** Failure types after which the contract parks and waits for staff (re-activation signal or a periodic mode check). */
export const NEEDS_PERSON_FAILURE_TYPES: readonly KonnektorFailureType[] = [
  KonnektorFailureType.COMFORT_SIGNATURE_NOT_ACTIVE,
  KonnektorFailureType.COMFORT_SIGNATURE_EXPIRED,
  KonnektorFailureType.COMFORT_SIGNATURE_DISABLED,
  KonnektorFailureType.COMFORT_SESSION_LIMIT,
  KonnektorFailureType.CARD_SESSION_CONFLICT,
  KonnektorFailureType.PIN_BLOCKED,
  KonnektorFailureType.PIN_WRONG,
  KonnektorFailureType.PIN_TIMEOUT,
  KonnektorFailureType.PIN_ENTRY_CANCELLED,
  KonnektorFailureType.PIN_NOT_SET,
  KonnektorFailureType.CARD_MISSING,
  KonnektorFailureType.CARD_NOT_SUITABLE,
  KonnektorFailureType.CARD_ERROR,
  KonnektorFailureType.CERTIFICATE_INVALID,
  KonnektorFailureType.KONNEKTOR_CONFIGURATION,
  KonnektorFailureType.KONNEKTOR_CLIENT_AUTH_FAILED,
  KonnektorFailureType.KONNEKTOR_TLS_NEGOTIATION_FAILED,
  KonnektorFailureType.KONNEKTOR_SERVER_UNTRUSTED,
  KonnektorFailureType.KONNEKTOR_REQUEST_INVALID,
  KonnektorFailureType.DOCUMENT_REJECTED,
  KonnektorFailureType.DOCUMENT_TOO_LARGE,
  KonnektorFailureType.DOCUMENT_FORMAT_UNSUPPORTED,
  KonnektorFailureType.KONNEKTOR_UNKNOWN_ERROR,
];

/**
 * Failure types that concern one document, not the card or the Konnektor: the client isolates the document (splits the
 * batch), fails only that contract's countersignature and signs the rest.
 */
export const DOCUMENT_LEVEL_FAILURE_TYPES: readonly KonnektorFailureType[] = [
  KonnektorFailureType.DOCUMENT_REJECTED,
  KonnektorFailureType.DOCUMENT_TOO_LARGE,
  KonnektorFailureType.DOCUMENT_FORMAT_UNSUPPORTED,
];

export function isNeedsPersonFailureType(type: string | undefined | null): type is KonnektorFailureType {
  return type != null && (NEEDS_PERSON_FAILURE_TYPES as readonly string[]).includes(type);
}

/** Needs-a-person types that a successful (re-)activation of the comfort signature resolves. */
export const RESOLVED_BY_REACTIVATION: readonly KonnektorFailureType[] = [
  KonnektorFailureType.COMFORT_SIGNATURE_NOT_ACTIVE,
  KonnektorFailureType.COMFORT_SIGNATURE_EXPIRED,
  KonnektorFailureType.COMFORT_SESSION_LIMIT,
  KonnektorFailureType.CARD_SESSION_CONFLICT,
  KonnektorFailureType.PIN_BLOCKED,
  KonnektorFailureType.PIN_WRONG,
  KonnektorFailureType.PIN_TIMEOUT,
  KonnektorFailureType.PIN_ENTRY_CANCELLED,
  KonnektorFailureType.PIN_NOT_SET,
  KonnektorFailureType.CARD_MISSING,
];

/** One `GERROR:Trace` as the Konnektor sent it. */
export interface GematikTrace {
  code: number;
  severity?: string;
  errorType?: string;
  errorText?: string;
  compType?: string;
  detail?: string;
}

/** The SOAP fault as received, kept whole so nothing the Konnektor said is lost. */
export interface RawSoapFault {
  httpStatus?: number;
  faultcode?: string;
  faultstring?: string;
  /** The response body (truncated to 64 KiB). */
  body?: string;
}

/** `details[0]` of every Konnektor `ApplicationFailure`. Plain JSON. */
export interface KonnektorFailureDetails {
  failureType: KonnektorFailureType;
  faultClass: KonnektorFaultClass;
  /** The gematik code of the last trace, when the Konnektor sent one. */
  gematikCode?: number;
  konnektorText?: string;
  traces?: GematikTrace[];
  /** Konnektor operation, e.g. `SignDocument`. */
  operation?: string;
  httpStatus?: number;
  /** Transport error code (ECONNREFUSED, ERR_SSL_…) when there was no answer. */
  transportCode?: string;
  /**
   * How far a failed TLS handshake got: `hello` = before any key exchange (nothing shared, or the network), `keys` =
   * after signflow sent its client certificate and key exchange.
   */
  handshakeStage?: TlsHandshakeStage;
  staffAction: string;
  /** The type before escalation, when a transient fault kept failing. */
  escalatedFrom?: KonnektorFailureType;
  fault?: RawSoapFault;
  /** Request ids of the batch that were signed and recorded before the failure (sign again to get the rest). */
  signedRequestIds?: string[];
}

export type TlsHandshakeStage = 'hello' | 'keys';

/** A Konnektor failure inside the worker, before it becomes an `ApplicationFailure`. */
export class KonnektorError extends Error {
  override readonly name = 'KonnektorError';
  readonly failureType: KonnektorFailureType;
  readonly faultClass: KonnektorFaultClass;
  readonly details: Omit<KonnektorFailureDetails, 'staffAction'>;

  constructor(message: string, details: Omit<KonnektorFailureDetails, 'staffAction'>, options?: { cause?: unknown }) {
    super(message, options);
    this.failureType = details.failureType;
    this.faultClass = details.faultClass;
    this.details = details;
  }

  get gematikCode(): number | undefined {
    return this.details.gematikCode;
  }

  get retryable(): boolean {
    return this.faultClass === 'transient';
  }

  /** Builds the error for a gematik code (the last trace's). */
  static fromGematik(
    code: number,
    init: { operation?: string; traces?: GematikTrace[]; fault?: RawSoapFault; message?: string }
  ): KonnektorError {
    const cls = classifyAnyGematikCode(code);
    const last = init.traces?.[init.traces.length - 1];
    const text = last?.errorText ?? cls.konnektorText;
    return new KonnektorError(
      init.message ?? `Konnektor ${init.operation ?? ''} failed with gematik code ${code}: ${text}`,
      {
        failureType: cls.failureType,
        faultClass: cls.faultClass,
        gematikCode: code,
        konnektorText: text,
        traces: init.traces,
        operation: init.operation,
        httpStatus: init.fault?.httpStatus,
        fault: init.fault,
      }
    );
  }
}

/**
 * Non-gematik HTTP answers: 502/503/504, 408 and 429 are transient; 500 (a SOAP fault without GERROR detail) is retried
 * a few times; 401/403 are a certificate problem; 404 a wrong endpoint; any other 4xx a request signflow got wrong.
 */
export function classifyHttpStatus(status: number): {
  faultClass: KonnektorFaultClass;
  failureType: KonnektorFailureType;
  maxAttempts?: number;
  escalateTo?: KonnektorFailureType;
} {
  const T = KonnektorFailureType;
  if (status === 502 || status === 503 || status === 504)
    return { faultClass: 'transient', failureType: T.KONNEKTOR_UNAVAILABLE };
  if (status === 408 || status === 429) return { faultClass: 'transient', failureType: T.KONNEKTOR_BUSY };
  if (status === 401 || status === 403)
    return { faultClass: 'needs-person', failureType: T.KONNEKTOR_CLIENT_AUTH_FAILED };
  if (status === 404) return { faultClass: 'needs-person', failureType: T.KONNEKTOR_CONFIGURATION };
  if (status >= 400 && status < 500) return { faultClass: 'needs-person', failureType: T.KONNEKTOR_REQUEST_INVALID };
  return {
    faultClass: 'transient',
    failureType: T.KONNEKTOR_INTERNAL_ERROR,
    maxAttempts: T1_ATTEMPTS,
    escalateTo: T.KONNEKTOR_UNKNOWN_ERROR,
  };
}

function escalationOf(err: KonnektorError): { maxAttempts?: number; escalateTo?: KonnektorFailureType } {
  if (err.details.gematikCode !== undefined) {
    const cls = classifyAnyGematikCode(err.details.gematikCode);
    if (cls.failureType === err.failureType) return { maxAttempts: cls.maxAttempts, escalateTo: cls.escalateTo };
  }
  if (err.details.httpStatus !== undefined && err.details.transportCode === undefined) {
    const cls = classifyHttpStatus(err.details.httpStatus);
    if (cls.failureType === err.failureType) return { maxAttempts: cls.maxAttempts, escalateTo: cls.escalateTo };
  }
  return {};
}

/**
 * The `ApplicationFailure` an activity throws. `attempt` is Temporal's 1-based attempt number: a T1 code on its last
 * allowed attempt becomes the non-retryable type it escalates to.
 */
export function toKonnektorApplicationFailure(err: KonnektorError, attempt = 1): ApplicationFailure {
  let failureType = err.failureType;
  let faultClass = err.faultClass;
  let escalatedFrom: KonnektorFailureType | undefined;
  const { maxAttempts, escalateTo } = escalationOf(err);
  if (faultClass === 'transient' && maxAttempts !== undefined && escalateTo && attempt >= maxAttempts) {
    escalatedFrom = failureType;
    failureType = escalateTo;
    faultClass = 'needs-person';
  }
  // A recoverable fault reaching the activity boundary means the client's own repair did not help.
  if (faultClass === 'recoverable') {
    escalatedFrom = failureType;
    failureType = escalateTo ?? KonnektorFailureType.KONNEKTOR_UNKNOWN_ERROR;
    faultClass = isNeedsPersonFailureType(failureType) ? 'needs-person' : 'transient';
  }
  const staffAction = staffActionFor(failureType);
  const details: KonnektorFailureDetails = { ...err.details, failureType, faultClass, staffAction, escalatedFrom };
  const code = err.details.gematikCode !== undefined ? ` (gematik ${err.details.gematikCode})` : '';
  const message =
    faultClass === 'transient' ? `${err.message}${code}` : `${failureType}${code}: ${staffAction} [${err.message}]`;
  return ApplicationFailure.create({
    type: failureType,
    message,
    nonRetryable: faultClass !== 'transient',
    details: [details],
    cause: err,
  });
}
