/**
 * Expected outcomes are answers, not faults: a wrong signer, a second signature, a contract that is not sendable, a
 * refused mail. They are logged as one line with their domain code (info for a refused step, warn for a contract that
 * ends failed), without a stack trace; stacks stay for real failures (bugs, outages), where they help.
 */
import { CommandErrorCode } from '../commands/errors';
import { ErrorCode } from '../domain/errors';

/** Every domain code of `domain/errors.ts` and `commands/errors.ts`. */
const EXPECTED_CODES = new Set<string>([...Object.values(ErrorCode), ...Object.values(CommandErrorCode)]);

export interface ExpectedOutcome {
  code: string;
  message: string;
}

/**
 * The domain code behind an error (an `ApplicationFailure` whose `type` is a domain code, also as the cause of an
 * activity failure), or undefined for anything else. Duck-typed: errors cross module copies and worker threads.
 */
export function expectedOutcomeOf(err: unknown): ExpectedOutcome | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && typeof e === 'object' && e !== null; depth++) {
    const { type, message, cause } = e as { type?: unknown; message?: unknown; cause?: unknown };
    if (typeof type === 'string' && EXPECTED_CODES.has(type)) return { code: type, message: String(message ?? '') };
    e = cause;
  }
  return undefined;
}
