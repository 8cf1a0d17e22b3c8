#!/usr/bin/env bash
# Re-runs every csops service benchmark in one go and writes JSON to target-release/bench/:
#   release build → PostgreSQL 15 with DEFAULT durability (fsync, synchronous_commit on) on a
#   free 127.0.0.1 port → the limits: pgbench doing the service's own statements at 1 and 32
#   clients, the bare tonic echo server (csops-load and h2load) → every scenario at 32 callers
#   on PostgreSQL, the single-call ones on SQLite too, against the real service binaries run as
#   separate processes (start-up time to SERVING with an empty database, idle RSS, peak RSS
#   under load) → one scenario cross-checked with h2load, its grpc-status checked through the
#   service's own grpc_server_requests_total counter → the read limits, on the tables each
#   service has just written: the echo server answering each call with one prepared
#   primary-key SELECT (csops-load echo-server --select-…), and pgbench running the list
#   query → summary.json and summary.md (gets against the PK-SELECT limit and the echo, lists
#   against pgbench's list and the echo, writes against pgbench's writes).
# Everything listens on 127.0.0.1 only and is stopped on exit. About 5 minutes after the build.
#   BENCH_DURATION=10s BENCH_WARMUP=2s BENCH_CONCURRENCY=32 scripts/bench.sh
#   BENCH_ONLY=reads BENCH_OUT=target-release/bench/reads-1 scripts/bench.sh   # reads only
set -euo pipefail
# The services are measured without authentication unless CSOPS_AUTH says otherwise (the
# cost of verifying tokens is measured on its own, see BENCHMARKS.md).
export CSOPS_AUTH="${CSOPS_AUTH:-off}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

duration="${BENCH_DURATION:-10s}"
warmup="${BENCH_WARMUP:-2s}"
conc="${BENCH_CONCURRENCY:-32}"
secs="${duration%s}"
out="${BENCH_OUT:-$repo/target-release/bench}"
# BENCH_ONLY=reads: only what the read scenarios need (the services' creates fill the tables,
# then gets and lists against their limits); no write limits, h2load, lifecycle or SQLite.
reads_only=false
[[ "${BENCH_ONLY:-}" == reads ]] && reads_only=true
bin="$repo/target-release/release"
load="$bin/csops-load"
pgbin="${CSOPS_PG_BINDIR:-/usr/lib/postgresql/15/bin}"

step() { printf '\n==> %s\n' "$*"; }

step "release build"
packages=(-p csops-load -p csops-customers)
have_complaints=false
if [[ -f services/complaints/src/main.rs ]]; then
    packages+=(-p csops-complaints)
    have_complaints=true
fi
cargo build --release --locked --target-dir target-release "${packages[@]}"
command -v h2load >/dev/null || { apt-get update -qq && apt-get install -y -qq nghttp2-client >/dev/null; }
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; }

rm -rf "$out" && mkdir -p "$out"
work="$(mktemp -d /tmp/csops-bench.XXXXXX)"
chmod 755 "$work"
pids=()
pg_started=false

cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if $pg_started; then
        setpriv --reuid=postgres --regid=postgres --init-groups \
            "$pgbin/pg_ctl" -D "$work/pg" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

# ---- machine -------------------------------------------------------------------------------
jq -n --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
    --argjson cores "$(nproc)" \
    --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --arg rustc "$(rustc --version)" \
    --arg postgres "$("$pgbin/postgres" --version)" \
    --arg commit "$(git rev-parse --short HEAD)" \
    --arg duration "$duration" --arg warmup "$warmup" --argjson concurrency "$conc" \
    '{date:$date, cpu:$cpu, cores:$cores, loadavg_at_start:$load, rustc:$rustc,
      postgres:$postgres, commit:$commit, duration:$duration, warmup:$warmup,
      concurrency:$concurrency}' >"$out/machine.json"

# ---- PostgreSQL 15, default durability -------------------------------------------------------
step "PostgreSQL (fsync and synchronous_commit at their defaults)"
mkdir -p "$work/pg" && chown -R postgres:postgres "$work"
as_pg "$pgbin/initdb" -A trust -U postgres -E UTF8 --locale=C -D "$work/pg" >/dev/null
pgport="$(free_port)"
as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w -t 30 \
    -o "-p $pgport -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work" start >/dev/null
pg_started=true
psql() { "$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
psql -d postgres -c "SHOW fsync; SHOW synchronous_commit; SHOW full_page_writes" | paste -sd' ' \
    | sed 's/^/fsync, synchronous_commit, full_page_writes: /'
pg_url() { echo "postgres://postgres@127.0.0.1:$pgport/$1"; }

# pgbench: runs SCRIPT in DB with C clients after a 2 s unmeasured run; writes tps and p99.
pgbench_run() { # name db script clients
    local name="$1" db="$2" script="$3" clients="$4" threads=1
    ((clients > 1)) && threads=2
    "$pgbin/pgbench" -h 127.0.0.1 -p "$pgport" -U postgres -n -M prepared -c "$clients" \
        -j "$threads" -T 2 -f "$script" "$db" >/dev/null
    rm -rf "$work/pgblog" && mkdir -p "$work/pgblog"
    (cd "$work/pgblog" && "$pgbin/pgbench" -h 127.0.0.1 -p "$pgport" -U postgres -n -M prepared \
        -c "$clients" -j "$threads" -T "$secs" -l -f "$script" "$db" >"$out/pgbench_$name.txt")
    local tps p50 p99
    tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out/pgbench_$name.txt")"
    read -r p50 p99 < <(cat "$work"/pgblog/pgbench_log.* | awk '{print $3}' | sort -n \
        | awk '{v[NR]=$1} END {printf "%.3f %.3f\n", v[int(NR*0.5)]/1000, v[int(NR*0.99)]/1000}')
    jq -n --arg name "$name" --argjson clients "$clients" --argjson tps "$tps" \
        --argjson p50 "$p50" --argjson p99 "$p99" \
        '{name:$name, clients:$clients, tps:$tps, p50_ms:$p50, p99_ms:$p99}' >"$out/pgbench_$name.json"
    printf '%-28s %3s clients  %9.0f tx/s  p50 %6.2f ms  p99 %6.2f ms\n' "$name" "$clients" "$tps" "$p50" "$p99"
}

# Applies the kit's migrations and a service's, in version order (as csops_runtime::db::migrate).
migrate() {
    local db="$1" service="$2" migration
    for migration in $(ls libs/runtime/migrations/*.sql "services/$service/migrations/"*.sql \
        | awk -F/ '{ print $NF "\t" $0 }' | sort | cut -f2); do
        psql -d "$db" -f "$migration"
    done
}

if ! $reads_only; then
step "limits: pgbench with the customers service's statements"
psql -d postgres -c "CREATE DATABASE pgb_customers"
migrate pgb_customers customers
# The create: the request row and the customer row in one transaction, as Store::insert does,
# with a row of the size the load tool's create_customer writes (a space after each JSON colon
# keeps pgbench from reading `:null` as a variable).
cat >"$work/create_customer.sql" <<'SQL'
\set r random(1, 9000000000000000000)
BEGIN;
INSERT INTO idempotency_keys (scope, request_id, request_hash, resource_id, ref_id, create_time) VALUES ('create', 'req_' || :client_id || '_' || :r, '3f0c9a1e5b7d2c4a8e6f1b3d5a7c9e0f', 'cus_' || :client_id || '_' || :r, '', 1795459836242969);
INSERT INTO customers (id, display_name, search_name, search_phones, tier, key_account, region, owner_agent_id, state, profile, tier_history, lifetime_value_minor, version, create_time, update_time, delete_time, churn_risk, churn_signals) VALUES ('cus_' || :client_id || '_' || :r, 'Load Customer 00000017', 'load customer 00000017', '|8613800170000|', 'B', 0, 'urban', 'agent-17', 'active', '{"contacts": [{"kind": "Phone","value": "+86 138 0017 0000","label": "mobile","primary": true},{"kind": "Email","value": "customer17@example.com","label": "work","primary": false}],"important_dates": [],"needs": ["weekly delivery","invoice by e-mail"],"preferences": ["calls after 18:00"],"notes": "Created by csops-load for the benchmarks; prefers a short call before visits.","consents": [],"lifetime_value_inputs": null}', '[{"from": null,"to": "B","changed_by": "csops-load","reason": "created","time": 1795459836242969}]', 0, 1, 1795459836242969, 1795459836242969, 0, 0, '[]');
COMMIT;
SQL
# The point read: Store::get's SELECT by primary key among 10,000 rows.
cat >"$work/get_customer.sql" <<'SQL'
\set n random(1, 10000)
SELECT id, display_name, tier, key_account, region, owner_agent_id, state, profile, tier_history, churn_signals, version, create_time, update_time, delete_time FROM customers WHERE id = 'cus_seed_' || :n;
SQL
# Seeded below from a row the create runs wrote.
pgbench_run create_customer_c1 pgb_customers "$work/create_customer.sql" 1
pgbench_run create_customer_c$conc pgb_customers "$work/create_customer.sql" "$conc"
psql -d pgb_customers -c "INSERT INTO customers (id, display_name, search_name, search_phones, tier, key_account, region, owner_agent_id, state, profile, tier_history, lifetime_value_minor, version, create_time, update_time, delete_time, churn_risk, churn_signals) SELECT 'cus_seed_' || n, t.display_name, t.search_name, t.search_phones, t.tier, t.key_account, t.region, t.owner_agent_id, t.state, t.profile, t.tier_history, t.lifetime_value_minor, t.version, t.create_time + n, t.update_time, t.delete_time, t.churn_risk, t.churn_signals FROM generate_series(1, 10000) AS n, (SELECT * FROM customers LIMIT 1) AS t; ANALYZE customers"
pgbench_run get_customer_c$conc pgb_customers "$work/get_customer.sql" "$conc"
fi


# ---- the gRPC limit: bare tonic echo -----------------------------------------------------------
step "limits: bare tonic echo server (300-byte payload)"
"$load" echo-server --addr-file "$work/echo.addr" --max-lifetime 15m &
pids+=($!)
for _ in $(seq 1 100); do [[ -s "$work/echo.addr" ]] && break; sleep 0.05; done
echo_url="http://$(cat "$work/echo.addr")"
"$load" run --target "$echo_url" -s echo -c "$conc" --duration "$duration" --warmup "$warmup" \
    --label "echo" --out "$out/echo_c$conc.json"
if ! $reads_only; then
# The same baseline from a load generator we did not write.
"$load" run --target "$echo_url" -s echo -c 1 --duration 1s --warmup 0s >/dev/null # warm
printf '\x00\x00\x00\x01\x2f\x0a\xac\x02%s' "$(head -c 300 /dev/zero | tr '\0' x)" >"$work/echo.body"
timeout 120 h2load -c "$conc" -m 1 -D "$secs" --warm-up-time "${warmup%s}" -d "$work/echo.body" \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    "$echo_url/csops.load.echo.v1.EchoService/Echo" >"$out/h2load_echo.txt"
jq -n --arg rps "$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$out/h2load_echo.txt")" \
    --arg ok "$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$out/h2load_echo.txt")" \
    '{scenario:"echo", tool:"h2load", connections:'"$conc"', throughput:($rps|tonumber), http_succeeded:($ok|tonumber)}' \
    >"$out/h2load_echo.json"
jq -c . "$out/h2load_echo.json"
fi

# ---- a service as a separate process -----------------------------------------------------------
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# start_service NAME BINARY DATABASE_URL [extra env...]: starts it, waits for SERVING and
# records the start-up time; sets svc_pid, svc_url, svc_metrics.
start_service() {
    local name="$1" binary="$2" url="$3"
    shift 3
    local port mport t0
    port="$(free_port)"
    mport="$(free_port)"
    t0="$(date +%s%N)"
    env "$@" DATABASE_URL="$url" CSOPS_LOG_FORMAT=json RUST_LOG=info \
        "$bin/$binary" --listen-addr "127.0.0.1:$port" --metrics-addr "127.0.0.1:$mport" \
        --database-url "$url" >"$work/$name.log" 2>&1 &
    svc_pid=$!
    pids+=("$svc_pid")
    svc_url="http://127.0.0.1:$port"
    svc_metrics="http://127.0.0.1:$mport/metrics"
    "$load" wait-serving --target "$svc_url" --service "$svc_grpc_service" --since-unix-ns "$t0" \
        --timeout 30s >"$out/startup_$name.json"
    printf '%-28s start-up to SERVING %s ms\n' "$name" "$(jq '.startup_ms*10|round/10' "$out/startup_$name.json")"
}

# scenarios NAME SCENARIO...: runs each scenario against the started service while sampling
# its RSS; writes one report per scenario and the memory figures.
scenarios() {
    local name="$1"
    shift
    sleep 1
    local idle
    idle="$(rss_kib "$svc_pid")"
    : >"$work/rss_$name"
    (for _ in $(seq 1 3000); do
        kill -0 "$svc_pid" 2>/dev/null || break
        rss_kib "$svc_pid" >>"$work/rss_$name" 2>/dev/null || break
        sleep 0.2
    done) &
    local sampler=$!
    local scenario
    for scenario in "$@"; do
        "$load" run --target "$svc_url" ${customers_url:+--customers-url "$customers_url"} \
            -s "$scenario" -c "$conc" --duration "$duration" --warmup "$warmup" \
            --label "$name" --out "$out/${name}_$scenario.json"
    done
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    local peak hwm
    peak="$(sort -n "$work/rss_$name" | tail -1)"
    hwm="$(hwm_kib "$svc_pid")"
    jq -n --arg name "$name" --argjson idle "$idle" --argjson peak "${peak:-0}" --argjson hwm "$hwm" \
        '{name:$name, idle_rss_mib:($idle/1024), load_rss_mib:($peak/1024), vmhwm_mib:($hwm/1024)}' \
        >"$out/memory_$name.json"
    printf '%-28s RSS idle %.1f MiB, under load %.1f MiB (VmHWM %.1f MiB)\n' "$name" \
        "$(jq .idle_rss_mib "$out/memory_$name.json")" "$(jq .load_rss_mib "$out/memory_$name.json")" \
        "$(jq .vmhwm_mib "$out/memory_$name.json")"
}

stop_service() { # SIGTERM, then wait for the exit (a figure taken beside a live service lies)
    kill -TERM "$svc_pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$svc_pid" 2>/dev/null || return 0; sleep 0.1; done
    echo "bench: pid $svc_pid did not stop within 30 s of SIGTERM" >&2
    return 1
}

metric_sum() { # URL METHOD CODE-REGEX: sums grpc_server_requests_total of METHOD with matching codes
    curl -sf "$1" | grep "^grpc_server_requests_total{" | grep "method=\"$2\"" \
        | grep -E "code=\"$3\"" | awk '{s += $2} END {print s + 0}'
}

# ---- read limits, on the table a service has just written ------------------------------------
# select_limit NAME DB SQL KEYS_SQL: the echo server answering each call with one prepared
# SELECT (SQL, $1 a primary key or a list's agent) on DB, going round the keys KEYS_SQL
# returns — the floor under a read doing that statement — measured with the same client and
# callers as the echo; writes NAME_c<callers>.json.
select_limit() {
    local name="$1" db="$2" sql="$3" keys="$4" pid
    rm -f "$work/pk.addr"
    "$load" echo-server --addr-file "$work/pk.addr" --max-lifetime 5m \
        --select-database-url "$(pg_url "$db")" --select-sql "$sql" --select-keys-sql "$keys" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 1 200); do [[ -s "$work/pk.addr" ]] && break; sleep 0.05; done
    "$load" run --target "http://$(cat "$work/pk.addr")" -s echo -c "$conc" --duration "$duration" \
        --warmup "$warmup" --label "$name" --out "$out/${name}_c$conc.json"
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

step "customers on PostgreSQL (separate process, empty database)"
svc_grpc_service=csops.customers.v1.CustomersService
psql -d postgres -c "CREATE DATABASE customers"
customers_url=""
start_service customers_postgres csops-customers "$(pg_url customers)"
scenarios customers_postgres create_customer get_customer list_customers

if ! $reads_only; then
step "cross-check: h2load on GetCustomer, grpc-status from the service's own counter"
path="$("$load" h2load-body --target "$svc_url" --out "$work/get.body")"
ok_before="$(metric_sum "$svc_metrics" GetCustomer OK)"
all_before="$(metric_sum "$svc_metrics" GetCustomer '[A-Z_]+')"
requests=$((secs * 6000))
timeout 120 h2load -c "$conc" -m 1 -n "$requests" -d "$work/get.body" \
    -H 'content-type: application/grpc' -H 'te: trailers' "$svc_url$path" >"$out/h2load_get_customer.txt"
ok_after="$(metric_sum "$svc_metrics" GetCustomer OK)"
all_after="$(metric_sum "$svc_metrics" GetCustomer '[A-Z_]+')"
h2_rps="$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$out/h2load_get_customer.txt")"
h2_ok="$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$out/h2load_get_customer.txt")"
read -r h2_max h2_mean < <(awk '/^time for request:/ {print $5, $6}' "$out/h2load_get_customer.txt")
jq -n --argjson requests "$requests" --argjson rps "${h2_rps:-0}" --argjson h2ok "${h2_ok:-0}" \
    --argjson grpcok "$((ok_after - ok_before))" --argjson grpcall "$((all_after - all_before))" \
    --arg max "$h2_max" --arg mean "$h2_mean" \
    '{scenario:"get_customer", tool:"h2load", requests:$requests, throughput:$rps,
      http_succeeded:$h2ok, grpc_ok:$grpcok, grpc_not_ok:($grpcall-$grpcok),
      request_time_mean:$mean, request_time_max:$max}' >"$out/h2load_get_customer.json"
jq -c . "$out/h2load_get_customer.json"
fi
stop_service

step "limits: reads of the customers table the service wrote"
# The same columns Store::get and Store::list read; the list as the service sends it for the
# list_customers scenario (one of 20 owners, active files, first page of 20), prepared, after
# ANALYZE so the limit has the plan PostgreSQL picks with statistics.
customer_columns="id, display_name, tier, key_account, region, owner_agent_id, state, profile, tier_history, churn_signals, churn_risk, version, create_time, update_time, delete_time"
select_limit pkselect_customers customers "SELECT $customer_columns FROM customers WHERE id = \$1" \
    "SELECT id FROM customers ORDER BY random() LIMIT 10000"
psql -d customers -c "ANALYZE customers"
select_limit select_list_customers customers \
    "SELECT $customer_columns FROM customers WHERE 1 = 1 AND state = 'active' AND owner_agent_id = \$1 ORDER BY create_time, id LIMIT 20" \
    "SELECT DISTINCT owner_agent_id FROM customers"
cat >"$work/list_customers.sql" <<SQL
\\set a random(0, 19)
\\set lim 20
SELECT $customer_columns FROM customers WHERE 1 = 1 AND state = 'active' AND owner_agent_id = 'agent-' || lpad(:a::text, 2, '0') ORDER BY create_time, id LIMIT :lim;
SQL
pgbench_run list_customers_c$conc customers "$work/list_customers.sql" "$conc"

if $have_complaints; then
    step "complaints on PostgreSQL (separate process, empty database; customers beside it)"
    psql -d postgres -c "CREATE DATABASE customers_for_complaints" -c "CREATE DATABASE complaints"
    svc_grpc_service=csops.customers.v1.CustomersService
    start_service customers_for_complaints csops-customers "$(pg_url customers_for_complaints)"
    customers_url="$svc_url"
    customers_pid="$svc_pid"
    svc_grpc_service=csops.complaints.v1.ComplaintsService
    start_service complaints_postgres csops-complaints "$(pg_url complaints)" \
        CSOPS_CUSTOMERS_URL="$customers_url"
    if $reads_only; then
        scenarios complaints_postgres create_complaint get_complaint list_open_complaints
    else
        scenarios complaints_postgres create_complaint get_complaint list_open_complaints \
            complaint_lifecycle
    fi
    stop_service
    svc_pid="$customers_pid" stop_service
    customers_url=""

    step "limits: reads of the complaints table the service wrote"
    select_limit pkselect_complaints complaints \
        'SELECT id, body, version FROM complaints WHERE id = $1' \
        "SELECT id FROM complaints ORDER BY random() LIMIT 10000"
    psql -d complaints -c "ANALYZE complaints"
    select_limit select_list_open_complaints complaints \
        "SELECT id, body, version FROM complaints WHERE 1 = 1 AND state IN ('received', 'acknowledged', 'investigating', 'solution_proposed', 'solution_accepted') AND assigned_agent_id = \$1 ORDER BY create_time, id LIMIT 20" \
        "SELECT DISTINCT assigned_agent_id FROM complaints WHERE assigned_agent_id <> ''"
    cat >"$work/list_open_complaints.sql" <<'SQL'
\set a random(0, 19)
\set lim 20
SELECT id, body, version FROM complaints WHERE 1 = 1 AND state IN ('received', 'acknowledged', 'investigating', 'solution_proposed', 'solution_accepted') AND assigned_agent_id = 'agent-' || lpad(:a::text, 2, '0') ORDER BY create_time, id LIMIT :lim;
SQL
    pgbench_run list_open_complaints_c$conc complaints "$work/list_open_complaints.sql" "$conc"

fi
if $have_complaints && ! $reads_only; then
    step "limits: pgbench with the complaints service's create (its rows copied from the run)"
    # The same writes as Store::insert: the request lookup, then in one transaction the request
    # row, the complaint row, its timeline entries, SLA events and outbox rows. The rows are
    # those of one complaint the create_complaint scenario wrote, so sizes match exactly.
    psql -d postgres -c "CREATE DATABASE pgb_complaints"
    migrate pgb_complaints complaints
    one="$(psql -d complaints -c "SELECT id FROM complaints WHERE state = 'received' ORDER BY create_time DESC LIMIT 1")"
    for table in complaints timeline_entries sla_events outbox_events; do
        psql -d pgb_complaints -c "CREATE TABLE tpl_$table (LIKE $table)"
        key=complaint_id
        [[ $table == complaints ]] && key=id
        [[ $table == outbox_events ]] && key=aggregate_id
        psql -d complaints -c "COPY (SELECT * FROM $table WHERE $key = '$one') TO STDOUT" \
            | psql -d pgb_complaints -c "COPY tpl_$table FROM STDIN"
    done
    psql -d pgb_complaints -c "SELECT 'template rows: timeline ' || (SELECT count(*) FROM tpl_timeline_entries) || ', sla events ' || (SELECT count(*) FROM tpl_sla_events) || ', outbox ' || (SELECT count(*) FROM tpl_outbox_events) || ', body bytes ' || (SELECT length(body) FROM tpl_complaints)"
    cat >"$work/create_complaint.sql" <<'SQL'
\set r random(1, 9000000000000000000)
SELECT request_hash, resource_id, ref_id FROM idempotency_keys WHERE scope = 'create' AND request_id = 'req_' || :client_id || '_' || :r;
BEGIN;
INSERT INTO idempotency_keys (scope, request_id, request_hash, resource_id, ref_id, create_time) VALUES ('create', 'req_' || :client_id || '_' || :r, '3f0c9a1e5b7d2c4a8e6f1b3d5a7c9e0f', 'cmp_' || :client_id || '_' || :r, 'cmp_' || :client_id || '_' || :r, 1795459836242969);
INSERT INTO complaints (id, customer_id, state, nature, severity, assigned_agent_id, escalation_level, sla_state, defaulted, next_check_time, lease_owner, lease_until, body, version, create_time, update_time) SELECT 'cmp_' || :client_id || '_' || :r, customer_id, state, nature, severity, assigned_agent_id, escalation_level, sla_state, defaulted, next_check_time, lease_owner, lease_until, body, version, create_time, update_time FROM tpl_complaints;
INSERT INTO timeline_entries (complaint_id, sequence, id, kind, create_time, body) SELECT 'cmp_' || :client_id || '_' || :r, sequence, id || '_' || :client_id || '_' || :r, kind, create_time, body FROM tpl_timeline_entries;
INSERT INTO sla_events (id, complaint_id, event_time, body) SELECT id || '_' || :client_id || '_' || :r, 'cmp_' || :client_id || '_' || :r, event_time, body FROM tpl_sla_events;
INSERT INTO outbox_events (id, destination, kind, aggregate_id, payload, attempts, next_attempt_time, delivered_time, last_error, lease_owner, lease_until, create_time) SELECT id || '_' || :client_id || '_' || :r, destination, kind, 'cmp_' || :client_id || '_' || :r, payload, attempts, next_attempt_time, delivered_time, last_error, lease_owner, lease_until, create_time FROM tpl_outbox_events;
COMMIT;
SQL
    pgbench_run create_complaint_c1 pgb_complaints "$work/create_complaint.sql" 1
    pgbench_run create_complaint_c$conc pgb_complaints "$work/create_complaint.sql" "$conc"
fi

# The breach watcher has its own benchmark: scripts/bench-watcher.sh (set-wise batches against
# pgbench doing one batch's statements).

if ! $reads_only; then
step "customers on SQLite (separate process, empty database)"
mkdir -p "$work/sqlite"
svc_grpc_service=csops.customers.v1.CustomersService
start_service customers_sqlite csops-customers "sqlite://$work/sqlite/customers.db?mode=rwc"
scenarios customers_sqlite create_customer get_customer list_customers
stop_service
fi

step "summary"
"$load" summarize --dir "$out" >"$out/summary.md"
cat "$out/summary.md"
printf '\nJSON in %s\n' "$out"
