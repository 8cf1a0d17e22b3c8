#!/usr/bin/env bash
# A/B: the same scenarios against two builds of a service, alternating A B A B … on one
# PostgreSQL, so drift of the shared machine lands on both sides alike. For a change that
# claims (or must not lose) speed: build the old commit in a worktree, then
#   git worktree add /tmp/before <commit> && (cd /tmp/before && cargo build --release \
#       --locked --target-dir target-release -p csops-load -p csops-customers -p csops-complaints)
#   scripts/bench-ab.sh /tmp/before/target-release/release target-release/release
# Rounds alternate which side goes first. Prints one line per round and a median per side; JSON lines in target-release/bench-ab/.
#   AB_ROUNDS=4 AB_DURATION=10s AB_SCENARIOS="get_customer list_customers create_customer"
#   AB_CALLERS=32 (concurrent callers), AB_SERVICE=customers (or complaints, which then also starts customers from B)
#   AB_ENV_A="VAR=value …", AB_ENV_B="…": extra environment for every service of that side
#   (the same build on both sides with different settings, e.g. scripts/bench-tracing.sh)
#   AB_CPU_PIDS_A="pid …", AB_CPU_PIDS_B="…": more processes whose CPU time counts for that side
#   (e.g. the collector side b exports to)
# Besides calls/s, each round measures the CPU time the side's services (and AB_CPU_PIDS_*)
# used per call, from /proc, after the warm-up: on a shared VM whose speed drifts, the CPU a
# call costs moves far less than the rate it reaches.
set -euo pipefail
# The services are measured without authentication unless CSOPS_AUTH says otherwise (the
# cost of verifying tokens is measured on its own, see BENCHMARKS.md).
export CSOPS_AUTH="${CSOPS_AUTH:-off}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
a_bin="$(realpath "$1")"
b_bin="$(realpath "$2")"
rounds="${AB_ROUNDS:-4}"
duration="${AB_DURATION:-10s}"
service="${AB_SERVICE:-customers}"
read -r -a scenarios <<<"${AB_SCENARIOS:-get_customer list_customers create_customer}"
read -r -a env_a <<<"${AB_ENV_A:-}"
read -r -a env_b <<<"${AB_ENV_B:-}"
pgbin="${CSOPS_PG_BINDIR:-/usr/lib/postgresql/15/bin}"
out="$repo/target-release/bench-ab"
rm -rf "$out" && mkdir -p "$out"
work="$(mktemp -d /tmp/csops-ab.XXXXXX)"
chmod 755 "$work"
pids=()
cleanup() {
    # start() runs in a command substitution (a subshell): its pids come back through a file.
    [[ -f "$work/pids" ]] && mapfile -t -O "${#pids[@]}" pids <"$work/pids"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
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
psql() { "$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

# start SIDE BIN SERVICE [ENV…]: one service of build BIN on its own database; prints its URL.
start() {
    local side="$1" bin="$2" name="$3" port
    shift 3
    psql -d postgres -c "CREATE DATABASE ${name}_$side"
    port="$(free_port)"
    env "$@" CSOPS_LOG_FORMAT=json RUST_LOG=warn "$bin/csops-$name" --listen-addr "127.0.0.1:$port" \
        --metrics-addr off --database-url "postgres://postgres@127.0.0.1:$pgport/${name}_$side" \
        >"$work/$name-$side.log" 2>&1 &
    echo $! >>"$work/pids"
    echo $! >>"$work/pids-$side"
    "$b_bin/csops-load" wait-serving --target "http://127.0.0.1:$port" \
        --service "csops.$name.v1.$(tr '[:lower:]' '[:upper:]' <<<"${name:0:1}")${name:1}Service" \
        --timeout 30s >/dev/null
    echo "http://127.0.0.1:$port"
}

declare -A target
for side in a b; do
    bin="$a_bin"; side_env=("${env_a[@]}")
    [[ $side == b ]] && { bin="$b_bin"; side_env=("${env_b[@]}"); }
    customers="$(start "$side" "$bin" customers "${side_env[@]}")"
    target[$side]="$customers"
    if [[ $service == complaints ]]; then
        target[$side]="$(start "$side" "$bin" complaints CSOPS_CUSTOMERS_URL="$customers" "${side_env[@]}")"
    fi
    target[${side}_customers]="$customers"
done

read -r -a cpu_extra_a <<<"${AB_CPU_PIDS_A:-}"
read -r -a cpu_extra_b <<<"${AB_CPU_PIDS_B:-}"
# cpu_ticks SIDE: the user and system time, in clock ticks, of the side's processes so far.
cpu_ticks() {
    local side="$1" pid total=0 stat rest
    local -a pids_of_side fields extra
    mapfile -t pids_of_side <"$work/pids-$side"
    if [[ $side == a ]]; then extra=("${cpu_extra_a[@]}"); else extra=("${cpu_extra_b[@]}"); fi
    for pid in "${pids_of_side[@]}" "${extra[@]}"; do
        [[ -n $pid ]] || continue
        stat="$(<"/proc/$pid/stat")"
        # Fields after the command name (which may hold spaces): utime and stime are the
        # 12th and 13th of them.
        rest="${stat##*) }"
        read -r -a fields <<<"$rest"
        total=$((total + fields[11] + fields[12]))
    done
    echo "$total"
}
hz="$(getconf CLK_TCK)"

for scenario in "${scenarios[@]}"; do
    for round in $(seq 1 "$rounds"); do
        # Odd rounds run A first, even rounds B first: neither side always meets the emptier
        # database or the quieter minute.
        sides=(a b)
        ((round % 2 == 0)) && sides=(b a)
        for side in "${sides[@]}"; do
            "$b_bin/csops-load" run -s "$scenario" -c "${AB_CALLERS:-32}" --duration "$duration" --warmup 2s \
                --target "${target[$side]}" --customers-url "${target[${side}_customers]}" --json \
                >"$work/run.json" &
            load=$!
            # The CPU window opens after the seeding (about a second) and the 2 s warm-up, and
            # closes when the run ends; the calls in it are the measured rate times its length.
            sleep 3.5
            before="$(cpu_ticks "$side")" since="$EPOCHREALTIME"
            wait "$load"
            after="$(cpu_ticks "$side")" until="$EPOCHREALTIME"
            jq -c --arg side "$side" --argjson round "$round" --arg scenario "$scenario" \
                --argjson ticks "$((after - before))" --argjson hz "$hz" \
                --argjson window "$(jq -n "$until - $since")" \
                '{side:$side, round:$round, scenario:$scenario, rate:.total.ok_per_s, p99_ms:.total.latency_ms.p99,
                  cpu_us_per_call:(if .total.ok_per_s > 0 then ($ticks / $hz * 1e6 / (.total.ok_per_s * $window) | round) else null end)}' \
                "$work/run.json" | tee -a "$out/rounds.jsonl"
        done
    done
done
echo "per scenario: median calls/s per side, the median of the per-round ratios b/a, and the"
echo "median CPU time per call of each side's processes"
echo "(a = $a_bin, b = $b_bin):"
jq -s -r 'group_by(.scenario)[] | . as $g
    | (["a","b"] | map(. as $s | [$g[] | select(.side==$s) | .rate] | sort | .[((length-1)/2|floor)])) as $m
    | ([$g | group_by(.round)[] | (map(select(.side=="b"))[0].rate / map(select(.side=="a"))[0].rate)] | sort) as $r
    | (["a","b"] | map(. as $s | [$g[] | select(.side==$s) | .cpu_us_per_call // empty] | sort | if length > 0 then .[((length-1)/2|floor)] else null end)) as $c
    | "\($g[0].scenario): a \($m[0]|round)/s  b \($m[1]|round)/s  b/a per round \($r | map(.*100|round|tostring) | join(" ")) %  median \(($r[((($r|length)-1)/2|floor)]*100)|round) %  CPU/call a \($c[0]) µs  b \($c[1]) µs"' \
    "$out/rounds.jsonl" | tee "$out/summary.txt"
