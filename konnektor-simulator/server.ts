/**
 * The Konnektor simulator as a server: HTTPS with mutual TLS (client certificates of its own CA only), `connector.sds`,
 * the SOAP endpoints of EventService 7.2 and SignatureService 7.4/7.5 (SOAPAction checked, GERROR faults with HTTP
 * 500), fault injection, and a plain-HTTP admin endpoint on loopback.
 *
 * Embeddable (`startKonnektorSimulator`) for tests and the dev stack; `main.ts` runs it standalone.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { FaultInjector, type FaultConfig } from './faults';
import {
  defaultCards,
  isHba,
  KonnektorFault,
  newCardHandle,
  SimulatedKonnektor,
  UnknownOperation,
  type ComfortConfig,
  type InformationModel,
  type PinOutcome,
  type ServiceKind,
  type SimCard,
} from './konnektor';
import {
  loadOrCreatePki,
  loadOrIssueClientBundle,
  type ClientBundle,
  type HbaKeyAlgorithm,
  type P12Format,
  type SimulatorPki,
} from './pki';
import { KeyedSerializer } from './card-lock';
import { checkCardTerminalRequest } from './card-terminal';
import { schemaDirUsable, SchemaValidator, xmllintInstalled } from './schema-check';
import { connectorSds, DEFAULT_SIGNATURE_VERSIONS, PATHS, signatureEndpoints } from './sds';
import { envelope, faultEnvelope, NS, parseRequest, el, textOf, txt } from './soap-xml';
import { vendorProfile, type RenderedResponse, type VendorProfileName } from './vendor-profiles';

export interface KonnektorSimulatorOptions {
  /** HTTPS port; 0 = any free port. @default 0 */
  port?: number;
  /** Bind address. @default '127.0.0.1' */
  host?: string;
  /** Host name written into connector.sds endpoints. @default the bind address */
  advertisedHost?: string;
  /** Admin HTTP port on 127.0.0.1; 0 = any free port, `false` = no admin server. @default 0 */
  adminPort?: number | false;
  /** Where the CA, certificates and issued client ZIPs are kept; undefined = in memory (a new PKI per start). */
  dataDir?: string;
  infoModel?: Partial<InformationModel>;
  comfort?: Partial<ComfortConfig>;
  /** Offer SignatureService 7.5 (comfort signature). `false` simulates an older Konnektor with 7.4 only. @default true */
  offer75?: boolean;
  /** Offer CardTerminalService 1.1 (EjectCard/RequestCard, the reset of A_21528). @default true */
  offerCardTerminalService?: boolean;
  /**
   * The SignatureService versions in connector.sds, each on its own endpoint, e.g. `['7.4.0']` for a KoPS or RISE
   * PTV3. @default ['7.4.0', '7.4.2', '7.5.5']
   */
  signatureVersions?: readonly string[];
  /**
   * Validate every request against the official XSD of the endpoint's exact version (4000 with xmllint's message) and
   * check document content against its MIME type (4110). Needs the gematik schemas (`schemaDir`) and xmllint; without
   * them it warns once and runs lax. @default true under NODE_ENV=test or SIGNFLOW_KONNEKTOR_SIM_STRICT=true
   */
  strict?: boolean;
  /** Folder holding the gematik `conn/`, `tel/`, `ext/` schemas. @default SIGNFLOW_KONNEKTOR_SIM_SCHEMA_DIR, else the shared konnektor-spec folder beside the repository */
  schemaDir?: string;
  /** Kind of .p12 in the client ZIP: `legacy` (RC2/3DES, refused by OpenSSL 3) or `modern` (AES). @default 'legacy' */
  clientP12Format?: P12Format;
  /** @default 250 */
  maxSignRequests?: number;
  /** @default 3 */
  maxSessionsPerCard?: number;
  pin?: { outcome?: PinOutcome; delayMs?: number };
  faults?: Partial<FaultConfig>;
  /** The simulator's clock (ms since epoch); the admin `clock` endpoint adds an offset. @default Date.now */
  now?: () => number;
  /** The eHBA; `cardType` as the Konnektor reports it (HBA, HBA-qSig for older ones, ZOD_2.0). @default 'HBA' */
  hba?: {
    iccsn?: string;
    holderName?: string;
    certificateValidityYears?: number;
    cardType?: SimCard['type'];
    /**
     * `ECC`: a G2.1 eHBA (object system 4.5.0) with a brainpoolP256r1 and an RSA-2048 QES key; it signs with ECDSA
     * (ecdsa-with-SHA256) unless a request's `SIG:Crypt` is `RSA`. `RSA`: an older eHBA (object system 4.3.0) with an
     * RSA key only (sha256WithRSAEncryption; `Crypt=ECC` → 4000). @default 'ECC'
     */
    qesKey?: HbaKeyAlgorithm;
  };
  /** ECDHE groups the TLS server accepts, e.g. `brainpoolP256r1:brainpoolP384r1` (then TLS 1.2 only). @default Node's */
  tlsGroups?: string;
  /**
   * Client certificates (by CN = client system id) the Konnektor no longer accepts and refuses the way some do: by
   * closing the TCP connection in the middle of the TLS handshake, right after receiving the certificate, without an
   * alert. Set (even empty), the server speaks TLS 1.2 only (in 1.3 the client's certificate arrives after its
   * handshake is done), which `closeNextHandshakes` needs too.
   */
  closeOnClientCertificates?: string[];
  /**
   * How answers are serialised, as different vendors' Konnektoren do (same behaviour, other wire format): `gematik`,
   * `jaxws`, `default-namespace`, `per-element`, `chunked`, `soap12` (see vendor-profiles.ts). Also used for
   * connector.sds. @default SIGNFLOW_KONNEKTOR_SIM_VENDOR_PROFILE, else 'gematik'
   */
  vendorProfile?: VendorProfileName;
  /** Log one line per call to stdout. @default false */
  log?: boolean;
}

export interface RecordedCall {
  path: string;
  soapAction: string;
  operation: string;
  request: string;
  response: string;
  httpStatus: number;
  /** When the request had arrived whole (epoch ms). */
  receivedAt?: number;
  /** SignDocument: when the card started on this call (epoch ms); later than `receivedAt` while it was busy. */
  cardStartedAt?: number;
  /** When the answer was sent (epoch ms). */
  answeredAt?: number;
  /** SignDocument: the card and the number of documents. */
  cardHandle?: string;
  documents?: number;
}

/** One SignDocument call as the card saw it (epoch ms). */
export interface CardCall {
  cardHandle: string;
  documents: number;
  receivedAt: number;
  cardStartedAt: number;
  answeredAt: number;
  httpStatus: number;
}

export interface SimulatorAdmin {
  faults: FaultInjector;
  /** Shifts the simulator's clock (comfort timers) by `ms`. */
  advanceClock(ms: number): void;
  setComfort(c: Partial<ComfortConfig>): void;
  setPin(p: { outcome?: PinOutcome; delayMs?: number }): void;
  /** Pulls (false) or inserts (true) the eHBA; inserting gives it a new card handle, as a real Konnektor does. */
  setHbaInserted(inserted: boolean): void;
  cards(): SimCard[];
  sessions(): SimulatedKonnektor['sessions'];
  stats(): SimulatedKonnektor['stats'];
  /** The last 500 SOAP calls with their raw XML. */
  calls(): RecordedCall[];
  /** Every SignDocument call since the last `clearCalls` (without bodies, not capped at 500): when the card worked. */
  cardCalls(): CardCall[];
  clearCalls(): void;
  /** The next `count` TLS handshakes are closed without an alert after the client certificate (whoever it is). */
  closeNextHandshakes(count: number): void;
  /** Handshakes closed so far by `closeOnClientCertificates` or `closeNextHandshakes`. */
  closedHandshakes(): number;
  /** Issues (or loads) the client ZIP of another client system id. */
  issueClientZip(clientSystemId: string, format?: P12Format): ClientBundle;
}

export interface RunningKonnektorSimulator {
  url: string;
  /** The serialisation style of its answers. */
  vendorProfile: VendorProfileName;
  /** Requests are schema-validated (strict mode asked for and schemas plus xmllint found). */
  strict: boolean;
  sdsUrl: string;
  adminUrl?: string;
  /** The client-system ZIP (.p12 + password file) as the management UI exports it. */
  clientZip: Buffer;
  clientSystemId: string;
  caPem: string;
  /** SHA-256 of the server certificate, `AA:BB:…`. */
  fingerprint: string;
  /** The CN of the server certificate (ICCSN-date), for the identity check. */
  serverIdentity: string;
  hbaIccsn: string;
  pki: SimulatorPki;
  admin: SimulatorAdmin;
  close(): Promise<void>;
}

/** Where the gematik schemas are looked for when neither the option nor the variable names a folder. */
function defaultSchemaDir(): string | undefined {
  return (
    process.env.SIGNFLOW_KONNEKTOR_SIM_SCHEMA_DIR ?? path.resolve(__dirname, '..', '..', 'shared', 'konnektor-spec')
  );
}

const SOAP_NS: Record<ServiceKind, string> = {
  event: 'http://ws.gematik.de/conn/EventService/v7.2',
  sig75: NS.SIG75,
  sig74: NS.SIG74,
  cardterminal: NS.CT,
};

/** The request body; beyond `limit` the rest is read and dropped (`tooLarge`), so the Konnektor can still answer 4283. */
function readBody(req: http.IncomingMessage, limit = 300 * 1024 * 1024): Promise<{ text: string; tooLarge: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.on('end', () =>
      resolve({ text: size > limit ? '' : Buffer.concat(chunks).toString('utf8'), tooLarge: size > limit })
    );
    req.on('error', reject);
  });
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

/** Writes a rendered answer: with Content-Length, or chunked in small pieces (no Content-Length) when the profile says so. */
function writeResponse(res: http.ServerResponse, out: RenderedResponse): void {
  if (out.chunkSize === undefined) {
    res.writeHead(out.status, { 'Content-Type': out.contentType, 'Content-Length': Buffer.byteLength(out.body) });
    res.end(out.body);
    return;
  }
  res.writeHead(out.status, { 'Content-Type': out.contentType, 'Transfer-Encoding': 'chunked' });
  const bytes = Buffer.from(out.body, 'utf8');
  // Chunk borders fall anywhere, also inside a multi-byte character or a tag.
  for (let at = 0; at < bytes.length; at += out.chunkSize) res.write(bytes.subarray(at, at + out.chunkSize));
  res.end();
}

function plainSoapFault(code: 'soap:Client' | 'soap:Server', text: string): string {
  return envelope(el('soap:Fault', [txt('faultcode', code), txt('faultstring', text)]));
}

function listen(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

export async function startKonnektorSimulator(
  opts: KonnektorSimulatorOptions = {}
): Promise<RunningKonnektorSimulator> {
  const profile = vendorProfile(opts.vendorProfile ?? process.env.SIGNFLOW_KONNEKTOR_SIM_VENDOR_PROFILE);
  const host = opts.host ?? '127.0.0.1';
  const hbaIccsn = opts.hba?.iccsn ?? '80276001011699910102';
  const holderName = opts.hba?.holderName ?? 'Dr. Erika Mustermann';
  const pkiDir = opts.dataDir ? path.resolve(opts.dataDir) : undefined;
  const pki = loadOrCreatePki(pkiDir, {
    konnektorIccsn: '80276883110000117894',
    hbaIccsn,
    hbaHolderName: holderName,
    hbaValidityYears: opts.hba?.certificateValidityYears,
  });
  const infoModel: InformationModel = {
    mandantId: opts.infoModel?.mandantId ?? 'Mandant1',
    clientSystemIds: opts.infoModel?.clientSystemIds ?? ['Z1'],
    workplaceIds: opts.infoModel?.workplaceIds ?? ['Arbeitsplatz1'],
  };
  const clientSystemId = infoModel.clientSystemIds[0] ?? 'Z1';
  const p12Format = opts.clientP12Format ?? 'legacy';
  const bundle = loadOrIssueClientBundle(pkiDir, pki.ca, clientSystemId, p12Format);
  if (pkiDir) fs.writeFileSync(path.join(pkiDir, 'client.zip'), bundle.zip, { mode: 0o600 });

  let clockOffset = 0;
  const baseNow = opts.now ?? Date.now;
  const now = () => new Date(baseNow() + clockOffset);
  const hbaCertNotAfter = new Date(
    Date.now() + (opts.hba?.certificateValidityYears ?? 5) * 365 * 24 * 3600_000 - 24 * 3600_000
  );
  const comfort: ComfortConfig = {
    enabled: opts.comfort?.enabled ?? true,
    max: Math.min(250, Math.max(1, opts.comfort?.max ?? 100)),
    timerSeconds: Math.min(24 * 3600, Math.max(1, opts.comfort?.timerSeconds ?? 6 * 3600)),
  };
  const konnektor = new SimulatedKonnektor({
    pki,
    infoModel,
    comfort,
    cards: defaultCards(now(), hbaIccsn, holderName, hbaCertNotAfter, opts.hba?.qesKey ?? 'ECC'),
    now,
    maxSignRequests: Math.max(1, opts.maxSignRequests ?? 250),
    maxSessionsPerCard: Math.max(1, opts.maxSessionsPerCard ?? 3),
    pin: { outcome: opts.pin?.outcome ?? 'ok', delayMs: opts.pin?.delayMs ?? 0 },
  });
  if (opts.hba?.cardType) konnektor.cards.find(isHba)!.type = opts.hba.cardType;
  const faults = new FaultInjector(opts.faults);
  const offer75 = opts.offer75 ?? true;
  const offerCardTerminalService = opts.offerCardTerminalService ?? true;
  const signatureVersions = opts.signatureVersions ?? DEFAULT_SIGNATURE_VERSIONS;
  const sigEndpoints = signatureEndpoints(signatureVersions, offer75);
  const wantStrict =
    opts.strict ?? (process.env.NODE_ENV === 'test' || process.env.SIGNFLOW_KONNEKTOR_SIM_STRICT === 'true');
  const schemaDir = opts.schemaDir ?? defaultSchemaDir();
  let validator: SchemaValidator | undefined;
  if (wantStrict) {
    if (schemaDirUsable(schemaDir) && xmllintInstalled()) validator = new SchemaValidator(schemaDir);
    else
      console.warn(
        `[konnektor-sim] strict mode off: ${schemaDirUsable(schemaDir) ? 'xmllint not installed' : `no gematik schemas at ${schemaDir ?? '(unset)'}`}`
      );
  }
  konnektor.o.strict = validator !== undefined;
  const calls: RecordedCall[] = [];
  const cardCalls: CardCall[] = [];
  const cardLocks = new KeyedSerializer();
  const record = (c: RecordedCall) => {
    calls.push(c);
    if (c.operation === 'SignDocument' && c.cardStartedAt !== undefined) {
      cardCalls.push({
        cardHandle: c.cardHandle ?? '',
        documents: c.documents ?? 0,
        receivedAt: c.receivedAt ?? c.cardStartedAt,
        cardStartedAt: c.cardStartedAt,
        answeredAt: c.answeredAt ?? c.cardStartedAt,
        httpStatus: c.httpStatus,
      });
    }
    if (calls.length > 500) calls.shift();
    if (opts.log) console.log(`[konnektor-sim] ${c.operation || c.path} → ${c.httpStatus}`);
  };

  let baseUrl = '';
  const sockets = new Set<net.Socket>();

  const handler = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://x');
    const peer = (req.socket as TLSSocket).getPeerCertificate?.();
    const cnField = peer?.subject?.CN;
    const clientCn = Array.isArray(cnField) ? cnField[0] : cnField;
    if (req.method === 'GET' && url.pathname === PATHS.sds) {
      writeResponse(
        res,
        profile.sds(connectorSds({ baseUrl, offer75, signatureVersions, offerCardTerminalService, now: now() }))
      );
      return;
    }
    const sigEndpoint = sigEndpoints.find((e) => e.path === url.pathname);
    const service: ServiceKind | undefined =
      url.pathname === PATHS.event
        ? 'event'
        : url.pathname === PATHS.cardTerminal && offerCardTerminalService
          ? 'cardterminal'
          : sigEndpoint
            ? sigEndpoint.family === '7.5'
              ? 'sig75'
              : 'sig74'
            : undefined;
    if (!service || req.method !== 'POST') {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
      return;
    }
    const { text: body, tooLarge } = await readBody(req);
    const receivedAt = Date.now();
    let cardStartedAt: number | undefined;
    let cardHandle: string | undefined;
    let documents: number | undefined;
    const soapAction = String(req.headers.soapaction ?? '').replace(/^"|"$/g, '');
    const parsed = parseRequest(body);
    const operation = parsed?.operation ?? '';
    const send = (httpStatus: number, xml: string) => {
      const out = profile.soap(httpStatus, xml);
      record({
        path: url.pathname,
        soapAction,
        operation,
        request: body,
        response: out.body,
        httpStatus: out.status,
        receivedAt,
        cardStartedAt,
        answeredAt: Date.now(),
        cardHandle,
        documents,
      });
      writeResponse(res, out);
    };
    if (tooLarge) {
      // Far beyond 250 MB per call: answered like any oversized call, not with a dropped connection.
      return send(
        500,
        faultEnvelope(new KonnektorFault(4283, 'Dokumente zu groß (> 250 MB je Aufruf)').toTrace(), now())
      );
    }
    if (!parsed) return send(500, plainSoapFault('soap:Client', 'Anfrage ist kein SOAP-Envelope'));
    const expectedNs = SOAP_NS[service];
    if (parsed.namespace !== expectedNs) {
      return send(
        500,
        plainSoapFault('soap:Client', `Namensraum ${parsed.namespace} wird an diesem Endpunkt nicht angeboten`)
      );
    }
    if (soapAction !== `${expectedNs}#${operation}`) {
      return send(500, plainSoapFault('soap:Client', `SOAPAction ${soapAction} passt nicht zu ${operation}`));
    }
    if (validator && service === 'cardterminal') {
      const problems = checkCardTerminalRequest(body);
      if (problems.length > 0) {
        const text = `Schemaverletzung (CardTerminalService 1.1): ${problems.join(' | ')}`;
        return send(500, faultEnvelope(new KonnektorFault(4000, text.slice(0, 2000)).toTrace(), now()));
      }
    } else if (validator) {
      const problems = await validator.validate(
        body,
        service === 'event' ? { service: 'event' } : { service: 'signature', version: sigEndpoint!.version }
      );
      if (problems.length > 0) {
        const text = `Schemaverletzung (SignatureService ${sigEndpoint?.version ?? 'EventService 7.2'}): ${problems.join(' | ')}`;
        return send(500, faultEnvelope(new KonnektorFault(4000, text.slice(0, 2000)).toTrace(), now()));
      }
    }
    const decision = faults.decide(operation);
    if (decision.kind === 'drop') {
      record({ path: url.pathname, soapAction, operation, request: body, response: '', httpStatus: 0 });
      req.socket.destroy();
      return;
    }
    const docs =
      operation === 'SignDocument' ? (Array.isArray(parsed.body.SignRequest) ? parsed.body.SignRequest.length : 1) : 0;
    if (operation === 'SignDocument') {
      // A card signs one call at a time: a second SignDocument for the same card waits until the first is done.
      const handle: unknown = parsed.body.CardHandle;
      const card = textOf(Array.isArray(handle) ? handle[0] : handle) ?? '';
      cardHandle = card;
      documents = docs;
      await cardLocks.run(card, async () => {
        cardStartedAt = Date.now();
        await sleep(faults.latencyOf(operation, docs));
      });
    } else {
      await sleep(faults.latencyOf(operation, docs));
    }
    if (decision.kind === 'gematik') {
      const fault = new KonnektorFault(decision.code, decision.text);
      return send(500, faultEnvelope(fault.toTrace(), now()));
    }
    if (decision.kind === 'http') {
      const text = decision.text ?? `HTTP ${decision.status} (Fehlerinjektion)`;
      return send(decision.status, decision.status >= 500 ? plainSoapFault('soap:Server', text) : text);
    }
    try {
      const xml = await konnektor.handle(service, operation, parsed.body, clientCn);
      send(200, envelope(xml));
    } catch (err) {
      if (err instanceof KonnektorFault) return send(500, faultEnvelope(err.toTrace(), now()));
      if (err instanceof UnknownOperation) return send(500, plainSoapFault('soap:Client', err.message));
      send(500, faultEnvelope({ code: 4001, text: `Interner Fehler: ${(err as Error).message}` }, now()));
    }
  };

  const closeFor = new Set(opts.closeOnClientCertificates ?? []);
  let closeNext = 0;
  let closedHandshakes = 0;
  const server = https.createServer(
    {
      key: pki.server.keyPem,
      cert: pki.server.certPem,
      ca: [pki.ca.certPem],
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      // A Konnektor with brainpool groups only (TR-03116-1): TLS 1.2, as OpenSSL 3.0 has no brainpool in TLS 1.3.
      ...(opts.tlsGroups
        ? {
            ecdhCurve: opts.tlsGroups,
            maxVersion: 'TLSv1.2' as const,
            ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384',
          }
        : {}),
      ...(opts.closeOnClientCertificates ? { maxVersion: 'TLSv1.2' as const } : {}),
    },
    (req, res) => {
      handler(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(err));
      });
    }
  );
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // TLS 1.2: the key exchange is logged right after the client's certificate arrived, before the server's Finished.
  // Closing the socket there refuses the certificate without an alert.
  server.on('keylog', (_line: Buffer, socket: TLSSocket) => {
    if (socket.getProtocol() !== 'TLSv1.2') return;
    const cnField = socket.getPeerCertificate()?.subject?.CN;
    const cn = Array.isArray(cnField) ? cnField[0] : cnField;
    if (closeNext > 0 || (cn !== undefined && closeFor.has(cn))) {
      if (closeNext > 0) closeNext--;
      closedHandshakes++;
      socket.destroy();
    }
  });
  const port = await listen(server, opts.port ?? 0, host);
  const advertised = opts.advertisedHost ?? host;
  baseUrl = `https://${advertised.includes(':') ? `[${advertised}]` : advertised}:${port}`;

  const hba = () => konnektor.cards.find(isHba)!;
  const admin: SimulatorAdmin = {
    faults,
    advanceClock: (ms) => {
      clockOffset += ms;
    },
    setComfort: (c) => {
      if (c.enabled !== undefined) comfort.enabled = c.enabled;
      if (c.max !== undefined) comfort.max = Math.min(250, Math.max(1, c.max));
      if (c.timerSeconds !== undefined) comfort.timerSeconds = Math.min(24 * 3600, Math.max(1, c.timerSeconds));
    },
    setPin: (p) => {
      if (p.outcome) konnektor.o.pin.outcome = p.outcome;
      if (p.delayMs !== undefined) konnektor.o.pin.delayMs = p.delayMs;
    },
    setHbaInserted: (inserted) => {
      const card = hba();
      if (inserted && !card.inserted) {
        card.handle = newCardHandle();
        card.insertTime = now();
        card.pinBlocked = false;
      }
      if (!inserted) {
        // Pulling the card ends its card sessions, including comfort sessions.
        for (const s of konnektor.sessions.filter((x) => x.cardHandle === card.handle))
          konnektor.sessions.splice(konnektor.sessions.indexOf(s), 1);
      }
      card.inserted = inserted;
    },
    cards: () => konnektor.cards,
    sessions: () => konnektor.sessions,
    stats: () => konnektor.stats,
    calls: () => calls,
    cardCalls: () => cardCalls,
    clearCalls: () => {
      calls.length = 0;
      cardCalls.length = 0;
    },
    issueClientZip: (id, format = p12Format) => loadOrIssueClientBundle(pkiDir, pki.ca, id, format),
    closeNextHandshakes: (count) => {
      closeNext = Math.max(0, count);
    },
    closedHandshakes: () => closedHandshakes,
  };

  let adminServer: http.Server | undefined;
  let adminUrl: string | undefined;
  if (opts.adminPort !== false) {
    adminServer = http.createServer((req, res) => {
      handleAdmin(req, res, admin, bundle, pki.ca.certPem).catch((err: unknown) => {
        res.writeHead(400, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: (err as Error).message }));
      });
    });
    adminServer.on('connection', (s: net.Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    const adminPort = await listen(adminServer, opts.adminPort ?? 0, '127.0.0.1');
    adminUrl = `http://127.0.0.1:${adminPort}`;
  }

  const serverCn = /CN=([^\n,]+)/.exec(new X509Certificate(pki.server.certPem).subject)?.[1] ?? '';
  return {
    url: baseUrl,
    vendorProfile: profile.name,
    strict: validator !== undefined,
    sdsUrl: `${baseUrl}${PATHS.sds}`,
    adminUrl,
    clientZip: bundle.zip,
    clientSystemId,
    caPem: pki.ca.certPem,
    fingerprint: pki.serverFingerprint,
    serverIdentity: serverCn,
    hbaIccsn,
    pki,
    admin,
    close: async () => {
      validator?.close();
      for (const s of sockets) s.destroy();
      const servers: net.Server[] = adminServer ? [server, adminServer] : [server];
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}

async function jsonBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const { text: raw } = await readBody(req, 1024 * 1024);
  return raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
}

/**
 * Admin API (JSON, loopback only):
 * GET  /admin/state                      cards, sessions, stats, faults
 * GET  /admin/client.zip                 the client-system ZIP; GET /admin/ca.pem the CA
 * POST /admin/faults        {latencyMs, operationLatencyMs, perDocumentLatencyMs, transientErrorRate, transientErrorCode,
 *                            dropConnectionRate}
 * POST /admin/errors        {code | httpStatus, count, operations?, text?}   next N calls fail
 * POST /admin/drop          {count}                                          next N connections dropped
 * POST /admin/clock         {advanceSeconds}
 * POST /admin/comfort       {enabled, max, timerSeconds}
 * POST /admin/pin           {outcome: ok|wrong|blocked|timeout|cancel, delayMs}
 * POST /admin/hba           {inserted: boolean}
 * POST /admin/reset         clears injected faults
 */
async function handleAdmin(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  admin: SimulatorAdmin,
  bundle: ClientBundle,
  caPem: string
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const json = (value: unknown) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(value, null, 2));
  };
  const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
  if (req.method === 'GET' && url.pathname === '/admin/state') {
    return json({
      cards: admin.cards(),
      sessions: admin.sessions(),
      stats: admin.stats(),
      faults: admin.faults.config,
      pending: admin.faults.pending(),
    });
  }
  if (req.method === 'GET' && url.pathname === '/admin/client.zip') {
    res.writeHead(200, {
      'Content-Type': 'application/zip',
      'Content-Disposition': `attachment; filename="${bundle.clientSystemId}.zip"`,
    });
    res.end(bundle.zip);
    return;
  }
  if (req.method === 'GET' && url.pathname === '/admin/ca.pem') {
    res.writeHead(200, { 'Content-Type': 'application/x-pem-file' });
    res.end(caPem);
    return;
  }
  if (req.method !== 'POST') {
    res.writeHead(404);
    res.end();
    return;
  }
  const b = await jsonBody(req);
  switch (url.pathname) {
    case '/admin/faults':
      admin.faults.set(b as Partial<FaultConfig>);
      return json(admin.faults.config);
    case '/admin/errors': {
      const ops = Array.isArray(b.operations) ? b.operations.map(String) : undefined;
      const text = typeof b.text === 'string' ? b.text : undefined;
      if (typeof b.httpStatus === 'number') admin.faults.httpErrorNext(b.httpStatus, num(b.count, 1), ops, text);
      else admin.faults.failNext(num(b.code, 4001), num(b.count, 1), ops, text);
      return json(admin.faults.pending());
    }
    case '/admin/drop':
      admin.faults.dropNextCalls(num(b.count, 1));
      return json(admin.faults.pending());
    case '/admin/clock':
      admin.advanceClock(num(b.advanceSeconds, 0) * 1000);
      return json({ ok: true });
    case '/admin/comfort':
      admin.setComfort(b as Partial<ComfortConfig>);
      return json({ ok: true });
    case '/admin/pin':
      admin.setPin(b as { outcome?: PinOutcome; delayMs?: number });
      return json({ ok: true });
    case '/admin/hba':
      admin.setHbaInserted(b.inserted !== false);
      return json(admin.cards());
    case '/admin/reset':
      admin.faults.reset();
      return json({ ok: true });
    default:
      res.writeHead(404);
      res.end();
  }
}
