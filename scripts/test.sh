#!/usr/bin/env bash
# Runs every check and test of csops, on a fresh machine too: installs the tools it needs
# (grpcurl, buf, cargo-deny, kubernetes-validate, checkov, buildah/podman) on first use, then
#   formatting → protobuf lint/format/breaking → clippy → dependency policy (cargo deny) →
#   all Rust tests (SQLite and a throwaway PostgreSQL the tests start themselves) →
#   Kubernetes manifest checks → container images built with buildah and smoke-tested with
#   podman.
# CI (.ci/run) calls exactly this script.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

step() { printf '\n==> %s\n' "$*"; }

step "tools"
bash scripts/install-tools.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "protobuf contracts (buf lint, format, breaking)"
bash scripts/check-protos.sh

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "dependency policy (cargo deny: licenses, duplicate versions, sources)"
.tools/venv/bin/cargo-deny --locked check bans licenses sources

step "cargo test"
test_log="$(mktemp)"
trap 'rm -f "$test_log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$test_log"

step "kubernetes manifests"
bash scripts/check-k8s.sh

step "container images"
bash scripts/build-images.sh

printf '\nall checks passed\n'
# One closing line with the Rust test totals (cargo's own last line is a doc-test summary).
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' "$test_log"
