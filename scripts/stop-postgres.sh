#!/usr/bin/env bash
# Stops a server started by scripts/test-postgres.sh and deletes its data directory.
# Usage: scripts/stop-postgres.sh [PGROOT]   (default: $TRACETRAIN_PGROOT, else the last one started)
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [[ ! -x "$PGBIN/pg_ctl" ]] && command -v pg_config >/dev/null; then PGBIN=$(pg_config --bindir); fi
STATE_FILE="$(cd "$(dirname "$0")/.." && pwd)/.tmp/postgres-root"
PGROOT=${1:-${TRACETRAIN_PGROOT:-$(cat "$STATE_FILE" 2>/dev/null || true)}}
if [[ -z "$PGROOT" || ! -d "$PGROOT/data" ]]; then
  echo "no test PostgreSQL server to stop (${PGROOT:-none recorded})" >&2
  exit 0
fi
# Only ever delete a folder this script's partner made.
case "$(basename "$PGROOT")" in tracetrain-pg.*) ;; *) echo "refusing to touch $PGROOT: not made by test-postgres.sh" >&2; exit 1 ;; esac

if [[ $EUID -eq 0 ]]; then as_pg() { runuser -u postgres -- "$@"; }; else as_pg() { "$@"; }; fi
as_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" -m fast -w stop >/dev/null 2>&1 || echo "pg_ctl stop failed (already stopped?)" >&2
rm -rf "$PGROOT"
if [[ -f "$STATE_FILE" && "$(cat "$STATE_FILE")" == "$PGROOT" ]]; then rm -f "$STATE_FILE"; fi
echo "stopped the test PostgreSQL server in $PGROOT" >&2
