#!/usr/bin/env bash
# Checks the protobuf contracts under proto/ with buf: lint (STANDARD), format, and breaking
# changes (FILE) against the last committed contracts. Installs the pinned buf from
# scripts/tools/package-lock.json when it is missing. Run from anywhere; CI runs it too.
#
# Which contracts "breaking" compares with (the baseline):
#   - CSOPS_PROTO_BASELINE=<git rev> when set (e.g. the commit main was at before a series of
#     commits landed), so a caller that knows the previous release can check a whole range.
#   - otherwise, when HEAD is not main: the main branch (refs/heads/main, or origin/main in a
#     clone that has no local main) — the usual "does my branch break main?" check.
#   - otherwise (HEAD is main itself, as in CI's fresh clone of main): comparing main with main
#     is trivially clean, so the baseline is HEAD~1, the commit before. This catches a break
#     made by the newest commit (plus any uncommitted edits); a break hidden in an earlier
#     commit of the same push needs CSOPS_PROTO_BASELINE.
#   - the check is skipped, with a message, while the baseline has no proto/buf.yaml (a fresh
#     repository, or the commit that introduced the contracts): there is nothing to break yet.
set -euo pipefail

repo="$(git -C "$(dirname "${BASH_SOURCE[0]}")/.." rev-parse --show-toplevel)"
tools="$repo/scripts/tools"
buf="$tools/node_modules/.bin/buf"

# Install buf when missing or not the pinned version.
want="$(node -p "require('$tools/package-lock.json').packages['node_modules/@bufbuild/buf'].version")"
if [[ ! -x "$buf" ]] || [[ "$("$buf" --version 2>/dev/null)" != "$want" ]]; then
  echo "check-protos: installing buf $want (npm ci --prefix scripts/tools)"
  npm ci --prefix "$tools" --no-audit --no-fund --loglevel=error
fi

cd "$repo/proto"

echo "check-protos: buf lint"
"$buf" lint

echo "check-protos: buf format"
if ! "$buf" format -d --exit-code; then
  echo "check-protos: run '(cd proto && $buf format -w)' to fix the formatting" >&2
  exit 1
fi

# Resolves the baseline commit for buf breaking (see the top of this file); prints nothing when
# there is none.
baseline() {
  if [[ -n "${CSOPS_PROTO_BASELINE:-}" ]]; then
    git rev-parse --verify --quiet "${CSOPS_PROTO_BASELINE}^{commit}" || {
      echo "check-protos: CSOPS_PROTO_BASELINE=$CSOPS_PROTO_BASELINE is not a commit" >&2
      exit 1
    }
    return
  fi
  local main=""
  for ref in refs/heads/main refs/remotes/origin/main; do
    if main="$(git rev-parse --verify --quiet "$ref^{commit}")"; then
      break
    fi
  done
  [[ -n "$main" ]] || return 0
  local head
  head="$(git rev-parse --verify --quiet 'HEAD^{commit}')" || return 0
  if [[ "$head" != "$main" ]]; then
    echo "$main"
  else
    git rev-parse --verify --quiet 'HEAD~1^{commit}' || true
  fi
}

base="$(baseline)"
if [[ -z "$base" ]]; then
  echo "check-protos: buf breaking skipped: no main branch or no earlier commit to compare with"
  exit 0
fi
if ! git cat-file -e "$base:proto/buf.yaml" 2>/dev/null; then
  echo "check-protos: buf breaking skipped: baseline $(git rev-parse --short "$base") has no proto/buf.yaml yet"
  exit 0
fi

# --git-common-dir, so it also works from a linked worktree (whose .git is a file).
gitdir="$(git rev-parse --path-format=absolute --git-common-dir)"
echo "check-protos: buf breaking against $(git rev-parse --short "$base")"
"$buf" breaking --against "$gitdir#format=git,ref=$base,depth=1000,subdir=proto"
echo "check-protos: ok"
