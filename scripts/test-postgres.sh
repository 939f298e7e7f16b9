#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 server on 127.0.0.1 for the test suite, and prints the line to
# point the tests at it:
#
#   eval "$(scripts/test-postgres.sh)"      # sets DATABASE_URL (and TRACETRAIN_PGROOT)
#   npx vitest run test/store
#   scripts/stop-postgres.sh                # stops it and deletes its data
#
# The data directory lives in a fresh mktemp folder and is tuned for speed, not safety (no fsync):
# it is for tests only. PGPORT picks the first port to try (default 54329); if it is taken, the
# next free one is used. PGBIN overrides where initdb and pg_ctl are found. As root (CI), the
# server runs as the `postgres` OS user, because initdb refuses to run as root.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [[ ! -x "$PGBIN/initdb" ]] && command -v pg_config >/dev/null; then PGBIN=$(pg_config --bindir); fi
if [[ ! -x "$PGBIN/initdb" ]]; then
  echo "initdb not found in $PGBIN; install PostgreSQL 15 (apt-get install -y postgresql) or set PGBIN" >&2
  exit 1
fi

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PGPORT=${PGPORT:-54329}
for _ in $(seq 1 50); do
  port_in_use "$PGPORT" || break
  PGPORT=$((PGPORT + 1))
done
if port_in_use "$PGPORT"; then echo "no free port found near ${PGPORT}" >&2; exit 1; fi

PGROOT=$(mktemp -d "${TMPDIR:-/tmp}/tracetrain-pg.XXXXXX")
if [[ $EUID -eq 0 ]]; then
  chown postgres:postgres "$PGROOT"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

if ! as_pg "$PGBIN/initdb" -D "$PGROOT/data" -A trust -U postgres --no-sync >"$PGROOT/initdb.log" 2>&1; then
  echo "initdb failed:" >&2
  cat "$PGROOT/initdb.log" >&2 || true
  rm -rf "$PGROOT"
  exit 1
fi
if ! as_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/log" -w -t 30 \
  -o "-p $PGPORT -k $PGROOT -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >/dev/null; then
  echo "PostgreSQL failed to start; its log:" >&2
  cat "$PGROOT/log" >&2 || true
  rm -rf "$PGROOT"
  exit 1
fi

# Remembered for scripts/stop-postgres.sh when it is run without an argument.
STATE_DIR="$(cd "$(dirname "$0")/.." && pwd)/.tmp"
mkdir -p "$STATE_DIR" && echo "$PGROOT" >"$STATE_DIR/postgres-root"

echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') listening on 127.0.0.1:$PGPORT (data in $PGROOT)" >&2
echo "stop it with: scripts/stop-postgres.sh $PGROOT" >&2
echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$PGPORT/postgres TRACETRAIN_PGROOT=$PGROOT"
