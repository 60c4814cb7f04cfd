/**
 * Where a command's answer goes. Human output by default; with `--json` exactly one JSON document on stdout per run
 * (the result, or `{ "error": { … } }`), so scripts read one place. Progress and hints go to stderr, never stdout.
 */
import type { CliError } from './exit-codes';

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env: Record<string, string | undefined>;
}

export class Output {
  constructor(
    readonly io: Io,
    readonly json: boolean
  ) {}

  /** The command's answer: `data` as JSON, or the human rendering. */
  result(data: unknown, human: () => string): void {
    if (this.json) this.io.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    else this.io.stdout.write(`${human()}\n`);
  }

  /** A side remark for people (stderr); silent under `--json`. */
  note(text: string): void {
    if (!this.json) this.io.stderr.write(`${text}\n`);
  }

  error(err: CliError): void {
    if (this.json) {
      const error = {
        code: err.code,
        message: err.message,
        exitCode: err.exitCode,
        ...(err.details ? { details: err.details } : {}),
      };
      this.io.stdout.write(`${JSON.stringify({ error }, null, 2)}\n`);
    } else {
      this.io.stderr.write(`signflow: ${err.message} [${err.code}]\n`);
    }
  }
}
