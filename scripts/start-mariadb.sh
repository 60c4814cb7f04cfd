#!/usr/bin/env bash
# Makes a local MariaDB available for the MySQL variant of the tests, idempotently:
# installs Debian's mariadb-server if missing (needs root), starts it if not running, lets root connect over TCP on
# loopback without a password, and prints the URL to put into SIGNFLOW_TEST_MYSQL_URL.
# Usage: eval "$(scripts/start-mariadb.sh --export)"  or  scripts/start-mariadb.sh   (prints the URL on the last line)
set -euo pipefail

PORT="${SIGNFLOW_MARIADB_PORT:-3306}"
URL="mysql://root@127.0.0.1:${PORT}/"
LOG="${TMPDIR:-/tmp}/signflow-mariadb.log"

log() { echo "[start-mariadb] $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else
    log "need root for: $*"; return 1
  fi
}

tcp_ok() {
  mariadb --protocol=TCP -h 127.0.0.1 -P "$PORT" -u root -e 'SELECT 1' >/dev/null 2>&1
}

if ! command -v mariadbd >/dev/null 2>&1 && ! [ -x /usr/sbin/mariadbd ]; then
  log "installing mariadb-server from the Debian packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >&2
fi

if ! tcp_ok; then
  if ! as_root mariadb -e 'SELECT 1' >/dev/null 2>&1; then
    log "starting mariadbd (log: $LOG)"
    as_root mkdir -p /run/mysqld
    as_root chown mysql:mysql /run/mysqld
    # Detached so it outlives this script; mysqld_safe restarts the server if it crashes.
    (as_root setsid mysqld_safe --user=mysql --port="$PORT" --bind-address=127.0.0.1 >"$LOG" 2>&1 &)
    for _ in $(seq 1 60); do
      as_root mariadb -e 'SELECT 1' >/dev/null 2>&1 && break
      sleep 0.5
    done
    as_root mariadb -e 'SELECT 1' >/dev/null 2>&1 || { log "mariadbd did not come up in 30 s"; cat "$LOG" >&2; exit 1; }
  fi
  log "allowing root over TCP on loopback without password"
  as_root mariadb -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket;
    CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
    GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; FLUSH PRIVILEGES;"
  tcp_ok || { log "root cannot connect over TCP at 127.0.0.1:$PORT"; exit 1; }
fi

if [ "${1:-}" = "--export" ]; then
  echo "export SIGNFLOW_TEST_MYSQL_URL='$URL'"
else
  echo "$URL"
fi
