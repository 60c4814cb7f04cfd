/**
 * Where the Temporal binaries live: the environment first (TEMPORAL_CLI_PATH, TEMPORAL_TEST_SERVER_PATH), then
 * `.tools/paths.env` written by scripts/setup.sh. Nothing here downloads: a missing binary is an error that says to run
 * the setup script.
 */
import fs from 'node:fs';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..');
export const PATHS_ENV_FILE = path.join(REPO_ROOT, '.tools', 'paths.env');

export interface TemporalToolPaths {
  /** The `temporal` CLI (dev server: `temporal server start-dev`). */
  cliPath: string;
  /** The time-skipping test server (`<path> <port> --enable-time-skipping`). */
  testServerPath: string;
}

/** Parses `KEY=value` / `KEY='value'` lines; `#` comments and blank lines are skipped. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m || line.trimStart().startsWith('#')) continue;
    let value = m[2] ?? '';
    if (value.length >= 2 && (value[0] === "'" || value[0] === '"') && value.endsWith(value[0])) {
      value = value.slice(1, -1);
    }
    out[m[1] as string] = value;
  }
  return out;
}

function readPathsEnv(file: string): Record<string, string> {
  try {
    return parseEnvFile(fs.readFileSync(file, 'utf8'));
  } catch {
    return {};
  }
}

function checkExecutable(name: string, p: string | undefined): string {
  if (!p) throw new Error(`${name} is not set and ${PATHS_ENV_FILE} does not name it: run \`bash scripts/setup.sh\``);
  try {
    fs.accessSync(p, fs.constants.X_OK);
  } catch {
    throw new Error(`${name}=${p} is not an executable file: run \`bash scripts/setup.sh\``);
  }
  return p;
}

function toolPath(key: string, env: NodeJS.ProcessEnv, file: string): string {
  const v = env[key];
  return checkExecutable(key, v !== undefined && v.trim() !== '' ? v : readPathsEnv(file)[key]);
}

/** The `temporal` CLI, for `temporal server start-dev`. */
export function temporalCliPath(env: NodeJS.ProcessEnv = process.env, file = PATHS_ENV_FILE): string {
  return toolPath('TEMPORAL_CLI_PATH', env, file);
}

/** The time-skipping test server binary. */
export function temporalTestServerPath(env: NodeJS.ProcessEnv = process.env, file = PATHS_ENV_FILE): string {
  return toolPath('TEMPORAL_TEST_SERVER_PATH', env, file);
}

export function temporalToolPaths(env: NodeJS.ProcessEnv = process.env, file = PATHS_ENV_FILE): TemporalToolPaths {
  return { cliPath: temporalCliPath(env, file), testServerPath: temporalTestServerPath(env, file) };
}
