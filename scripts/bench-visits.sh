#!/usr/bin/env bash
# Visits benchmarks (issue 11), each against a baseline measured in the same run:
#   planning — 100,000 customer files in the customers service's PostgreSQL database (set-up:
#              100 files with the benchmark's mix created through the customers API, cloned in
#              SQL to VISITS_CUSTOMERS rows of exactly their shape; customers' visits URL empty,
#              so no event flows); then visits starts on its own empty database and ONE
#              ReplanVisits call (page size REPLAN_PAGE_SIZE) is timed while it pages through
#              every file over gRPC and creates each plan with its visits. Reported beside it:
#              the ListCustomers paging alone over gRPC (same page size, one connection), the
#              CPU seconds of visits, customers and PostgreSQL during the call, the statements
#              PostgreSQL spent its time on (pg_stat_statements), the rows written, the visits
#              process's peak RSS (VmHWM) and the baseline: pgbench, 1 client (the re-plan
#              writes on one connection, one transaction per page), inserting the same number of
#              rows into identical tables (the visits migrations, so the same indexes) with docs
#              copied from rows the service wrote (of about their average length), one
#              transaction per page. ratio = baseline seconds / re-plan seconds. RUNS times.
#   scenarios — get_visit, get_visit_plan, list_visits at BENCH_CONCURRENCY callers against the
#              visits binary (customers beside it), with the bare tonic echo of the same run as
#              the limit, reported by `csops-load summarize` as scripts/bench.sh does.
# Release build → PostgreSQL 15 at default durability (fsync, synchronous_commit on) on a free
# 127.0.0.1 port with pg_stat_statements loaded and WAL I/O timed (track_wal_io_timing) →
# JSON in target-release/bench-visits/
# (planning.jsonl, statements_run<N>.txt, scenarios/summary.md). Everything is stopped on exit.
#   RUNS=3 VISITS_CUSTOMERS=100000 REPLAN_PAGE_SIZE=500 scripts/bench-visits.sh
#   PLANNING=0 scripts/bench-visits.sh      # the scenarios only (SCENARIOS=0: the planning only)
#   PERF=1 RUNS=1 SCENARIOS=0 scripts/bench-visits.sh   # + a perf profile of visits during the call
set -euo pipefail
# The services are measured without authentication unless CSOPS_AUTH says otherwise (the
# cost of verifying tokens is measured on its own, see BENCHMARKS.md).
export CSOPS_AUTH="${CSOPS_AUTH:-off}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

runs="${RUNS:-3}"
customers="${VISITS_CUSTOMERS:-100000}"
page="${REPLAN_PAGE_SIZE:-500}"
templates=100
do_planning="${PLANNING:-1}"
do_scenarios="${SCENARIOS:-1}"
duration="${BENCH_DURATION:-10s}"
warmup="${BENCH_WARMUP:-2s}"
conc="${BENCH_CONCURRENCY:-32}"
out="$repo/target-release/bench-visits"
bin="$repo/target-release/release"
load="$bin/csops-load"
pgbin="${CSOPS_PG_BINDIR:-/usr/lib/postgresql/15/bin}"

step() { printf '\n==> %s\n' "$*"; }

step "release build"
cargo build --release --locked --target-dir target-release -p csops-load -p csops-customers -p csops-visits
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; }

rm -rf "$out" && mkdir -p "$out"
work="$(mktemp -d /tmp/csops-bench-visits.XXXXXX)"
chmod 755 "$work"
pids=()
pg_started=false
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if $pg_started; then
        as_pg "$pgbin/pg_ctl" -D "$work/pg" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- PostgreSQL 15, default durability, pg_stat_statements ----------------------------------
step "PostgreSQL (default durability; pg_stat_statements loaded)"
mkdir -p "$work/pg" && chown -R postgres:postgres "$work"
as_pg "$pgbin/initdb" -A trust -U postgres -E UTF8 --locale=C -D "$work/pg" >/dev/null
pgport="$(free_port)"
as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w -t 30 \
    -o "-p $pgport -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work -c max_connections=200 -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c track_wal_io_timing=on" \
    start >/dev/null
pg_started=true
psql() { "$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
pg_url() { echo "postgres://postgres@127.0.0.1:$pgport/$1"; }
psql -d postgres -c "CREATE EXTENSION pg_stat_statements"
settings="$(psql -d postgres -F= -c "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_level', 'shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'track_wal_io_timing') ORDER BY name" | paste -sd' ')"
echo "$settings"
jq -n --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
    --argjson cores "$(nproc)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --arg rustc "$(rustc --version)" --arg postgres "$("$pgbin/postgres" --version)" \
    --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --arg dirty "$(git status --porcelain -- services libs 2>/dev/null | wc -l)" \
    --arg settings "$settings" --arg duration "$duration" --arg warmup "$warmup" \
    --argjson concurrency "$conc" \
    '{date:$date, cpu:$cpu, cores:$cores, loadavg_at_start:$load, rustc:$rustc, postgres:$postgres,
      commit:$commit, uncommitted_files_in_services_libs:($dirty|tonumber), pg_settings:$settings,
      duration:$duration, warmup:$warmup, concurrency:$concurrency}' | tee "$out/machine.json"

# Applies the kit's migrations and a service's, in version order (as csops_runtime::db::migrate).
migrate() {
    local db="$1" service="$2" migration
    for migration in $(ls libs/runtime/migrations/*.sql "services/$service/migrations/"*.sql \
        | awk -F/ '{ print $NF "\t" $0 }' | sort | cut -f2); do
        psql -d "$db" -f "$migration"
    done
}

# ---- services as separate processes ---------------------------------------------------------
hz="$(getconf CLK_TCK)"
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system of a live process
pg_ticks() { # the postmaster, its exited children (reaped) and the live ones
    local master t
    master="$(head -1 "$work/pg/postmaster.pid")"
    t="$(awk '{print $14 + $15 + $16 + $17}' "/proc/$master/stat")"
    for child in $(pgrep -P "$master"); do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$child/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}
secs_of() { awk -v t="$1" -v hz="$hz" 'BEGIN {printf "%.2f", t / hz}'; }

# start_service NAME BINARY GRPC_SERVICE DATABASE_URL [env...]: sets svc_pid, svc_url.
start_service() {
    local name="$1" binary="$2" grpc="$3" url="$4"
    shift 4
    local port t0
    port="$(free_port)"
    t0="$(date +%s%N)"
    env "$@" CSOPS_LOG_FORMAT=json RUST_LOG=info "$bin/$binary" --listen-addr "127.0.0.1:$port" \
        --metrics-addr off --database-url "$url" >"$work/$name.log" 2>&1 &
    svc_pid=$!
    pids+=("$svc_pid")
    svc_url="http://127.0.0.1:$port"
    "$load" wait-serving --target "$svc_url" --service "$grpc" --since-unix-ns "$t0" \
        --timeout 30s >"$out/startup_$name.json"
}
stop_service() { # PID: SIGTERM, wait for the exit, then forget it (no signal to a reused pid)
    local keep=() pid
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 1 300); do
        if ! kill -0 "$1" 2>/dev/null; then
            for pid in "${pids[@]}"; do [[ "$pid" == "$1" ]] || keep+=("$pid"); done
            pids=("${keep[@]}")
            return 0
        fi
        sleep 0.1
    done
    echo "bench-visits: pid $1 did not stop within 30 s of SIGTERM" >&2
    return 1
}
customers_grpc=csops.customers.v1.CustomersService
visits_grpc=csops.visits.v1.VisitsService

# ---- planning ---------------------------------------------------------------------------------
plan_run() {
    local run="$1"
    step "planning run $run: $customers customer files, one ReplanVisits (page size $page)"
    psql -d postgres -c "DROP DATABASE IF EXISTS customers" -c "DROP DATABASE IF EXISTS visits" \
        -c "DROP DATABASE IF EXISTS pgb" -c "CREATE DATABASE customers" -c "CREATE DATABASE visits" \
        -c "CREATE DATABASE pgb"

    # Set-up (not timed): the customers service with NO visits URL, so no event flows; the
    # mix's 100 variants created through its API, then cloned in SQL with their own ids,
    # names and times (`cus_` + 32 hex digits, as the service's own ids).
    start_service "customers_run$run" csops-customers "$customers_grpc" "$(pg_url customers)" CSOPS_VISITS_URL=
    local customers_pid="$svc_pid" customers_url="$svc_url"
    "$load" visit-customers --target "$customers_url" --count "$templates" >/dev/null
    local t_seed cols
    t_seed="$(date +%s%N)"
    cols="id, display_name, search_name, search_phones, tier, key_account, region, owner_agent_id, state, profile, tier_history, lifetime_value_minor, version, create_time, update_time, delete_time, churn_risk, churn_signals"
    psql -d customers \
        -c "CREATE TABLE tpl AS SELECT (row_number() OVER (ORDER BY create_time, id)) - 1 AS k, * FROM customers" \
        -c "DELETE FROM customers" -c "DELETE FROM outbox_events" -c "DELETE FROM idempotency_keys" \
        -c "INSERT INTO customers ($cols) SELECT 'cus_' || md5('visits-bench-' || g), 'Visits Customer ' || lpad(g::text, 6, '0'), 'visits customer ' || lpad(g::text, 6, '0'), t.search_phones, t.tier, t.key_account, t.region, t.owner_agent_id, t.state, t.profile, t.tier_history, t.lifetime_value_minor, t.version, t.create_time + g, t.update_time + g, t.delete_time, t.churn_risk, t.churn_signals FROM generate_series(0, $customers - 1) g JOIN tpl t ON t.k = g % $templates" \
        -c "DROP TABLE tpl" -c "VACUUM ANALYZE customers" -c "CHECKPOINT"
    echo "seeded in $(( ($(date +%s%N) - t_seed) / 1000000 )) ms: $(psql -d customers -F' ' -c "SELECT tier, count(*) FROM customers GROUP BY tier ORDER BY tier" | paste -sd,), key accounts $(psql -d customers -c "SELECT count(*) FROM customers WHERE key_account = 1")"

    # The paging alone: what ListCustomers costs over gRPC for every file, one page after the
    # other on one connection (a first pass warms the caches; the second is the figure).
    local paging_page="$page" c0 c1 paging
    if ! "$load" page-customers --target "$customers_url" --page-size "$page" >/dev/null 2>"$work/paging.err"; then
        echo "customers refuses page size $page ($(tail -1 "$work/paging.err")); the paging line uses 500"
        paging_page=500
        "$load" page-customers --target "$customers_url" --page-size 500 >/dev/null
    fi
    c0="$(cpu_ticks "$customers_pid")"
    paging="$("$load" page-customers --target "$customers_url" --page-size "$paging_page")"
    c1="$(cpu_ticks "$customers_pid")"
    paging="$(jq -c --arg cpu "$(secs_of $((c1 - c0)))" '. + {customers_cpu_s: ($cpu|tonumber)}' <<<"$paging")"
    echo "$paging"

    # Visits on its own empty database; the sweep is held off (1 h) so that only the re-plan
    # runs in the timed window.
    start_service "visits_run$run" csops-visits "$visits_grpc" "$(pg_url visits)" \
        CSOPS_CUSTOMERS_URL="$customers_url" CSOPS_SWEEP_INTERVAL=1h
    local visits_pid="$svc_pid" visits_url="$svc_url" idle_kib
    sleep 1
    idle_kib="$(rss_kib "$visits_pid")"
    psql -d postgres -c "CHECKPOINT" -c "SELECT pg_stat_statements_reset()" -c "SELECT pg_stat_reset_shared('wal')" >/dev/null
    : >"$work/rss"
    (while kill -0 "$visits_pid" 2>/dev/null; do rss_kib "$visits_pid" >>"$work/rss" 2>/dev/null || break; sleep 0.1; done) &
    local sampler=$! v0 k0 p0 v1 k1 p1 replan
    v0="$(cpu_ticks "$visits_pid")" k0="$(cpu_ticks "$customers_pid")" p0="$(pg_ticks)"
    local perf_pid=""
    if [[ "${PERF:-0}" != 0 ]]; then # a CPU profile of the visits process during the call
        perf record -q -F 499 -p "$visits_pid" -o "$work/perf.data" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    if ! replan="$("$load" replan-visits --target "$visits_url" --page-size "$page")"; then
        kill "$sampler" 2>/dev/null || true
        echo "bench-visits: ReplanVisits failed at page size $page (see above); visits log:" >&2
        tail -5 "$work/visits_run$run.log" >&2
        return 1
    fi
    v1="$(cpu_ticks "$visits_pid")" k1="$(cpu_ticks "$customers_pid")" p1="$(pg_ticks)"
    if [[ -n "$perf_pid" ]]; then
        kill -INT "$perf_pid" && wait "$perf_pid" || true
        perf report -i "$work/perf.data" --no-children --sort dso,symbol --percent-limit 1 --stdio 2>/dev/null \
            | grep -v '^$' | grep -v '^#' | grep '%' | head -40 >"$out/perf_visits_run$run.txt" || true
        perf report -i "$work/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep '%' \
            >"$out/perf_visits_dso_run$run.txt" || true
    fi
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    local hwm_kib peak_kib
    hwm_kib="$(hwm_kib "$visits_pid")"
    peak_kib="$(sort -n "$work/rss" | tail -1)"
    # RSS at each quarter of the call: flat after the first pages when memory is bounded.
    local rss_curve
    rss_curve="$(awk '{v[NR] = $1} END {for (q = 1; q <= 4; q++) printf "%s%.1f", (q > 1 ? "," : "["), v[int(NR * q / 4)] / 1024; print "]"}' "$work/rss")"
    echo "$replan"
    psql -d postgres -F' | ' -c "SELECT calls, round(total_exec_time)::bigint AS total_ms, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 110) FROM pg_stat_statements WHERE dbid IN (SELECT oid FROM pg_database WHERE datname IN ('visits', 'customers')) ORDER BY total_exec_time DESC LIMIT 12" \
        >"$out/statements_run$run.txt"
    local db_ms
    db_ms="$(psql -d postgres -c "SELECT coalesce(round(sum(total_exec_time)), 0)::bigint FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'visits')")"
    stop_service "$visits_pid"
    stop_service "$customers_pid"
    # Backends flush their WAL statistics when idle or on exit: read them once both are gone.
    sleep 1
    local wal
    wal="$(psql -d postgres -c "SELECT json_build_object('wal_mib', round(wal_bytes / 1048576.0), 'wal_syncs', wal_sync, 'wal_sync_s', round((wal_sync_time / 1000)::numeric, 2), 'wal_write_s', round((wal_write_time / 1000)::numeric, 2)) FROM pg_stat_wal")"
    echo "WAL during the re-plan: $wal"

    # What was written, and the docs the baseline copies (the rows closest to the average).
    local counts plans visits cares
    counts="$(psql -d visits -F' ' -c "SELECT (SELECT count(*) FROM visit_plans), (SELECT count(*) FROM visits), (SELECT count(*) FROM care_events), (SELECT coalesce(round(avg(length(doc))), 0) FROM visit_plans), (SELECT coalesce(round(avg(length(doc))), 0) FROM visits), (SELECT coalesce(round(avg(length(doc))), 0) FROM care_events), (SELECT count(*) FROM outbox_events), (SELECT count(*) FROM idempotency_keys)")"
    read -r plans visits cares plan_doc visit_doc care_doc outbox keys <<<"$counts"
    printf 'written: %s plans (doc %s B), %s visits (doc %s B), %s care events (doc %s B), %s outbox rows, %s keys\n' \
        "$plans" "$plan_doc" "$visits" "$visit_doc" "$cares" "$care_doc" "$outbox" "$keys"

    # Baseline: pgbench, 1 client, one transaction per page of $page files: the page's plans,
    # its share of the visits and care events, with docs copied from rows visits wrote; ids of
    # the services' lengths (plans and visits in ascending order as their UUIDv7 ids, customer
    # ids the very ones of the run).
    migrate pgb visits
    local table
    for table in visit_plans visits care_events; do
        psql -d pgb -c "CREATE TABLE tpl_$table (LIKE $table)"
        psql -d visits -c "COPY (SELECT * FROM $table ORDER BY abs(length(doc) - (SELECT avg(length(doc)) FROM $table)), id LIMIT 1) TO STDOUT" \
            | psql -d pgb -c "COPY tpl_$table FROM STDIN"
    done
    psql -d pgb -c "CREATE SEQUENCE pgb_page"
    local tx=$(( (customers + page - 1) / page ))
    cat >"$work/plan.sql" <<SQL
SELECT nextval('pgb_page') AS k \gset
\set p0 (:k - 1) * $page
\set p1 :k * $page
\set v0 (:k - 1) * $visits / $tx
\set v1 :k * $visits / $tx
\set e0 (:k - 1) * $cares / $tx
\set e1 :k * $cares / $tx
BEGIN;
INSERT INTO visit_plans (id, customer_id, owner_agent_id, tier, key_account, state, next_due_time, sweep_time, doc, version, create_time, update_time) SELECT 'vpl_' || lpad(g::text, 32, '0'), 'cus_' || md5('visits-bench-' || g), 'agent-' || lpad((g % 20)::text, 2, '0'), t.tier, t.key_account, t.state, t.next_due_time + g, t.sweep_time, t.doc, t.version, t.create_time + g, t.update_time + g FROM tpl_visit_plans t, generate_series(:p0, least(:p1, $customers) - 1) g;
INSERT INTO visits (id, customer_id, plan_id, assigned_agent_id, state, care_kind, purpose, method, due_time, scheduled_start_time, scheduled_end_time, doc, version, create_time, update_time) SELECT 'vst_' || lpad(g::text, 32, '0'), 'cus_' || md5('visits-bench-' || (g * $customers / greatest($visits, 1))), 'vpl_' || lpad((g * $customers / greatest($visits, 1))::text, 32, '0'), 'agent-' || lpad((g % 20)::text, 2, '0'), t.state, t.care_kind, t.purpose, t.method, t.due_time + (g % 13) * 604800000000, t.scheduled_start_time, t.scheduled_end_time, t.doc, t.version, t.create_time + g, t.update_time + g FROM tpl_visits t, generate_series(:v0::bigint, :v1 - 1) g;
INSERT INTO care_events (id, customer_id, plan_id, owner_agent_id, occasion, occasion_date, state, occasion_key, doc, version, create_time, update_time) SELECT 'cev_' || lpad(g::text, 32, '0'), 'cus_' || md5('visits-bench-' || g), 'vpl_' || lpad(g::text, 32, '0'), t.owner_agent_id, t.occasion, t.occasion_date, t.state, t.occasion_key || g, t.doc, t.version, t.create_time, t.update_time FROM tpl_care_events t, generate_series(:e0, :e1 - 1) g;
COMMIT;
SQL
    psql -d postgres -c "CHECKPOINT" -c "SELECT pg_stat_reset_shared('wal')" >/dev/null
    local t0 t1 base_s base_wal
    t0="$(date +%s%N)"
    "$pgbin/pgbench" -h 127.0.0.1 -p "$pgport" -U postgres -n -M prepared -c 1 -t "$tx" -f "$work/plan.sql" pgb \
        >"$out/pgbench_run$run.txt"
    t1="$(date +%s%N)"
    base_s="$(awk -v d=$((t1 - t0)) 'BEGIN {printf "%.3f", d / 1e9}')"
    base_wal="$(psql -d postgres -c "SELECT json_build_object('wal_mib', round(wal_bytes / 1048576.0), 'wal_syncs', wal_sync, 'wal_sync_s', round((wal_sync_time / 1000)::numeric, 2), 'wal_write_s', round((wal_write_time / 1000)::numeric, 2)) FROM pg_stat_wal")"
    local bcounts
    bcounts="$(psql -d pgb -F' ' -c "SELECT (SELECT count(*) FROM visit_plans), (SELECT count(*) FROM visits), (SELECT count(*) FROM care_events)")"
    echo "baseline: pgbench, 1 client, $tx transactions: $bcounts rows in $base_s s; WAL: $base_wal"
    [[ "$bcounts" == "$plans $visits $cares" ]] || { echo "bench-visits: baseline wrote $bcounts, visits $plans $visits $cares" >&2; return 1; }

    jq -n -c --argjson run "$run" --argjson replan "$replan" --argjson paging "$paging" \
        --argjson plans "$plans" --argjson visits "$visits" --argjson cares "$cares" \
        --argjson plan_doc "$plan_doc" --argjson visit_doc "$visit_doc" --argjson care_doc "$care_doc" \
        --argjson outbox "$outbox" --argjson keys "$keys" \
        --argjson idle "$idle_kib" --argjson hwm "$hwm_kib" --argjson peak "${peak_kib:-0}" --argjson curve "$rss_curve" \
        --arg vcpu "$(secs_of $((v1 - v0)))" --arg kcpu "$(secs_of $((k1 - k0)))" \
        --arg pcpu "$(secs_of $((p1 - p0)))" --argjson db_ms "$db_ms" \
        --argjson wal "$wal" --argjson base_wal "$base_wal" --argjson base_s "$base_s" --argjson tx "$tx" --argjson paging_page "$paging_page" \
        '{run:$run, customers:$replan.customers_read, page_size:$replan.page_size,
          replan_s:$replan.seconds, customers_per_s:$replan.customers_per_s,
          plans_created:$replan.plans_created,
          rows:{visit_plans:$plans, visits:$visits, care_events:$cares, outbox_events:$outbox,
                idempotency_keys:$keys, total:($plans + $visits + $cares + $outbox + $keys)},
          avg_doc_bytes:{visit_plans:$plan_doc, visits:$visit_doc, care_events:$care_doc},
          visits_rss_mib:{idle:(($idle/1024*10|round)/10), peak_sample:(($peak/1024*10|round)/10),
                          vmhwm:(($hwm/1024*10|round)/10), at_each_quarter:$curve},
          cpu_s_during_replan:{visits:($vcpu|tonumber), customers:($kcpu|tonumber),
                               postgres:($pcpu|tonumber)},
          visits_db_statement_ms:$db_ms, wal_during_replan:$wal,
          list_customers_paging:($paging + {page_size:$paging_page}),
          baseline:{tool:"pgbench -n -M prepared -c 1", transactions:$tx, seconds:$base_s, wal:$base_wal},
          ratio:((($base_s / $replan.seconds) * 1000 | round) / 1000)}' | tee -a "$out/planning.jsonl"
    cat "$out/statements_run$run.txt"
}

if [[ "$do_planning" != 0 ]]; then
    for run in $(seq 1 "$runs"); do plan_run "$run"; done
    step "planning summary"
    jq -r -s '["run", "customers", "ReplanVisits s", "customers/s", "rows written", "visits VmHWM MiB", "pgbench s", "ratio", "ListCustomers paging s", "CPU s visits/customers/postgres"],
        (.[] | [.run, .customers, .replan_s, .customers_per_s, .rows.total, .visits_rss_mib.vmhwm,
                .baseline.seconds, .ratio, .list_customers_paging.seconds,
                "\(.cpu_s_during_replan.visits)/\(.cpu_s_during_replan.customers)/\(.cpu_s_during_replan.postgres)"])
        | map(tostring) | "| " + join(" | ") + " |"' "$out/planning.jsonl"
fi

# ---- scenarios --------------------------------------------------------------------------------
if [[ "$do_scenarios" != 0 ]]; then
    step "scenarios: get_visit, get_visit_plan, list_visits at $conc callers vs the bare echo"
    sdir="$out/scenarios"
    mkdir -p "$sdir"
    cp "$out/machine.json" "$sdir/machine.json"
    "$load" echo-server --addr-file "$work/echo.addr" --max-lifetime 15m &
    echo_pid=$!
    pids+=("$echo_pid")
    for _ in $(seq 1 100); do [[ -s "$work/echo.addr" ]] && break; sleep 0.05; done
    "$load" run --target "http://$(cat "$work/echo.addr")" -s echo -c "$conc" --duration "$duration" \
        --warmup "$warmup" --label echo --out "$sdir/echo_c$conc.json"
    stop_service "$echo_pid"
    psql -d postgres -c "DROP DATABASE IF EXISTS customers_s" -c "DROP DATABASE IF EXISTS visits_s" \
        -c "CREATE DATABASE customers_s" -c "CREATE DATABASE visits_s"
    start_service customers_s csops-customers "$customers_grpc" "$(pg_url customers_s)" CSOPS_VISITS_URL=
    customers_pid="$svc_pid"
    customers_url="$svc_url"
    start_service visits_postgres csops-visits "$visits_grpc" "$(pg_url visits_s)" \
        CSOPS_CUSTOMERS_URL="$customers_url"
    visits_pid="$svc_pid"
    cp "$out/startup_visits_postgres.json" "$sdir/"
    sleep 1
    idle="$(rss_kib "$visits_pid")"
    : >"$work/rss_s"
    (while kill -0 "$visits_pid" 2>/dev/null; do rss_kib "$visits_pid" >>"$work/rss_s" 2>/dev/null || break; sleep 0.2; done) &
    sampler=$!
    for scenario in get_visit get_visit_plan list_visits; do
        "$load" run --target "$svc_url" --customers-url "$customers_url" -s "$scenario" -c "$conc" \
            --duration "$duration" --warmup "$warmup" --label visits_postgres \
            --out "$sdir/visits_postgres_$scenario.json"
    done
    # The same listing once PostgreSQL has statistics of the freshly filled table: before, it
    # plans a bitmap AND of two indexes and a sort; after, it walks (assigned_agent_id, due_time).
    psql -d visits_s -c "ANALYZE"
    "$load" run --target "$svc_url" --customers-url "$customers_url" -s list_visits --seed 1 -c "$conc" \
        --duration "$duration" --warmup "$warmup" --label visits_postgres-analyzed \
        --out "$sdir/visits_postgres-analyzed_list_visits.json"
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    jq -n --argjson idle "$idle" --argjson peak "$(sort -n "$work/rss_s" | tail -1)" \
        --argjson hwm "$(hwm_kib "$visits_pid")" \
        '{name:"visits_postgres", idle_rss_mib:($idle/1024), load_rss_mib:($peak/1024), vmhwm_mib:($hwm/1024)}' \
        >"$sdir/memory_visits_postgres.json"
    psql -d visits_s -c "SELECT 'visits data: ' || (SELECT count(*) FROM visit_plans) || ' plans, ' || (SELECT count(*) FROM visits) || ' visits'"
    stop_service "$visits_pid"
    stop_service "$customers_pid"
    "$load" summarize --dir "$sdir" >"$sdir/summary.md"
    cat "$sdir/summary.md"
fi
printf '\nJSON in %s\n' "$out"
