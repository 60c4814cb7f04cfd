/**
 * The dev signing page (dev mode only): the document's detail page the invitation mail links to
 * (`config.portal.baseUrl` + `/dokumente/{documentId}`, default `http://localhost:3000/portal/dokumente/…`) and the
 * contact's pending list. A real install has the CRM's portal here; this page lets users see and test the whole flow.
 *
 * The "logged-in contact" is the contact the document was made for; `?kontakt=<id>` acts as another contact, to try
 * the wrong-signer rejection by hand.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { readContact } from '../../db/crm-repository';
import type { ApiContext } from '../context';
import { documentPage, notFoundPage, pendingPage, portalIndexPage } from './pages';

const STATIC_DIR = path.join(__dirname, 'static');
const ASSETS: Record<string, string> = {
  'portal.js': 'text/javascript; charset=utf-8',
  'portal.css': 'text/css; charset=utf-8',
};

/** Dev URLs carry ids typed by people: anything that is not a positive integer is simply "not found". */
function parseId(value: string): number | undefined {
  if (!/^[1-9]\d{0,9}$/.test(value)) return undefined;
  const id = Number(value);
  return id <= 2_147_483_647 ? id : undefined;
}

function html(reply: FastifyReply, status: number, body: string) {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('x-frame-options', 'DENY')
    .send(body);
}

function contactName(c: { firstName: string; lastName: string } | undefined, id: number): string {
  const name = c ? `${c.firstName} ${c.lastName}`.trim() : '';
  return name || `Kontakt ${id}`;
}

export function registerDevPortal(app: FastifyInstance, ctx: ApiContext, apiBase: string): void {
  const { config, db } = ctx;
  const portalToken = config.api.tokens.portal ?? '';
  const assets = new Map(
    Object.entries(ASSETS).map(([name, type]) => [name, { type, body: fs.readFileSync(path.join(STATIC_DIR, name)) }])
  );
  const pub = { config: { public: true }, schema: { hide: true } } as const;

  // The README's and the banner's `/portal` link: what the dev portal offers, instead of a 404.
  app.get('/portal', pub, async (_request, reply) => html(reply, 200, portalIndexPage()));

  app.get<{ Params: { name: string } }>('/portal/assets/:name', pub, async (request, reply) => {
    const asset = assets.get(request.params.name);
    if (!asset) return html(reply, 404, notFoundPage('Diese Datei gibt es nicht.'));
    return reply.type(asset.type).header('cache-control', 'no-cache').send(asset.body);
  });

  app.get<{ Params: { documentId: string }; Querystring: { kontakt?: string } }>(
    '/portal/dokumente/:documentId',
    pub,
    async (request, reply) => {
      const documentId = parseId(request.params.documentId);
      const request_ = documentId
        ? await db('signflow_requests').where('document_id', documentId).orderBy('id', 'desc').first()
        : undefined;
      if (!documentId || !request_) {
        return html(reply, 404, notFoundPage(`Zu dieser Adresse gibt es kein Dokument zum Unterzeichnen.`));
      }
      const s = config.crm.signatures;
      const d = config.crm.documents;
      const [signature, document] = await Promise.all([
        db(s.table).where(s.id, request_.signature_id).first(),
        db(d.table).select(d.title).where(d.id, documentId).first(),
      ]);
      const actingId = (request.query.kontakt && parseId(request.query.kontakt)) || Number(request_.contact_id);
      const contact = await readContact(db, config.crm, actingId);
      const status = signature ? String(signature[s.status]) : config.crm.values.signaturePending;
      return html(
        reply,
        200,
        documentPage({
          documentId,
          documentTitle: document ? String(document[d.title]) : `Dokument ${documentId}`,
          contractId: Number(request_.contract_id),
          contactId: actingId,
          contactName: contactName(contact, actingId),
          html: String(request_.html ?? ''),
          signatureStatus: status,
          pending: status === config.crm.values.signaturePending,
          portalToken,
          apiBase,
        })
      );
    }
  );

  app.get<{ Params: { contactId: string } }>('/portal/kontakte/:contactId/ausstehend', pub, async (request, reply) => {
    const contactId = parseId(request.params.contactId);
    const contact = contactId ? await readContact(db, config.crm, contactId) : undefined;
    if (!contactId || !contact) return html(reply, 404, notFoundPage('Diesen Kontakt gibt es nicht.'));
    return html(
      reply,
      200,
      pendingPage({ contactId, contactName: contactName(contact, contactId), portalToken, apiBase })
    );
  });
}
