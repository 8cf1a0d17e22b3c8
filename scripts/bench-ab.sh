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

for scenario in "${scenarios[@]}"; do
    for round in $(seq 1 "$rounds"); do
        # Odd rounds run A first, even rounds B first: neither side always meets the emptier
        # database or the quieter minute.
        sides=(a b)
        ((round % 2 == 0)) && sides=(b a)
        for side in "${sides[@]}"; do
            "$b_bin/csops-load" run -s "$scenario" -c "${AB_CALLERS:-32}" --duration "$duration" --warmup 2s \
                --target "${target[$side]}" --customers-url "${target[${side}_customers]}" --json \
                | jq -c --arg side "$side" --argjson round "$round" \
                    --arg scenario "$scenario" '{side:$side, round:$round, scenario:$scenario, rate:.total.ok_per_s, p99_ms:.total.latency_ms.p99}' \
                | tee -a "$out/rounds.jsonl"
        done
    done
done
echo "per scenario: median calls/s per side, and the median of the per-round ratios b/a"
echo "(a = $a_bin, b = $b_bin):"
jq -s -r 'group_by(.scenario)[] | . as $g
    | (["a","b"] | map(. as $s | [$g[] | select(.side==$s) | .rate] | sort | .[((length-1)/2|floor)])) as $m
    | ([$g | group_by(.round)[] | (map(select(.side=="b"))[0].rate / map(select(.side=="a"))[0].rate)] | sort) as $r
    | "\($g[0].scenario): a \($m[0]|round)/s  b \($m[1]|round)/s  b/a per round \($r | map(.*100|round|tostring) | join(" ")) %  median \(($r[((($r|length)-1)/2|floor)]*100)|round) %"' \
    "$out/rounds.jsonl" | tee "$out/summary.txt"
