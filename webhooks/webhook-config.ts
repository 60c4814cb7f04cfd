/**
 * Configuration of the webhook endpoints (Standard Webhooks): part of `temporal.config.ts`, env `SIGNFLOW_WEBHOOKS`
 * (a JSON array) or `SIGNFLOW_WEBHOOKS_FILE` (the path of a JSON file with that array).
 *
 * ```json
 * [{ "name": "crm", "url": "https://crm.example/hooks/signflow", "secret": "whsec_…",
 *    "events": ["contract.signed", "contract.completed"], "personalData": false }]
 * ```
 */
import { z } from 'zod';
import { Webhook } from 'standardwebhooks';
import { isWebhookEventType, WEBHOOK_EVENT_TYPES, type WebhookEventType } from '../domain/webhook-events';

/** The specification recommends secrets of 24 to 64 random bytes. */
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;

/** Decodes a `whsec_<base64>` secret as the package does; throws a sentence when it is not one. */
export function secretBytes(secret: string): number {
  const body = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw new Error('must be whsec_ followed by standard base64');
  new Webhook(secret); // the package's own check (non-empty, decodable)
  return Buffer.from(body, 'base64').length;
}

const ZEndpoint = z
  .object({
    /** Short name, shown in `signflow webhooks list` and stored with every delivery. */
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'name must be 1-64 characters of A-Z a-z 0-9 . _ -'),
    /** Where to POST (http or https). */
    url: z.url({ protocol: /^https?$/, error: 'url must be an http(s) URL' }),
    /** `whsec_` + base64 of 24-64 random bytes (`openssl rand -base64 32`). Never logged. */
    secret: z.string().superRefine((secret, ctx) => {
      try {
        const n = secretBytes(secret);
        if (n < MIN_SECRET_BYTES || n > MAX_SECRET_BYTES) {
          ctx.addIssue({
            code: 'custom',
            message: `secret must be ${MIN_SECRET_BYTES}-${MAX_SECRET_BYTES} bytes, is ${n}`,
          });
        }
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `secret ${(err as Error).message}` });
      }
    }),
    /** Event types to deliver; `["*"]` (the default) means all. Unknown names are refused. */
    events: z
      .array(z.string())
      .default(['*'])
      .superRefine((events, ctx) => {
        for (const e of events) {
          if (e !== '*' && !isWebhookEventType(e)) {
            ctx.addIssue({ code: 'custom', message: `unknown event ${e} (known: ${WEBHOOK_EVENT_TYPES.join(', ')})` });
          }
        }
      }),
    /** Add the contact's name and e-mail address to the payloads. @default false (ids and labels only) */
    personalData: z.boolean().default(false),
  })
  .strict();

export type WebhookEndpoint = z.infer<typeof ZEndpoint>;

export const ZWebhookConfig = z
  .object({
    /** The endpoints; empty = no webhooks (the workflow's delivery steps do nothing). @default [] */
    endpoints: z.array(ZEndpoint).default([]),
    /** Timeout of one HTTP attempt. @default 10000 (ms) */
    attemptTimeoutMs: z.coerce.number().int().positive().default(10_000),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    for (const e of cfg.endpoints) {
      if (seen.has(e.name)) ctx.addIssue({ code: 'custom', message: `endpoint name ${e.name} is used twice` });
      seen.add(e.name);
    }
  })
  .prefault({});

export type WebhookConfig = z.infer<typeof ZWebhookConfig>;

export function subscribes(endpoint: WebhookEndpoint, type: WebhookEventType): boolean {
  return endpoint.events.includes('*') || endpoint.events.includes(type);
}

/**
 * The event types at least one endpoint subscribes to, for the contract workflow's input: an event nobody subscribes
 * to then costs no activity at all. In the order of WEBHOOK_EVENT_TYPES, without repeats; empty when no endpoint is configured.
 */
export function subscribedEventTypes(endpoints: readonly WebhookEndpoint[]): WebhookEventType[] {
  return WEBHOOK_EVENT_TYPES.filter((type) => endpoints.some((e) => subscribes(e, type)));
}

/** `SIGNFLOW_WEBHOOKS` (JSON text) or `SIGNFLOW_WEBHOOKS_FILE` (a JSON file), as the raw `endpoints` value. */
export function webhookEndpointsFromEnv(
  text: string | undefined,
  file: string | undefined,
  read: (f: string) => string
) {
  if (text && file) throw new Error('set either SIGNFLOW_WEBHOOKS or SIGNFLOW_WEBHOOKS_FILE, not both');
  const [source, json] = text ? ['SIGNFLOW_WEBHOOKS', text] : file ? [`SIGNFLOW_WEBHOOKS_FILE ${file}`, ''] : [];
  if (!source) return undefined;
  try {
    return JSON.parse(file ? read(file) : (json as string)) as unknown;
  } catch (err) {
    throw new Error(`${source}: not a JSON array of endpoints: ${(err as Error).message}`);
  }
}
