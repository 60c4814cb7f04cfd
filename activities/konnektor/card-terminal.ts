/**
 * CardTerminalService 1.1 `EjectCard` and `RequestCard`: the reset of an eHBA that gemILF_PS A_21528 asks for before
 * ActivateComfortSignature when the card is in a raised security state or 4018 came back (its PIN unlocked under
 * another UserId). EjectCard ends every card session, RequestCard asks the card holder (terminal display) to insert the
 * card again and returns it with its new handle. Two small requests, written here in the xsd:sequence order of the
 * CardTerminalService schema (Context, CardHandle | Slot(CtId, SlotId), CardType?, DisplayMsg?, TimeOut?).
 */
import { XMLParser } from 'fast-xml-parser';

export const CT_NS = 'http://ws.gematik.de/conn/CardTerminalService/v1.1';
const CONN = 'http://ws.gematik.de/conn/ConnectorCommon/v5.0';
const CCTX = 'http://ws.gematik.de/conn/ConnectorContext/v2.0';
const CARDCMN = 'http://ws.gematik.de/conn/CardServiceCommon/v2.0';

export interface CallContext {
  mandantId: string;
  clientSystemId: string;
  workplaceId: string;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function envelope(op: string, inner: string): string {
  return (
    `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` +
    `<CT:${op} xmlns:CT="${CT_NS}" xmlns:CONN="${CONN}" xmlns:CCTX="${CCTX}" xmlns:CARDCMN="${CARDCMN}">${inner}</CT:${op}>` +
    `</soap:Body></soap:Envelope>`
  );
}

function context(c: CallContext): string {
  return (
    `<CCTX:Context><CONN:MandantId>${esc(c.mandantId)}</CONN:MandantId>` +
    `<CONN:ClientSystemId>${esc(c.clientSystemId)}</CONN:ClientSystemId>` +
    `<CONN:WorkplaceId>${esc(c.workplaceId)}</CONN:WorkplaceId></CCTX:Context>`
  );
}

export function ejectCardRequest(c: CallContext, cardHandle: string, displayMsg: string): string {
  return envelope(
    'EjectCard',
    `${context(c)}<CONN:CardHandle>${esc(cardHandle)}</CONN:CardHandle><CT:DisplayMsg>${esc(displayMsg)}</CT:DisplayMsg>`
  );
}

export function requestCardRequest(
  c: CallContext,
  slot: { ctId: string; slotId: number },
  displayMsg: string,
  timeoutSeconds: number
): string {
  return envelope(
    'RequestCard',
    `${context(c)}<CT:Slot><CARDCMN:CtId>${esc(slot.ctId)}</CARDCMN:CtId><CARDCMN:SlotId>${slot.slotId}</CARDCMN:SlotId></CT:Slot>` +
      `<CT:DisplayMsg>${esc(displayMsg)}</CT:DisplayMsg><CT:TimeOut>${Math.max(0, Math.round(timeoutSeconds))}</CT:TimeOut>`
  );
}

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: true,
  // Character references (`&#252;`) are XML: a vendor writing ASCII only uses them for every umlaut.
  htmlEntities: true,
  isArray: (name) => name === 'Trace',
});

/** The response element (`EjectCardResponse`, `RequestCardResponse`) below the SOAP Body, without prefixes. */
export function responseBody(xml: string, op: string): Record<string, unknown> | undefined {
  const doc = parser.parse(xml) as Record<string, Record<string, Record<string, unknown>>>;
  const node = doc.Envelope?.Body?.[`${op}Response`];
  return node && typeof node === 'object' ? (node as Record<string, unknown>) : undefined;
}
