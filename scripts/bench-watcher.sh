#!/usr/bin/env bash
# Breach watcher benchmarks (issue 13): one complaints replica on PostgreSQL 15 working off due
# SLA clocks, each figure against a limit measured in the same run.
#   watcher_1pct — CLOCKS open complaints, 1 % of them due (their first-contact clock breached):
#                  how long until the watcher has checked and escalated every due one, counted
#                  from the process start (so it includes start-up); target ≤ 1 s.
#   watcher_all  — CLOCKS complaints due at once: breaches reported and escalated per second
#                  (target ≥ 50,000/s and ≥ 70 % of the limit).
#   limit        — pgbench, one client (a replica's watcher works one batch at a time), per
#                  transaction the statements of one batch of 500: the claim, verbatim; the
#                  multi-row UPDATE and the multi-row INSERTs of what a breach writes (the rows
#                  the service wrote in watcher_1pct, copied server-side, since pgbench cannot
#                  bind 500 bodies: the limit skips the transfer of the bodies, a bit easier).
#   before       — with WATCHER_BEFORE_BIN (a csops-complaints built from an older commit):
#                  watcher_all with that binary for WATCHER_BEFORE_SECS seconds, extrapolated.
# The complaints are copies of one real complaint, created through the API under a policy with
# a one-second first contact (services/complaints/tests/fast-policy.toml) and seeded in SQL.
#   CLOCKS=1000000 WATCHER_BEFORE_BIN=target-before/release/csops-complaints scripts/bench-watcher.sh
# Results: JSON lines in target-release/bench/watcher.jsonl, and a summary on stdout.
set -euo pipefail
# The services are measured without authentication unless CSOPS_AUTH says otherwise (the
# cost of verifying tokens is measured on its own, see BENCHMARKS.md).
export CSOPS_AUTH="${CSOPS_AUTH:-off}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
clocks="${CLOCKS:-1000000}"
secs="${WATCHER_SECS:-120}"
before_bin="${WATCHER_BEFORE_BIN:-}"
before_secs="${WATCHER_BEFORE_SECS:-30}"
out="$repo/target-release/bench"
pgbin="${CSOPS_PG_BINDIR:-/usr/lib/postgresql/15/bin}"
policy="$repo/services/complaints/tests/fast-policy.toml"

bash scripts/install-tools.sh >/dev/null
grpcurl="$repo/.tools/venv/bin/grpcurl"
[[ -n "${WATCHER_NO_BUILD:-}" ]] || cargo build --release --locked --target-dir target-release -p csops-complaints
after_bin="$repo/target-release/release/csops-complaints"
mkdir -p "$out"
work="$(mktemp -d /tmp/csops-watcher.XXXXXX)"
chmod 755 "$work"
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
svc_pid=""
cleanup() {
    [[ -n "$svc_pid" ]] && kill -KILL "$svc_pid" 2>/dev/null || true
    as_pg "$pgbin/pg_ctl" -D "$work/pg" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/pg" && chown -R postgres:postgres "$work"
as_pg "$pgbin/initdb" -A trust -U postgres -E UTF8 --locale=C -D "$work/pg" >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pgport="$(free_port)"
as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w -t 30 \
    -o "-p $pgport -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work -c max_connections=200" start >/dev/null
psql() { "$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
pg_url() { echo "postgres://postgres@127.0.0.1:$pgport/$1"; }
now_us() { echo $(($(date +%s%N) / 1000)); }
# CPU seconds (user + system) used so far by a process, and by all of PostgreSQL's processes.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
pg_cpu_s() {
    local total=0 pid
    for pid in $(pgrep -u postgres postgres); do
        total="$(awk -v t="$total" -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", t + ($14 + $15 + $16 + $17) / hz }' "/proc/$pid/stat" 2>/dev/null || echo "$total")"
    done
    echo "$total"
}

result="$out/watcher.jsonl"
: >"$result"
printf '{"date":"%s","cpu":"%s","cores":%s,"commit":"%s","clocks":%s,"loadavg_at_start":"%s"}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
    "$(nproc)" "$(git rev-parse --short HEAD)" "$clocks" "$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$result"

# start BINARY DB [ENV...]: the complaints service on DB, its neighbours unreachable, the fast
# policy; returns once it answers health checks.
start() {
    local binary="$1" db="$2"
    shift 2
    local port
    port="$(free_port)"
    env "$@" CSOPS_CUSTOMERS_URL=http://127.0.0.1:9 CSOPS_SLA_POLICY_FILE="$policy" \
        CSOPS_LOG_FORMAT=json RUST_LOG=warn \
        "$binary" --listen-addr "127.0.0.1:$port" --metrics-addr "127.0.0.1:$(free_port)" \
        --database-url "$(pg_url "$db")" >>"$work/service.log" 2>&1 &
    svc_pid=$!
    disown "$svc_pid" # killed on purpose below: no "Killed" notice from the shell
    svc_addr="127.0.0.1:$port"
    for _ in $(seq 1 300); do
        "$grpcurl" -plaintext "$svc_addr" grpc.health.v1.Health/Check >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "bench-watcher: the service did not start; see its log:" >&2
    tail -20 "$work/service.log" >&2
    return 1
}
stop() {
    kill -TERM "$svc_pid" 2>/dev/null || true
    for _ in $(seq 1 600); do kill -0 "$svc_pid" 2>/dev/null || { svc_pid=""; return 0; }; sleep 0.1; done
    echo "bench-watcher: pid $svc_pid did not stop within 60 s of SIGTERM" >&2
    return 1
}

# One template database per binary (each applies its own migrations), holding the schema and
# the template complaint.
template() { # NAME BINARY
    psql -d postgres -c "CREATE DATABASE $1"
    start "$2" "$1" CSOPS_SLA_WATCH_INTERVAL=1h
}
template tpl_after "$after_bin"
"$grpcurl" -plaintext -d @ "$svc_addr" csops.complaints.v1.ComplaintsService/CreateComplaint >/dev/null <<'JSON'
{"request_id": "bench-watcher-template", "actor": {"id": "agent-7", "role": "ACTOR_ROLE_AGENT"},
 "complaint": {"customer_id": "cus_0123456789abcdef", "title": "Broadband drops every evening",
   "nature": "COMPLAINT_NATURE_PRODUCT_QUALITY", "severity": "SEVERITY_MEDIUM",
   "channel": "CHANNEL_HOTLINE"}}
JSON
kill -KILL "$svc_pid"
svc_pid=""
if [[ "$(psql -d tpl_after -c "SELECT count(*) FROM sla_escalations")" != 0 ]]; then
    echo "bench-watcher: the template complaint was escalated before the service stopped; run again" >&2
    exit 1
fi
psql -d tpl_after -c "CREATE TABLE tpl AS SELECT * FROM complaints" -c "DELETE FROM complaints"
if [[ -n "$before_bin" ]]; then
    template tpl_before "$before_bin"
    stop
    psql -d tpl_after -c "COPY tpl TO STDOUT" >"$work/tpl.copy"
    psql -d tpl_before -c "CREATE TABLE tpl AS SELECT * FROM complaints WITH NO DATA"
    psql -d tpl_before -c "COPY tpl FROM STDIN" <"$work/tpl.copy"
fi
# The first-contact clock (one second) of every copy is breached by now.
sleep 2

# seed NAME TEMPLATE DUE: a database from TEMPLATE with CLOCKS copies of the template, the first
# DUE of them due now, the others in a day.
seed() {
    local name="$1" tpl="$2" due="$3" due_at far t0
    due_at="$(now_us)"
    far=$((due_at + 86400000000))
    # A killed service's connections to the template linger a moment.
    for _ in $(seq 1 60); do
        psql -d postgres -c "CREATE DATABASE $name TEMPLATE $tpl" 2>/dev/null && break
        sleep 0.5
    done
    t0="$(date +%s%N)"
    psql -d "$name" -c "INSERT INTO complaints (id, customer_id, state, nature, severity, assigned_agent_id, escalation_level, sla_state, defaulted, next_check_time, lease_owner, lease_until, body, version, create_time, update_time) SELECT 'w' || g, customer_id, state, nature, severity, assigned_agent_id, escalation_level, sla_state, 0, CASE WHEN g <= $due THEN $due_at ELSE $far END, '', 0, replace(body, tpl.id, 'w' || g), version, create_time + g, update_time FROM tpl, generate_series(1, $clocks) g" \
        -c "VACUUM ANALYZE complaints"
    printf 'seeded %s: %s complaints, %s due, in %s s\n' "$name" "$clocks" "$due" "$(( ($(date +%s%N) - t0) / 1000000000 ))"
    seeded_due_at="$due_at"
}
due() { psql -d "$1" -c "SELECT count(*) FROM complaints WHERE next_check_time > 0 AND next_check_time <= $seeded_due_at"; }

# run NAME BINARY DB SECONDS POLL: starts the service (its watcher sweeps at once), counts the
# due complaints every POLL seconds until none is due or SECONDS pass; prints JSON.
run() {
    local name="$1" binary="$2" db="$3" limit_s="$4" poll="$5" t0 t1 left total
    total="$(due "$db")"
    local pg0 svc_cpu pg_cpu
    pg0="$(pg_cpu_s)"
    t0="$(date +%s%N)"
    # shellcheck disable=SC2086 # WATCHER_ENV: extra NAME=value words for the service
    start "$binary" "$db" CSOPS_SLA_WATCH_INTERVAL=5s ${WATCHER_ENV:-}
    if [[ -n "${WATCHER_PERF:-}" && "$name" == watcher_all ]]; then
        perf record -e cpu-clock -a -o "$out/watcher_perf.data" -- sleep 15 >/dev/null 2>&1 &
    fi
    while :; do
        left="$(due "$db")"
        t1="$(date +%s%N)"
        [[ "$left" == 0 ]] && break
        (( (t1 - t0) / 1000000000 >= limit_s )) && break
        sleep "$poll"
    done
    svc_cpu="$(cpu_s "$svc_pid")"
    pg_cpu="$(awk -v a="$(pg_cpu_s)" -v b="$pg0" 'BEGIN { printf "%.2f", a - b }')"
    stop
    local escalated
    escalated="$(psql -d "$db" -c "SELECT count(*) FROM sla_escalations WHERE complaint_id LIKE 'w%'")"
    jq -nc --arg name "$name" --argjson due "$total" --argjson left "$left" \
        --argjson escalated "$escalated" --argjson ms "$(( (t1 - t0) / 1000000 ))" \
        --argjson svc_cpu "$svc_cpu" --argjson pg_cpu "$pg_cpu" \
        '{name:$name, due:$due, checked:($due-$left), escalated:$escalated, seconds:($ms/1000),
          clocks_per_s:(($due-$left)/($ms/1000)), done:($left==0),
          service_cpu_s:$svc_cpu, postgres_cpu_s:$pg_cpu}' | tee -a "$result"
}

seed w_1pct tpl_after $((clocks / 100))
run watcher_1pct "$after_bin" w_1pct 60 0.05
# What one changed complaint wrote: the rows the limit writes per complaint.
one="$(psql -d w_1pct -c "SELECT complaint_id FROM sla_escalations WHERE complaint_id LIKE 'w%' LIMIT 1")"
per_complaint="$(psql -d w_1pct -c "SELECT (SELECT count(*) FROM timeline_entries WHERE complaint_id = '$one') || ' timeline, ' || (SELECT count(*) FROM sla_events WHERE complaint_id = '$one') || ' sla events, ' || (SELECT count(*) FROM outbox_events WHERE aggregate_id = '$one') || ' outbox, ' || (SELECT count(*) FROM sla_escalations WHERE complaint_id = '$one') || ' escalations'")"
echo "a breach writes per complaint: $per_complaint"
for table in complaints timeline_entries sla_events outbox_events sla_escalations; do
    key=complaint_id
    [[ $table == complaints ]] && key=id
    [[ $table == outbox_events ]] && key=aggregate_id
    psql -d w_1pct -c "COPY (SELECT * FROM $table WHERE $key = '$one') TO STDOUT" >"$work/changed_$table.copy"
done
psql -d postgres -c "DROP DATABASE w_1pct"

seed w_all tpl_after "$clocks"
run watcher_all "$after_bin" w_all "$secs" 1
psql -d postgres -c "DROP DATABASE w_all"

# The limit, on a fresh copy: its claim leaves the rows due (lease_until stays 0), so every
# transaction claims a full batch.
seed w_limit tpl_after "$clocks"
for table in complaints timeline_entries sla_events outbox_events sla_escalations; do
    psql -d w_limit -c "CREATE TABLE chg_$table AS SELECT * FROM $table WITH NO DATA"
    psql -d w_limit -c "COPY chg_$table FROM STDIN" <"$work/changed_$table.copy"
done
cat >"$work/batch.sql" <<SQL
\set b random(0, $((clocks / 500 - 1)))
\set r random(1, 9000000000000000)
UPDATE complaints SET lease_owner = 'pgbench', lease_until = 0 WHERE id IN (SELECT id FROM complaints WHERE next_check_time > 0 AND next_check_time <= $seeded_due_at AND lease_until < $seeded_due_at ORDER BY next_check_time LIMIT 500 FOR UPDATE SKIP LOCKED) AND lease_until < $seeded_due_at RETURNING id, body, version, traceparent, tracestate;
BEGIN;
UPDATE complaints SET state = t.state, nature = t.nature, severity = t.severity, assigned_agent_id = t.assigned_agent_id, escalation_level = t.escalation_level, sla_state = t.sla_state, defaulted = t.defaulted, next_check_time = $seeded_due_at, lease_owner = '', lease_until = 0, body = t.body, version = complaints.version, update_time = t.update_time, accountable_agent_id = t.accountable_agent_id FROM chg_complaints t, generate_series(1, 500) g WHERE complaints.id = 'w' || (:b * 500 + g) AND complaints.version >= 0 RETURNING complaints.id;
INSERT INTO sla_escalations (complaint_id, subject_id, escalation_level, create_time) SELECT 'p' || :r || '_' || g, subject_id, escalation_level, create_time FROM chg_sla_escalations, generate_series(1, 500) g ON CONFLICT DO NOTHING RETURNING complaint_id;
INSERT INTO timeline_entries (complaint_id, sequence, id, kind, create_time, body) SELECT 'p' || :r || '_' || g, sequence, id || :r || '_' || g, kind, create_time, body FROM chg_timeline_entries, generate_series(1, 500) g;
INSERT INTO sla_events (id, complaint_id, event_time, body) SELECT id || :r || '_' || g, 'p' || :r || '_' || g, event_time, body FROM chg_sla_events, generate_series(1, 500) g;
INSERT INTO outbox_events (id, destination, kind, aggregate_id, payload, attempts, next_attempt_time, delivered_time, last_error, lease_owner, lease_until, create_time, traceparent, tracestate) SELECT id || :r || '_' || g, destination, kind, 'p' || :r || '_' || g, payload, 0, 0, 0, '', '', 0, create_time, traceparent, tracestate FROM chg_outbox_events, generate_series(1, 500) g;
COMMIT;
SQL
"$pgbin/pgbench" -h 127.0.0.1 -p "$pgport" -U postgres -n -c 1 -j 1 -T 20 -f "$work/batch.sql" w_limit >"$work/pgbench.txt"
tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench.txt")"
lat="$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$work/pgbench.txt")"
jq -nc --argjson tps "$tps" --argjson lat "$lat" --arg per "$per_complaint" \
    '{name:"limit_pgbench_batch_500", batches_per_s:$tps, clocks_per_s:($tps*500), batch_ms:$lat, per_complaint:$per}' | tee -a "$result"
psql -d postgres -c "DROP DATABASE w_limit"

if [[ -n "$before_bin" ]]; then
    seed w_before tpl_before "$clocks"
    run watcher_all_before "$before_bin" w_before "$before_secs" 1
    psql -d postgres -c "DROP DATABASE w_before"
fi

echo
jq -rs '
  (map(select(.name == "limit_pgbench_batch_500"))[0].clocks_per_s) as $limit |
  "| run | due | checked | seconds | clocks/s | vs limit (\($limit|round)/s) |",
  "| --- | ---: | ---: | ---: | ---: | ---: |",
  (.[] | select(.clocks_per_s and .name != "limit_pgbench_batch_500") |
   "| \(.name) | \(.due) | \(.checked) | \(.seconds) | \(.clocks_per_s|round) | \((100*.clocks_per_s/$limit)|round) % |")
' "$result"
