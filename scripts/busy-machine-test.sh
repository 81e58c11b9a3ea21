#!/usr/bin/env bash
# Runs the test suite on a deliberately busy machine, to prove the tests wait for conditions
# rather than for time:
#   * a write transaction is kept open in another database of the same PostgreSQL cluster, one
#     20-second transaction after another. pg_snapshot_xmin is cluster-wide, so every event-feed
#     reader (subscriptions, projections, catch-ups) sees nothing newer until it ends;
#   * one CPU-bound process per core competes with Jest, its workers and PostgreSQL.
# Usage: scripts/busy-machine-test.sh [jest arguments...]   (e.g. a spec path to run only that)
# Exit code: Jest's (or the build's, if the build fails; 2 if the cluster cannot be reached).
# Everything it starts is bounded by BUSY_LIMIT_SECONDS and is stopped, and the scratch database
# dropped, when it exits for any reason. (Interrupting it stops Jest too: the ul_test_* databases
# of the test files that were running are then left behind, as with any interrupted test run.)
# Knobs: BUSY_HOLD_SECONDS (20), BUSY_LIMIT_SECONDS (1800), BUSY_CPU_HOGS (nproc), BUSY_HOLDER_DB.
# Note: the open transactions slow down feed readers in EVERY database of the cluster, including
# other people's test runs on a shared server.
set -uo pipefail
cd "$(dirname "$0")/.."

# The cluster the tests use: the script hands the same URL to Jest, so both are sure to agree.
ADMIN_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
HOLDER_DB=${BUSY_HOLDER_DB:-ul_busy_holder}
HOLD_SECONDS=${BUSY_HOLD_SECONDS:-20}
LIMIT_SECONDS=${BUSY_LIMIT_SECONDS:-1800}
CPU_HOGS=${BUSY_CPU_HOGS:-$(nproc)}
LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ul-busy.XXXXXX")

case "$HOLDER_DB" in
  *[!a-z0-9_]* | '') echo "BUSY_HOLDER_DB must be a plain lower-case identifier" >&2; exit 2 ;;
esac

log() { printf '[busy %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
sql() { psql "$ADMIN_URL" -X -q -v ON_ERROR_STOP=1 -At "$@"; }
# The same, connected to the scratch database (\c keeps the host, port and user of ADMIN_URL).
holder_sql() { sql -c "\\c $HOLDER_DB" "$@"; }

if ! sql -c 'SELECT 1' >/dev/null; then
  echo "cannot reach PostgreSQL at $ADMIN_URL (set DATABASE_URL)" >&2
  exit 2
fi

# Each background job runs in a session of its own (setsid), so cleanup can stop it and its
# children by process-group id and nothing else.
GROUPS_STARTED=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for group in "${GROUPS_STARTED[@]}"; do kill -TERM -- "-$group" 2>/dev/null; done
  # FORCE also ends the holder's session if a psql was mid-transaction.
  sql -c "DROP DATABASE IF EXISTS $HOLDER_DB WITH (FORCE)" >/dev/null 2>&1 ||
    log "could not drop $HOLDER_DB: drop it by hand"
  if [ -s "$LOG_DIR/holder.log" ]; then log "holder errors:"; cat "$LOG_DIR/holder.log"; fi
  rm -rf "$LOG_DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "build (before the load starts)"
npm run build || exit $?

sql -c "DROP DATABASE IF EXISTS $HOLDER_DB WITH (FORCE)" -c "CREATE DATABASE $HOLDER_DB" || exit 2
holder_sql -c 'CREATE TABLE held (at timestamptz NOT NULL)' || exit 2

# One write transaction after another, each holding an xid for HOLD_SECONDS. The INSERT is what
# assigns the xid (a read-only transaction would not hold anyone back).
setsid bash -c '
  end=$((SECONDS + '"$LIMIT_SECONDS"'))
  while [ "$SECONDS" -lt "$end" ]; do
    psql "$0" -X -q -v ON_ERROR_STOP=1 -c "\\c $1" \
      -c "BEGIN" -c "INSERT INTO held VALUES (clock_timestamp())" -c "SELECT pg_sleep($2)" -c "COMMIT" >/dev/null || sleep 1
  done' "$ADMIN_URL" "$HOLDER_DB" "$HOLD_SECONDS" 2>>"$LOG_DIR/holder.log" &
GROUPS_STARTED+=("$!")

# One busy loop per core, at the same priority as the tests.
for _ in $(seq "$CPU_HOGS"); do
  setsid timeout "$LIMIT_SECONDS" node -e 'for (;;) {}' &
  GROUPS_STARTED+=("$!")
done

# Start the tests only once the feed really is held back: the holder's transaction has an xid.
holding=""
for _ in $(seq 100); do
  holding=$(sql -c "SELECT backend_xid FROM pg_stat_activity WHERE datname = '$HOLDER_DB' AND backend_xid IS NOT NULL LIMIT 1")
  [ -n "$holding" ] && break
  sleep 0.1 # Waiting for a condition, bounded (10 s): not a synchronisation by time.
done
if [ -z "$holding" ]; then log "the holder transaction never started"; exit 2; fi
log "holding xid $holding open in $HOLDER_DB (${HOLD_SECONDS}s transactions, back to back); $CPU_HOGS CPU hogs running"

started=$(date +%s)
# In the background and waited for, so that a signal to this script is handled at once (and
# stops Jest with everything else) instead of after Jest ends.
DATABASE_URL=$ADMIN_URL setsid timeout --kill-after=30 "$LIMIT_SECONDS" npx jest --ci "$@" &
GROUPS_STARTED+=("$!")
wait "$!"
rc=$?
held=$(holder_sql -c 'SELECT count(*) FROM held')
log "jest exited $rc after $(( $(date +%s) - started ))s; $held holder transactions committed meanwhile (plus the one still open)"
exit "$rc"
