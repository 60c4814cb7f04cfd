#!/usr/bin/env bash
# Installs the veraPDF validator (org.verapdf.apps:greenfield-apps from Maven Central) into the git-ignored
# .tools/verapdf/ and writes its launcher .tools/verapdf/verapdf (a shell script running java on the jars). The tests
# validate the contract document and the Prüfprotokoll as PDF/A with it (test/documents/pdfa-verapdf.test.ts).
#
# Optional: without Java or Maven it says so and exits 0 (the PDF/A tests then skip and say why, except under
# CI=true); SIGNFLOW_VERAPDF=off skips it on purpose. Idempotent: a launcher that answers is kept (well under a second).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.tools/verapdf"
VERSION="${SIGNFLOW_VERAPDF_VERSION:-1.28.2}"
LAUNCHER="$DIR/verapdf"

log() { echo "[install-verapdf] $*" >&2; }

if [ "${SIGNFLOW_VERAPDF:-on}" = "off" ]; then
  log "SIGNFLOW_VERAPDF=off: not installing veraPDF"
  exit 0
fi
if [ -x "$LAUNCHER" ] && [ -f "$DIR/.version-$VERSION" ]; then
  exit 0
fi
if ! command -v java >/dev/null 2>&1; then
  log "no java on PATH: veraPDF not installed (the PDF/A tests will skip and say so)"
  exit 0
fi
if ! command -v mvn >/dev/null 2>&1; then
  log "no mvn on PATH: veraPDF not installed (the PDF/A tests will skip and say so)"
  exit 0
fi

log "fetching org.verapdf.apps:greenfield-apps:$VERSION and its dependencies (Maven)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cat >"$WORK/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>signflow.tools</groupId>
  <artifactId>verapdf-fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.verapdf.apps</groupId>
      <artifactId>greenfield-apps</artifactId>
      <version>$VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
rm -rf "$DIR.tmp"
mkdir -p "$DIR.tmp/lib"
if ! (cd "$WORK" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$DIR.tmp/lib" >&2); then
  rm -rf "$DIR.tmp"
  log "Maven could not fetch veraPDF $VERSION: not installed (the PDF/A tests will skip and say so, except under CI=true)"
  exit 0
fi
cat >"$DIR.tmp/verapdf" <<'SH'
#!/usr/bin/env bash
# veraPDF command line (greenfield parser), e.g. `verapdf --format mrr file.pdf`.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec java -Xss4m -cp "$HERE/lib/*" org.verapdf.apps.GreenfieldCliWrapper "$@"
SH
chmod +x "$DIR.tmp/verapdf"
touch "$DIR.tmp/.version-$VERSION"
rm -rf "$DIR"
mv "$DIR.tmp" "$DIR"
log "veraPDF $VERSION: $LAUNCHER"
