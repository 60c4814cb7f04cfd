#!/usr/bin/env bash
# The README's test command (`npm test` runs it): every jest suite — unit, activity, workflow, end-to-end — against
# SQLite always and MariaDB too when SIGNFLOW_TEST_MYSQL_URL is set. When it is not set, scripts/start-mariadb.sh
# (installs MariaDB from Debian's packages if missing, starts it) provides one; SIGNFLOW_TEST_MYSQL=off skips that.
# Without MariaDB the MySQL variants skip and say so, except under CI=true, where they fail; the same holds for the
# Konnektor schema tests without ../shared/konnektor-spec or xmllint (under CI=true a missing folder stops the run here).
#
# Arguments go to jest (`npm test -- test/mail`, `bash scripts/test.sh -t reminder`).
# The JSON result is written to test-results/jest.json (.ci/run reads it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh

# The Konnektor schema tests read the official gematik files in place (never copied into the repository). Locally they
# skip without them and say so; CI must not go green without them.
SPEC_DIR="$(cd "$ROOT/.." && pwd)/shared/konnektor-spec"
if [ "${CI:-}" = true ] && [ ! -f "$SPEC_DIR/conn/SignatureService_V7_5_6.xsd" ]; then
  echo "[test] CI=true but the gematik schema folder ../shared/konnektor-spec is missing (looked for $SPEC_DIR):" >&2
  echo "[test] the Konnektor schema tests must run under CI; put the folder beside the repository" >&2
  exit 1
fi

if [ -z "${SIGNFLOW_TEST_MYSQL_URL:-}" ] && [ "${SIGNFLOW_TEST_MYSQL:-on}" != off ] && [ -f scripts/start-mariadb.sh ]; then
  # The script logs to stderr and prints the URL as its last line on stdout.
  if url="$(bash scripts/start-mariadb.sh </dev/null | tail -n 1)" && [ -n "$url" ]; then
    export SIGNFLOW_TEST_MYSQL_URL="$url"
    echo "[test] MariaDB: $SIGNFLOW_TEST_MYSQL_URL" >&2
  else
    echo "[test] no MariaDB: the MySQL variants skip (and fail under CI=true)" >&2
  fi
fi

mkdir -p test-results
rm -f test-results/jest.json
exec "$ROOT/node_modules/.bin/jest" --json --outputFile=test-results/jest.json "$@"
