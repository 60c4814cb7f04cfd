/**
 * signflow's one configuration object: parsed and validated once at start from the environment, typed everywhere.
 *
 * Temporal connection settings follow the SDK's own conventions (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, TLS and API
 * key variables); everything else is `SIGNFLOW_*`. A typo or an impossible value fails at start with a message that
 * names the variable, instead of surfacing later in a workflow.
 */
import fs from 'node:fs';
import { z } from 'zod';
import { msToNumber } from '@temporalio/common/lib/time';
import { describeMappingIssue, ZCrmMapping } from './db/crm-mapping';
import { ZCodecConfig } from './codec/codec-config';
import { webhookEndpointsFromEnv, ZWebhookConfig } from './webhooks/webhook-config';
import {
  konnektorRunsOnSite,
  mandantenFromEnv,
  routingIssues,
  ZMandanten,
  ZTaskQueueName,
} from './routing/konnektor-routing-config';
import { WORKER_CONFIG_VARIABLES, ZWorkerConfig } from './worker/worker-config';

/** A Temporal-style duration ('90s', '3d', '12h') or a number of milliseconds. */
const ZDuration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  try {
    const ms = typeof value === 'number' ? value : msToNumber(value as `${number}d`);
    if (!Number.isFinite(ms) || ms < 0) throw new Error('negative');
    return ms;
  } catch {
    ctx.addIssue({ code: 'custom', message: `not a duration: ${String(value)} (use e.g. "90s", "3d")` });
    return z.NEVER;
  }
});

/** A credential: long enough that guessing is hopeless. */
const ZSecret = z.string().min(16, 'must be at least 16 characters');

const ZBoolean = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])]).transform((v) => {
  return v === true || v === 'true' || v === '1' || v === 'yes';
});

export const ZSignflowConfig = z
  .object({
    /** Folder for runtime data of the dev stack (SQLite files, captured mails, Konnektor simulator state). @default 'data' */
    dataDir: z.string().default('data'),
    temporal: z
      .object({
        /** host:port of the Temporal frontend. Env `TEMPORAL_ADDRESS`. @default 'localhost:7233' */
        address: z.string().default('localhost:7233'),
        /** Env `TEMPORAL_NAMESPACE`. @default 'default' */
        namespace: z.string().default('default'),
        /** Task queue of the signflow worker. Part of the outer contract. @default 'signflow' */
        taskQueue: z.string().default('signflow'),
        /** Path to a client certificate (PEM) for mTLS to Temporal. Env `TEMPORAL_TLS_CLIENT_CERT_PATH`. */
        tlsClientCertPath: z.string().optional(),
        /** Path to the client key (PEM). Env `TEMPORAL_TLS_CLIENT_KEY_PATH`. */
        tlsClientKeyPath: z.string().optional(),
        /** Path to the server CA (PEM). Env `TEMPORAL_TLS_SERVER_CA_CERT_PATH`. */
        tlsServerCaCertPath: z.string().optional(),
        /** API key (Temporal Cloud). Env `TEMPORAL_API_KEY`. Never logged. */
        apiKey: z.string().optional(),
        /**
         * How long a call that needs a worker's answer (the Updates `sign`, `confirmManually`, `withdrawRequest`; the
         * query `status`) waits before the door answers NO_WORKER (HTTP 503 with `Retry-After`, CLI exit 4, outbox
         * retry). Env `SIGNFLOW_WORKER_ANSWER_TIMEOUT`. @default '10s'
         */
        workerAnswerTimeout: ZDuration.refine((ms) => ms > 0, 'must be longer than 0, e.g. "10s"').prefault('10s'),
      })
      .prefault({}),
    database: z
      .object({
        /**
         * `mysql://user:pass@host:3306/db` for MySQL/MariaDB (production), or the path of an existing SQLite file.
         * Env `SIGNFLOW_DATABASE_URL`. No default: a process that needs the database and has none refuses to start
         * (`databaseUrl()`); only the dev stack falls back to `<dataDir>/crm.sqlite`.
         */
        url: z.string().optional(),
        /** Largest connection pool per process. Env `SIGNFLOW_DATABASE_POOL_MAX`. @default 10 */
        poolMax: z.coerce.number().int().positive().default(10),
      })
      .prefault({}),
    /** Table, column and status names of the CRM. Env `SIGNFLOW_CRM_MAPPING` = path of a JSON file (partial). */
    crm: ZCrmMapping,
    mail: z
      .object({
        /** nodemailer SMTP URL. Env `SIGNFLOW_SMTP_URL`. @default 'smtp://127.0.0.1:2525' (the dev inbox) */
        smtpUrl: z
          .string()
          .regex(/^smtps?:\/\/[^\s/]+/, 'must be an smtp:// or smtps:// URL, e.g. smtp://mail.example.de:587')
          .default('smtp://127.0.0.1:2525'),
        /** Sender address. Env `SIGNFLOW_MAIL_FROM`. @default 'Praxis <praxis@signflow.invalid>' */
        from: z
          .string()
          // A From header a mail server accepts: `addr@domain` or `Name <addr@domain>`.
          .regex(
            /^(?:[^<>]*<\s*[^\s@<>]+@[^\s@<>]+\s*>|[^\s@<>]+@[^\s@<>]+)$/,
            'must be an address (praxis@example.de) or a name and an address (Praxis <praxis@example.de>)'
          )
          .default('Praxis <praxis@signflow.invalid>'),
        /** Name of the practice used in mails and documents. Env `SIGNFLOW_PRACTICE_NAME`. @default 'Praxis' */
        practiceName: z.string().default('Praxis'),
        /** Port of the dev SMTP inbox (dev stack only). Env `SIGNFLOW_DEV_SMTP_PORT`. @default 2525 */
        devSmtpPort: z.coerce.number().int().positive().default(2525),
        /**
         * Tell the freelancer by mail when staff withdraw a signature request they were invited to (one mail per
         * request). Env `SIGNFLOW_WITHDRAWAL_MAIL_ENABLED`. @default true
         */
        withdrawalMailEnabled: ZBoolean.default(true),
      })
      .prefault({}),
    portal: z
      .object({
        /** Base URL of the portal (Internetauftritt), no trailing slash. Env `SIGNFLOW_PORTAL_BASE_URL`. @default 'http://localhost:3000/portal' */
        baseUrl: z.url().default('http://localhost:3000/portal'),
        /**
         * Path of a document's detail page below the base URL; `{documentId}` is replaced.
         * Env `SIGNFLOW_PORTAL_DOCUMENT_PATH`. @default '/dokumente/{documentId}'
         */
        documentPath: z.string().default('/dokumente/{documentId}'),
      })
      .prefault({}),
    signature: z
      .object({
        /** Send reminder mails while the signature is pending. Env `SIGNFLOW_REMINDERS_ENABLED`. @default true */
        remindersEnabled: ZBoolean.default(true),
        /** Time from the invitation to the first reminder. Env `SIGNFLOW_REMINDER_DELAY`. @default '3d' */
        reminderDelay: ZDuration.prefault('3d'),
        /** Time between reminders. Env `SIGNFLOW_REMINDER_INTERVAL`. @default '3d' */
        reminderInterval: ZDuration.prefault('3d'),
        /** Most reminders per contract (0 = none). Env `SIGNFLOW_REMINDER_MAX`. @default 3 */
        reminderMax: z.coerce.number().int().min(0).default(3),
        /** Time from the invitation until a pending signature expires (`abgelaufen`). Env `SIGNFLOW_EXPIRY`. @default '30d' */
        expiry: ZDuration.prefault('30d'),
        /** Largest accepted drawn signature image (PNG). Env `SIGNFLOW_MAX_IMAGE_BYTES`. @default 1048576 (1 MiB) */
        maxImageBytes: z.coerce
          .number()
          .int()
          .positive()
          .default(1024 * 1024),
      })
      .prefault({}),
    konnektor: z
      .object({
        /** Countersign confirmed contracts with a QES through the Konnektor. Env `SIGNFLOW_QES_ENABLED`. @default false */
        enabled: ZBoolean.default(false),
        /** Service directory, `https://<konnektor>/connector.sds`. Env `SIGNFLOW_KONNEKTOR_SDS_URL`. Required when enabled. */
        sdsUrl: z.url().optional(),
        /** The client-system ZIP exported by the Konnektor (.p12 + password file). Env `SIGNFLOW_KONNEKTOR_CLIENT_ZIP`. */
        clientZipPath: z.string().optional(),
        /** Alternatively the .p12 itself. Env `SIGNFLOW_KONNEKTOR_P12_PATH`. */
        p12Path: z.string().optional(),
        /** Password of the .p12 (or of the ZIP's .p12 when the ZIP has no password file). Env `SIGNFLOW_KONNEKTOR_P12_PASSWORD`. Never logged. */
        p12Password: z.string().optional(),
        /** PEM file with the CA(s) the Konnektor's certificate chains to. Env `SIGNFLOW_KONNEKTOR_CA_PATH`. */
        caPath: z.string().optional(),
        /** SHA-256 fingerprint of the Konnektor's certificate as the management UI shows it. Env `SIGNFLOW_KONNEKTOR_SERVER_FINGERPRINT`. */
        serverFingerprint: z.string().optional(),
        /** Expected CN, ICCSN or DNS name in the Konnektor's certificate (not the host name). Env `SIGNFLOW_KONNEKTOR_SERVER_IDENTITY`. */
        serverIdentity: z.string().optional(),
        /** Env `SIGNFLOW_KONNEKTOR_MANDANT`. @default 'Mandant1' */
        mandantId: z.string().max(64).default('Mandant1'),
        /** Env `SIGNFLOW_KONNEKTOR_CLIENT_SYSTEM`. @default 'Z1' */
        clientSystemId: z.string().max(64).default('Z1'),
        /** Workplace with the eHBA's card terminal. Env `SIGNFLOW_KONNEKTOR_WORKPLACE`. @default 'Arbeitsplatz1' */
        workplaceId: z.string().max(64).default('Arbeitsplatz1'),
        /** ICCSN of the eHBA to sign with; unset = the first HBA found. Env `SIGNFLOW_KONNEKTOR_HBA_ICCSN`. */
        hbaIccsn: z.string().optional(),
        /** UserId of a comfort session activated outside signflow (UUIDv4); unset = signflow's own activation. Env `SIGNFLOW_KONNEKTOR_USER`. */
        userId: z.uuid().optional(),
        /** Most documents per SignDocument call (a Konnektor must take 50). Env `SIGNFLOW_KONNEKTOR_BATCH_SIZE`. @default 50 */
        batchSize: z.coerce.number().int().min(1).max(250).default(50),
        /**
         * Most megabytes (MiB) of documents per SignDocument call; a batch is split by count and by bytes. It bounds the
         * worker's memory (a call's documents, its answer and the signatures are in memory at once); 25 to 250 (the
         * Konnektor's limit per call). Env `SIGNFLOW_KONNEKTOR_MAX_CALL_MB`. @default 32
         */
        maxCallMegabytes: z.coerce.number().int().min(25).max(250).default(32),
        /**
         * While countersigning is parked (comfort signature not active, used up, card missing…), how often the signing
         * workflow asks GetSignatureMode whether it may go on. Env `SIGNFLOW_KONNEKTOR_RECHECK_INTERVAL`. @default '5m'
         */
        recheckInterval: ZDuration.prefault('5m'),
        /** Timeout of one call. Env `SIGNFLOW_KONNEKTOR_CALL_TIMEOUT`. @default '60s' */
        callTimeout: ZDuration.prefault('60s'),
        /** Extra timeout per document of a SignDocument call. Env `SIGNFLOW_KONNEKTOR_DOCUMENT_TIMEOUT`. @default '5s' */
        documentTimeout: ZDuration.prefault('5s'),
        /** How long ActivateComfortSignature waits for the PIN entry. Env `SIGNFLOW_KONNEKTOR_ACTIVATION_TIMEOUT`. @default '5m' */
        activationTimeout: ZDuration.prefault('5m'),
        /** Use the sds URL's host for every endpoint (directories naming internal hosts). Env `SIGNFLOW_KONNEKTOR_REWRITE_ENDPOINTS`. @default false */
        rewriteEndpoints: ZBoolean.default(false),
        /** Accept any Konnektor certificate. Refused unless NODE_ENV is development or test. Env `SIGNFLOW_KONNEKTOR_DEV_INSECURE`. @default false */
        devInsecure: ZBoolean.default(false),
        /**
         * Task queue of the on-site Konnektor worker (`signflow konnektor-worker`) in the practice network, e.g.
         * `signflow-konnektor-<mandant>`. Set on the hosted side, the eHBA signer's Konnektor activities are scheduled
         * there and the main worker runs none; set on the on-site worker, it is the queue it polls. Env
         * `SIGNFLOW_KONNEKTOR_TASK_QUEUE`. @default unset (everything on `temporal.taskQueue`, one worker)
         */
        taskQueue: ZTaskQueueName.optional(),
        /**
         * Several practices served by one signflow (hosted CRM): per Mandant (the value of the CRM column
         * `crm.contracts.mandant`) the task queue of its on-site worker and its eHBAs; see
         * routing/konnektor-routing-config.ts. Env `SIGNFLOW_KONNEKTOR_MANDANTEN` (JSON) or
         * `SIGNFLOW_KONNEKTOR_MANDANTEN_FILE` (its path). @default unset (one practice)
         */
        mandanten: ZMandanten.optional(),
      })
      .loose()
      // Checked here and not only when the worker builds its Konnektor client: a CLI or API that starts contracts with
      // countersigning on would otherwise start them for a Konnektor nobody can reach.
      // With an on-site Konnektor worker the hosted side has no Konnektor settings: the on-site worker needs them
      // (and refuses to start without them).
      .refine((k) => !k.enabled || k.sdsUrl !== undefined || konnektorRunsOnSite(k), {
        path: ['sdsUrl'],
        message:
          'required when countersigning is on (SIGNFLOW_QES_ENABLED=true): set SIGNFLOW_KONNEKTOR_SDS_URL, or ' +
          'SIGNFLOW_KONNEKTOR_TASK_QUEUE when an on-site worker talks to the Konnektor',
      })
      .prefault({}),
    api: z
      .object({
        /** Host the HTTP API binds to. Env `SIGNFLOW_API_HOST`. @default '127.0.0.1' */
        host: z.string().default('127.0.0.1'),
        /** Port of the HTTP API (and the dev portal page). Env `SIGNFLOW_API_PORT`. @default 3000 */
        port: z.coerce.number().int().positive().default(3000),
        /**
         * Dev mode: serves the dev signing page under `/portal` and fills unset credentials with the well-known
         * `DEV_API_CREDENTIALS`. Never set it in production. Env `SIGNFLOW_DEV`. @default false
         */
        dev: ZBoolean.default(false),
        /**
         * Bearer token per caller role (at least 16 characters; compared in constant time, never logged). A role without
         * a token cannot call the API. Env `SIGNFLOW_API_TOKEN_CRM`, `…_PORTAL`, `…_STAFF`, `…_OPS`.
         */
        tokens: z
          .object({
            crm: ZSecret.optional(),
            portal: ZSecret.optional(),
            staff: ZSecret.optional(),
            ops: ZSecret.optional(),
          })
          .prefault({}),
        /**
         * Shared secret for HMAC-signed calls of the CRM role (alternative to its bearer token). Env
         * `SIGNFLOW_API_HMAC_SECRET_CRM`. @default unset (HMAC disabled)
         */
        hmacSecretCrm: ZSecret.optional(),
        /** Largest accepted clock difference of an HMAC-signed call (replay window). Env `SIGNFLOW_API_HMAC_WINDOW`. @default '300s' */
        hmacWindow: ZDuration.prefault('300s'),
        /**
         * Largest request body in bytes. Env `SIGNFLOW_API_BODY_LIMIT`. @default unset = room for one base64 image of
         * `signature.maxImageBytes` plus 64 KiB
         */
        bodyLimit: z.coerce.number().int().positive().optional(),
      })
      .loose()
      .transform((api) => (api.dev ? { ...api, ...withDevCredentials(api) } : api))
      .prefault({}),
    outbox: z
      .object({
        /** How often the Temporal Schedule runs the outbox poller. Env `SIGNFLOW_OUTBOX_POLL_INTERVAL`. @default '10s' */
        pollInterval: ZDuration.prefault('10s'),
        /** Most rows one poller run takes. Env `SIGNFLOW_OUTBOX_BATCH_SIZE`. @default 50 */
        batchSize: z.coerce.number().int().positive().default(50),
      })
      .prefault({}),
    /** Payload encryption (AES-256-GCM, key rotation) and the codec server of the Temporal UI; see codec/codec-config.ts. */
    codec: ZCodecConfig,
    /** Signed webhooks (Standard Webhooks) to the CRM and other systems; see webhooks/webhook-config.ts. */
    webhooks: ZWebhookConfig,
    evidence: z
      .object({
        /**
         * PEM file with the certificates a QES must chain to (the HBA-qCA roots of the TSL; in the dev stack the
         * Konnektor simulator's CA). `signflow verify` checks PAdES/CAdES signatures against them. Env
         * `SIGNFLOW_QES_TRUST_ANCHORS`. @default unset (a QES then fails its chain check: nothing to trust)
         */
        qesTrustAnchorsPath: z.string().optional(),
        /** Attach the Prüfprotokoll (PDF) to the confirmation mail. Env `SIGNFLOW_CERTIFICATE_ATTACHMENT`. @default true */
        certificateAttachment: ZBoolean.default(true),
        /**
         * Folder whose template files override the built-in ones by name (docs/templates.md); checked at worker start.
         * Env `SIGNFLOW_TEMPLATES_DIR`. @default unset (the built-in templates)
         */
        templatesDir: z.string().optional(),
      })
      .prefault({}),
    staff: z
      .object({
        /**
         * The practice's staff address: told when the eHBA's signer parks (a person is needed) and, if switched on, sent
         * the daily digest. Env `SIGNFLOW_STAFF_MAIL`. @default unset (no staff mails)
         */
        mail: z.email('must be one e-mail address').optional(),
        /**
         * A parked signer mails staff once when it parks and once more when it has waited this long. Env
         * `SIGNFLOW_STAFF_PARKED_REMINDER_AFTER`. @default '2h'
         */
        parkedReminderAfter: ZDuration.prefault('2h'),
        /** Send the daily digest to `mail`. Env `SIGNFLOW_STAFF_DIGEST_ENABLED`. @default true (only with `mail` set) */
        digestEnabled: ZBoolean.default(true),
        /** When the digest goes out: a cron expression of the Temporal Schedule. Env `SIGNFLOW_STAFF_DIGEST_CRON`. @default '0 7 * * *' */
        digestCron: z
          .string()
          .regex(/^\S+( \S+){4}$/, 'must be a cron expression with five fields, e.g. "0 7 * * *"')
          .default('0 7 * * *'),
        /** Time zone of `digestCron`. Env `SIGNFLOW_STAFF_DIGEST_TIMEZONE`. @default 'Europe/Berlin' */
        digestTimeZone: z.string().min(1).default('Europe/Berlin'),
        /** The digest lists pending signatures older than this many days. Env `SIGNFLOW_STAFF_DIGEST_PENDING_DAYS`. @default 7 */
        digestPendingDays: z.coerce.number().int().min(0).default(7),
      })
      .prefault({}),
    /** The worker's cache and concurrency (worker/worker-config.ts). */
    worker: ZWorkerConfig.prefault({}),
    observability: z
      .object({
        /** Log level of worker, API and CLI `--verbose` (pino). Env `SIGNFLOW_LOG_LEVEL`. @default 'info' */
        logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** Host of the worker's metrics and health server. Env `SIGNFLOW_WORKER_METRICS_HOST`. @default '127.0.0.1' */
        workerMetricsHost: z.string().default('127.0.0.1'),
        /**
         * Port of the worker's `/metrics`, `/healthz`, `/readyz` (0 = any free port; the worker logs it). Env
         * `SIGNFLOW_WORKER_METRICS_PORT`. @default 9464
         */
        workerMetricsPort: z.coerce.number().int().min(0).max(65535).default(9464),
        /**
         * Loopback port where the Temporal SDK's own Prometheus exporter listens; the worker's `/metrics` includes what it
         * serves. 0 = off. Env `SIGNFLOW_WORKER_SDK_METRICS_PORT`. @default 9465
         */
        sdkMetricsPort: z.coerce.number().int().min(0).max(65535).default(9465),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    for (const issue of routingIssues({
      mainTaskQueue: config.temporal.taskQueue,
      konnektorTaskQueue: config.konnektor.taskQueue,
      mandanten: config.konnektor.mandanten,
      mandantColumn: config.crm.contracts.mandant,
    })) {
      ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    }
  });

/**
 * Well-known credentials of dev mode (`SIGNFLOW_DEV=true`) only, used where no real one is configured. They are public
 * on purpose: the dev stack prints them and the dev signing page embeds the portal token.
 */
export const DEV_API_CREDENTIALS = {
  tokens: {
    crm: 'dev-crm-token-0000000000',
    portal: 'dev-portal-token-00000000',
    staff: 'dev-staff-token-000000000',
    ops: 'dev-ops-token-0000000000',
  },
  hmacSecretCrm: 'dev-crm-hmac-secret-000000',
} as const;

function withDevCredentials(api: {
  tokens: Partial<Record<'crm' | 'portal' | 'staff' | 'ops', string>>;
  hmacSecretCrm?: string;
}) {
  const d = DEV_API_CREDENTIALS;
  const t = api.tokens;
  return {
    tokens: {
      crm: t.crm ?? d.tokens.crm,
      portal: t.portal ?? d.tokens.portal,
      staff: t.staff ?? d.tokens.staff,
      ops: t.ops ?? d.tokens.ops,
    },
    hmacSecretCrm: api.hmacSecretCrm ?? d.hmacSecretCrm,
  };
}

export type SignflowConfig = z.infer<typeof ZSignflowConfig>;

type Env = Record<string, string | undefined>;

/** Empty strings count as unset, as in most twelve-factor tools. */
function env(e: Env, name: string): string | undefined {
  const v = e[name];
  return v === undefined || v.trim() === '' ? undefined : v;
}

function readWebhookEndpoints(e: Env): unknown {
  try {
    return webhookEndpointsFromEnv(env(e, 'SIGNFLOW_WEBHOOKS'), env(e, 'SIGNFLOW_WEBHOOKS_FILE'), (f) =>
      fs.readFileSync(f, 'utf8')
    );
  } catch (err) {
    throw new ConfigError(`invalid signflow configuration:\n  webhooks: ${(err as Error).message}`);
  }
}

function readMandanten(e: Env): unknown {
  try {
    return mandantenFromEnv(env(e, 'SIGNFLOW_KONNEKTOR_MANDANTEN'), env(e, 'SIGNFLOW_KONNEKTOR_MANDANTEN_FILE'), (f) =>
      fs.readFileSync(f, 'utf8')
    );
  } catch (err) {
    throw new ConfigError(`invalid signflow configuration:\n  konnektor.mandanten: ${(err as Error).message}`);
  }
}

function readMappingFile(file: string | undefined): unknown {
  if (!file) return {};
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(
      `invalid signflow configuration:\n  SIGNFLOW_CRM_MAPPING: cannot read JSON from ${file}: ${(err as Error).message}`
    );
  }
}

/** Turns the environment into the raw (unvalidated) config shape; `undefined` leaves a field on its default. */
export function configInputFromEnv(e: Env = process.env): Record<string, unknown> {
  return {
    dataDir: env(e, 'SIGNFLOW_DATA_DIR'),
    temporal: {
      address: env(e, 'TEMPORAL_ADDRESS'),
      namespace: env(e, 'TEMPORAL_NAMESPACE'),
      taskQueue: env(e, 'SIGNFLOW_TASK_QUEUE'),
      tlsClientCertPath: env(e, 'TEMPORAL_TLS_CLIENT_CERT_PATH'),
      tlsClientKeyPath: env(e, 'TEMPORAL_TLS_CLIENT_KEY_PATH'),
      tlsServerCaCertPath: env(e, 'TEMPORAL_TLS_SERVER_CA_CERT_PATH'),
      apiKey: env(e, 'TEMPORAL_API_KEY'),
      workerAnswerTimeout: env(e, 'SIGNFLOW_WORKER_ANSWER_TIMEOUT'),
    },
    database: { url: env(e, 'SIGNFLOW_DATABASE_URL'), poolMax: env(e, 'SIGNFLOW_DATABASE_POOL_MAX') },
    crm: readMappingFile(env(e, 'SIGNFLOW_CRM_MAPPING')),
    mail: {
      smtpUrl: env(e, 'SIGNFLOW_SMTP_URL'),
      from: env(e, 'SIGNFLOW_MAIL_FROM'),
      practiceName: env(e, 'SIGNFLOW_PRACTICE_NAME'),
      devSmtpPort: env(e, 'SIGNFLOW_DEV_SMTP_PORT'),
      withdrawalMailEnabled: env(e, 'SIGNFLOW_WITHDRAWAL_MAIL_ENABLED'),
    },
    portal: { baseUrl: env(e, 'SIGNFLOW_PORTAL_BASE_URL'), documentPath: env(e, 'SIGNFLOW_PORTAL_DOCUMENT_PATH') },
    signature: {
      remindersEnabled: env(e, 'SIGNFLOW_REMINDERS_ENABLED'),
      reminderDelay: env(e, 'SIGNFLOW_REMINDER_DELAY'),
      reminderInterval: env(e, 'SIGNFLOW_REMINDER_INTERVAL'),
      reminderMax: env(e, 'SIGNFLOW_REMINDER_MAX'),
      expiry: env(e, 'SIGNFLOW_EXPIRY'),
      maxImageBytes: env(e, 'SIGNFLOW_MAX_IMAGE_BYTES'),
    },
    konnektor: {
      enabled: env(e, 'SIGNFLOW_QES_ENABLED'),
      sdsUrl: env(e, 'SIGNFLOW_KONNEKTOR_SDS_URL'),
      clientZipPath: env(e, 'SIGNFLOW_KONNEKTOR_CLIENT_ZIP'),
      p12Path: env(e, 'SIGNFLOW_KONNEKTOR_P12_PATH'),
      p12Password: env(e, 'SIGNFLOW_KONNEKTOR_P12_PASSWORD'),
      caPath: env(e, 'SIGNFLOW_KONNEKTOR_CA_PATH'),
      serverFingerprint: env(e, 'SIGNFLOW_KONNEKTOR_SERVER_FINGERPRINT'),
      serverIdentity: env(e, 'SIGNFLOW_KONNEKTOR_SERVER_IDENTITY'),
      mandantId: env(e, 'SIGNFLOW_KONNEKTOR_MANDANT'),
      clientSystemId: env(e, 'SIGNFLOW_KONNEKTOR_CLIENT_SYSTEM'),
      workplaceId: env(e, 'SIGNFLOW_KONNEKTOR_WORKPLACE'),
      hbaIccsn: env(e, 'SIGNFLOW_KONNEKTOR_HBA_ICCSN'),
      userId: env(e, 'SIGNFLOW_KONNEKTOR_USER'),
      batchSize: env(e, 'SIGNFLOW_KONNEKTOR_BATCH_SIZE'),
      maxCallMegabytes: env(e, 'SIGNFLOW_KONNEKTOR_MAX_CALL_MB'),
      recheckInterval: env(e, 'SIGNFLOW_KONNEKTOR_RECHECK_INTERVAL'),
      callTimeout: env(e, 'SIGNFLOW_KONNEKTOR_CALL_TIMEOUT'),
      documentTimeout: env(e, 'SIGNFLOW_KONNEKTOR_DOCUMENT_TIMEOUT'),
      activationTimeout: env(e, 'SIGNFLOW_KONNEKTOR_ACTIVATION_TIMEOUT'),
      rewriteEndpoints: env(e, 'SIGNFLOW_KONNEKTOR_REWRITE_ENDPOINTS'),
      devInsecure: env(e, 'SIGNFLOW_KONNEKTOR_DEV_INSECURE'),
      taskQueue: env(e, 'SIGNFLOW_KONNEKTOR_TASK_QUEUE'),
      mandanten: readMandanten(e),
    },
    api: {
      host: env(e, 'SIGNFLOW_API_HOST'),
      port: env(e, 'SIGNFLOW_API_PORT'),
      dev: env(e, 'SIGNFLOW_DEV'),
      tokens: {
        crm: env(e, 'SIGNFLOW_API_TOKEN_CRM'),
        portal: env(e, 'SIGNFLOW_API_TOKEN_PORTAL'),
        staff: env(e, 'SIGNFLOW_API_TOKEN_STAFF'),
        ops: env(e, 'SIGNFLOW_API_TOKEN_OPS'),
      },
      hmacSecretCrm: env(e, 'SIGNFLOW_API_HMAC_SECRET_CRM'),
      hmacWindow: env(e, 'SIGNFLOW_API_HMAC_WINDOW'),
      bodyLimit: env(e, 'SIGNFLOW_API_BODY_LIMIT'),
    },
    outbox: { pollInterval: env(e, 'SIGNFLOW_OUTBOX_POLL_INTERVAL'), batchSize: env(e, 'SIGNFLOW_OUTBOX_BATCH_SIZE') },
    staff: {
      mail: env(e, 'SIGNFLOW_STAFF_MAIL'),
      parkedReminderAfter: env(e, 'SIGNFLOW_STAFF_PARKED_REMINDER_AFTER'),
      digestEnabled: env(e, 'SIGNFLOW_STAFF_DIGEST_ENABLED'),
      digestCron: env(e, 'SIGNFLOW_STAFF_DIGEST_CRON'),
      digestTimeZone: env(e, 'SIGNFLOW_STAFF_DIGEST_TIMEZONE'),
      digestPendingDays: env(e, 'SIGNFLOW_STAFF_DIGEST_PENDING_DAYS'),
    },
    worker: {
      maxCachedWorkflows: env(e, 'SIGNFLOW_WORKER_MAX_CACHED_WORKFLOWS'),
      maxConcurrentWorkflowTasks: env(e, 'SIGNFLOW_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS'),
      maxConcurrentActivities: env(e, 'SIGNFLOW_WORKER_MAX_CONCURRENT_ACTIVITIES'),
      workflowTaskPollers: env(e, 'SIGNFLOW_WORKER_WORKFLOW_POLLERS'),
      activityTaskPollers: env(e, 'SIGNFLOW_WORKER_ACTIVITY_POLLERS'),
      pdfThreadIdleSeconds: env(e, 'SIGNFLOW_WORKER_PDF_THREAD_IDLE_SECONDS'),
    },
    observability: {
      logLevel: env(e, 'SIGNFLOW_LOG_LEVEL'),
      workerMetricsHost: env(e, 'SIGNFLOW_WORKER_METRICS_HOST'),
      workerMetricsPort: env(e, 'SIGNFLOW_WORKER_METRICS_PORT'),
      sdkMetricsPort: env(e, 'SIGNFLOW_WORKER_SDK_METRICS_PORT'),
    },
    codec: {
      keys: env(e, 'SIGNFLOW_CODEC_KEYS'),
      currentKeyId: env(e, 'SIGNFLOW_CODEC_KEY_ID'),
      server: {
        host: env(e, 'SIGNFLOW_CODEC_SERVER_HOST'),
        port: env(e, 'SIGNFLOW_CODEC_SERVER_PORT'),
        tokens: env(e, 'SIGNFLOW_CODEC_SERVER_TOKENS'),
        corsOrigins: env(e, 'SIGNFLOW_CODEC_CORS_ORIGINS'),
        maxBodyBytes: env(e, 'SIGNFLOW_CODEC_SERVER_MAX_BODY_BYTES'),
      },
    },
    evidence: {
      qesTrustAnchorsPath: env(e, 'SIGNFLOW_QES_TRUST_ANCHORS'),
      certificateAttachment: env(e, 'SIGNFLOW_CERTIFICATE_ATTACHMENT'),
      templatesDir: env(e, 'SIGNFLOW_TEMPLATES_DIR'),
    },
    webhooks: {
      endpoints: readWebhookEndpoints(e),
      attemptTimeoutMs: env(e, 'SIGNFLOW_WEBHOOK_ATTEMPT_TIMEOUT_MS'),
    },
  };
}

/** Drops `undefined` leaves so zod applies the defaults. */
function prune(value: unknown): unknown {
  if (Array.isArray(value) || value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const p = prune(v);
    if (p !== undefined) out[k] = p;
  }
  return out;
}

/** Deep merge of plain objects, `over` wins. Arrays are replaced, not merged. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (base === null || typeof base !== 'object' || Array.isArray(base)) return over;
  if (over === null || typeof over !== 'object' || Array.isArray(over)) return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(out[k], v);
  return out;
}

/** Variables named in messages about settings that do not say it themselves (paths → variable). */
const VARIABLE_OF_PATH: Array<[string, string]> = [
  ['konnektor.taskQueue', 'SIGNFLOW_KONNEKTOR_TASK_QUEUE'],
  ['konnektor.mandanten', 'SIGNFLOW_KONNEKTOR_MANDANTEN'],
  ...WORKER_CONFIG_VARIABLES,
];

function withVariable(path: readonly PropertyKey[], message: string): string {
  const key = path.map(String).join('.');
  const variable = VARIABLE_OF_PATH.find(([prefix]) => key === prefix || key.startsWith(`${prefix}.`))?.[1];
  return variable && !message.includes(variable) ? `${variable}: ${message}` : message;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Parses and validates the configuration. `overrides` (same shape as the config, partial) win over the environment;
 * tests use them instead of mutating `process.env`.
 */
export function loadConfig(overrides: unknown = {}, e: Env = process.env): SignflowConfig {
  const raw = deepMerge(prune(configInputFromEnv(e)), prune(overrides));
  const parsed = ZSignflowConfig.safeParse(raw);
  if (!parsed.success) {
    const mappingFile = env(e, 'SIGNFLOW_CRM_MAPPING');
    const lines = parsed.error.issues.flatMap((i) => {
      if (i.path[0] !== 'crm') return [`  ${i.path.join('.')}: ${withVariable(i.path, i.message)}`];
      // The mapping is a file of its own: name the variable and the file, and suggest the key that was meant.
      const origin = `SIGNFLOW_CRM_MAPPING${mappingFile ? ` (${mappingFile})` : ''}`;
      return describeMappingIssue({ ...i, path: i.path.slice(1) }).map((line) => `  ${origin}: ${line}`);
    });
    throw new ConfigError(`invalid signflow configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/**
 * The database URL of a process that needs the database. There is no silent default: an unset URL in production would
 * quietly make an empty SQLite CRM in the working folder (only the dev stack, `npm run dev`, has one of its own).
 */
export function databaseUrl(config: SignflowConfig): string {
  const url = config.database.url;
  if (url === undefined || url.trim() === '') {
    throw new ConfigError(
      'SIGNFLOW_DATABASE_URL is not set: point it at the CRM database (mysql://user:password@host:3306/crm, or the ' +
        'path of an existing SQLite file). Only the dev stack (npm run dev) has a database of its own.'
    );
  }
  return url;
}
