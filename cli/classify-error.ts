/**
 * Turns whatever a command threw (Temporal client errors, workflow failures, database driver errors, config errors)
 * into a `CliError` with a stable code and an exit code. One place, so every verb answers alike.
 */
import {
  isGrpcServiceError,
  ServiceError,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { ApplicationFailure, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import { CommanderError } from 'commander';
import { CodecDecryptError, CodecKeyNotFoundError } from '../codec/aes-gcm-codec';
import { CommandError, isCommandErrorCode } from '../commands/errors';
import { KonnektorError, KonnektorFailureType, toKonnektorApplicationFailure } from '../domain/konnektor-errors';
import { ConfigError } from '../temporal.config';
import { CliError, EXIT_CODE, ExitCode } from './exit-codes';

/** gRPC status codes the CLI distinguishes (numeric, as @grpc/grpc-js reports them). */
const GRPC = {
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
};

const KONNEKTOR_TYPES = new Set<string>(Object.values(KonnektorFailureType));

/** Konnektor faults an admin fixes in the configuration (certificates, context ids), not staff at the card terminal. */
const KONNEKTOR_CONFIG_TYPES = new Set<string>([
  KonnektorFailureType.KONNEKTOR_CONFIGURATION,
  KonnektorFailureType.KONNEKTOR_CLIENT_AUTH_FAILED,
  KonnektorFailureType.KONNEKTOR_SERVER_UNTRUSTED,
]);

function fromApplicationFailure(failure: ApplicationFailure, context: string): CliError {
  const type = failure.type ?? '';
  if (isCommandErrorCode(type)) return new CliError(EXIT_CODE[type], type, failure.message, detailsOf(failure));
  if (KONNEKTOR_TYPES.has(type)) {
    // Transient faults (busy, unreachable) are worth retrying; the others need a person, as the message says.
    const exitCode = KONNEKTOR_CONFIG_TYPES.has(type)
      ? ExitCode.CONFIG
      : failure.nonRetryable
        ? ExitCode.REJECTED
        : ExitCode.UNAVAILABLE;
    return new CliError(exitCode, type, failure.message, detailsOf(failure));
  }
  return new CliError(
    ExitCode.REJECTED,
    type || 'WORKFLOW_FAILED',
    `${context}: ${failure.message}`,
    detailsOf(failure)
  );
}

function detailsOf(failure: ApplicationFailure): Record<string, unknown> | undefined {
  const first: unknown = failure.details?.[0];
  return first !== null && typeof first === 'object' ? (first as Record<string, unknown>) : undefined;
}

/** The innermost ApplicationFailure in a cause chain (activity failures wrap it in ActivityFailure). */
function applicationFailureIn(err: unknown): ApplicationFailure | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if (e instanceof ApplicationFailure) return e;
  }
  return undefined;
}

/** Where the codec keys come from, for every message about a payload this CLI could not decrypt. */
const CODEC_KEYS_HINT =
  'The CLI needs the same SIGNFLOW_CODEC_KEYS (id:base64key,…) as the worker that wrote the history: from your ' +
  "secret store in production; with `npm run dev`, load the dev stack's settings in this shell first: " +
  '`set -a; . data/dev.env; set +a`';

function codecErrorIn(err: unknown): CodecKeyNotFoundError | CodecDecryptError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if (e instanceof CodecKeyNotFoundError || e instanceof CodecDecryptError) return e;
  }
  return undefined;
}

function grpcCodeIn(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if (isGrpcServiceError(e)) return e.code;
  }
  return undefined;
}

/** knex/mysql2/better-sqlite3 errors that mean "the database is not there (or not ours)", not a bug. */
const DB_UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'PROTOCOL_CONNECTION_LOST',
  'ER_ACCESS_DENIED_ERROR',
  'ER_BAD_DB_ERROR',
  'ER_NO_SUCH_TABLE',
  'SQLITE_CANTOPEN',
  'SQLITE_BUSY',
  'SQLITE_NOTADB',
]);

function isDbUnavailable(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && DB_UNAVAILABLE.has(code)) return true;
  // better-sqlite3 reports a missing table as a generic SQLITE_ERROR: the database was not migrated.
  return /no such table|Knex: Timeout acquiring a connection/.test(err.message);
}

export function classifyError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof CommandError) return new CliError(EXIT_CODE[err.code], err.code, err.message, err.details);
  if (err instanceof CommanderError) return new CliError(ExitCode.USAGE, 'USAGE', err.message.replace(/^error: /, ''));
  if (err instanceof ConfigError) return new CliError(ExitCode.CONFIG, 'CONFIG_INVALID', err.message);
  // The client decodes payloads itself; the SDK may wrap the codec's error (a query, an update's result).
  const codecError = codecErrorIn(err);
  if (codecError instanceof CodecKeyNotFoundError) {
    return new CliError(ExitCode.CONFIG, 'CODEC_KEY_UNKNOWN', `${codecError.message}. ${CODEC_KEYS_HINT}`, {
      keyId: codecError.keyId,
      configuredKeyIds: codecError.configuredKeyIds,
    });
  }
  if (codecError instanceof CodecDecryptError) {
    return new CliError(ExitCode.CONFIG, 'PAYLOAD_NOT_DECRYPTABLE', `${codecError.message}. ${CODEC_KEYS_HINT}`, {
      keyId: codecError.keyId,
    });
  }

  if (err instanceof KonnektorError) return classifyError(toKonnektorApplicationFailure(err));

  if (err instanceof WorkflowUpdateFailedError) {
    const failure = applicationFailureIn(err.cause);
    if (failure) return fromApplicationFailure(failure, 'the workflow refused');
    return new CliError(ExitCode.REJECTED, 'UPDATE_FAILED', err.cause?.message ?? err.message);
  }
  if (err instanceof WorkflowFailedError) {
    const failure = applicationFailureIn(err.cause);
    if (failure) return fromApplicationFailure(failure, 'the workflow failed');
    return new CliError(ExitCode.REJECTED, 'WORKFLOW_FAILED', err.cause?.message ?? err.message);
  }
  if (err instanceof WorkflowNotFoundError) {
    return new CliError(ExitCode.NOT_FOUND, 'WORKFLOW_NOT_FOUND', `no workflow ${err.workflowId}: ${err.message}`, {
      workflowId: err.workflowId,
    });
  }
  if (err instanceof WorkflowExecutionAlreadyStartedError) {
    return new CliError(
      ExitCode.REJECTED,
      'WORKFLOW_ALREADY_RAN',
      `workflow ${err.workflowId} already ran to its end; a finished contract is not started again by accident`,
      { workflowId: err.workflowId }
    );
  }
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
    return new CliError(
      ExitCode.UNAVAILABLE,
      'TIMEOUT',
      'no answer from the workflow in time (is a worker running?); the request may still be processed: check `signflow status`'
    );
  }

  if (err instanceof Error) {
    const grpc = grpcCodeIn(err);
    if (grpc === GRPC.DEADLINE_EXCEEDED) {
      return new CliError(ExitCode.UNAVAILABLE, 'TIMEOUT', 'Temporal did not answer in time (is a worker running?)');
    }
    if (grpc === GRPC.UNAVAILABLE) {
      return new CliError(ExitCode.UNAVAILABLE, 'TEMPORAL_UNAVAILABLE', `Temporal is not reachable: ${err.message}`);
    }
    if (grpc === GRPC.UNAUTHENTICATED || grpc === GRPC.PERMISSION_DENIED) {
      return new CliError(
        ExitCode.CONFIG,
        'TEMPORAL_ACCESS_DENIED',
        `Temporal refused the credentials: ${err.message}`
      );
    }
    if (grpc === GRPC.NOT_FOUND) return new CliError(ExitCode.NOT_FOUND, 'NOT_FOUND', err.message);
    if (err instanceof ServiceError) {
      return new CliError(ExitCode.UNAVAILABLE, 'TEMPORAL_ERROR', `Temporal answered with an error: ${err.message}`);
    }
    if (isDbUnavailable(err)) {
      return new CliError(ExitCode.UNAVAILABLE, 'DATABASE_UNAVAILABLE', `the database is not usable: ${err.message}`);
    }
    const failure = applicationFailureIn(err);
    if (failure) return fromApplicationFailure(failure, 'refused');
    return new CliError(ExitCode.INTERNAL, 'INTERNAL', err.message, { name: err.name, stack: err.stack });
  }
  return new CliError(ExitCode.INTERNAL, 'INTERNAL', String(err));
}
