/**
 * Structured JSON logs (pino) for the worker, the API and the CLI's `--verbose`: one line per event, with
 * `contractId`, `workflowId` and `runId` on every line that concerns a contract, and no names or e-mail addresses.
 *
 * Personal data is kept out in two ways: fields that carry it are redacted by name (`email`, `to`, `recipient`,
 * `vorname`, `nachname`, `firstName`, `lastName`, `name` of a contact…), and e-mail addresses inside any string (a
 * message, an error text quoting an SMTP reply) are replaced by `<e-mail>`.
 */
import pino, { type Logger, type LoggerOptions } from 'pino';
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import { CONTRACT_FAILED_LOG } from '../workflows/definitions';
import { expectedOutcomeOf } from './expected-outcomes';

export type { Logger };

/** Field names that hold personal data wherever they appear (two levels deep, as pino's redaction needs paths). */
const PERSONAL_FIELDS = [
  'email',
  'to',
  'cc',
  'bcc',
  'recipient',
  'recipientName',
  'contactName',
  'firstName',
  'lastName',
  'vorname',
  'nachname',
  'imagePngBase64',
];
export const REDACT_PATHS = [...PERSONAL_FIELDS, ...PERSONAL_FIELDS.map((f) => `*.${f}`)];

const EMAIL = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;

/** Replaces e-mail addresses in a string. */
export function scrubText(s: string): string {
  return s.replace(EMAIL, '<e-mail>');
}

/** Deep copy with every string scrubbed (bounded depth: log metadata is small). */
export function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    // Still an Error, so that pino's error serializer (which runs after this) keeps its type.
    const copy = new Error(scrubText(value.message));
    copy.name = value.name;
    copy.stack = value.stack && scrubText(value.stack);
    return copy;
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrub(v, depth + 1);
  return out;
}

const CONTRACT_WORKFLOW = /^honorarvertrag-(\d+)$/;

/** `contractId` from a contract workflow id (`honorarvertrag-<id>`), so every line about a contract carries it. */
export function contractIdOf(workflowId: unknown): number | undefined {
  const m = typeof workflowId === 'string' ? CONTRACT_WORKFLOW.exec(workflowId) : null;
  return m?.[1] ? Number(m[1]) : undefined;
}

export interface CreateLoggerOptions {
  /** `worker`, `api`, `cli`: the `service` field of every line. */
  service: string;
  level?: string;
  /** Where to write; default stdout. Tests pass a stream they read. */
  destination?: pino.DestinationStream;
}

/** The pino options every signflow process uses (fastify takes these too). */
export function loggerOptions(service: string, level = 'info'): LoggerOptions {
  return {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // The Temporal SDK logs failures under `error` (pino serializes only `err` by default, which would print `{}`).
    serializers: { error: pino.stdSerializers.err },
    formatters: {
      level: (label) => ({ level: label }),
      log: (obj) => {
        const scrubbed = scrub(obj) as Record<string, unknown>;
        const contractId = scrubbed.contractId ?? contractIdOf(scrubbed.workflowId);
        return contractId === undefined ? scrubbed : { contractId, ...scrubbed };
      },
    },
    hooks: {
      // The message string itself (and printf-style arguments) is scrubbed too.
      logMethod(args, method) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? scrubText(a) : a)) as Parameters<typeof method>);
      },
    },
  };
}

export function createLogger(opts: CreateLoggerOptions): Logger {
  const options = loggerOptions(opts.service, opts.level);
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * The Temporal SDK's logger interface on top of pino: the Runtime gives it the worker's, the workflows' (`wf.log`) and
 * the activities' (`log`) lines, whose metadata carries `workflowId` and `runId` (workflow lines) or `workflowId` and
 * `workflowRunId` (activity lines); both become `workflowId`/`runId`, and contract workflows get their `contractId`.
 *
 * Expected outcomes (logging/expected-outcomes.ts) become one line without a stack: an activity that refused with a
 * domain code logs at info with `code`; a contract workflow that ends with one has already said so in its own warn
 * line (`contract failed`, with `code`), so the SDK's `Workflow failed` line with the stack is demoted to debug.
 */
export function temporalLoggerFor(logger: Logger): TemporalLogger {
  /** Runs whose workflow logged `contract failed` with a code; the SDK's `Workflow failed` follows in the same batch. */
  const explained = new Set<string>();
  const log = (level: LogLevel, message: string, meta?: LogMetadata): void => {
    const m: Record<string, unknown> = { ...(meta ?? {}) };
    if (m.workflowRunId !== undefined && m.runId === undefined) {
      m.runId = m.workflowRunId;
      delete m.workflowRunId;
    }
    let pinoLevel = PINO_LEVEL[level];
    const runId = typeof m.runId === 'string' ? m.runId : undefined;
    if (message === CONTRACT_FAILED_LOG && runId && typeof m.code === 'string') {
      explained.add(runId);
      if (explained.size > 1000) explained.delete(explained.values().next().value as string);
    } else if (message === 'Workflow failed' && runId && explained.delete(runId)) {
      pinoLevel = 'debug';
    } else if (m.error !== undefined && (level === 'WARN' || level === 'ERROR')) {
      const expected = expectedOutcomeOf(m.error);
      if (expected) {
        delete m.error;
        m.code = expected.code;
        m.errorMessage = expected.message;
        pinoLevel = 'info';
      }
    }
    logger[pinoLevel](m, message);
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}
