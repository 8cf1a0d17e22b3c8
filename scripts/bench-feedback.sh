#!/usr/bin/env bash
# Feedback benchmarks (issue 12), each against a limit measured in the same run:
#   scores    — FEEDBACK_SURVEYS (1,000,000) surveys in one period (a quarter) plus
#               FEEDBACK_HISTORY (250,000) in the quarter before, loaded straight into the
#               feedback service's survey_facts table with one INSERT … SELECT FROM
#               generate_series (realistic spread: 600 agents in 24 teams, 40 service halls,
#               complaint natures on complaint surveys only, tiers 20/30/50 % A/B/C, a quarter
#               rural, five channels, four templates asking different items, 82 % answered of
#               which 8 % partially, SERVQUAL perception mostly below expectation, NULL where an
#               item was not asked or not answered); then the feedback binary on that database
#               and GetFeedbackScores timed RUNS times, one call after the other, for three
#               shapes: the period's total, grouped by team, and filtered (2 teams, tier A,
#               phone or SMS) grouped by agent, each after WARMUP_CALLS (30) unmeasured calls
#               so every pooled connection has run the statement more than five times (when
#               PostgreSQL may move a prepared statement to a generic plan). The limit: the very
#               statement the service ran (text and parameters taken from PostgreSQL's log of
#               its calls) executed RUNS times by psql (PREPARE/EXECUTE, \timing) planned with
#               its values, and PostgreSQL's own execution time of the service's calls (the same
#               log). ratio = psql median / gRPC median. Also timed: psql with the generic plan.
#               EXPLAIN (ANALYZE, BUFFERS) of each shape, both plans, is kept.
#   ingestion — CreateSurvey (every item answered, fresh request_id) at BENCH_CONCURRENCY
#               callers against the feedback binary on an empty database, with the bare tonic
#               echo of the same run as the limit (`csops-load summarize`).
# Release build → PostgreSQL 15 at default settings on a free 127.0.0.1 port → JSON and text in
# target-release/bench-feedback/ (scores.jsonl, scores.md, explain_<shape>[_generic].txt,
# postgres_log_of_the_calls.txt, ingestion/summary.md).
# Everything is stopped on exit.
#   RUNS=7 scripts/bench-feedback.sh
#   INGESTION=0 scripts/bench-feedback.sh            # the scores only (SCORES=0: ingestion only)
#   FEEDBACK_SURVEYS=100000 RUNS=3 INGESTION=0 scripts/bench-feedback.sh   # a quick try
set -euo pipefail
# The services are measured without authentication unless CSOPS_AUTH says otherwise (the
# cost of verifying tokens is measured on its own, see BENCHMARKS.md).
export CSOPS_AUTH="${CSOPS_AUTH:-off}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

runs="${RUNS:-7}"
warmup_calls="${WARMUP_CALLS:-30}"
surveys="${FEEDBACK_SURVEYS:-1000000}"
history="${FEEDBACK_HISTORY:-250000}"
do_scores="${SCORES:-1}"
do_ingestion="${INGESTION:-1}"
duration="${BENCH_DURATION:-10s}"
warmup="${BENCH_WARMUP:-2s}"
conc="${BENCH_CONCURRENCY:-32}"
out="$repo/target-release/bench-feedback"
bin="$repo/target-release/release"
load="$bin/csops-load"
pgbin="${CSOPS_PG_BINDIR:-/usr/lib/postgresql/15/bin}"
# The period: the fourth quarter of 2026 (92 days); the history is the third quarter.
period_start="$(date -u -d 2026-10-01 +%s)000000"
period_end="$(date -u -d 2027-01-01 +%s)000000"
history_start="$(date -u -d 2026-07-01 +%s)000000"

step() { printf '\n==> %s\n' "$*"; }

step "release build"
cargo build --release --locked --target-dir target-release -p csops-load -p csops-feedback
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; }

rm -rf "$out" && mkdir -p "$out"
work="$(mktemp -d /tmp/csops-bench-feedback.XXXXXX)"
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

# ---- PostgreSQL 15, default settings; statements of the feedback database logged -------------
step "PostgreSQL (default settings)"
mkdir -p "$work/pg" && chown -R postgres:postgres "$work"
as_pg "$pgbin/initdb" -A trust -U postgres -E UTF8 --locale=C -D "$work/pg" >/dev/null
pgport="$(free_port)"
as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w -t 30 \
    -o "-p $pgport -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work -c max_connections=200" \
    start >/dev/null
pg_started=true
psql() { "$pgbin/psql" -X -h 127.0.0.1 -p "$pgport" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
pg_url() { echo "postgres://postgres@127.0.0.1:$pgport/$1"; }
# Log lines as "pid|…", so a statement's DETAIL line is found after its LOG line.
psql -d postgres -c "ALTER SYSTEM SET log_line_prefix = '%p|'" -c "SELECT pg_reload_conf()" >/dev/null
settings="$(psql -d postgres -F= -c "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather', 'jit', 'effective_cache_size', 'random_page_cost') ORDER BY name" | paste -sd' ')"
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

# start_service NAME DATABASE_URL [env...]: the feedback binary; sets svc_pid, svc_url.
feedback_grpc=csops.feedback.v1.FeedbackService
start_service() {
    local name="$1" url="$2"
    shift 2
    local port t0
    port="$(free_port)"
    t0="$(date +%s%N)"
    env "$@" CSOPS_LOG_FORMAT=json RUST_LOG=info CSOPS_CUSTOMERS_URL= CSOPS_COMPLAINTS_URL= \
        "$bin/csops-feedback" --listen-addr "127.0.0.1:$port" --metrics-addr off --database-url "$url" \
        >"$work/$name.log" 2>&1 &
    svc_pid=$!
    pids+=("$svc_pid")
    svc_url="http://127.0.0.1:$port"
    "$load" wait-serving --target "$svc_url" --service "$feedback_grpc" --since-unix-ns "$t0" \
        --timeout 30s >"$out/startup_$name.json"
}
stop_service() { # PID: SIGTERM, wait for the exit, then forget it
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
    echo "bench-feedback: pid $1 did not stop within 30 s of SIGTERM" >&2
    return 1
}

# ---- scores -----------------------------------------------------------------------------------
# Rows of survey_facts: g = 1..n, sent uniformly over [t0, t1), with the spread described at the
# top. `setseed` makes every run load the same rows.
seed_facts() {
    local first="$1" n="$2" t0="$3" t1="$4"
    psql -d feedback -c "SELECT setseed(0.42)" -c "
INSERT INTO survey_facts (survey_id, send_time, template_id, agent_id, team_id, service_hall_id,
    complaint_nature, customer_tier, customer_region, channel, responded, complete, csat, nps, ces,
    tangibles_e, tangibles_p, empathy_e, empathy_p, assurance_e, assurance_p, responsiveness_e,
    responsiveness_p, reliability_e, reliability_p, customer_id, answer_time, overall_score,
    bonus_points, deduction_points, procedural_score, personal_score)
SELECT survey_id, send_time, template_id, agent_id, team_id, service_hall_id, complaint_nature,
    customer_tier, customer_region, channel, responded, complete, csat, nps, ces,
    te, tp, ee, ep, ae, ap, re, rp, le, lp, customer_id, answer_time,
    CASE WHEN tp IS NULL THEN NULL
         ELSE greatest(0, least(100, ((tp + ep + ap + rp + lp) / 5.0 - 1) / 6 * 100 + bonus - deduction)) END,
    bonus, deduction,
    CASE WHEN rp IS NULL THEN NULL ELSE (rp + lp) / 2.0 END,
    CASE WHEN ep IS NULL THEN NULL ELSE (ep + ap) / 2.0 END
FROM (
    SELECT *,
        CASE WHEN asks_csat AND answered THEN (CASE WHEN r_csat < 0.05 THEN 1 WHEN r_csat < 0.12 THEN 2
            WHEN r_csat < 0.27 THEN 3 WHEN r_csat < 0.65 THEN 4 ELSE 5 END)::smallint END AS csat,
        CASE WHEN asks_nps AND answered THEN (CASE WHEN r_nps < 0.04 THEN floor(random() * 5)
            WHEN r_nps < 0.22 THEN 5 + floor(random() * 2) WHEN r_nps < 0.55 THEN 7 + floor(random() * 2)
            ELSE 9 + floor(random() * 2) END)::smallint END AS nps,
        CASE WHEN asks_ces AND complete = 1 THEN (1 + floor(random() * random() * 7))::smallint END AS ces,
        CASE WHEN sq THEN e1 END AS te, CASE WHEN sq THEN greatest(1, least(7, e1 - d1)) END AS tp,
        CASE WHEN sq THEN e2 END AS ee, CASE WHEN sq THEN greatest(1, least(7, e2 - d2)) END AS ep,
        CASE WHEN sq THEN e3 END AS ae, CASE WHEN sq THEN greatest(1, least(7, e3 - d3)) END AS ap,
        CASE WHEN sq THEN e4 END AS re, CASE WHEN sq THEN greatest(1, least(7, e4 - d4)) END AS rp,
        CASE WHEN sq THEN e5 END AS le, CASE WHEN sq THEN greatest(1, least(7, e5 - d5)) END AS lp
    FROM (
        SELECT *,
            responded = 1 AS answered,
            template_id IN ('after-complaint', 'after-visit', 'service-hall') AND complete = 1 AS sq,
            template_id <> 'nps-quarterly' AS asks_csat,
            template_id IN ('after-complaint', 'nps-quarterly') AS asks_nps,
            template_id IN ('after-complaint', 'after-visit') AS asks_ces
        FROM (
            SELECT 'srv_' || md5('feedback-bench-' || g) AS survey_id,
                $t0 + floor(random() * ($t1 - $t0))::bigint AS send_time,
                CASE WHEN r_tpl < 0.50 THEN 'after-complaint' WHEN r_tpl < 0.75 THEN 'after-visit'
                     WHEN r_tpl < 0.90 THEN 'service-hall' ELSE 'nps-quarterly' END AS template_id,
                'agent-' || lpad(agent::text, 4, '0') AS agent_id,
                'team-' || lpad((agent / 25)::text, 2, '0') AS team_id,
                CASE WHEN r_tpl >= 0.75 AND r_tpl < 0.90 OR r_ch >= 0.85 AND r_ch < 0.95
                     THEN 'hall-' || lpad((agent % 40)::text, 2, '0') ELSE '' END AS service_hall_id,
                CASE WHEN r_tpl >= 0.50 THEN ''
                     WHEN r_nat < 0.30 THEN 'SERVICE_ATTITUDE' WHEN r_nat < 0.50 THEN 'PRODUCT_QUALITY'
                     WHEN r_nat < 0.65 THEN 'BILLING' WHEN r_nat < 0.80 THEN 'NETWORK'
                     WHEN r_nat < 0.90 THEN 'DELIVERY' ELSE 'OTHER' END AS complaint_nature,
                CASE WHEN r_tier < 0.2 THEN 'A' WHEN r_tier < 0.5 THEN 'B' ELSE 'C' END AS customer_tier,
                CASE WHEN random() < 0.25 THEN 'rural' ELSE 'urban' END AS customer_region,
                CASE WHEN r_ch < 0.40 THEN 'phone' WHEN r_ch < 0.65 THEN 'sms' WHEN r_ch < 0.85 THEN 'web'
                     WHEN r_ch < 0.95 THEN 'in_person' ELSE 'paper' END AS channel,
                (r_resp < 0.82)::int::smallint AS responded,
                (r_resp < 0.82 * 0.92)::int::smallint AS complete,
                r_csat, r_nps,
                (4 + floor(random() * 4))::smallint AS e1, (floor(random() * 4) - 1)::smallint AS d1,
                (4 + floor(random() * 4))::smallint AS e2, (floor(random() * 4) - 1)::smallint AS d2,
                (4 + floor(random() * 4))::smallint AS e3, (floor(random() * 3) - 1)::smallint AS d3,
                (4 + floor(random() * 4))::smallint AS e4, (floor(random() * 5) - 1)::smallint AS d4,
                (4 + floor(random() * 4))::smallint AS e5, (floor(random() * 4) - 1)::smallint AS d5,
                'cus_' || md5('feedback-bench-customer-' || (g % 200000)) AS customer_id,
                CASE WHEN r_resp < 0.82 THEN $t0 + floor(random() * ($t1 - $t0))::bigint ELSE 0 END AS answer_time,
                CASE WHEN random() < 0.02 THEN 5.0 ELSE 0 END AS bonus,
                CASE WHEN random() < 0.03 THEN 10.0 ELSE 0 END AS deduction
            FROM (
                SELECT g, floor(random() * 600)::int AS agent, random() AS r_tpl, random() AS r_nat,
                    random() AS r_tier, random() AS r_ch, random() AS r_resp, random() AS r_csat,
                    random() AS r_nps
                FROM generate_series($first, $first + $n - 1) g
            ) draws
        ) raw
    ) flags
) answers"
}

if [[ "$do_scores" != 0 ]]; then
    step "scores: $surveys surveys in the period ($history before it), straight into survey_facts"
    psql -d postgres -c "CREATE DATABASE feedback"
    # The service creates its schema (kit and feedback migrations), then stops for the load.
    start_service schema "$(pg_url feedback)" CSOPS_SWEEP_INTERVAL=1h
    stop_service "$svc_pid"
    t_seed="$(date +%s%N)"
    seed_facts 1 "$surveys" "$period_start" "$period_end"
    [[ "$history" -gt 0 ]] && seed_facts "$((surveys + 1))" "$history" "$history_start" "$period_start"
    psql -d feedback -c "VACUUM ANALYZE survey_facts" -c "CHECKPOINT"
    seed_s="$(awk -v d=$(( $(date +%s%N) - t_seed )) 'BEGIN {printf "%.1f", d / 1e9}')"
    psql -d feedback -c "SELECT 'seeded ' || count(*) || ' rows in $seed_s s: table ' || pg_size_pretty(pg_table_size('survey_facts')) || ', indexes ' || pg_size_pretty(pg_indexes_size('survey_facts')) FROM survey_facts" \
        | tee "$out/data_size.txt"
    psql -d feedback -F' | ' -c "SELECT template_id, count(*), round(avg(responded), 3) AS answered, round(avg(complete), 3) AS complete, count(csat) AS csat, count(nps) AS nps, count(ces) AS ces, count(empathy_e) AS servqual FROM survey_facts WHERE send_time >= $period_start AND send_time < $period_end GROUP BY 1 ORDER BY 1" \
        | tee "$out/data_mix.txt"
    psql -d feedback -F' | ' -c "SELECT 'tiers', string_agg(customer_tier || ' ' || n, ', ') FROM (SELECT customer_tier, count(*) n FROM survey_facts GROUP BY 1 ORDER BY 1) x UNION ALL SELECT 'channels', string_agg(channel || ' ' || n, ', ') FROM (SELECT channel, count(*) n FROM survey_facts GROUP BY 1 ORDER BY 1) x UNION ALL SELECT 'teams/agents/halls', (SELECT count(DISTINCT team_id) || '/' || count(DISTINCT agent_id) || '/' || count(DISTINCT service_hall_id) FROM survey_facts)" \
        | tee -a "$out/data_mix.txt"

    # Every statement of the feedback database is logged with its duration and parameters
    # from here on: what the service ran, and how long PostgreSQL took for it.
    psql -d postgres -c "ALTER DATABASE feedback SET log_min_duration_statement = 0"
    start_service scores "$(pg_url feedback)" CSOPS_SWEEP_INTERVAL=1h
    scores_pid="$svc_pid"
    log_from="$(wc -l <"$work/pg.log")"
    step "GetFeedbackScores, $runs calls per shape (after $warmup_calls unmeasured ones)"
    "$load" feedback-scores --target "$svc_url" --start-micros "$period_start" --end-micros "$period_end" \
        --runs "$runs" --warmup-calls "$warmup_calls" | tee "$out/grpc.json"
    stop_service "$scores_pid"
    psql -d postgres -c "ALTER DATABASE feedback RESET log_min_duration_statement"
    tail -n +"$((log_from + 1))" "$work/pg.log" >"$work/calls.log"
    cp "$work/calls.log" "$out/postgres_log_of_the_calls.txt"

    # The limit: each shape's statement, as the service ran it, in psql.
    for shape in total by_team filtered_by_agent; do
        case "$shape" in
            total) marker="SELECT '' AS group_key" ;;
            by_team) marker="SELECT team_id AS group_key" ;;
            filtered_by_agent) marker="SELECT agent_id AS group_key" ;;
        esac
        # "pid|LOG:  duration: 812.3 ms  execute sqlx_s_2: SELECT …" then "pid|DETAIL:  parameters: $1 = '…', …"
        awk -v m="$marker" '
            /\|LOG:  duration: .* ms  execute [^:]*: / && index($0, m) { want = 1; split($0, a, "duration: "); split(a[2], b, " ms"); print "D " b[1]; sub(/.* ms  execute [^:]*: /, ""); print "S " $0; next }
            want && /\|DETAIL:  [Pp]arameters: / { sub(/.*\|DETAIL:  [Pp]arameters: /, ""); gsub(/\$[0-9]+ = /, ""); print "P " $0; want = 0; next }
        ' "$work/calls.log" >"$work/$shape.calls"
        sql="$(grep -m1 '^S ' "$work/$shape.calls" | cut -c3-)"
        params="$(grep -m1 '^P ' "$work/$shape.calls" | cut -c3-)"
        [[ -n "$sql" && -n "$params" ]] || { echo "bench-feedback: no logged call of $shape" >&2; exit 1; }
        # PostgreSQL's own time for the service's measured calls (the first was unmeasured).
        grep '^D ' "$work/$shape.calls" | tail -n "$runs" | cut -c3- | jq -s -c '{runs_ms: ., median_ms: (sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end)}' >"$work/$shape.pg.json"
        # psql: the statement prepared once; RUNS executions planned with their parameters
        # (custom plans, as PostgreSQL plans an unnamed statement), then RUNS with the plan a
        # prepared statement falls back to after five executions (the generic plan, which
        # cannot see the period's bounds), and the EXPLAIN (ANALYZE, BUFFERS) of both.
        {
            echo "PREPARE q AS $sql;"
            echo "\\o $work/$shape.rows"
            echo "EXECUTE q($params);"
            echo "\\o /dev/null"
            echo "SET plan_cache_mode = force_custom_plan;"
            echo "\\timing on"
            for _ in $(seq 1 "$runs"); do echo "EXECUTE q($params);"; done
            echo "\\timing off"
            echo "SET plan_cache_mode = force_generic_plan;"
            echo "\\timing on"
            for _ in $(seq 1 "$runs"); do echo "EXECUTE q($params);"; done
            echo "\\timing off"
            echo "\\o $out/explain_${shape}_generic.txt"
            echo "EXPLAIN (ANALYZE, BUFFERS) EXECUTE q($params);"
            echo "SET plan_cache_mode = force_custom_plan;"
            echo "\\o $out/explain_$shape.txt"
            echo "EXPLAIN (ANALYZE, BUFFERS) EXECUTE q($params);"
        } >"$work/$shape.sql"
        psql -d feedback -F'|' -f "$work/$shape.sql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' >"$work/$shape.times"
        median='{runs_ms: ., median_ms: (sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end)}'
        head -n "$runs" "$work/$shape.times" | jq -s -c "$median" >"$work/$shape.psql.json"
        tail -n "$runs" "$work/$shape.times" | jq -s -c "$median" >"$work/$shape.generic.json"
        # The same answer on both sides: groups and surveys sent (column 2).
        read -r psql_groups psql_sent < <(awk -F'|' '{n++; s += $2} END {print n + 0, s + 0}' "$work/$shape.rows")
        jq -c --arg shape "$shape" --slurpfile pg "$work/$shape.pg.json" --slurpfile psql "$work/$shape.psql.json" \
            --slurpfile generic "$work/$shape.generic.json" \
            --argjson psql_groups "$psql_groups" --argjson psql_sent "$psql_sent" --arg sql "$sql" --arg params "$params" \
            '.shapes[$shape] as $g
             | {shape:$shape, grpc:$g.times, postgres_executing_service_calls:$pg[0], psql:$psql[0],
                psql_generic_plan:$generic[0],
                ratio:(($psql[0].median_ms / $g.times.median_ms * 1000 | round) / 1000),
                answer:{sent:$g.total.sent, responses:$g.total.responses, groups:$g.groups,
                        csat:$g.total.csat, nps:$g.total.nps, ces:$g.total.ces, servqual_gap:$g.total.servqual_gap},
                same_answer_in_psql:(if $g.groups == 0 then $psql_sent == $g.total.sent
                                     else $psql_groups == $g.groups and $psql_sent == $g.groups_sent end),
                params:$params, statement:$sql}' "$out/grpc.json" | tee -a "$out/scores.jsonl"
        for plan in "$shape" "${shape}_generic"; do
            echo "plan ($plan):"
            grep -E 'Scan|Aggregate|Gather|Sort |Workers|Execution Time|JIT:' "$out/explain_$plan.txt" | head -16 | sed 's/^/    /'
        done
    done
    step "scores summary (ms; ratio = psql median / gRPC median)"
    jq -r -s '["shape", "groups", "surveys", "GetFeedbackScores median (min-max)", "PostgreSQL executing it", "psql, same statement", "ratio", "psql, generic plan", "same answer"],
        ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---"],
        (.[] | [.shape, .answer.groups, .answer.sent,
                "\(.grpc.median_ms) (\(.grpc.min_ms)-\(.grpc.max_ms))",
                .postgres_executing_service_calls.median_ms, .psql.median_ms, .ratio,
                .psql_generic_plan.median_ms, .same_answer_in_psql])
        | map(tostring) | "| " + join(" | ") + " |"' "$out/scores.jsonl" | tee "$out/scores.md"
fi

# ---- ingestion --------------------------------------------------------------------------------
if [[ "$do_ingestion" != 0 ]]; then
    step "ingestion: CreateSurvey at $conc callers vs the bare echo"
    sdir="$out/ingestion"
    mkdir -p "$sdir"
    cp "$out/machine.json" "$sdir/machine.json"
    "$load" echo-server --addr-file "$work/echo.addr" --max-lifetime 15m &
    echo_pid=$!
    pids+=("$echo_pid")
    for _ in $(seq 1 100); do [[ -s "$work/echo.addr" ]] && break; sleep 0.05; done
    "$load" run --target "http://$(cat "$work/echo.addr")" -s echo -c "$conc" --duration "$duration" \
        --warmup "$warmup" --label echo --out "$sdir/echo_c$conc.json"
    stop_service "$echo_pid"
    psql -d postgres -c "CREATE DATABASE feedback_ingest"
    start_service feedback_postgres "$(pg_url feedback_ingest)"
    cp "$out/startup_feedback_postgres.json" "$sdir/"
    "$load" create-surveys --target "$svc_url" -c "$conc" --duration "$duration" --warmup "$warmup" \
        --label feedback_postgres --out "$sdir/feedback_postgres_create_survey.json"
    psql -d feedback_ingest -c "SELECT 'written: ' || (SELECT count(*) FROM surveys) || ' surveys, ' || (SELECT count(*) FROM survey_facts) || ' facts rows'"
    stop_service "$svc_pid"
    "$load" summarize --dir "$sdir" >"$sdir/summary.md"
    cat "$sdir/summary.md"
fi
printf '\nResults in %s\n' "$out"
