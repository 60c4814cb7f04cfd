/**
 * Vendor profiles: how the simulated Konnektor writes its answers on the wire. The behaviour is the same in every
 * profile; only the serialisation changes, the way real Konnektoren differ, so that the client's tests run against more
 * than one style:
 *
 * - `gematik`            the simulator's own style: gematik prefixes (`SIG:`, `CONN:`, …) declared on the body element,
 *                        SOAP 1.1, `text/xml`, Content-Length;
 * - `jaxws`              as Metro/JAX-WS writes: `S:` for the envelope, `ns2:`, `ns3:`, … for the rest, every namespace
 *                        declared once on the root (plus some that are not used); connector.sds like the vendors' files
 *                        (ProductInformation in the default namespace);
 * - `default-namespace`  no prefixes at all: each element switches the default namespace (`xmlns="…"`) where it changes,
 *                        `xmlns=""` for the unqualified SOAP 1.1 fault children;
 * - `per-element`        every element declares its own prefix (`n0:`, `n1:`, `n2:` by depth): one namespace under
 *                        different prefixes, one prefix bound to different namespaces in sibling subtrees and re-bound
 *                        below; repeated elements whose order the schema leaves open (SignResponse, Card) come in reverse;
 * - `chunked`            `gematik` serialisation sent with Transfer-Encoding: chunked (no Content-Length), in small chunks;
 * - `soap12`             SOAP 1.2 envelope and faults (`env:Code`/`env:Reason`/`env:Detail`, HTTP 400 for Sender
 *                        faults) with `application/soap+xml; charset=utf-8`.
 *
 * The answers stay valid against the official XSD of the version served: only prefixes, declarations and the order of
 * repeated elements change (the Konnektor suites check this with xmllint).
 */

export const VENDOR_PROFILES = ['gematik', 'jaxws', 'default-namespace', 'per-element', 'chunked', 'soap12'] as const;
export type VendorProfileName = (typeof VENDOR_PROFILES)[number];

export const SOAP11_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
export const SOAP12_NS = 'http://www.w3.org/2003/05/soap-envelope';

export function isVendorProfile(name: string): name is VendorProfileName {
  return (VENDOR_PROFILES as readonly string[]).includes(name);
}

/** The profile named by `name`; a clear error naming the known ones otherwise. */
export function vendorProfile(name: string | undefined): VendorProfile {
  const n = name === undefined || name === '' ? 'gematik' : name;
  if (!isVendorProfile(n)) throw new Error(`unknown vendor profile ${n} (known: ${VENDOR_PROFILES.join(', ')})`);
  return new VendorProfile(n);
}

// ---------------------------------------------------------------------------------------------------------------- tree

/** An element with its namespace resolved. Text and attribute values stay as written (already escaped). */
export interface XmlElement {
  ns: string;
  local: string;
  /** Attributes other than namespace declarations, as written (`xml:lang` keeps its prefix). */
  attrs: [string, string][];
  children: (XmlElement | string)[];
  /** A QName text (SOAP fault codes): its namespace and local part, so each style can write its own prefix. */
  qnameText?: { ns: string; local: string };
  /** Offsets in the parsed text: start of the start tag, end of the end tag. */
  start: number;
  end: number;
  /** Namespace declarations written on this element (`''` = default namespace). */
  declared: Map<string, string>;
  /** Declarations in scope at this element, its own included. */
  scope: Map<string, string>;
}

const NAME = /[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?/y;
const ATTR = /\s+([A-Za-z_][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/y;

/**
 * A small namespace-aware XML reader for the well-formed documents the simulator writes and the Konnektor suites read:
 * elements, attributes, text, CDATA sections, an XML declaration; no DTD or comments.
 */
export function parseXml(xml: string): XmlElement {
  let i = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const fail = (what: string): never => {
    throw new Error(`XML: ${what} at offset ${i}`);
  };
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) {
      if (xml.slice(i).trim()) fail('text after the root element');
      break;
    }
    if (lt > i && stack.length > 0) stack[stack.length - 1]!.children.push(xml.slice(i, lt));
    i = lt;
    if (xml.startsWith('<?', i)) {
      const e = xml.indexOf('?>', i);
      if (e < 0) fail('unterminated processing instruction');
      i = e + 2;
      continue;
    }
    if (xml.startsWith('<![CDATA[', i)) {
      // Kept as written (a text child), so a writer passes it on unchanged.
      const e = xml.indexOf(']]>', i);
      if (e < 0 || stack.length === 0) fail('bad CDATA section');
      stack[stack.length - 1]!.children.push(xml.slice(i, e + 3));
      i = e + 3;
      continue;
    }
    if (xml.startsWith('<!', i)) fail('comments and DTDs are not supported');
    if (xml.startsWith('</', i)) {
      NAME.lastIndex = i + 2;
      const m = NAME.exec(xml) ?? fail('bad end tag');
      const close = xml.indexOf('>', NAME.lastIndex);
      const el = stack.pop() ?? fail('end tag without start tag');
      const [prefix, local] = split(m[0]);
      if (local !== el.local || resolve(el.scope, prefix) !== el.ns) fail(`end tag ${m[0]} does not match`);
      i = close + 1;
      el.end = i;
      continue;
    }
    NAME.lastIndex = i + 1;
    const m = NAME.exec(xml) ?? fail('bad start tag');
    let at = NAME.lastIndex;
    const raw: [string, string][] = [];
    for (;;) {
      ATTR.lastIndex = at;
      const a = ATTR.exec(xml);
      if (!a) break;
      raw.push([a[1]!, a[3] ?? a[4] ?? '']);
      at = ATTR.lastIndex;
    }
    while (/\s/.test(xml[at] ?? '')) at++;
    const selfClosing = xml[at] === '/';
    if (selfClosing) at++;
    if (xml[at] !== '>') fail(`bad start tag ${m[0]}`);
    const parentScope = stack.length > 0 ? stack[stack.length - 1]!.scope : new Map<string, string>();
    const declared = new Map<string, string>();
    const attrs: [string, string][] = [];
    for (const [k, v] of raw) {
      if (k === 'xmlns') declared.set('', v);
      else if (k.startsWith('xmlns:')) declared.set(k.slice(6), v);
      else attrs.push([k, v]);
    }
    const scope = declared.size > 0 ? new Map([...parentScope, ...declared]) : parentScope;
    const [prefix, local] = split(m[0]);
    const el: XmlElement = {
      ns: resolve(scope, prefix) ?? fail(`prefix ${prefix} not declared`),
      local,
      attrs,
      children: [],
      start: lt,
      end: -1,
      declared,
      scope,
    };
    if (stack.length > 0) stack[stack.length - 1]!.children.push(el);
    else if (root) fail('second root element');
    else root = el;
    i = at + 1;
    if (selfClosing) el.end = i;
    else stack.push(el);
  }
  if (!root || stack.length > 0) fail('unterminated document');
  markQNameTexts(root!);
  return root!;
}

function split(qname: string): [string, string] {
  const c = qname.indexOf(':');
  return c < 0 ? ['', qname] : [qname.slice(0, c), qname.slice(c + 1)];
}

function resolve(scope: Map<string, string>, prefix: string): string | undefined {
  if (prefix === 'xml') return 'http://www.w3.org/XML/1998/namespace';
  return scope.get(prefix) ?? (prefix === '' ? '' : undefined);
}

/** SOAP 1.1 `faultcode` and SOAP 1.2 `Code/Value`, `Subcode/Value` hold QNames: resolved here. */
function markQNameTexts(el: XmlElement): void {
  const isQName = (el.ns === '' && el.local === 'faultcode') || (el.ns === SOAP12_NS && el.local === 'Value');
  if (isQName && el.children.length === 1 && typeof el.children[0] === 'string') {
    const [prefix, local] = split(el.children[0].trim());
    const ns = resolve(el.scope, prefix);
    if (ns !== undefined && prefix !== '') el.qnameText = { ns, local };
  }
  for (const c of el.children) if (typeof c !== 'string') markQNameTexts(c);
}

export function childElements(el: XmlElement): XmlElement[] {
  return el.children.filter((c): c is XmlElement => typeof c !== 'string');
}

/**
 * The first element inside the SOAP Body (SOAP 1.1 or 1.2) or, with `fault`, inside the fault's `detail`/`Detail`, cut
 * out of the text as it was written, with every namespace declaration in scope there added to its start tag: a
 * standalone document to validate against the schema, whatever the serialisation style.
 */
export function soapPayloadOf(envelopeXml: string, fault = false): string {
  const env = parseXml(envelopeXml);
  if (env.local !== 'Envelope' || (env.ns !== SOAP11_NS && env.ns !== SOAP12_NS)) throw new Error('no SOAP envelope');
  const body = childElements(env).find((c) => c.local === 'Body' && c.ns === env.ns);
  let payload = body && childElements(body)[0];
  if (fault) {
    const detail =
      payload && childElements(payload).find((c) => (c.local === 'detail' && c.ns === '') || c.local === 'Detail');
    payload = detail && childElements(detail)[0];
  }
  if (!payload) throw new Error(fault ? 'no fault detail element' : 'empty SOAP body');
  return standalone(envelopeXml, payload);
}

/** The element's text with the declarations in scope (not written on it) added to its start tag. */
export function standalone(xml: string, el: XmlElement): string {
  const text = xml.slice(el.start, el.end);
  const tagName = /^<([^\s/>]+)/.exec(text)![1]!;
  const missing = [...el.scope]
    .filter(([p]) => !el.declared.has(p))
    .map(([p, uri]) => ` ${p === '' ? 'xmlns' : `xmlns:${p}`}="${uri}"`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?><${tagName}${missing}${text.slice(tagName.length + 1)}`;
}

// ------------------------------------------------------------------------------------------------------ SOAP 1.1 → 1.2

/** The same message as SOAP 1.2: envelope namespace, and a fault as Code/Value, Reason/Text, Detail. */
function toSoap12(env: XmlElement): void {
  const walk = (el: XmlElement) => {
    if (el.ns === SOAP11_NS) el.ns = SOAP12_NS;
    if (el.local === 'Fault' && el.ns === SOAP12_NS) {
      const kids = childElements(el);
      const code = kids.find((k) => k.local === 'faultcode');
      const reason = kids.find((k) => k.local === 'faultstring');
      const detail = kids.find((k) => k.local === 'detail');
      const sender = code?.qnameText?.local === 'Client';
      const mk = (local: string, children: XmlElement['children'], attrs: [string, string][] = []): XmlElement => ({
        ns: SOAP12_NS,
        local,
        attrs,
        children,
        start: -1,
        end: -1,
        declared: new Map(),
        scope: new Map(),
      });
      const value = mk('Value', []);
      value.qnameText = { ns: SOAP12_NS, local: sender ? 'Sender' : 'Receiver' };
      el.children = [
        mk('Code', [value]),
        mk('Reason', [mk('Text', reason?.children ?? [], [['xml:lang', 'de']])]),
        ...(detail ? [mk('Detail', detail.children)] : []),
      ];
    }
    for (const c of el.children) if (typeof c !== 'string') walk(c);
  };
  walk(env);
}

/** A SOAP 1.2 fault whose code is env:Sender (HTTP 400 in the SOAP 1.2 HTTP binding). */
function isSenderFault(env: XmlElement): boolean {
  const body = childElements(env).find((c) => c.local === 'Body');
  const fault = body && childElements(body).find((c) => c.local === 'Fault');
  const value = fault && childElements(childElements(fault)[0] ?? fault).find((c) => c.local === 'Value');
  return value?.qnameText?.local === 'Sender';
}

// ----------------------------------------------------------------------------------------------------------- writers

const PREFERRED_JAXWS: Record<string, string> = { [SOAP11_NS]: 'S', [SOAP12_NS]: 'S' };
/** Namespaces Metro declares because they are in its JAXB context, whether this message uses them or not. */
const UNUSED_JAXWS = [
  'http://www.w3.org/2000/09/xmldsig#',
  'urn:oasis:names:tc:dss-x:1.0:profiles:SignaturePolicy:schema#',
];
const PI_NS = 'http://ws.gematik.de/int/version/ProductInformation/v1.1';

function namespacesInOrder(el: XmlElement, out: string[] = []): string[] {
  if (el.ns && !out.includes(el.ns)) out.push(el.ns);
  if (el.qnameText && !out.includes(el.qnameText.ns)) out.push(el.qnameText.ns);
  for (const c of el.children) if (typeof c !== 'string') namespacesInOrder(c, out);
  return out;
}

/** Elements whose text is base64 (documents, signatures): the styles that wrap lines do it there. */
const BASE64_TEXT = new Set(['Base64Data', 'Base64Signature']);

function isBase64Text(el: XmlElement): boolean {
  return BASE64_TEXT.has(el.local) && el.children.length === 1 && typeof el.children[0] === 'string';
}

function lines(b64: string, width = 76): string[] {
  const out: string[] = [];
  for (let i = 0; i < b64.length; i += width) out.push(b64.slice(i, i + width));
  return out;
}

/** Non-ASCII characters as numeric character references (`ü` → `&#252;`), as writers with an ASCII encoder do. */
function asciiOnly(text: string): string {
  return text.replace(/[^\x00-\x7f]/gu, (c) => `&#${c.codePointAt(0)};`);
}

function attrsOf(el: XmlElement): string {
  return el.attrs.map(([k, v]) => ` ${k}="${v}"`).join('');
}

/** JAX-WS: one prefix per namespace, all declared on the root. */
function writeJaxws(root: XmlElement): string {
  const prefixes = new Map<string, string>();
  let n = 2;
  const isSds = root.local === 'ConnectorServices';
  for (const ns of [...namespacesInOrder(root), ...UNUSED_JAXWS]) {
    if (prefixes.has(ns)) continue;
    prefixes.set(ns, isSds && ns === PI_NS ? '' : (PREFERRED_JAXWS[ns] ?? `ns${n++}`));
  }
  const decls = [...prefixes].map(([ns, p]) => ` ${p ? `xmlns:${p}` : 'xmlns'}="${ns}"`).join('');
  const hasDefault = [...prefixes.values()].includes('');
  const write = (el: XmlElement, top: boolean): string => {
    const p = el.ns === '' ? '' : prefixes.get(el.ns)!;
    const name = p ? `${p}:${el.local}` : el.local;
    const undeclare = el.ns === '' && hasDefault ? ' xmlns=""' : '';
    const inner = el.qnameText
      ? `${prefixes.get(el.qnameText.ns)}:${el.qnameText.local}`
      : el.children.map((c) => (typeof c === 'string' ? c : write(c, false))).join('');
    return `<${name}${top ? decls : ''}${undeclare}${attrsOf(el)}>${inner}</${name}>`;
  };
  return write(root, true);
}

/**
 * No prefixes: `xmlns="…"` wherever the namespace changes. Pretty-printed (indented, one element a line), base64 in
 * lines of 76 characters inside a CDATA section.
 */
function writeDefaultNamespace(root: XmlElement): string {
  const write = (el: XmlElement, current: string | undefined, depth: number): string => {
    const decl = el.ns === current ? '' : ` xmlns="${el.ns}"`;
    let qdecl = '';
    let inner: string;
    if (el.qnameText) {
      qdecl = ` xmlns:q="${el.qnameText.ns}"`;
      inner = `q:${el.qnameText.local}`;
    } else if (isBase64Text(el)) {
      inner = `<![CDATA[\n${lines(el.children[0] as string).join('\n')}\n]]>`;
    } else if (el.children.length > 0 && el.children.every((c) => typeof c !== 'string' || c.trim() === '')) {
      const pad = '\n' + '  '.repeat(depth + 1);
      inner =
        childElements(el)
          .map((c) => pad + write(c, el.ns, depth + 1))
          .join('') +
        '\n' +
        '  '.repeat(depth);
    } else inner = el.children.map((c) => (typeof c === 'string' ? c : write(c, el.ns, depth + 1))).join('');
    return `<${el.local}${decl}${qdecl}${attrsOf(el)}>${inner}</${el.local}>`;
  };
  return write(root, undefined, 0);
}

/** Repeated elements whose order the schema leaves open: answered in reverse in the `per-element` profile. */
const REORDERED = new Set(['SignResponse', 'Card']);

/**
 * Every element declares its own prefix, chosen by depth: `n0`, `n1`, `n2`, `n0`, … Non-ASCII characters as character
 * references; base64 in lines of 76 characters separated by `&#13;&#10;` (CR LF as references, as Java writers escape
 * CR).
 */
function writePerElement(root: XmlElement): string {
  const write = (el: XmlElement, depth: number): string => {
    const p = `n${depth % 3}`;
    const name = el.ns === '' ? el.local : `${p}:${el.local}`;
    const decl = el.ns === '' ? '' : ` xmlns:${p}="${el.ns}"`;
    let qdecl = '';
    let inner: string;
    if (el.qnameText) {
      // A prefix of its own for the QName, bound to the envelope namespace on this element only.
      qdecl = ` xmlns:c${depth}="${el.qnameText.ns}"`;
      inner = `c${depth}:${el.qnameText.local}`;
    } else if (isBase64Text(el)) {
      inner = lines(el.children[0] as string).join('&#13;&#10;');
    } else {
      const kids = [...el.children];
      const repeated = kids.filter((k): k is XmlElement => typeof k !== 'string' && REORDERED.has(k.local));
      if (repeated.length > 1) {
        const reversed = [...repeated].reverse();
        let j = 0;
        for (let i = 0; i < kids.length; i++) {
          const k = kids[i]!;
          if (typeof k !== 'string' && REORDERED.has(k.local)) kids[i] = reversed[j++]!;
        }
      }
      inner = kids.map((c) => (typeof c === 'string' ? asciiOnly(c) : write(c, depth + 1))).join('');
    }
    // Attributes first, declarations after them: the order of attributes carries no meaning.
    return `<${name}${asciiOnly(attrsOf(el))}${decl}${qdecl}>${inner}</${name}>`;
  };
  return write(root, 0);
}

// ----------------------------------------------------------------------------------------------------------- profile

export interface RenderedResponse {
  status: number;
  contentType: string;
  body: string;
  /** Send with Transfer-Encoding: chunked (no Content-Length), in pieces of this many characters. */
  chunkSize?: number;
}

const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

export class VendorProfile {
  constructor(readonly name: VendorProfileName) {}

  /** How the body element and its descendants are written. */
  private write(root: XmlElement, original: string): string {
    switch (this.name) {
      case 'jaxws':
        return writeJaxws(root);
      case 'default-namespace':
        return writeDefaultNamespace(root);
      case 'per-element':
        return writePerElement(root);
      default:
        return original.replace(/^<\?xml[^>]*\?>/, '');
    }
  }

  /** A SOAP answer (SOAP 1.1 as the simulator builds it) in this profile's style, with its HTTP status. */
  soap(status: number, envelopeXml: string): RenderedResponse {
    const chunkSize = this.name === 'chunked' ? 512 : undefined;
    if (!/^\s*(<\?xml[^>]*\?>)?\s*<[^>]*Envelope\b/.test(envelopeXml)) {
      // Not SOAP (a plain HTTP error page): as it is.
      return { status, contentType: 'text/plain; charset=utf-8', body: envelopeXml, chunkSize };
    }
    if (this.name === 'gematik' || this.name === 'chunked') {
      return { status, contentType: 'text/xml; charset=utf-8', body: envelopeXml, chunkSize };
    }
    const env = parseXml(envelopeXml);
    if (this.name === 'soap12') {
      toSoap12(env);
      return {
        status: status === 500 && isSenderFault(env) ? 400 : status,
        contentType: 'application/soap+xml; charset=utf-8',
        body: DECLARATION + writeGematikSoap12(env),
      };
    }
    // Metro writes its declaration with single quotes.
    const declaration = this.name === 'jaxws' ? "<?xml version='1.0' encoding='UTF-8'?>" : DECLARATION;
    return { status, contentType: 'text/xml; charset=utf-8', body: declaration + this.write(env, envelopeXml) };
  }

  /**
   * connector.sds in this profile's style: rewritten for the three prefix styles, sent chunked by `chunked`, as it is by
   * `gematik` and `soap12` (it is no SOAP message).
   */
  sds(xml: string): RenderedResponse {
    const body =
      this.name === 'jaxws' || this.name === 'default-namespace' || this.name === 'per-element'
        ? `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>${this.write(parseXml(xml), xml)}`
        : xml;
    return {
      status: 200,
      contentType: 'application/xml; charset=utf-8',
      body,
      chunkSize: this.name === 'chunked' ? 512 : undefined,
    };
  }
}

/** SOAP 1.2 with the gematik prefixes kept where they were: `env:` for the envelope, declared on it. */
function writeGematikSoap12(env: XmlElement): string {
  const write = (el: XmlElement): string => {
    if (el.ns === SOAP12_NS) {
      const name = `env:${el.local}`;
      const decl = el.local === 'Envelope' ? ` xmlns:env="${SOAP12_NS}"` : '';
      const inner = el.qnameText
        ? `env:${el.qnameText.local}`
        : el.children.map((c) => (typeof c === 'string' ? c : write(c))).join('');
      return `<${name}${decl}${attrsOf(el)}>${inner}</${name}>`;
    }
    // Below the envelope: the original prefixes and declarations.
    const prefix = [...el.scope].find(([p, uri]) => uri === el.ns && p !== '')?.[0];
    const name = prefix ? `${prefix}:${el.local}` : el.local;
    const decls = [...el.declared].map(([p, uri]) => ` ${p ? `xmlns:${p}` : 'xmlns'}="${uri}"`).join('');
    const inner = el.children.map((c) => (typeof c === 'string' ? c : write(c))).join('');
    return `<${name}${decls}${attrsOf(el)}>${inner}</${name}>`;
  };
  return write(env);
}
