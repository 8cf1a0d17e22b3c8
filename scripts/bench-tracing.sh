#!/usr/bin/env bash
# Tracing overhead (issue 15): every scenario with span export on, to a real OTLP collector
# on 127.0.0.1 (rotel, discarding what it receives), against export off; the same release
# build on both sides, alternating rounds on one PostgreSQL (scripts/bench-ab.sh), so drift of
# the machine lands on both alike. Side a: export off; side b: export on, every span sampled
# (the SDK's parentbased_always_on, what the k8s services run). Target: b/a ≥ 90 %.
#   AB_ROUNDS=4 AB_DURATION=10s scripts/bench-tracing.sh
set -euo pipefail
# The services are measured without authentication unless CSOPS_AUTH says otherwise (the
# cost of verifying tokens is measured on its own, see BENCHMARKS.md).
export CSOPS_AUTH="${CSOPS_AUTH:-off}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# TRACING_NO_BUILD=1: measure the binaries already built, in target-release/release or in the
# directory TRACING_BIN names.
[[ -n ${TRACING_NO_BUILD:-} ]] || cargo build --release --locked --target-dir target-release \
    -p csops-load -p csops-customers -p csops-complaints
venv="$repo/.tools/rotel"
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
"$venv/bin/pip" install -q rotel==0.0.1a15
agent="$(find "$venv" -name rotel-agent -type f | head -n1)"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
grpc_port="$(free_port)"
http_port="$(free_port)"
"$agent" start --otlp-grpc-endpoint "127.0.0.1:$grpc_port" \
    --otlp-http-endpoint "127.0.0.1:$http_port" --exporter blackhole >/tmp/rotel-bench.log 2>&1 &
collector=$!
trap 'kill -TERM $collector 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    (echo >"/dev/tcp/127.0.0.1/$grpc_port") 2>/dev/null && break
    sleep 0.1
done

# TRACING_ENV: extra environment for both sides (e.g. an allocator preloaded on both).
export AB_ENV_A="OTEL_SERVICE_NAME=csops-bench ${TRACING_ENV:-}"
# The collector works for side b only: its CPU time counts as b's.
export AB_CPU_PIDS_B="$collector"
export AB_ENV_B="OTEL_SERVICE_NAME=csops-bench ${TRACING_ENV:-} OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$grpc_port OTEL_TRACES_SAMPLER=parentbased_always_on"
bin="${TRACING_BIN:-$repo/target-release/release}"
echo "== customers (a = export off, b = export on)"
AB_SERVICE=customers AB_SCENARIOS="${TRACING_CUSTOMERS_SCENARIOS:-get_customer list_customers create_customer}" \
    scripts/bench-ab.sh "$bin" "$bin"
cp target-release/bench-ab/summary.txt target-release/bench-tracing-customers.txt
echo "== complaints (a = export off, b = export on; complaints calls customers of its side)"
[[ -n ${TRACING_SKIP_COMPLAINTS:-} ]] && exit 0
AB_SERVICE=complaints AB_SCENARIOS="${TRACING_COMPLAINTS_SCENARIOS:-get_complaint list_open_complaints create_complaint}" \
    scripts/bench-ab.sh "$bin" "$bin"
cp target-release/bench-ab/summary.txt target-release/bench-tracing-complaints.txt
echo "rotel received and discarded; its log: /tmp/rotel-bench.log"
