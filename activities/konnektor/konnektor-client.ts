/**
 * The Konnektor client: SOAP (node-soap, our own WSDL subset in ./wsdl) over mutual TLS, with service discovery from
 * `connector.sds`, the call context on every call, and the repairs a client is expected to do itself:
 * - connection problem or HTTP 404 → re-read `connector.sds` (TIP1-A_4967) and, when nothing was sent yet, call again;
 * - stale card handle (4008, 4101, …) → GetCards again and retry once (handles are never persisted, ICCSNs are);
 * - 4252 job number reused → fetch a new one; 4270 UserId reused → activate with a fresh UUIDv4;
 * - a batch refused for a document-level reason (or 4000) → split until the culprit stands alone; only it is rejected;
 *   a 4000 counts as "batch too large" only when the halves then pass, and only for the rest of that run.
 * Everything else surfaces as a `KonnektorError` for the activity to turn into an ApplicationFailure.
 */
import { randomUUID } from 'node:crypto';
import dns from 'node:dns/promises';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import * as soap from 'soap';
import {
  DOCUMENT_LEVEL_FAILURE_TYPES,
  KonnektorError,
  KonnektorFailureType,
  type GematikTrace,
} from '../../domain/konnektor-errors';
import { CardQueue } from './card-queue';
import { CT_NS, ejectCardRequest, requestCardRequest, responseBody } from './card-terminal';
import type { ClientCredentials } from './credentials';
import { parseServiceDirectory, selectEndpoints, type KonnektorEndpoints } from './service-directory';
import { DEFAULT_MAX_CALL_BYTES, formatProblem, MAX_CALL_BYTES, sizeProblem } from './document-checks';
import { formatFor, resultMimeType, type SignatureVariant } from './signature-formats';
import { NOT_SENT_CODES, toKonnektorError, warningsOf } from './soap-faults';
import {
  postSignDocument,
  signDocumentPieces,
  signResponses,
  type ParsedSignResponse,
  type WireSignDocument,
} from './sign-document-wire';
import { createKonnektorAgent, type ServerTrust } from './tls-agent';
import { konnektorCallDuration, signDocumentBatchSize, signDocumentCalls } from '../../metrics/signflow-metrics';

export interface KonnektorContext {
  mandantId: string;
  /** @default 'Z1' */
  clientSystemId: string;
  workplaceId: string;
}

export interface KonnektorClientOptions {
  /** `https://<konnektor>/connector.sds` */
  sdsUrl: string;
  credentials: ClientCredentials;
  trust: ServerTrust;
  context: KonnektorContext;
  /** Use scheme/host/port of `sdsUrl` for every endpoint of the directory. @default false */
  rewriteEndpoints?: boolean;
  /** Timeout of one call in ms. @default 60000 */
  callTimeoutMs?: number;
  /** Extra timeout per document of a SignDocument call in ms. @default 5000 */
  perDocumentTimeoutMs?: number;
  /** Timeout of ActivateComfortSignature (someone enters the PIN) in ms. @default 300000 */
  activationTimeoutMs?: number;
  /** Most SignRequests per SignDocument call (a Konnektor must take at least 50). @default 50 */
  maxRequestsPerCall?: number;
  /** Most bytes of documents per SignDocument call (capped at the spec's 250 MB). @default 32 MiB */
  maxBytesPerCall?: number;
  /** How long the service directory is trusted without re-reading it, in ms. @default 3600000 */
  sdsCacheTtlMs?: number;
}

export interface CardInfo {
  cardHandle: string;
  cardType: string;
  iccsn?: string;
  ctId?: string;
  slotId?: number;
  cardHolderName?: string;
  /** `YYYY-MM-DD` */
  certificateExpirationDate?: string;
  insertTime?: string;
  /** e.g. `4.4.0`; ≥ 4.4 is a G2.1 card (ECC). */
  objectSystemVersion?: string;
}

export interface SignatureModeInfo {
  /** The Konnektor offers SignatureService 7.5 (comfort signature possible at all). */
  comfortSupported: boolean;
  /** SAK_COMFORT_SIGNATURE of the Konnektor. */
  comfortEnabled: boolean;
  /** Configured maximum signatures per comfort session. */
  comfortMax: number;
  /** Configured session duration, seconds. */
  comfortTimerSeconds: number;
  /** Present when a session exists for this card and UserId. */
  session?: { mode: 'PIN' | 'COMFORT'; countRemaining: number; timeRemainingSeconds: number };
  warnings: GematikTrace[];
}

export interface SignRequestInput {
  /** Unique within the call; deterministic per document so a retry is recognisable. */
  requestId: string;
  /**
   * The document, or its size and how to load it: a lazy document is loaded only when the SignDocument call that
   * carries it is written, so a large batch is never in memory as a whole.
   */
  document: Buffer | LazyDocument;
  mimeType: string;
  shortText: string;
}

export interface LazyDocument {
  /** Bytes of the document (decides the calls before anything is loaded). */
  size: number;
  load(): Promise<Buffer>;
}

/** A request whose document is in memory (the requests of the call being written). */
type LoadedRequest = Omit<SignRequestInput, 'document'> & { document: Buffer };

const sizeOf = (r: SignRequestInput) => (Buffer.isBuffer(r.document) ? r.document.length : r.document.size);

export interface SignResult {
  requestId: string;
  variant: SignatureVariant;
  /** CAdES: the detached CMS. PAdES: the signed PDF. */
  signature: Buffer;
  signatureMimeType: string;
  warnings: GematikTrace[];
}

/** A document the Konnektor will not sign (or did not), with the reason; the rest of the batch is unaffected. */
export interface RejectedRequest {
  requestId: string;
  error: KonnektorError;
}

export interface SignBatchOptions {
  /** Called after each SignDocument call with its results, before the next call (record them durably here). */
  onSigned?: (results: SignResult[]) => Promise<void>;
  /**
   * Keep each call's signatures for the returned `results`. `false` (with `onSigned` recording them) returns the
   * results with an empty `signature`, so a large batch's signed documents are never in memory together. @default true
   */
  keepSignatures?: boolean;
  /** Called before each call (activity heartbeat). */
  onProgress?: (done: number, total: number) => void;
}

export interface VerifyInput {
  document: Buffer;
  mimeType: string;
  /** Detached CMS for CAdES; absent for PAdES (the signature is inside the PDF). */
  signature?: Buffer;
}

export interface VerifyResult {
  highLevelResult: 'VALID' | 'INCONCLUSIVE' | 'INVALID';
  valid: boolean;
  timestamp?: string;
  warnings: GematikTrace[];
}

const WSDL_DIR = path.join(__dirname, 'wsdl');
const WSDL = {
  event: path.join(WSDL_DIR, 'EventService_v7_2.wsdl'),
  '7.5': path.join(WSDL_DIR, 'SignatureService_v7_5.wsdl'),
  '7.4': path.join(WSDL_DIR, 'SignatureService_v7_4.wsdl'),
} as const;

const READ_ONLY = new Set(['GetCards', 'GetSignatureMode', 'GetJobNumber', 'VerifyDocument']);
/**
 * `GetCards` filters with the schema's filter value `HBAx` (every HBA generation; `HBA` is a card type, not a filter
 * value, and some Konnektoren answer it with nothing). What comes back is typed HBA, HBA-qSig or ZOD_2.0.
 */
const HBA_FILTER = 'HBAx';
const HBA_TYPES = new Set(['HBA', 'HBA-qSig', 'ZOD_2.0', 'HBAx']);
/**
 * After this many identical TLS handshakes closed by the Konnektor without an alert right after our certificate, the
 * certificate is named as refused (needs a person) instead of retrying: once is a network hiccup, three times in a row
 * within a second is the Konnektor's way of refusing a client certificate.
 */
const CLOSED_HANDSHAKE_LIMIT = 3;

type Node = Record<string, unknown>;

/** A refusal that may concern one document of the call (so the call is split to find it). */
function isDocumentLevel(err: KonnektorError): boolean {
  return err.gematikCode === 4000 || DOCUMENT_LEVEL_FAILURE_TYPES.includes(err.failureType);
}

function obj(v: unknown): Node | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Node) : undefined;
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const o = obj(v);
  if (o && (typeof o.$value === 'string' || typeof o.$value === 'number')) return String(o.$value);
  // fast-xml-parser (the SignDocument answer) keeps an element's text beside its attributes under `#text`.
  if (o && typeof o['#text'] === 'string') return o['#text'];
  return undefined;
}

/** xsd:duration (`PT5H59M30S`, `P1DT2H`) → seconds. */
export function parseXsdDuration(value: string | undefined): number {
  if (!value) return 0;
  const m = /^-?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
    value.trim()
  );
  if (!m) return 0;
  const [, y, mo, d, h, mi, s] = m;
  const n = (x: string | undefined) => (x ? Number(x) : 0);
  return Math.round(n(y) * 31_536_000 + n(mo) * 2_592_000 + n(d) * 86_400 + n(h) * 3600 + n(mi) * 60 + n(s));
}

function versionString(v: unknown): string | undefined {
  const o = obj(v);
  if (!o) return undefined;
  return [str(o.Major), str(o.Minor), str(o.Revision)].map((x) => x ?? '0').join('.');
}

function cardInfoOf(c: unknown): CardInfo {
  const o = obj(c) ?? {};
  const slot = str(o.SlotId);
  return {
    cardHandle: str(o.CardHandle) ?? '',
    cardType: str(o.CardType) ?? '',
    iccsn: str(o.Iccsn),
    ctId: str(o.CtId),
    slotId: slot ? Number(slot) : undefined,
    cardHolderName: str(o.CardHolderName),
    certificateExpirationDate: str(o.CertificateExpirationDate)?.slice(0, 10),
    insertTime: str(o.InsertTime),
    objectSystemVersion: versionString(obj(o.CardVersion)?.ObjectSystemVersion),
  };
}

export class KonnektorClient {
  readonly context: KonnektorContext;
  private readonly options: Required<Omit<KonnektorClientOptions, 'credentials' | 'trust' | 'context'>>;
  private readonly agent: https.Agent;
  private discovered?: { at: number; endpoints: KonnektorEndpoints };
  private discovering?: Promise<KonnektorEndpoints>;
  private readonly soapClients = new Map<string, Promise<soap.Client>>();
  private readonly handles = new Map<string, CardInfo>();
  /** SignDocument calls of this process, one at a time per card handle. */
  private readonly cardQueue = new CardQueue();
  private readonly certificateLabel?: string;
  /** Handshakes the Konnektor closed without an alert after our certificate, in a row, with the same error. */
  private closedHandshakes = { key: '', count: 0 };

  constructor(options: KonnektorClientOptions) {
    this.context = options.context;
    this.options = {
      sdsUrl: options.sdsUrl,
      rewriteEndpoints: options.rewriteEndpoints ?? false,
      callTimeoutMs: options.callTimeoutMs ?? 60_000,
      perDocumentTimeoutMs: options.perDocumentTimeoutMs ?? 5_000,
      activationTimeoutMs: options.activationTimeoutMs ?? 300_000,
      maxRequestsPerCall: options.maxRequestsPerCall ?? 50,
      maxBytesPerCall: Math.min(options.maxBytesPerCall ?? DEFAULT_MAX_CALL_BYTES, MAX_CALL_BYTES),
      sdsCacheTtlMs: options.sdsCacheTtlMs ?? 3_600_000,
    };
    this.agent = createKonnektorAgent({ credentials: options.credentials, trust: options.trust });
    this.certificateLabel = options.credentials.label;
  }

  /** Closes pooled connections. */
  close(): void {
    this.agent.destroy();
  }

  // ---------------------------------------------------------------- discovery

  /** Reads `connector.sds` (cached for `sdsCacheTtlMs`; `force` re-reads). */
  async discover(force = false): Promise<KonnektorEndpoints> {
    const cached = this.discovered;
    if (!force && cached && Date.now() - cached.at < this.options.sdsCacheTtlMs) return cached.endpoints;
    this.discovering ??= this.fetchDirectory().finally(() => {
      this.discovering = undefined;
    });
    return this.discovering;
  }

  private async fetchDirectory(): Promise<KonnektorEndpoints> {
    const xml = await this.httpsGet(this.options.sdsUrl).catch((err: unknown) => {
      throw toKonnektorError(err, 'connector.sds');
    });
    let endpoints: KonnektorEndpoints;
    try {
      endpoints = selectEndpoints(parseServiceDirectory(xml), {
        rewriteToBaseUrl: this.options.rewriteEndpoints ? this.options.sdsUrl : undefined,
      });
    } catch (err) {
      throw new KonnektorError(
        `connector.sds unusable: ${(err as Error).message}`,
        {
          failureType: KonnektorFailureType.KONNEKTOR_CONFIGURATION,
          faultClass: 'needs-person',
          operation: 'connector.sds',
        },
        { cause: err }
      );
    }
    if (!this.options.rewriteEndpoints) await this.checkEndpointHosts(endpoints);
    this.discovered = { at: Date.now(), endpoints };
    return endpoints;
  }

  /**
   * Vendor directories may name hosts only the Konnektor's own network knows (`ksp.….telematik-test`). A host that
   * does not exist in DNS will not start to: say so once, with the fix, instead of retrying it as a network fault.
   * (EAI_AGAIN, a DNS server that does not answer right now, stays transient.)
   */
  private async checkEndpointHosts(endpoints: KonnektorEndpoints): Promise<void> {
    const sdsHost = new URL(this.options.sdsUrl).hostname;
    const hosts = new Set([endpoints.signature.url, endpoints.event.url].map((u) => new URL(u).hostname));
    for (const host of hosts) {
      if (host === sdsHost || net.isIP(host.replace(/^\[|\]$/g, '')) !== 0) continue;
      const code = await dns.lookup(host).then(
        () => undefined,
        (err: unknown) => (err as { code?: string }).code
      );
      if (code === 'ENOTFOUND') {
        throw new KonnektorError(
          `connector.sds names the endpoint host ${host}, which does not resolve here; set SIGNFLOW_KONNEKTOR_REWRITE_ENDPOINTS=true to reach every endpoint through the host of SIGNFLOW_KONNEKTOR_SDS_URL (${sdsHost}), or make ${host} resolvable in the practice network`,
          {
            failureType: KonnektorFailureType.KONNEKTOR_CONFIGURATION,
            faultClass: 'needs-person',
            operation: 'connector.sds',
            transportCode: code,
          }
        );
      }
    }
  }

  private httpsGet(url: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = https.get(url, { agent: this.agent, timeout: this.options.callTimeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            reject(
              Object.assign(new Error(`HTTP ${res.statusCode}`), { response: { status: res.statusCode, data: body } })
            );
          } else {
            resolve(body);
          }
        });
      });
      req.on('timeout', () =>
        req.destroy(Object.assign(new Error('timeout reading connector.sds'), { code: 'ETIMEDOUT' }))
      );
      req.on('error', reject);
    });
  }

  // ---------------------------------------------------------------- SOAP plumbing

  private soapClient(wsdl: string, endpoint: string): Promise<soap.Client> {
    const key = `${wsdl}|${endpoint}`;
    let client = this.soapClients.get(key);
    if (!client) {
      client = soap.createClientAsync(wsdl, { endpoint, disableCache: false });
      client.catch(() => this.soapClients.delete(key));
      this.soapClients.set(key, client);
    }
    return client;
  }

  /**
   * One SOAP call. A connection problem or HTTP 404 re-reads the service directory; the call is repeated at once only
   * when it cannot have reached the Konnektor (or only reads).
   */
  private async call(
    service: 'event' | 'signature',
    operation: string,
    args: unknown,
    timeoutMs: number
  ): Promise<Node> {
    return this.withEndpoints(operation, async (endpoints) => {
      const wsdl = service === 'event' ? WSDL.event : WSDL[endpoints.signature.interfaceVersion];
      const url = service === 'event' ? endpoints.event.url : endpoints.signature.url;
      const client = await this.soapClient(wsdl, url);
      const method = (client as unknown as Record<string, (a: unknown, o: unknown) => Promise<unknown[]>>)[
        `${operation}Async`
      ];
      if (!method) throw new Error(`operation ${operation} is not in ${path.basename(wsdl)}`);
      const [result] = await method.call(client, args, { httpsAgent: this.agent, timeout: timeoutMs });
      return obj(result) ?? {};
    });
  }

  /**
   * Runs one call against the current endpoints. A connection problem or HTTP 404 re-reads the service directory; the
   * call is repeated at once only when it cannot have reached the Konnektor (or only reads).
   */
  private async withEndpoints<T>(operation: string, send: (endpoints: KonnektorEndpoints) => Promise<T>): Promise<T> {
    for (let round = 0; ; round++) {
      let discovered = false;
      const endTimer = konnektorCallDuration.startTimer({ operation });
      try {
        const endpoints = await this.discover(round > 0);
        discovered = true;
        const result = await send(endpoints);
        endTimer({ outcome: 'ok' });
        this.closedHandshakes = { key: '', count: 0 };
        return result;
      } catch (err) {
        endTimer({ outcome: 'error' });
        const kerr = toKonnektorError(err, operation);
        if (kerr.details.handshakeStage === 'keys' && kerr.faultClass === 'transient') {
          // Closed without an alert after our certificate: nothing was sent, so try again at once, a few times.
          const n = this.noteClosedHandshake(kerr);
          if (n >= CLOSED_HANDSHAKE_LIMIT) throw this.certificateRefused(kerr, n);
          await new Promise((r) => setTimeout(r, 200 * n));
          continue;
        }
        if (!discovered) throw kerr;
        const connectionProblem = kerr.details.transportCode !== undefined && kerr.faultClass === 'transient';
        const rediscover = connectionProblem || kerr.details.httpStatus === 404;
        if (rediscover) this.discovered = undefined;
        const safe =
          READ_ONLY.has(operation) ||
          kerr.details.httpStatus === 404 ||
          NOT_SENT_CODES.has(kerr.details.transportCode ?? '');
        if (round === 0 && rediscover && safe) continue;
        throw kerr;
      }
    }
  }

  /** Counts identical handshakes closed after our certificate, in a row (any successful call starts again at 0). */
  private noteClosedHandshake(err: KonnektorError): number {
    const key = `${err.details.transportCode ?? ''}|${err.details.handshakeStage ?? ''}`;
    this.closedHandshakes =
      this.closedHandshakes.key === key ? { key, count: this.closedHandshakes.count + 1 } : { key, count: 1 };
    return this.closedHandshakes.count;
  }

  private certificateRefused(err: KonnektorError, times: number): KonnektorError {
    const cert = this.certificateLabel ?? "signflow's client certificate";
    return new KonnektorError(
      `the Konnektor closed the TLS connection ${times} times in a row without an alert right after receiving ${cert}: it does not accept this client certificate (not registered for the client system, revoked or expired). An admin exports a new client-system certificate from the Konnektor (or registers this one) and configures it`,
      {
        ...err.details,
        failureType: KonnektorFailureType.KONNEKTOR_CLIENT_AUTH_FAILED,
        faultClass: 'needs-person',
      },
      { cause: err }
    );
  }

  private ctx(userId?: string): Node {
    // Key order is the xsd:sequence order: node-soap writes children in object key order.
    const c: Node = {
      MandantId: this.context.mandantId,
      ClientSystemId: this.context.clientSystemId,
      WorkplaceId: this.context.workplaceId,
    };
    if (userId) c.UserId = userId;
    return c;
  }

  // ---------------------------------------------------------------- cards

  /** EventService GetCards filtered on HBAx (all HBA kinds). */
  async getCards(): Promise<CardInfo[]> {
    const res = await this.call(
      'event',
      'GetCards',
      { Context: this.ctx(), CardType: HBA_FILTER },
      this.options.callTimeoutMs
    );
    return arr(obj(res.Cards)?.Card)
      .map(cardInfoOf)
      .filter((c) => c.cardHandle && HBA_TYPES.has(c.cardType));
  }

  /**
   * Resets the eHBA as gemILF_PS A_21528 asks after 4018 (its PIN unlocked under another UserId): EjectCard (ends every
   * card session, comfort sessions included) and RequestCard on the same slot (the terminal asks the card holder to
   * insert it again; `timeoutSeconds` to do so). Needs CardTerminalService in connector.sds; a Konnektor without it
   * gets `KONNEKTOR_CONFIGURATION` with the manual way (pull and re-insert the card).
   */
  async resetCard(
    iccsn?: string,
    timeoutSeconds = 120
  ): Promise<{ before: CardInfo; after: CardInfo; alreadyInserted: boolean }> {
    const endpoints = await this.discover();
    const service = endpoints.cardTerminal;
    if (!service) {
      throw new KonnektorError(
        'the Konnektor offers no CardTerminalService (EjectCard/RequestCard) in connector.sds: pull the eHBA from the card terminal and insert it again, then activate the comfort signature',
        {
          failureType: KonnektorFailureType.KONNEKTOR_CONFIGURATION,
          faultClass: 'needs-person',
          operation: 'EjectCard',
        }
      );
    }
    const before = await this.findHbaCard(iccsn);
    if (!before.ctId || before.slotId === undefined) {
      throw new KonnektorError(
        `GetCards names no card terminal and slot for eHBA ${before.iccsn ?? before.cardHandle}`,
        {
          failureType: KonnektorFailureType.KONNEKTOR_UNKNOWN_ERROR,
          faultClass: 'needs-person',
          operation: 'GetCards',
        }
      );
    }
    const slot = { ctId: before.ctId, slotId: before.slotId };
    const post = (operation: 'EjectCard' | 'RequestCard', xml: string, timeoutMs: number) =>
      this.withEndpoints(operation, async (current) => {
        const answer = await postSignDocument([xml], {
          url: current.cardTerminal?.url ?? service.url,
          agent: this.agent,
          soapAction: `${CT_NS}#${operation}`,
          timeoutMs,
        });
        const text = answer.body.toString('utf8');
        if (answer.status !== 200) {
          throw Object.assign(new Error(`HTTP ${answer.status}`), { response: { status: answer.status, data: text } });
        }
        return responseBody(text, operation) ?? {};
      });
    await post(
      'EjectCard',
      ejectCardRequest(this.context, before.cardHandle, 'signflow: eHBA wird zurückgesetzt'),
      this.options.callTimeoutMs
    );
    this.handles.clear();
    const res = await post(
      'RequestCard',
      requestCardRequest(this.context, slot, 'Bitte eHBA wieder stecken', timeoutSeconds),
      this.options.callTimeoutMs + timeoutSeconds * 1000
    );
    const card = obj(res.Card);
    const after = card ? cardInfoOf(card) : await this.findHbaCard(iccsn);
    return { before, after, alreadyInserted: str(res.AlreadyInserted) === 'true' };
  }

  /**
   * The eHBA to sign with: the one with `iccsn`, or the only/first HBA. `CARD_MISSING` when there is none;
   * `CERTIFICATE_INVALID` when its certificate has expired.
   */
  async findHbaCard(iccsn?: string, now: Date = new Date()): Promise<CardInfo> {
    const cards = await this.getCards();
    const card = iccsn ? cards.find((c) => c.iccsn === iccsn) : cards[0];
    if (!card) {
      throw new KonnektorError(
        iccsn
          ? `eHBA ${iccsn} is not inserted (found: ${cards.map((c) => c.iccsn ?? c.cardHandle).join(', ') || 'no HBA'})`
          : 'no eHBA inserted',
        { failureType: KonnektorFailureType.CARD_MISSING, faultClass: 'needs-person', operation: 'GetCards' }
      );
    }
    if (card.certificateExpirationDate && card.certificateExpirationDate < now.toISOString().slice(0, 10)) {
      throw new KonnektorError(
        `the QES certificate of eHBA ${card.iccsn ?? card.cardHandle} expired on ${card.certificateExpirationDate}`,
        {
          failureType: KonnektorFailureType.CERTIFICATE_INVALID,
          faultClass: 'needs-person',
          operation: 'GetCards',
        }
      );
    }
    this.handles.set(iccsn ?? '', card);
    return card;
  }

  /** Runs `fn` with the card's current handle; a stale handle is resolved again once. */
  async withCard<T>(iccsn: string | undefined, fn: (card: CardInfo) => Promise<T>): Promise<T> {
    const cached = this.handles.get(iccsn ?? '');
    const card = cached ?? (await this.findHbaCard(iccsn));
    try {
      return await fn(card);
    } catch (err) {
      if (!(err instanceof KonnektorError) || err.failureType !== KonnektorFailureType.CARD_HANDLE_STALE) throw err;
      this.handles.delete(iccsn ?? '');
      const fresh = await this.findHbaCard(iccsn);
      return fn(fresh);
    }
  }

  // ---------------------------------------------------------------- comfort signature

  async getSignatureMode(cardHandle: string, userId: string): Promise<SignatureModeInfo> {
    const endpoints = await this.discover();
    if (!endpoints.signature.comfortSignature) {
      return { comfortSupported: false, comfortEnabled: false, comfortMax: 0, comfortTimerSeconds: 0, warnings: [] };
    }
    const res = await this.call(
      'signature',
      'GetSignatureMode',
      { CardHandle: cardHandle, Context: this.ctx(userId) },
      this.options.callTimeoutMs
    );
    const session = obj(res.SessionInfo);
    return {
      comfortSupported: true,
      comfortEnabled: str(res.ComfortSignatureStatus) === 'ENABLED',
      comfortMax: Number(str(res.ComfortSignatureMax) ?? 0),
      comfortTimerSeconds: parseXsdDuration(str(res.ComfortSignatureTimer)),
      session: session
        ? {
            mode: str(session.SignatureMode) === 'COMFORT' ? 'COMFORT' : 'PIN',
            countRemaining: Number(str(session.CountRemaining) ?? 0),
            timeRemainingSeconds: parseXsdDuration(str(session.TimeRemaining)),
          }
        : undefined,
      warnings: warningsOf(res.Status),
    };
  }

  /**
   * ActivateComfortSignature with a fresh UUIDv4 as UserId (retried with another one on 4270). Blocks until the card
   * holder has entered the PIN at the terminal (or the Konnektor gives up). Returns the UserId of the session.
   */
  async activateComfortSignature(
    cardHandle: string
  ): Promise<{ userId: string; mode: 'PIN' | 'COMFORT'; warnings: GematikTrace[] }> {
    const endpoints = await this.discover();
    if (!endpoints.signature.comfortSignature) {
      throw new KonnektorError(
        `the Konnektor offers SignatureService ${endpoints.signature.version} only; comfort signature needs 7.5`,
        {
          failureType: KonnektorFailureType.COMFORT_SIGNATURE_DISABLED,
          faultClass: 'needs-person',
          operation: 'ActivateComfortSignature',
        }
      );
    }
    for (let attempt = 1; ; attempt++) {
      const userId = randomUUID();
      try {
        const res = await this.call(
          'signature',
          'ActivateComfortSignature',
          { CardHandle: cardHandle, Context: this.ctx(userId) },
          this.options.activationTimeoutMs
        );
        return {
          userId,
          mode: str(res.SignatureMode) === 'COMFORT' ? 'COMFORT' : 'PIN',
          warnings: warningsOf(res.Status),
        };
      } catch (err) {
        if (err instanceof KonnektorError && err.failureType === KonnektorFailureType.USER_ID_REUSED && attempt < 3)
          continue;
        throw err;
      }
    }
  }

  /** Ends ALL comfort sessions of these cards (every client system, every UserId). */
  async deactivateComfortSignature(cardHandles: string[]): Promise<{ warnings: GematikTrace[] }> {
    const endpoints = await this.discover();
    if (!endpoints.signature.comfortSignature) return { warnings: [] };
    const res = await this.call(
      'signature',
      'DeactivateComfortSignature',
      { CardHandle: cardHandles },
      this.options.callTimeoutMs
    );
    return { warnings: warningsOf(res.Status) };
  }

  // ---------------------------------------------------------------- signing

  async getJobNumber(): Promise<string> {
    const res = await this.call('signature', 'GetJobNumber', { Context: this.ctx() }, this.options.callTimeoutMs);
    const job = str(res.JobNumber);
    if (!job) throw new Error('GetJobNumber answered without JobNumber');
    return job;
  }

  /** The configured largest batch per SignDocument call (a 4000 lowers it only within one `signDocuments` run). */
  get maxRequestsPerCall(): number {
    return this.options.maxRequestsPerCall;
  }

  /**
   * QES for many documents, as SignDocument calls of at most `maxRequestsPerCall` requests and `maxBytesPerCall` bytes
   * of documents each (all-or-nothing per call, as the Konnektor treats them). `onSigned` runs after each call, before
   * the next one.
   *
   * One unfit document never blocks the others:
   * - documents over 25 MB or not in a QES format are not sent; they come back in `rejected`;
   * - a call the Konnektor refuses for a document-level reason (4110, 4112, 4124, 4208, 4262, 4280, 4283, or 4000) is
   *   split in halves until the culprit stands alone; it goes to `rejected`, the rest is signed.
   * A 4000 is read as "too many requests" only when the halves of the refused call then pass: the smaller size holds
   * for the rest of this run only, the next run starts at the configured size again. A 4000 that every single request
   * gets (nothing signs) is a request signflow builds wrongly: it is thrown, not pinned on a document.
   */
  async signDocuments(
    cardHandle: string,
    userId: string,
    requests: SignRequestInput[],
    options: SignBatchOptions = {}
  ): Promise<{ results: SignResult[]; rejected: RejectedRequest[]; calls: number }> {
    const results: SignResult[] = [];
    const rejected: RejectedRequest[] = [];
    let calls = 0;
    let limit = this.options.maxRequestsPerCall;
    const maxBytes = this.options.maxBytesPerCall;
    const fit: SignRequestInput[] = [];
    for (const r of requests) {
      const problem = sizeProblem(r.requestId, sizeOf(r));
      if (problem) rejected.push({ requestId: r.requestId, error: problem });
      else fit.push(r);
    }
    // One signature type per call (gemILF_PS 4.4.1: no mixing); PAdES first, in request order otherwise.
    const queue = [...fit].sort(
      (a, b) => Number(formatFor(b.mimeType).variant === 'PAdES') - Number(formatFor(a.mimeType).variant === 'PAdES')
    );
    /** The next call: by count and by document bytes (a single document over the byte budget goes alone). */
    const nextChunk = (): SignRequestInput[] => {
      const variant = formatFor(queue[0]!.mimeType).variant;
      const chunk: SignRequestInput[] = [];
      let bytes = 0;
      while (queue.length > 0 && chunk.length < limit && formatFor(queue[0]!.mimeType).variant === variant) {
        const size = sizeOf(queue[0]!);
        if (chunk.length > 0 && bytes + size > maxBytes) break;
        bytes += size;
        chunk.push(queue.shift()!);
      }
      return chunk;
    };
    /** Loads the chunk's documents; one not of a QES format is rejected here, the others go. */
    const load = async (chunk: SignRequestInput[]): Promise<LoadedRequest[]> => {
      const loaded: LoadedRequest[] = [];
      for (const r of chunk) {
        const document = Buffer.isBuffer(r.document) ? r.document : await r.document.load();
        const problem = sizeProblem(r.requestId, document.length) ?? formatProblem(r.requestId, r.mimeType, document);
        if (problem) rejected.push({ requestId: r.requestId, error: problem });
        else loaded.push({ ...r, document });
      }
      return loaded;
    };
    /** Halves of refused calls still to try; `group` ties halves to the refused call. */
    const split: {
      chunk: LoadedRequest[];
      group?: { size: number; code: number; open: number; culprit: boolean };
    }[] = [];
    /** Single requests refused with 4000: a culprit only if anything else signs. */
    const suspects: RejectedRequest[] = [];
    while (queue.length > 0 || split.length > 0) {
      const item = split.shift() ?? { chunk: await load(nextChunk()) };
      const { chunk, group } = item;
      if (chunk.length === 0) continue;
      options.onProgress?.(results.length, requests.length);
      try {
        calls++;
        signDocumentCalls.inc();
        signDocumentBatchSize.observe(chunk.length);
        const signed = await this.signChunk(cardHandle, userId, chunk);
        await options.onSigned?.(signed);
        results.push(
          ...(options.keepSignatures === false ? signed.map((r) => ({ ...r, signature: Buffer.alloc(0) })) : signed)
        );
        if (group && --group.open === 0 && !group.culprit && group.code === 4000) {
          // Both halves of a call refused with 4000 passed: that call had more requests than this Konnektor takes.
          limit = Math.min(limit, Math.ceil(group.size / 2));
        }
      } catch (err) {
        if (!(err instanceof KonnektorError) || !isDocumentLevel(err)) throw err;
        if (group) group.culprit = true;
        if (chunk.length > 1) {
          const half = Math.ceil(chunk.length / 2);
          const g = { size: chunk.length, code: err.gematikCode ?? 0, open: 2, culprit: false };
          split.unshift({ chunk: chunk.slice(0, half), group: g }, { chunk: chunk.slice(half), group: g });
          continue;
        }
        const one = { requestId: chunk[0]!.requestId, error: err };
        if (err.gematikCode === 4000) suspects.push(one);
        else rejected.push(one);
      }
    }
    if (suspects.length > 0) {
      // Nothing signed, every request refused as syntax: the request itself is wrong (a bug), not a document.
      if (results.length === 0) throw suspects[0]!.error;
      for (const s of suspects) {
        rejected.push({
          requestId: s.requestId,
          error: new KonnektorError(
            `the Konnektor refused only the request of document ${s.requestId} (4000: ${s.error.details.konnektorText ?? s.error.message})`,
            { ...s.error.details, failureType: KonnektorFailureType.DOCUMENT_REJECTED, faultClass: 'needs-person' },
            { cause: s.error }
          ),
        });
      }
    }
    // In request order, however the documents were found unfit (before the call, when loaded, by the Konnektor).
    const order = new Map(requests.map((r, i) => [r.requestId, i]));
    rejected.sort((a, b) => (order.get(a.requestId) ?? 0) - (order.get(b.requestId) ?? 0));
    return { results, rejected, calls };
  }

  private async signChunk(cardHandle: string, userId: string, chunk: LoadedRequest[]): Promise<SignResult[]> {
    const endpoints = await this.discover();
    const formats = new Map(chunk.map((r) => [r.requestId, formatFor(r.mimeType)]));
    for (let attempt = 1; ; attempt++) {
      const jobNumber = await this.getJobNumber();
      // xsd:sequence order: CardHandle, Crypt?, Context, TvMode, JobNumber?, SignRequest+. `Crypt` only where the
      // exact schema version has it (not in 7.4.0): RSA_ECC = RSA on older cards, ECC on G2.1 (gemILF_PS).
      const call: WireSignDocument = {
        namespace: `http://ws.gematik.de/conn/SignatureService/v${endpoints.signature.interfaceVersion}`,
        cardHandle,
        crypt: endpoints.signature.crypt ? 'RSA_ECC' : undefined,
        context: { ...this.context, userId },
        jobNumber,
        includeRevocationInfo: endpoints.signature.interfaceVersion === '7.5',
        requests: chunk.map((r) => {
          const f = formats.get(r.requestId)!;
          return {
            requestId: r.requestId,
            signatureType: f.signatureType,
            includeEContent: f.includeEContent,
            shortText: r.shortText,
            mimeType: f.mimeType,
            document: r.document,
          };
        }),
      };
      try {
        // Documents, job number and request are ready before the card is free (the eHBA's signer prepares its next
        // call while the card signs the current one): only sending waits for the card.
        const pieces = signDocumentPieces(call);
        const res = await this.withEndpoints('SignDocument', async (current) => {
          const answer = await this.cardQueue.run(cardHandle, () =>
            postSignDocument(pieces, {
              url: current.signature.url,
              agent: this.agent,
              soapAction: `${call.namespace}#SignDocument`,
              timeoutMs: this.options.callTimeoutMs + this.options.perDocumentTimeoutMs * chunk.length,
            })
          );
          if (answer.status !== 200) {
            throw Object.assign(new Error(`HTTP ${answer.status}`), {
              response: { status: answer.status, data: answer.body.toString('utf8') },
            });
          }
          return [...signResponses(answer.body)];
        });
        return this.readSignResponses(res, chunk, formats);
      } catch (err) {
        if (err instanceof KonnektorError && err.failureType === KonnektorFailureType.JOB_NUMBER_REUSED && attempt < 3)
          continue;
        throw err;
      }
    }
  }

  private readSignResponses(
    responses: ParsedSignResponse[],
    chunk: LoadedRequest[],
    formats: Map<string, ReturnType<typeof formatFor>>
  ): SignResult[] {
    const byId = new Map<string, ParsedSignResponse>();
    for (const r of responses) {
      const id = str(obj(r.node.attributes)?.RequestID);
      if (id) byId.set(id, r);
    }
    return chunk.map((req) => {
      const r = byId.get(req.requestId);
      const f = formats.get(req.requestId)!;
      const withSig = r?.binary.get('DocumentWithSignature/Base64Data');
      const detached = r?.binary.get('SignatureObject/Base64Signature');
      const signature = f.variant === 'PAdES' ? (withSig ?? detached) : (detached ?? withSig);
      if (!r || !signature || signature.length === 0) {
        throw new KonnektorError(`SignDocument returned no signature for request ${req.requestId}`, {
          failureType: KonnektorFailureType.KONNEKTOR_UNKNOWN_ERROR,
          faultClass: 'needs-person',
          operation: 'SignDocument',
        });
      }
      return {
        requestId: req.requestId,
        variant: f.variant,
        signature,
        signatureMimeType: resultMimeType(f.variant),
        warnings: warningsOf(r.node.Status),
      };
    });
  }

  async verifyDocument(input: VerifyInput): Promise<VerifyResult> {
    const f = formatFor(input.mimeType);
    const args: Node = {
      Context: this.ctx(),
      TvMode: 'NONE',
      Document: { Base64Data: { attributes: { MimeType: f.mimeType }, $value: input.document.toString('base64') } },
    };
    if (input.signature) {
      args.SignatureObject = {
        Base64Signature: { attributes: { Type: f.signatureType }, $value: input.signature.toString('base64') },
      };
    }
    args.IncludeRevocationInfo = false;
    const res = await this.call('signature', 'VerifyDocument', args, this.options.callTimeoutMs);
    const vr = obj(res.VerificationResult);
    const high = str(vr?.HighLevelResult);
    const highLevelResult = high === 'VALID' || high === 'INVALID' ? high : 'INCONCLUSIVE';
    return {
      highLevelResult,
      valid: highLevelResult === 'VALID',
      timestamp: str(vr?.Timestamp),
      warnings: warningsOf(res.Status),
    };
  }
}
