#!/usr/bin/env bash
# A private PostgreSQL for the tests: `pg.sh start` installs the server from Debian's packages
# when missing, initialises a cluster in $VERITY_PG_DIR, starts it on 127.0.0.1:$VERITY_PG_PORT
# and prints the database URL; `pg.sh stop` stops it. Idempotent.
set -euo pipefail
PGDIR=${VERITY_PG_DIR:-/tmp/verity-pg}
PORT=${VERITY_PG_PORT:-55432}
DB=verity_test
log() { echo "[pg] $*" >&2; }

bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-start}" in
  start)
    BIN=$(bin_dir)
    if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
      log "installing postgresql from Debian's packages"
      if [ "$(id -u)" = 0 ]; then
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
      else
        sudo apt-get update -qq >&2 && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
      fi
      BIN=$(bin_dir)
    fi
    if [ ! -f "$PGDIR/PG_VERSION" ]; then
      log "initialising a cluster in $PGDIR"
      mkdir -p "$PGDIR"
      [ "$(id -u)" = 0 ] && chown postgres: "$PGDIR"
      as_pg "$BIN/initdb" -D "$PGDIR" -A trust -U verity >/dev/null
    fi
    if ! as_pg "$BIN/pg_ctl" -D "$PGDIR" status >/dev/null 2>&1; then
      log "starting PostgreSQL on 127.0.0.1:$PORT"
      as_pg "$BIN/pg_ctl" -D "$PGDIR" -w -l "$PGDIR/server.log" \
        -o "-p $PORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=on" start >&2
    fi
    as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U verity -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 ||
      as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U verity "$DB"
    echo "postgres://verity@127.0.0.1:$PORT/$DB"
    ;;
  stop)
    BIN=$(bin_dir)
    if [ -n "$BIN" ] && [ -f "$PGDIR/PG_VERSION" ]; then
      as_pg "$BIN/pg_ctl" -D "$PGDIR" -m fast stop >&2 || true
    fi
    ;;
  *) echo "usage: pg.sh start|stop" >&2; exit 2 ;;
esac
