#!/usr/bin/env bash
# Checks the Kubernetes manifests under k8s/ (no cluster needed; CI runs it):
#   1. renders every overlay (k8s/overlays/*) with `kubectl kustomize`, plus an "all services"
#      variant of each in which the not-yet-built services (commented out in the overlay) are
#      enabled, so their manifests are checked before anyone turns them on;
#   2. validates every rendered built-in object offline with `kubernetes-validate --strict`
#      against Kubernetes 1.30 and 1.37; any WARN (unknown kind, removed apiVersion) or failure
#      fails. Custom resources (CloudNativePG, Prometheus Operator) have no schema there: they
#      are set aside by API group here and their fields are checked by
#      tests/tests/k8s_manifests.rs; an unexpected custom group fails;
#   3. scans k8s/ with checkov; every accepted finding carries a `checkov.io/skipN:
#      CKV_...=reason` annotation on the object it concerns;
#   4. checks k8s/base/sla/default.toml is a byte-identical copy of libs/sla/presets/default.toml.
# Installs kubernetes-validate and checkov into .tools/venv on first use
# (scripts/install-k8s-tools.sh, ~40 s once; ~15 s a run after that).
set -euo pipefail

repo="$(git -C "$(dirname "${BASH_SOURCE[0]}")/.." rev-parse --show-toplevel)"
cd "$repo"
bash scripts/install-k8s-tools.sh
venv="$repo/.tools/venv"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="$work/rendered"
mkdir -p "$out"

# Custom resources we rely on; their fields are asserted by tests/tests/k8s_manifests.rs.
custom_groups="postgresql.cnpg.io monitoring.coreos.com"

# An overlay with the commented-out service lines ("  #   - ../../services/<name>...")
# enabled, rendered from a copy whose relative paths are rewritten to reach k8s/ from $work.
render_all_services() {
  local overlay="$1" dest="$2"
  local copy="$work/all-$(basename "$overlay")"
  cp -r "$overlay" "$copy"
  local rel
  rel="$(realpath --relative-to="$copy" "$repo/k8s")"
  sed -i -e 's|^  #   - \.\./\.\./services/|  - ../../services/|' \
         -e "s|\.\./\.\./|$rel/|g" "$copy/kustomization.yaml"
  kubectl kustomize "$copy" > "$dest"
}

status=0
for overlay in k8s/overlays/*/; do
  name="$(basename "$overlay")"
  echo "check-k8s: render $name"
  kubectl kustomize "$overlay" > "$out/$name.yaml"
  echo "check-k8s: render $name with every service enabled"
  render_all_services "$overlay" "$out/$name-all-services.yaml"
done

echo "check-k8s: validate built-in kinds (kubernetes-validate --strict), set aside: $custom_groups"
for rendered in "$out"/*.yaml; do
  "$venv/bin/python" - "$rendered" "$out/builtin-$(basename "$rendered")" "$custom_groups" <<'PY'
import sys, yaml
src, dst, custom = sys.argv[1], sys.argv[2], set(sys.argv[3].split())
builtin, skipped = [], []
for doc in yaml.safe_load_all(open(src)):
    if not doc:
        continue
    group = doc["apiVersion"].rpartition("/")[0]
    (skipped if group in custom else builtin).append(doc)
yaml.safe_dump_all(builtin, open(dst, "w"), sort_keys=False)
print(f"  {src.rsplit('/', 1)[1]}: {len(builtin)} built-in objects, {len(skipped)} custom "
      f"({', '.join(sorted({d['kind'] for d in skipped})) or 'none'})")
PY
done
for version in 1.30.0 1.37.0; do
  for builtin in "$out"/builtin-*.yaml; do
    log="$work/validate.log"
    if ! "$venv/bin/kubernetes-validate" --strict --quiet -k "$version" "$builtin" > "$log" 2>&1 \
      || grep -qE '^(WARN|ERROR|FAIL|CRITICAL)' "$log" || grep -qi 'failed' "$log"; then
      echo "check-k8s: kubernetes-validate $version failed for $(basename "$builtin"):" >&2
      cat "$log" >&2
      status=1
    fi
  done
done

echo "check-k8s: checkov"
if ! "$venv/bin/checkov" -d k8s --framework kustomize --compact --quiet --skip-download; then
  echo "check-k8s: checkov found unaccepted findings (fix them, or skip each with a reason:" \
    "checkov.io/skipN: CKV_...=reason on the object)" >&2
  status=1
fi

sla_source="libs/sla/presets/default.toml"
sla_copy="k8s/base/sla/default.toml"
if [[ -f "$sla_source" ]]; then
  if ! cmp -s "$sla_source" "$sla_copy"; then
    echo "check-k8s: $sla_copy differs from $sla_source; run: cp $sla_source $sla_copy" >&2
    status=1
  fi
else
  echo "check-k8s: $sla_source does not exist yet; the SLA copy is not compared" >&2
fi

if ((status)); then
  echo "check-k8s: FAILED" >&2
  exit 1
fi
echo "check-k8s: ok (overlays: $(cd k8s/overlays && echo */ | tr -d /))"
