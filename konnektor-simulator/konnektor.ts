/**
 * The simulated Konnektor's behaviour: cards, the information model (Mandant, client systems, workplaces), comfort
 * sessions with their rules, job numbers, and the operations EventService 7.2 GetCards and SignatureService 7.5/7.4
 * (SignDocument, VerifyDocument, GetJobNumber, Activate/DeactivateComfortSignature, GetSignatureMode).
 *
 * Comfort-signature rules as in gemSpec_Kon 4.1.8.1.5 / TUC_KON_170–173 and gemILF_PS 4.4.2:
 * - session key = (card handle, MandantId, ClientSystemId, UserId); UserId a UUID (4272), unique over the last 1,000
 *   activations (4270); at most `maxSessionsPerCard` parallel sessions (4278); comfort off → 4263;
 * - the counter goes down per signature; a SignDocument that needs more than what is left, or arrives after the timer,
 *   ends the session with 4271 and signs nothing (a SignDocument is all-or-nothing); reaching 0 ends the session;
 * - DeactivateComfortSignature ends ALL sessions of the card (warnings 4265 unknown handle, 4266 no session);
 * - without a session a QES is signed in PIN mode (the simulated PIN entry decides).
 * Time comes from an injectable clock so tests can expire sessions.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { classifyAnyGematikCode } from '../domain/konnektor-errors';
import { signDetached, signPdf, verifyDetached, verifyPdf } from './cms';
import type { HbaKeyAlgorithm, SimulatorPki } from './pki';
import { CryptNotServable, objectSystemVersionOf, qesKeyFor, qesKeysOfCard } from './qes-keys';
import { el, NS, nodeOf, status, textOf, txt, xsdDuration, type GerrorTraceInput } from './soap-xml';

export class KonnektorFault extends Error {
  constructor(
    readonly code: number,
    text?: string,
    readonly severity: GerrorTraceInput['severity'] = 'Error',
    readonly errorType: GerrorTraceInput['errorType'] = 'Technical'
  ) {
    super(text ?? classifyAnyGematikCode(code).konnektorText);
  }

  toTrace(): GerrorTraceInput {
    return { code: this.code, text: this.message, severity: this.severity, errorType: this.errorType };
  }
}

export type PinOutcome = 'ok' | 'wrong' | 'blocked' | 'timeout' | 'cancel';

export interface SimCard {
  handle: string;
  type: 'HBA' | 'HBA-qSig' | 'ZOD_2.0' | 'SMC-B';
  iccsn: string;
  holderName: string;
  ctId: string;
  slotId: number;
  insertTime: Date;
  certificateExpires: Date;
  objectSystemVersion: [number, number, number];
  /** The QES keys on the card (eHBA): a G2.1 card has ECC (brainpoolP256r1) and RSA, an older one RSA only. */
  qesKeys: HbaKeyAlgorithm[];
  inserted: boolean;
  pinBlocked: boolean;
}

export interface ComfortConfig {
  /** SAK_COMFORT_SIGNATURE. @default true */
  enabled: boolean;
  /** SAK_COMFORT_SIGNATURE_MAX, 1–250. @default 100 */
  max: number;
  /** SAK_COMFORT_SIGNATURE_TIMER in seconds, 1 h – 24 h (shorter allowed for tests). @default 21600 */
  timerSeconds: number;
}

export interface InformationModel {
  mandantId: string;
  clientSystemIds: string[];
  workplaceIds: string[];
}

export interface ComfortSession {
  cardHandle: string;
  mandantId: string;
  clientSystemId: string;
  userId: string;
  countRemaining: number;
  /** ms since epoch */
  expiresAt: number;
}

export interface KonnektorStats {
  signDocumentCalls: number;
  signatures: number;
  activations: number;
  /** SignRequest count of every SignDocument call, in order. */
  batchSizes: number[];
  /** EjectCard calls that ejected a card, RequestCard calls that had one inserted. */
  ejected?: number;
  requested?: number;
}

export type ServiceKind = 'event' | 'sig75' | 'sig74' | 'cardterminal';

export interface KonnektorBehaviourOptions {
  pki: SimulatorPki;
  infoModel: InformationModel;
  comfort: ComfortConfig;
  cards: SimCard[];
  now: () => Date;
  /** Most SignRequests per SignDocument call (≥ 50 by spec); more → 4000. @default 250 */
  maxSignRequests: number;
  /** Parallel comfort sessions per eHBA (≥ 2 by spec). @default 3 */
  maxSessionsPerCard: number;
  /** The simulated PIN entry at the card terminal (activation and PIN-mode signing). */
  pin: { outcome: PinOutcome; delayMs: number };
  /** Check filter values and document contents as a strict Konnektor does (4000, 4110). @default false */
  strict?: boolean;
}

/** GetCards `CardType` values that are filters (gemSpec_Kon: HBAx covers every HBA kind, SM-B every SMC-B kind). */
const CARD_FILTERS: Record<string, readonly string[]> = {
  HBAx: ['HBA', 'HBA-qSig', 'ZOD_2.0'],
  'SM-B': ['SMC-B', 'HSM-B'],
  EGK: ['EGK'],
  KVK: ['KVK'],
  'SMC-KT': ['SMC-KT'],
  UNKNOWN: ['UNKNOWN'],
};

/** The document's bytes are of the announced QES format (XML, PDF/A, text, TIFF): else 4110. */
export function contentMatchesMimeType(mimeType: string, data: Buffer): boolean {
  const m = mimeType.toLowerCase();
  if (m.startsWith('application/pdf')) return data.subarray(0, 1024).includes('%PDF-');
  if (m.startsWith('image/tiff'))
    return (
      data.subarray(0, 4).equals(Buffer.from('49492a00', 'hex')) ||
      data.subarray(0, 4).equals(Buffer.from('4d4d002a', 'hex'))
    );
  if (m.includes('xml'))
    return /^\s*</.test(
      data
        .subarray(0, 1024)
        .toString('utf8')
        .replace(/^\uFEFF/, '')
    );
  if (m.startsWith('text/plain')) return !data.includes(0);
  return false;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const QES_MIME = /^(application\/pdf(-a)?|text\/plain|text\/xml|application\/xml|image\/tiff)(\s*;.*)?$/i;
const MAX_DOC_BYTES = 25 * 1024 * 1024;
const MAX_CALL_BYTES = 250 * 1024 * 1024;
const CADES = 'urn:ietf:rfc:5652';
const PADES = 'http://uri.etsi.org/02778/3';

interface Ctx {
  mandantId: string;
  clientSystemId: string;
  workplaceId: string;
  userId?: string;
}

export function isHba(card: SimCard): boolean {
  return card.type === 'HBA' || card.type === 'HBA-qSig' || card.type === 'ZOD_2.0';
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
}

export function newCardHandle(): string {
  return `HBA-${randomBytes(6).toString('hex')}`;
}

export class SimulatedKonnektor {
  readonly sessions: ComfortSession[] = [];
  readonly stats: KonnektorStats = { signDocumentCalls: 0, signatures: 0, activations: 0, batchSizes: [] };
  private readonly recentUserIds: string[] = [];
  private readonly recentJobs: string[] = [];
  private readonly issuedJobs = new Set<string>();

  constructor(readonly o: KonnektorBehaviourOptions) {}

  get cards(): SimCard[] {
    return this.o.cards;
  }

  // ------------------------------------------------------------------ checks

  private context(node: unknown, clientCn: string | undefined, requireUser: boolean): Ctx {
    const c = nodeOf(node);
    if (!c) throw new KonnektorFault(4000, 'Aufrufkontext fehlt');
    const ctx: Ctx = {
      mandantId: textOf(c.MandantId) ?? '',
      clientSystemId: textOf(c.ClientSystemId) ?? '',
      workplaceId: textOf(c.WorkplaceId) ?? '',
      userId: textOf(c.UserId),
    };
    const m = this.o.infoModel;
    if (ctx.mandantId !== m.mandantId) throw new KonnektorFault(4021, `Ungültige Mandanten-ID ${ctx.mandantId}`);
    if (!m.clientSystemIds.includes(ctx.clientSystemId))
      throw new KonnektorFault(4021, `Ungültige Clientsystem-ID ${ctx.clientSystemId}`);
    if (!m.workplaceIds.includes(ctx.workplaceId))
      throw new KonnektorFault(4021, `Ungültige Arbeitsplatz-ID ${ctx.workplaceId}`);
    // SOAP1: the client system is authenticated by its certificate (CN = client system id).
    if (clientCn !== undefined && clientCn !== ctx.clientSystemId) {
      throw new KonnektorFault(
        4204,
        `Clientsystem ${ctx.clientSystemId} passt nicht zum Clientzertifikat`,
        'Error',
        'Security'
      );
    }
    if (requireUser && !ctx.userId) throw new KonnektorFault(4003, 'Keine User-ID angegeben');
    return ctx;
  }

  private card(handle: string | undefined): SimCard {
    const card = this.o.cards.find((c) => c.handle === handle);
    if (!card) throw new KonnektorFault(4101, `Karten-Handle ${handle ?? ''} ungültig`);
    if (!card.inserted) throw new KonnektorFault(4008, 'Karte nicht als gesteckt identifiziert');
    return card;
  }

  private now(): Date {
    return this.o.now();
  }

  /** Drops expired sessions; returns the live session for this key. */
  private session(cardHandle: string, ctx: Ctx): ComfortSession | undefined {
    return this.sessions.find(
      (s) =>
        s.cardHandle === cardHandle &&
        s.mandantId === ctx.mandantId &&
        s.clientSystemId === ctx.clientSystemId &&
        s.userId === ctx.userId
    );
  }

  private endSession(s: ComfortSession): void {
    const i = this.sessions.indexOf(s);
    if (i >= 0) this.sessions.splice(i, 1);
  }

  private async pinEntry(card: SimCard): Promise<void> {
    if (card.pinBlocked) throw new KonnektorFault(4063, 'PIN bereits gesperrt');
    await sleep(this.o.pin.delayMs);
    switch (this.o.pin.outcome) {
      case 'ok':
        return;
      case 'wrong':
        throw new KonnektorFault(4276, 'PIN falsch');
      case 'blocked':
        card.pinBlocked = true;
        throw new KonnektorFault(4275, 'PIN jetzt gesperrt');
      case 'timeout':
        throw new KonnektorFault(4043, 'Timeout bei der PIN-Eingabe', 'Warning');
      case 'cancel':
        throw new KonnektorFault(4049, 'Abbruch durch den Benutzer');
    }
  }

  // ------------------------------------------------------------------ dispatch

  /** Runs one operation; returns the response body element (without envelope). Throws `KonnektorFault`. */
  async handle(
    service: ServiceKind,
    operation: string,
    body: Record<string, unknown>,
    clientCn?: string
  ): Promise<string> {
    if (service === 'event') {
      if (operation === 'GetCards') return this.getCards(body, clientCn);
    } else if (service === 'cardterminal') {
      if (operation === 'EjectCard') return this.ejectCard(body, clientCn);
      if (operation === 'RequestCard') return this.requestCard(body, clientCn);
    } else {
      const sig = service === 'sig75' ? NS.SIG75 : NS.SIG74;
      switch (operation) {
        case 'SignDocument':
          return this.signDocument(sig, body, clientCn, service === 'sig75');
        case 'VerifyDocument':
          return this.verifyDocument(sig, body, clientCn);
        case 'GetJobNumber':
          return this.getJobNumber(sig, body, clientCn);
      }
      if (service === 'sig75') {
        switch (operation) {
          case 'ActivateComfortSignature':
            return this.activate(body, clientCn);
          case 'DeactivateComfortSignature':
            return this.deactivate(body);
          case 'GetSignatureMode':
            return this.getSignatureMode(body, clientCn);
        }
      }
    }
    throw new UnknownOperation(operation);
  }

  // ------------------------------------------------------------------ EventService

  private getCards(body: Record<string, unknown>, clientCn?: string): string {
    this.context(body.Context, clientCn, false);
    const filter = textOf(body.CardType);
    if (filter && this.o.strict && !CARD_FILTERS[filter]) {
      throw new KonnektorFault(
        4000,
        `CardType ${filter} ist kein Filterwert (zulässig: ${Object.keys(CARD_FILTERS).join(', ')})`
      );
    }
    const matches = (c: SimCard) => !filter || c.type === filter || (CARD_FILTERS[filter] ?? []).includes(c.type);
    const cards = this.o.cards.filter((c) => c.inserted && matches(c)).map((c) => this.cardXml(c));
    return el('EVT:GetCardsResponse', [status(), el('CARD:Cards', cards)], {
      'xmlns:EVT': NS.EVT,
      'xmlns:CONN': NS.CONN,
      'xmlns:CARD': NS.CARD,
      'xmlns:CARDCMN': NS.CARDCMN,
    });
  }

  private cardXml(c: SimCard): string {
    const version = (v: [number, number, number]) =>
      [txt('CARD:Major', v[0]), txt('CARD:Minor', v[1]), txt('CARD:Revision', v[2])].join('');
    return el('CARD:Card', [
      txt('CONN:CardHandle', c.handle),
      txt('CARDCMN:CardType', c.type),
      el('CARD:CardVersion', [
        el('CARD:COSVersion', version([4, 5, 0])),
        el('CARD:ObjectSystemVersion', version(c.objectSystemVersion)),
      ]),
      txt('CARDCMN:Iccsn', c.iccsn),
      txt('CARDCMN:CtId', c.ctId),
      txt('CARDCMN:SlotId', c.slotId),
      txt('CARD:InsertTime', c.insertTime.toISOString()),
      txt('CARD:CardHolderName', c.holderName),
      txt('CARD:CertificateExpirationDate', c.certificateExpires.toISOString().slice(0, 10)),
    ]);
  }

  // ------------------------------------------------------------------ CardTerminalService

  /** The card in this slot (`CT:Slot`), whether inserted or not; 4044 for a terminal/slot the Konnektor does not know. */
  private slotCard(slot: unknown): SimCard {
    const s = nodeOf(slot);
    const ctId = textOf(s?.CtId);
    const slotId = Number(textOf(s?.SlotId));
    const card = this.o.cards.find((c) => c.ctId === ctId && c.slotId === slotId);
    if (!card) throw new KonnektorFault(4044, `Kartenterminal ${ctId ?? ''} Slot ${slotId} nicht bekannt`);
    return card;
  }

  /** EjectCard: ends every card session (comfort sessions included) and ejects the card, as pulling it does. */
  private ejectCard(body: Record<string, unknown>, clientCn?: string): string {
    this.context(body.Context, clientCn, false);
    const handle = textOf(asArray(body.CardHandle)[0]);
    const card = handle !== undefined ? this.card(handle) : this.slotCard(body.Slot);
    if (!card.inserted) throw new KonnektorFault(4008, 'Karte nicht als gesteckt identifiziert');
    for (const s of this.sessions.filter((x) => x.cardHandle === card.handle)) this.endSession(s);
    card.inserted = false;
    this.stats.ejected = (this.stats.ejected ?? 0) + 1;
    return el('CT:EjectCardResponse', status(), { 'xmlns:CT': NS.CT, 'xmlns:CONN': NS.CONN });
  }

  /** RequestCard: the card holder inserts the card into the slot (simulated at once); a new card handle. */
  private requestCard(body: Record<string, unknown>, clientCn?: string): string {
    this.context(body.Context, clientCn, false);
    const card = this.slotCard(body.Slot);
    const already = card.inserted;
    if (!already) {
      card.handle = newCardHandle();
      card.insertTime = this.now();
      card.inserted = true;
      this.stats.requested = (this.stats.requested ?? 0) + 1;
    }
    return el('CT:RequestCardResponse', [status(), txt('CT:AlreadyInserted', already), this.cardXml(card)], {
      'xmlns:CT': NS.CT,
      'xmlns:CONN': NS.CONN,
      'xmlns:CARD': NS.CARD,
      'xmlns:CARDCMN': NS.CARDCMN,
    });
  }

  // ------------------------------------------------------------------ comfort signature

  private getSignatureMode(body: Record<string, unknown>, clientCn?: string): string {
    const card = this.card(textOf(asArray(body.CardHandle)[0]));
    const ctx = this.context(body.Context, clientCn, true);
    if (!isHba(card)) throw new KonnektorFault(4274, 'Komfortsignatur nur mit HBA');
    const c = this.o.comfort;
    let s = this.session(card.handle, ctx);
    if (s && s.expiresAt <= this.now().getTime()) {
      this.endSession(s);
      s = undefined;
    }
    const sessionInfo = s
      ? el('SIG:SessionInfo', [
          txt('SIG:SignatureMode', 'COMFORT'),
          txt('SIG:CountRemaining', s.countRemaining),
          txt('SIG:TimeRemaining', xsdDuration((s.expiresAt - this.now().getTime()) / 1000)),
        ])
      : '';
    return el(
      'SIG:GetSignatureModeResponse',
      [
        status(),
        txt('SIG:ComfortSignatureStatus', c.enabled ? 'ENABLED' : 'DISABLED'),
        txt('SIG:ComfortSignatureMax', c.max),
        txt('SIG:ComfortSignatureTimer', xsdDuration(c.timerSeconds)),
        sessionInfo,
      ],
      { 'xmlns:SIG': NS.SIG75, 'xmlns:CONN': NS.CONN }
    );
  }

  private async activate(body: Record<string, unknown>, clientCn?: string): Promise<string> {
    const card = this.card(textOf(asArray(body.CardHandle)[0]));
    const ctx = this.context(body.Context, clientCn, true);
    const userId = ctx.userId!;
    if (!UUID.test(userId)) throw new KonnektorFault(4272, 'UserId nicht zulässig (keine UUID)');
    if (this.recentUserIds.includes(userId))
      throw new KonnektorFault(4270, 'UserId in den letzten 1.000 Vorgängen bereits verwendet');
    if (!this.o.comfort.enabled) throw new KonnektorFault(4263, 'Komfortsignaturfunktion nicht aktiviert');
    if (!isHba(card)) throw new KonnektorFault(4274, 'Komfortsignatur nur mit HBA');
    const nowMs = this.now().getTime();
    for (const s of this.sessions.filter((x) => x.expiresAt <= nowMs)) this.endSession(s);
    if (this.sessions.filter((s) => s.cardHandle === card.handle).length >= this.o.maxSessionsPerCard) {
      throw new KonnektorFault(4278, 'Keine Komfortsignatursession mehr verfügbar');
    }
    this.recentUserIds.push(userId);
    if (this.recentUserIds.length > 1000) this.recentUserIds.shift();
    await this.pinEntry(card);
    this.sessions.push({
      cardHandle: card.handle,
      mandantId: ctx.mandantId,
      clientSystemId: ctx.clientSystemId,
      userId,
      countRemaining: this.o.comfort.max,
      expiresAt: this.now().getTime() + this.o.comfort.timerSeconds * 1000,
    });
    this.stats.activations++;
    return el('SIG:ActivateComfortSignatureResponse', [status(), txt('SIG:SignatureMode', 'COMFORT')], {
      'xmlns:SIG': NS.SIG75,
      'xmlns:CONN': NS.CONN,
    });
  }

  private deactivate(body: Record<string, unknown>): string {
    const handles = asArray(body.CardHandle).map((h) => textOf(h) ?? '');
    if (handles.length === 0) throw new KonnektorFault(4000, 'CardHandle fehlt');
    const warnings: GerrorTraceInput[] = [];
    for (const h of handles) {
      const card = this.o.cards.find((c) => c.handle === h && c.inserted);
      if (!card) {
        warnings.push({ code: 4265, text: `Karten-Handle ${h} ungültig`, severity: 'Warning' });
        continue;
      }
      const mine = this.sessions.filter((s) => s.cardHandle === h);
      if (mine.length === 0)
        warnings.push({ code: 4266, text: 'Keine Kartensitzung mit Komfortsignatur', severity: 'Warning' });
      for (const s of mine) this.endSession(s);
    }
    return el('SIG:DeactivateComfortSignatureResponse', status(warnings, this.now()), {
      'xmlns:SIG': NS.SIG75,
      'xmlns:CONN': NS.CONN,
    });
  }

  // ------------------------------------------------------------------ signing

  private getJobNumber(sig: string, body: Record<string, unknown>, clientCn?: string): string {
    this.context(body.Context, clientCn, false);
    let job: string;
    do {
      const letters = Array.from({ length: 3 }, () => String.fromCharCode(65 + Math.floor(Math.random() * 26))).join(
        ''
      );
      job = `${letters}-${String(Math.floor(Math.random() * 1000)).padStart(3, '0')}`;
    } while (this.issuedJobs.has(job) || this.recentJobs.includes(job));
    this.issuedJobs.add(job);
    return el('SIG:GetJobNumberResponse', txt('SIG:JobNumber', job), { 'xmlns:SIG': sig });
  }

  private async signDocument(
    sig: string,
    body: Record<string, unknown>,
    clientCn: string | undefined,
    comfortCapable: boolean
  ): Promise<string> {
    const card = this.card(textOf(asArray(body.CardHandle)[0]));
    const ctx = this.context(body.Context, clientCn, isHba(card));
    if (!isHba(card)) throw new KonnektorFault(4126, 'Kartentyp nicht zulässig für Signatur');
    if (!textOf(body.TvMode)) throw new KonnektorFault(4000, 'TvMode fehlt');
    // Before the JobNumber is used up: a call the card cannot serve changes nothing.
    let qesKey: HbaKeyAlgorithm;
    try {
      qesKey = qesKeyFor(card.qesKeys, textOf(body.Crypt));
    } catch (err) {
      if (err instanceof CryptNotServable) throw new KonnektorFault(4000, err.message);
      throw err;
    }
    const job = textOf(body.JobNumber);
    if (!job || !/^[A-Z]{3}-[0-9]{3}$/.test(job)) throw new KonnektorFault(4000, 'JobNumber fehlt oder ungültig');
    if (this.recentJobs.includes(job))
      throw new KonnektorFault(4252, 'Jobnummer in den letzten 1.000 Aufrufen bereits verwendet');
    this.recentJobs.push(job);
    if (this.recentJobs.length > 1000) this.recentJobs.shift();
    this.issuedJobs.delete(job);

    const requests = asArray(body.SignRequest).map((r) => nodeOf(r) ?? {});
    if (requests.length === 0) throw new KonnektorFault(4000, 'SignRequest fehlt');
    if (requests.length > this.o.maxSignRequests) {
      throw new KonnektorFault(4000, `Mehr als ${this.o.maxSignRequests} SignRequests in einem Aufruf`);
    }
    const parsed = requests.map((r) => this.parseSignRequest(r));
    const ids = new Set(parsed.map((p) => p.requestId));
    if (ids.size !== parsed.length) throw new KonnektorFault(4000, 'RequestID nicht eindeutig');
    if (new Set(parsed.map((p) => p.signatureType)).size > 1) {
      throw new KonnektorFault(4111, 'Mischung von Signaturtypen in einem Aufruf nicht zulässig');
    }
    if (parsed.reduce((n, p) => n + p.data.length, 0) > MAX_CALL_BYTES)
      throw new KonnektorFault(4283, 'Dokumente zu groß');

    // Comfort session or PIN mode (TUC_KON_170 vs TUC_KON_150).
    const s = comfortCapable ? this.session(card.handle, ctx) : undefined;
    if (s) {
      if (s.expiresAt <= this.now().getTime()) {
        this.endSession(s);
        throw new KonnektorFault(4271, 'Komfortsignaturmodus abgebrochen: Zeitraum abgelaufen');
      }
      if (s.countRemaining < parsed.length) {
        this.endSession(s);
        throw new KonnektorFault(4271, 'Komfortsignaturmodus abgebrochen: Signaturanzahl erschöpft');
      }
      s.countRemaining -= parsed.length;
      if (s.countRemaining === 0) this.endSession(s);
    } else {
      await this.pinEntry(card);
    }

    const now = this.now();
    const signer = { hba: qesKey === 'ECC' ? this.o.pki.hba : this.o.pki.hbaRsa, chainPem: [this.o.pki.ca.certPem] };
    const responses: string[] = [];
    for (const p of parsed) {
      if (p.signatureType === PADES) {
        let signed: Buffer;
        try {
          signed = await signPdf(p.data, signer, now, card.holderName);
        } catch (err) {
          throw new KonnektorFault(4112, `Dokument nicht konform: ${(err as Error).message}`);
        }
        responses.push(
          el(
            'SIG:SignResponse',
            [
              status(),
              el(
                'SIG:OptionalOutputs',
                el(
                  'SIG:DocumentWithSignature',
                  el('dss:Base64Data', signed.toString('base64'), { MimeType: p.mimeType })
                )
              ),
            ],
            { RequestID: p.requestId }
          )
        );
      } else {
        const cms = signDetached(p.data, signer, now);
        responses.push(
          el(
            'SIG:SignResponse',
            [status(), el('dss:SignatureObject', el('dss:Base64Signature', cms.toString('base64'), { Type: CADES }))],
            {
              RequestID: p.requestId,
            }
          )
        );
      }
    }
    this.stats.signDocumentCalls++;
    this.stats.signatures += parsed.length;
    this.stats.batchSizes.push(parsed.length);
    return el('SIG:SignDocumentResponse', responses, { 'xmlns:SIG': sig, 'xmlns:CONN': NS.CONN, 'xmlns:dss': NS.dss });
  }

  private parseSignRequest(r: Record<string, unknown>): {
    requestId: string;
    signatureType: string;
    mimeType: string;
    data: Buffer;
  } {
    const requestId = typeof r['@_RequestID'] === 'string' ? r['@_RequestID'] : '';
    if (!requestId) throw new KonnektorFault(4000, 'RequestID fehlt');
    const doc = nodeOf(r.Document);
    const b64 =
      nodeOf(doc?.Base64Data) ?? (typeof doc?.Base64Data === 'string' ? { '#text': doc.Base64Data } : undefined);
    if (!doc || !b64) throw new KonnektorFault(4000, 'Document/Base64Data fehlt');
    if (typeof doc['@_ShortText'] !== 'string' || doc['@_ShortText'] === '') {
      throw new KonnektorFault(4000, 'ShortText ist für QES verpflichtend');
    }
    if (textOf(r.IncludeRevocationInfo) === undefined) throw new KonnektorFault(4000, 'IncludeRevocationInfo fehlt');
    const mimeType = typeof b64['@_MimeType'] === 'string' ? b64['@_MimeType'] : '';
    if (!QES_MIME.test(mimeType))
      throw new KonnektorFault(4110, `Ungültiges Dokumentformat für QES: ${mimeType || 'ohne MimeType'}`);
    const isPdf = /^application\/pdf/i.test(mimeType);
    const requested = textOf(nodeOf(r.OptionalInputs)?.SignatureType);
    const signatureType = requested ?? (isPdf ? PADES : CADES);
    if (signatureType !== CADES && signatureType !== PADES)
      throw new KonnektorFault(4111, `Signaturtyp ${signatureType} für QES nicht zulässig`);
    if (signatureType === PADES && !isPdf) throw new KonnektorFault(4111, 'PAdES nur für PDF/A');
    if (textOf(nodeOf(r.OptionalInputs)?.IncludeEContent) === 'true') {
      throw new KonnektorFault(4111, 'Der Simulator erzeugt nur CAdES detached');
    }
    const data = Buffer.from(textOf(b64) ?? '', 'base64');
    if (data.length > MAX_DOC_BYTES) throw new KonnektorFault(4283, `Dokument ${requestId} zu groß (> 25 MB)`);
    if (this.o.strict && !contentMatchesMimeType(mimeType, data))
      throw new KonnektorFault(4110, `Dokument ${requestId} ist kein ${mimeType}`);
    return { requestId, signatureType, mimeType, data };
  }

  private verifyDocument(sig: string, body: Record<string, unknown>, clientCn?: string): string {
    this.context(body.Context, clientCn, false);
    const doc = nodeOf(body.Document);
    const b64 = nodeOf(doc?.Base64Data);
    if (!b64) throw new KonnektorFault(4000, 'Document fehlt');
    const data = Buffer.from(textOf(b64) ?? '', 'base64');
    const mime = typeof b64['@_MimeType'] === 'string' ? b64['@_MimeType'] : '';
    const sigB64 =
      textOf(nodeOf(nodeOf(body.SignatureObject)?.Base64Signature)) ??
      textOf(nodeOf(body.SignatureObject)?.Base64Signature);
    const now = this.now();
    const result = sigB64
      ? verifyDetached(data, Buffer.from(sigB64, 'base64'), this.o.pki.ca.certPem, now)
      : /^application\/pdf/i.test(mime)
        ? verifyPdf(data, this.o.pki.ca.certPem, now)
        : { valid: false, reason: 'keine Signatur übergeben' };
    return el(
      'SIG:VerifyDocumentResponse',
      [
        status(),
        el('SIG:VerificationResult', [
          txt('SIG:HighLevelResult', result.valid ? 'VALID' : 'INVALID'),
          txt('SIG:TimestampType', 'SYSTEM_TIMESTAMP'),
          txt('SIG:Timestamp', now.toISOString()),
        ]),
      ],
      { 'xmlns:SIG': sig, 'xmlns:CONN': NS.CONN }
    );
  }
}

export class UnknownOperation extends Error {
  constructor(readonly operation: string) {
    super(`operation ${operation} not offered at this endpoint`);
  }
}

/** The simulated cards: an eHBA (`hbaKey`: ECC = a G2.1 card with ECC and RSA keys, RSA = an RSA-only card) and an SMC-B. */
export function defaultCards(
  now: Date,
  hbaIccsn: string,
  holderName: string,
  certificateExpires: Date,
  hbaKey: HbaKeyAlgorithm = 'ECC'
): SimCard[] {
  const hbaKeys = qesKeysOfCard(hbaKey);
  return [
    {
      handle: newCardHandle(),
      type: 'HBA',
      iccsn: hbaIccsn,
      holderName,
      ctId: 'CT-Praxis-1',
      slotId: 1,
      insertTime: now,
      certificateExpires,
      objectSystemVersion: objectSystemVersionOf(hbaKeys),
      qesKeys: hbaKeys,
      inserted: true,
      pinBlocked: false,
    },
    {
      handle: `SMCB-${randomUUID().slice(0, 8)}`,
      type: 'SMC-B',
      iccsn: '80276002011100000001',
      holderName: 'Praxis',
      ctId: 'CT-Praxis-1',
      slotId: 2,
      insertTime: now,
      certificateExpires,
      objectSystemVersion: [4, 5, 0],
      qesKeys: [],
      inserted: true,
      pinBlocked: false,
    },
  ];
}
