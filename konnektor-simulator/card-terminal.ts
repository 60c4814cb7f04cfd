/**
 * CardTerminalService 1.1 `EjectCard` / `RequestCard` (gemSpec_Kon 4.1.4; gemILF_PS A_21528: reset an eHBA stuck in a
 * raised security state, 4018): the structure check of strict mode. The official CardTerminalService XSD is not among
 * the gematik files the simulator validates with, so its element sequences are checked here, element by element:
 *
 *   EjectCard   = CCTX:Context, (CONN:CardHandle | CT:Slot), CT:DisplayMsg?, CT:TimeOut?
 *   RequestCard = CCTX:Context, CT:Slot, CARDCMN:CardType?, CT:DisplayMsg?, CT:TimeOut?
 *   CT:Slot     = CARDCMN:CtId, CARDCMN:SlotId (positive integer); CT:TimeOut a non-negative integer
 */
import { XMLParser } from 'fast-xml-parser';
import { NS } from './soap-xml';

type Ordered = Record<string, unknown>[];

const ordered = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  trimValues: true,
});

interface Child {
  ns: string;
  local: string;
  children: Ordered;
  text: string;
}

/** Children of an element in document order, with their namespace resolved from the declarations in scope. */
function childrenOf(nodes: Ordered, scope: Map<string, string>): Child[] {
  const out: Child[] = [];
  for (const n of nodes) {
    const name = Object.keys(n).find((k) => k !== ':@');
    if (!name || name === '#text') continue;
    const attrs = (n[':@'] ?? {}) as Record<string, string>;
    const inner = new Map(scope);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === '@_xmlns') inner.set('', v);
      else if (k.startsWith('@_xmlns:')) inner.set(k.slice(8), v);
    }
    const [prefix, local] = name.includes(':') ? name.split(':', 2) : ['', name];
    const kids = (n[name] ?? []) as Ordered;
    const text = kids
      .map((k) => (typeof k['#text'] === 'string' ? k['#text'] : ''))
      .join('')
      .trim();
    out.push({ ns: inner.get(prefix!) ?? '', local: local!, children: kids, text });
    // Keep the scope of this element for its own children.
    (out[out.length - 1] as Child & { scope?: Map<string, string> }).scope = inner;
  }
  return out;
}

function scopeOf(c: Child): Map<string, string> {
  return (c as Child & { scope?: Map<string, string> }).scope ?? new Map();
}

/** The operation element (first child of the SOAP Body) and its children. */
function operationOf(xml: string): { op: Child; kids: Child[] } | undefined {
  const doc = ordered.parse(xml) as Ordered;
  const env = childrenOf(doc, new Map()).find((c) => c.local === 'Envelope');
  const body = env && childrenOf(env.children, scopeOf(env)).find((c) => c.local === 'Body');
  const op = body && childrenOf(body.children, scopeOf(body))[0];
  return op ? { op, kids: childrenOf(op.children, scopeOf(op)) } : undefined;
}

type Step = { ns: string; local: string; optional?: boolean; check?: (c: Child) => string | undefined };

const positive = (c: Child) =>
  /^[1-9]\d*$/.test(c.text) ? undefined : `${c.local} "${c.text}" ist keine positive Zahl`;
const nonNegative = (c: Child) => (/^\d+$/.test(c.text) ? undefined : `${c.local} "${c.text}" ist keine Zahl ≥ 0`);

function slotCheck(c: Child): string | undefined {
  return sequence(childrenOf(c.children, scopeOf(c)), [
    { ns: NS.CARDCMN, local: 'CtId' },
    { ns: NS.CARDCMN, local: 'SlotId', check: positive },
  ]);
}

function sequence(kids: Child[], steps: (Step | Step[])[]): string | undefined {
  let i = 0;
  for (const step of steps) {
    const options = Array.isArray(step) ? step : [step];
    const kid = kids[i];
    const match = kid && options.find((s) => s.ns === kid.ns && s.local === kid.local);
    if (!match) {
      if (options.every((s) => s.optional)) continue;
      const want = options.map((s) => `{${s.ns}}${s.local}`).join(' oder ');
      return kid ? `Element {${kid.ns}}${kid.local} unerwartet; erwartet: ${want}` : `Element fehlt: ${want}`;
    }
    const problem = match.check?.(kid);
    if (problem) return problem;
    i++;
  }
  const extra = kids[i];
  return extra ? `Element {${extra.ns}}${extra.local} ist hier nicht erlaubt` : undefined;
}

const CONTEXT: Step = { ns: NS.CCTX, local: 'Context' };
const SLOT: Step = { ns: NS.CT, local: 'Slot', check: slotCheck };
const TAIL: Step[] = [
  { ns: NS.CT, local: 'DisplayMsg', optional: true },
  { ns: NS.CT, local: 'TimeOut', optional: true, check: nonNegative },
];

/** Schema problems of an EjectCard or RequestCard request (empty = valid). */
export function checkCardTerminalRequest(xml: string): string[] {
  const parsed = operationOf(xml);
  if (!parsed) return ['kein SOAP-Body-Element'];
  const { op, kids } = parsed;
  if (op.ns !== NS.CT) return [`Namensraum ${op.ns} ist nicht ${NS.CT}`];
  let problem: string | undefined;
  if (op.local === 'EjectCard') {
    problem = sequence(kids, [CONTEXT, [{ ns: NS.CONN, local: 'CardHandle' }, SLOT], ...TAIL]);
  } else if (op.local === 'RequestCard') {
    problem = sequence(kids, [CONTEXT, SLOT, { ns: NS.CARDCMN, local: 'CardType', optional: true }, ...TAIL]);
  } else {
    return [];
  }
  return problem ? [`${op.local}: ${problem}`] : [];
}
