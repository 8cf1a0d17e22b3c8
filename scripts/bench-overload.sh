#!/usr/bin/env bash
# Overload (issue 14, part 3): the customers service offered twice what it can serve, with
# admission on (--max-concurrent-calls 128, the default) and off (a limit no run reaches), in
# the same run on one PostgreSQL. First a closed loop of 64 callers measures what the service
# serves (its saturation, S calls/s); then an open loop offers 2·S calls/s, whatever the
# answers do, to a freshly started process of each side, rounds alternating which side goes
# first. Per side: calls/s answered OK, refused (RESOURCE_EXHAUSTED) and timed out, latency of
# the OK and of the refused calls, and the process's peak memory (VmHWM); and, from one more
# caller in a closed loop beside the open loop, how fast a lone client's calls are answered.
#   OVERLOAD_SCENARIO=list_customers OVERLOAD_ROUNDS=2 OVERLOAD_SECONDS=10 scripts/bench-overload.sh
#   OVERLOAD_LIMIT=128: the admission limit of side "on".
#   OVERLOAD_NO_BUILD=1: measure the binaries already in target-release/release.
set -euo pipefail
# The services are measured without authentication unless CSOPS_AUTH says otherwise (the
# cost of verifying tokens is measured on its own, see BENCHMARKS.md).
export CSOPS_AUTH="${CSOPS_AUTH:-off}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
[[ -n ${OVERLOAD_NO_BUILD:-} ]] || cargo build --release --locked --target-dir target-release \
    -p csops-load -p csops-customers
bin="$repo/target-release/release"
scenario="${OVERLOAD_SCENARIO:-list_customers}"
rounds="${OVERLOAD_ROUNDS:-2}"
seconds="${OVERLOAD_SECONDS:-10}"
pgbin="${CSOPS_PG_BINDIR:-/usr/lib/postgresql/15/bin}"
out="$repo/target-release/bench-overload"
rm -rf "$out" && mkdir -p "$out"
work="$(mktemp -d /tmp/csops-overload.XXXXXX)"
chmod 755 "$work"
service_pid=""
cleanup() {
    [[ -n $service_pid ]] && kill -TERM "$service_pid" 2>/dev/null
    sleep 1
    setpriv --reuid=postgres --regid=postgres --init-groups \
        "$pgbin/pg_ctl" -D "$work/pg" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

mkdir -p "$work/pg" && chown -R postgres:postgres "$work"
as_pg "$pgbin/initdb" -A trust -U postgres -E UTF8 --locale=C -D "$work/pg" >/dev/null
pgport="$(free_port)"
as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w -t 30 \
    -o "-p $pgport -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work" start >/dev/null
"$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U postgres -qAt -c "CREATE DATABASE customers" >/dev/null

# start LIMIT: a fresh customers process admitting LIMIT calls at once; sets service_pid, url.
start() {
    local port
    [[ -n $service_pid ]] && { kill -TERM "$service_pid"; wait "$service_pid" 2>/dev/null || true; }
    port="$(free_port)"
    CSOPS_LOG_FORMAT=json RUST_LOG=warn "$bin/csops-customers" --listen-addr "127.0.0.1:$port" \
        --metrics-addr off --max-concurrent-calls "$1" \
        --database-url "postgres://postgres@127.0.0.1:$pgport/customers" >>"$work/customers.log" 2>&1 &
    service_pid=$!
    url="http://127.0.0.1:$port"
    "$bin/csops-load" wait-serving --target "$url" --service csops.customers.v1.CustomersService \
        --timeout 30s >/dev/null
}
peak_mib() { awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$service_pid/status"; }

start "${OVERLOAD_LIMIT:-128}"
saturation="$("$bin/csops-load" run -s "$scenario" -c 64 --duration "${seconds}s" --warmup 2s \
    --target "$url" --json | jq '.total.ok_per_s')"
offered="$(jq -n --argjson s "$saturation" '$s * 2 | round')"
echo "$scenario: saturation $(jq -n --argjson s "$saturation" '$s | round') calls/s (closed loop, 64 callers); offering $offered calls/s"

for round in $(seq 1 "$rounds"); do
    sides=(on off)
    ((round % 2 == 0)) && sides=(off on)
    for side in "${sides[@]}"; do
        limit="${OVERLOAD_LIMIT:-128}"
        [[ $side == off ]] && limit=100000
        start "$limit"
        # Beside the open loop, one caller in a closed loop: its calls' times are the
        # service's answers as a lone client sees them, without the open loop's own lag.
        # Both seed one row only (the closed loop above seeded the table) so they start
        # together; the probe measures 1 s less at each end, inside the open loop's time.
        "$bin/csops-load" run -s "$scenario" -c 1 --seed 1 --call-timeout 10s \
            --duration "$((seconds - 2))s" --warmup 3s --target "$url" --json >"$out/$side-$round-probe.json" &
        probe=$!
        "$bin/csops-load" run -s "$scenario" --rate "$offered" --max-in-flight 50000 --seed 1 \
            --call-timeout 10s --duration "${seconds}s" --warmup 2s --target "$url" --json \
            >"$out/$side-$round.json"
        wait "$probe"
        jq -c --arg side "$side" --argjson round "$round" --argjson offered "$offered" \
            --argjson peak "$(peak_mib)" --slurpfile probe "$out/$side-$round-probe.json" \
            '{side:$side, round:$round, offered:$offered, ok_per_s:(.total.ok_per_s|round),
              refused_per_s:(((.total.errors.RESOURCE_EXHAUSTED // 0) / .duration_s)|round),
              unavailable_per_s:(((.total.errors.UNAVAILABLE // 0) / .duration_s)|round),
              timed_out_per_s:((((.total.errors.DEADLINE_EXCEEDED // 0) + (.total.errors.CANCELLED // 0)) / .duration_s)|round),
              ok_p50_ms:.total.ok_latency_ms.p50, ok_p99_ms:.total.ok_latency_ms.p99,
              refused_p50_ms:.total.error_latency_ms.p50, refused_p99_ms:.total.error_latency_ms.p99,
              refused_max_ms:.total.error_latency_ms.max, peak_rss_mib:$peak,
              probe_calls:$probe[0].total.calls, probe_errors:$probe[0].total.errors,
              probe_refused_p50_ms:$probe[0].total.error_latency_ms.p50,
              probe_refused_p99_ms:$probe[0].total.error_latency_ms.p99,
              probe_ok_p50_ms:$probe[0].total.ok_latency_ms.p50}' \
            "$out/$side-$round.json" | tee -a "$out/rounds.jsonl"
    done
done
echo "logs: $work/customers.log (removed on exit); reports: $out"
