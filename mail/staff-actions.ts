/**
 * What the staff mail says when the eHBA's signer parks: in German, per failure type, what happened and the exact
 * action (with the `signflow` command where one exists). The English `staffActionFor` of `domain/konnektor-errors.ts`
 * stays the text of failures and logs; this is the practice's wording.
 */
import { KonnektorFailureType } from '../domain/konnektor-errors';

export interface StaffAction {
  /** What happened, one sentence. */
  what: string;
  /** The exact action, as staff would say it. */
  action: string;
  /** The signflow command that does (or finishes) it, if any. */
  command?: string;
}

const ACTIVATE = 'signflow konnektor activate';
const ACTIVATE_AT_TERMINAL = 'Komfortsignatur am Kartenterminal aktivieren';

/** Every needs-a-person type has its own text; anything else (a type added later) gets the generic one. */
export function staffActionDe(failureType: string): StaffAction {
  const T = KonnektorFailureType;
  switch (failureType) {
    case T.COMFORT_SIGNATURE_NOT_ACTIVE:
      return { what: 'Die Komfortsignatur des eHBA ist nicht aktiv.', action: ACTIVATE_AT_TERMINAL, command: ACTIVATE };
    case T.COMFORT_SIGNATURE_EXPIRED:
      return {
        what: 'Die Komfortsignatur des eHBA ist abgelaufen (Zeit oder Anzahl der Signaturen aufgebraucht).',
        action: ACTIVATE_AT_TERMINAL,
        command: ACTIVATE,
      };
    case T.COMFORT_SIGNATURE_DISABLED:
      return {
        what: 'Die Komfortsignatur ist im Konnektor ausgeschaltet.',
        action: `Administrator schaltet die Komfortsignatur im Konnektor-Management ein, danach ${ACTIVATE_AT_TERMINAL}`,
        command: ACTIVATE,
      };
    case T.COMFORT_SESSION_LIMIT:
      return {
        what: 'Der eHBA hat keine freie Komfortsignatur-Sitzung mehr.',
        action: `Alte Sitzungen beenden (signflow konnektor deactivate), danach ${ACTIVATE_AT_TERMINAL}`,
        command: ACTIVATE,
      };
    case T.CARD_SESSION_CONFLICT:
      return {
        what: 'Der eHBA ist für einen anderen Benutzer freigeschaltet.',
        action: `eHBA ziehen und wieder stecken, danach ${ACTIVATE_AT_TERMINAL}`,
        command: ACTIVATE,
      };
    case T.PIN_BLOCKED:
      return {
        what: 'Die QES-PIN des eHBA ist gesperrt.',
        action: `Karteninhaber entsperrt die PIN mit der PUK, danach ${ACTIVATE_AT_TERMINAL}`,
        command: ACTIVATE,
      };
    case T.PIN_WRONG:
      return {
        what: 'Bei der Aktivierung wurde eine falsche PIN eingegeben.',
        action: `${ACTIVATE_AT_TERMINAL} und die richtige PIN eingeben (nach 3 Fehleingaben wird die PIN gesperrt)`,
        command: ACTIVATE,
      };
    case T.PIN_TIMEOUT:
      return {
        what: 'Die PIN wurde nicht rechtzeitig am Kartenterminal eingegeben.',
        action: ACTIVATE_AT_TERMINAL,
        command: ACTIVATE,
      };
    case T.PIN_ENTRY_CANCELLED:
      return {
        what: 'Die PIN-Eingabe wurde am Kartenterminal abgebrochen.',
        action: ACTIVATE_AT_TERMINAL,
        command: ACTIVATE,
      };
    case T.PIN_NOT_SET:
      return {
        what: 'Der eHBA hat noch seine Transport-PIN.',
        action: `Karteninhaber setzt eine eigene PIN, danach ${ACTIVATE_AT_TERMINAL}`,
        command: ACTIVATE,
      };
    case T.CARD_MISSING:
      return {
        what: 'Der Konnektor findet keinen eHBA.',
        action: `eHBA in ein Kartenterminal dieses Arbeitsplatzes stecken, danach ${ACTIVATE_AT_TERMINAL}`,
        command: ACTIVATE,
      };
    case T.CARD_NOT_SUITABLE:
      return {
        what: 'Diese Karte kann keine Stapel- oder Komfortsignatur erzeugen.',
        action: 'Einen aktuellen eHBA verwenden',
      };
    case T.CARD_ERROR:
      return {
        what: 'Der eHBA meldet wiederholt Fehler.',
        action: `eHBA ziehen und wieder stecken, danach ${ACTIVATE_AT_TERMINAL}; bleibt der Fehler, Karte ersetzen`,
        command: ACTIVATE,
      };
    case T.CERTIFICATE_INVALID:
      return {
        what: 'Das QES-Zertifikat des eHBA ist nicht gültig (abgelaufen, gesperrt oder nicht prüfbar).',
        action: 'Karteninhaber braucht einen gültigen eHBA',
      };
    case T.KONNEKTOR_CONFIGURATION:
      return {
        what: 'Der Konnektor lehnt den Aufrufkontext oder die Konfiguration ab.',
        action:
          'Administrator prüft das Informationsmodell des Konnektors und die Konnektor-Einstellungen von signflow',
      };
    case T.KONNEKTOR_CLIENT_AUTH_FAILED:
      return {
        what: 'Der Konnektor akzeptiert das Client-Zertifikat von signflow nicht.',
        action: 'Administrator exportiert ein neues Clientsystem-Zertifikat aus dem Konnektor und hinterlegt es',
      };
    case T.KONNEKTOR_SERVER_UNTRUSTED:
      return {
        what: 'Das Server-Zertifikat des Konnektors passt nicht zur konfigurierten CA, zum Fingerabdruck oder zur Identität.',
        action: 'Administrator vergleicht es mit dem Konnektor-Management',
      };
    case T.KONNEKTOR_REQUEST_INVALID:
      return {
        what: 'Der Konnektor hat die Anfrage als ungültig abgelehnt.',
        action: 'Fehler mit den Details aus signflow status an den Support melden',
      };
    case T.DOCUMENT_REJECTED:
      return { what: 'Der Konnektor hat ein Dokument abgelehnt.', action: 'Vertragsdokument prüfen' };
    default:
      return {
        what: 'Der Konnektor meldet einen Fehler, den signflow nicht kennt.',
        action: 'Administrator prüft das Protokoll des Konnektors mit den Fehlerdetails',
      };
  }
}
