#!/usr/bin/env bash
# Backlog benchmarks (issue 16): how fast one replica works off what piled up while a
# neighbour was away, each against a baseline measured in the same run:
#   relay_drain        — the outbox relay delivers N events to a receiver that answers in 1 ms,
#                        vs. that receiver called directly (same calls, same concurrency);
#   reevaluation_drain — complaints accepted while customers was down are re-evaluated once it
#                        is back, vs. the create rate of the same service on the same database.
# Release build → PostgreSQL 15 at default durability on a free 127.0.0.1 port → each benchmark
# RUNS times (default 3, to see the spread) → JSON lines in target-release/bench/backlog.jsonl.
#   RUNS=3 RELAY_EVENTS=20000 REEVAL_COMPLAINTS=5000 scripts/bench-backlog.sh
set -euo pipefail
# The services are measured without authentication unless CSOPS_AUTH says otherwise (the
# cost of verifying tokens is measured on its own, see BENCHMARKS.md).
export CSOPS_AUTH="${CSOPS_AUTH:-off}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
runs="${RUNS:-3}"
events="${RELAY_EVENTS:-20000}"
complaints="${REEVAL_COMPLAINTS:-5000}"
out="$repo/target-release/bench"
pgbin="${CSOPS_PG_BINDIR:-/usr/lib/postgresql/15/bin}"

cargo build --release --locked --target-dir target-release -p csops-load
load="$repo/target-release/release/csops-load"
mkdir -p "$out"
work="$(mktemp -d /tmp/csops-backlog.XXXXXX)"
chmod 755 "$work"
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
cleanup() {
    as_pg "$pgbin/pg_ctl" -D "$work/pg" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/pg" && chown -R postgres:postgres "$work"
as_pg "$pgbin/initdb" -A trust -U postgres -E UTF8 --locale=C -D "$work/pg" >/dev/null
pgport="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w -t 30 \
    -o "-p $pgport -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work -c max_connections=200" start >/dev/null
psql() { "$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
pg_url() { echo "postgres://postgres@127.0.0.1:$pgport/$1"; }

result="$out/backlog.jsonl"
: >"$result"
printf '{"date":"%s","cpu":"%s","cores":%s,"commit":"%s","loadavg_at_start":"%s"}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
    "$(nproc)" "$(git rev-parse --short HEAD)" "$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$result"
for run in $(seq 1 "$runs"); do
    psql -d postgres -c "DROP DATABASE IF EXISTS relay" -c "CREATE DATABASE relay"
    "$load" relay-drain --database-url "$(pg_url relay)" --events "$events" | tee -a "$result"
    psql -d postgres -c "DROP DATABASE IF EXISTS customers" -c "DROP DATABASE IF EXISTS complaints" \
        -c "CREATE DATABASE customers" -c "CREATE DATABASE complaints"
    RUST_LOG=error "$load" reevaluation-drain --customers-database-url "$(pg_url customers)" \
        --complaints-database-url "$(pg_url complaints)" --complaints "$complaints" | tee -a "$result"
done
