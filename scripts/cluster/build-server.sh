#!/usr/bin/env bash
# Builds the Temporal server and its SQL schema tool from the Go module proxy (go.temporal.io/server) once, into the
# user's cache (not the repository), and prints the folder with the two binaries on its last line. A second run with
# the binaries present does nothing, so CI keeps them in its cache instead of rebuilding.
#
#   bash scripts/cluster/build-server.sh            # TEMPORAL_SERVER_VERSION=v1.32.2 by default
#
# The build is CPU heavy (several minutes on two cores): it runs with `nice -n 19`. The server module asks for a newer
# Go than some systems have; GOTOOLCHAIN (default go1.26.10+auto, the version v1.32.2 asks for) lets `go` fetch that
# toolchain, itself a Go module.
set -euo pipefail

VERSION="${TEMPORAL_SERVER_VERSION:-v1.32.2}"
CACHE="${SIGNFLOW_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/signflow}"
BIN="$CACHE/temporal-${VERSION#v}/bin"

# An interrupted run may have left the binaries under the names `go install` gives them.
[ -x "$BIN/server" ] && [ ! -e "$BIN/temporal-server" ] && [ -x "$BIN/sql" ] && mv "$BIN/server" "$BIN/temporal-server" && mv "$BIN/sql" "$BIN/temporal-sql-tool"
if [ -x "$BIN/temporal-server" ] && [ -x "$BIN/temporal-sql-tool" ]; then
  echo "$BIN"
  exit 0
fi
command -v go >/dev/null || { echo "build-server: Go is not installed (https://go.dev/dl/)" >&2; exit 1; }

mkdir -p "$BIN"
echo "build-server: building go.temporal.io/server@$VERSION into $BIN (nice -n 19; takes a while)" >&2
# Outside any module, so `go install pkg@version` resolves the server's own go.mod.
cd "$(mktemp -d)"
GOBIN="$BIN" GOFLAGS="${GOFLAGS:--p=2}" GOTOOLCHAIN="${GOTOOLCHAIN:-go1.26.10+auto}" nice -n 19 \
  go install "go.temporal.io/server/cmd/server@$VERSION" "go.temporal.io/server/cmd/tools/sql@$VERSION" >&2
mv "$BIN/server" "$BIN/temporal-server"
mv "$BIN/sql" "$BIN/temporal-sql-tool"
echo "$BIN"
