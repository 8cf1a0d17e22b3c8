#!/usr/bin/env bash
# Cost of authentication (issue 14, part 1): every scenario with token verification on against
# off; the same release build on both sides, alternating rounds on one PostgreSQL
# (scripts/bench-ab.sh), so drift of the machine lands on both alike.
#   side a: --auth off;
#   side b: --auth jwt, keys from a JWKS file, each call's bearer token verified (signature,
#           iss, aud, exp, nbf) and checked against the service's role table; complaints calls
#           customers with its own service token, which customers verifies too.
# The load tool sends the same token on both sides (side a ignores it), a supervisor's, so
# both sides do the same work (an agent's listings would be limited to their own records).
# The key is a fresh one of AUTH_ALG (default RS256, what identity providers sign with; ES256,
# EdDSA, or HS256 = csops-suite's dev key), made by scripts/tools/bench-tokens.py.
# Target: b/a ≥ 90 %.
#   AUTH_ALG=RS256 AB_ROUNDS=4 AB_DURATION=10s scripts/bench-auth.sh
#   AUTH_NO_BUILD=1: measure the binaries already in target-release/release.
#   AUTH_SKIP_COMPLAINTS=1: customers only.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
[[ -n ${AUTH_NO_BUILD:-} ]] || cargo build --release --locked --target-dir target-release \
    -p csops-load -p csops-customers -p csops-complaints
alg="${AUTH_ALG:-RS256}"
python3 -c 'import cryptography' 2>/dev/null || {
    apt-get update -qq && apt-get install -y -qq python3-cryptography >/dev/null
}
keys="$(mktemp -d /tmp/csops-bench-auth.XXXXXX)"
trap 'rm -rf "$keys"' EXIT
python3 scripts/tools/bench-tokens.py "$alg" "$keys"
chmod 755 "$keys" && chmod 644 "$keys"/*

# The load tool's calls carry this token on both sides.
CSOPS_LOAD_TOKEN="$(cat "$keys/load.token")"
export CSOPS_LOAD_TOKEN
export AB_ENV_A="CSOPS_AUTH=off"
export AB_ENV_B="CSOPS_AUTH=jwt CSOPS_AUTH_JWKS=$keys/jwks.json CSOPS_AUTH_ISSUER=csops-bench CSOPS_AUTH_AUDIENCE=csops CSOPS_AUTH_TOKEN_FILE=$keys/service.token"
bin="$repo/target-release/release"
echo "== customers (a = auth off, b = $alg tokens verified)"
AB_SERVICE=customers AB_SCENARIOS="${AUTH_CUSTOMERS_SCENARIOS:-get_customer list_customers create_customer}" \
    scripts/bench-ab.sh "$bin" "$bin"
cp target-release/bench-ab/summary.txt "target-release/bench-auth-$alg-customers.txt"
[[ -n ${AUTH_SKIP_COMPLAINTS:-} ]] && exit 0
echo "== complaints (a = auth off, b = $alg; complaints calls customers of its side with its service token)"
AB_SERVICE=complaints AB_SCENARIOS="${AUTH_COMPLAINTS_SCENARIOS:-get_complaint list_open_complaints create_complaint}" \
    scripts/bench-ab.sh "$bin" "$bin"
cp target-release/bench-ab/summary.txt "target-release/bench-auth-$alg-complaints.txt"
