#!/usr/bin/env bash
# The README's test command (`npm test` runs it): every jest suite — unit, activity, workflow, end-to-end — against
# SQLite always and MariaDB too when SIGNFLOW_TEST_MYSQL_URL is set. When it is not set, scripts/start-mariadb.sh
# (installs MariaDB from Debian's packages if missing, starts it) provides one; SIGNFLOW_TEST_MYSQL=off skips that.
# Without MariaDB the MySQL variants skip and say so, except under CI=true, where they fail.
#
# Arguments go to jest (`npm test -- test/mail`, `bash scripts/test.sh -t reminder`).
# The JSON result is written to test-results/jest.json (.ci/run reads it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh

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
