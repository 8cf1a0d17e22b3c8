#!/usr/bin/env bash
# Builds one container image per csops service and smoke-tests the customers image.
#
#   scripts/build-images.sh [--save DIR] [--no-smoke]
#
# 1. Finds the services: every services/<name>/ with a src/main.rs, except services/suite.
# 2. Compiles them on the host as fully static release binaries into target-release/ (building
#    inside a container cannot download crates here; see Containerfile):
#      RUSTFLAGS='-C target-feature=+crt-static' cargo build --release \
#        --target x86_64-unknown-linux-gnu --target-dir target-release -p csops-<name>...
# 3. Builds localhost/csops-<name>:<workspace version> from Containerfile with buildah (vfs
#    storage, chroot isolation: no daemon, works in an unprivileged CI container).
# 4. Smoke-tests localhost/csops-customers with podman (runc, host network, read-only root,
#    SQLite in a mounted host directory, bound to 127.0.0.1 on a free port): health SERVING through grpcurl, a
#    real ListCustomers call, GET /metrics, then SIGTERM (podman stop -t 30) must exit 0
#    within the grace period.
#    --save DIR also writes DIR/csops-<name>.tar (docker-archive) per image, for
#    `kind load image-archive` and the like (k8s/README.md).
#
# Container configuration lives in .tools/containers/ (storage.conf, containers.conf,
# registries.conf, pointed to by CONTAINERS_STORAGE_CONF etc.); /etc is not touched.
# Installs buildah/podman/runc (apt) and grpcurl (venv) when missing. A warm run takes ~1 min;
# a cold release build of all services several minutes more.
set -euo pipefail

repo="$(git -C "$(dirname "${BASH_SOURCE[0]}")/.." rev-parse --show-toplevel)"
cd "$repo"

save_dir=""
smoke=true
while (($#)); do
  case "$1" in
    --save) save_dir="$(realpath -m "$2")"; shift 2 ;;
    --no-smoke) smoke=false; shift ;;
    *) echo "usage: $0 [--save DIR] [--no-smoke]" >&2; exit 64 ;;
  esac
done

log() { echo "build-images: $*"; }

bash scripts/install-k8s-tools.sh --images
grpcurl="$repo/.tools/venv/bin/grpcurl"

# --- private container configuration -------------------------------------------------------
conf="$repo/.tools/containers"
mkdir -p "$conf/storage" "$conf/run"
cat > "$conf/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$conf/storage"
runroot = "$conf/run"
CONF
cat > "$conf/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:20000", "nproc=4096:4096"]
netns = "host"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$conf/run/libpod"
CONF
# No registries: every image here is built locally and named localhost/...
cat > "$conf/registries.conf" <<CONF
unqualified-search-registries = []
short-name-mode = "enforcing"
CONF
export CONTAINERS_STORAGE_CONF="$conf/storage.conf"
export CONTAINERS_CONF="$conf/containers.conf"
export CONTAINERS_REGISTRIES_CONF="$conf/registries.conf"
export BUILDAH_ISOLATION=chroot

# --- services and the static release build -------------------------------------------------
services=()
for dir in services/*/; do
  name="$(basename "$dir")"
  [[ "$name" == suite ]] && continue
  [[ -f "$dir/src/main.rs" ]] || continue
  services+=("$name")
done
if ((${#services[@]} == 0)); then
  echo "build-images: no service with a src/main.rs under services/" >&2
  exit 1
fi
version="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)"
log "services: ${services[*]} (version $version)"

target=x86_64-unknown-linux-gnu
packages=()
for name in "${services[@]}"; do packages+=(-p "csops-$name"); done
log "cargo build --release (static) into target-release/"
RUSTFLAGS='-C target-feature=+crt-static' \
  cargo build --release --target "$target" --target-dir target-release "${packages[@]}"

for name in "${services[@]}"; do
  bin="target-release/$target/release/csops-$name"
  if readelf -l "$bin" | grep -q 'Requesting program interpreter'; then
    echo "build-images: $bin is dynamically linked; a FROM scratch image needs it static" >&2
    exit 1
  fi
done

# --- images --------------------------------------------------------------------------------
for name in "${services[@]}"; do
  image="localhost/csops-$name:$version"
  log "buildah build $image"
  buildah build --quiet --isolation chroot --layers=false \
    --build-arg "SERVICE=$name" -f Containerfile -t "$image" . > /dev/null
  user="$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$image")"
  if [[ "$user" != "65532:65532" ]]; then
    echo "build-images: $image runs as '$user', expected 65532:65532" >&2
    exit 1
  fi
  if [[ -n "$save_dir" ]]; then
    mkdir -p "$save_dir"
    rm -f "$save_dir/csops-$name.tar"
    podman save --quiet --format docker-archive -o "$save_dir/csops-$name.tar" "$image"
    log "saved $save_dir/csops-$name.tar"
  fi
done
# Rebuilds leave the previous image untagged; vfs keeps full copies, so drop them.
buildah rmi --prune > /dev/null 2>&1 || true
buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' | grep '/csops-' || true

$smoke || { log "ok (smoke test skipped)"; exit 0; }

# --- smoke test: customers -----------------------------------------------------------------
image="localhost/csops-customers:$version"
if ! buildah inspect --type image "$image" > /dev/null 2>&1; then
  echo "build-images: $image was not built (services/customers has no binary?)" >&2
  exit 1
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port="$(free_port)"
metrics_port="$(free_port)"
container="csops-smoke-$$"
# The SQLite database lives in a writable host directory owned by the image's user (the root
# filesystem is read-only), as an emptyDir would be in Kubernetes.
data_dir="$(mktemp -d)"
chown 65532:65532 "$data_dir" 2>/dev/null || chmod 0777 "$data_dir"
cleanup() {
  podman rm --force --time 0 "$container" > /dev/null 2>&1 || true
  rm -rf "$data_dir"
}
trap cleanup EXIT
fail() {
  echo "build-images: smoke test failed: $*" >&2
  podman logs "$container" >&2 2>&1 | tail -40 >&2 || true
  exit 1
}

# Authentication on, as in production: a development key (the one `csops-suite` makes) mounted
# where CSOPS_AUTH_JWKS points, and a token signed with it.
auth_dir="$data_dir/auth"
cargo run -q --locked -p csops-suite -- token --data-dir "$data_dir" --role ops > "$data_dir/token" \
  || fail "csops-suite token failed"
mkdir -p "$auth_dir" && cp "$data_dir/dev-auth/jwks.json" "$auth_dir/jwks.json" && chmod 0644 "$auth_dir/jwks.json"
token="$(cat "$data_dir/token")"

log "smoke test: podman run $image on 127.0.0.1:$port (metrics $metrics_port)"
podman run --detach --name "$container" \
  --network host --read-only --cap-drop ALL --security-opt no-new-privileges \
  --volume "$data_dir:/data:rw" \
  --volume "$auth_dir:/etc/csops/auth:ro" \
  --env CSOPS_AUTH_JWKS=/etc/csops/auth/jwks.json \
  --env CSOPS_AUTH_ISSUER=csops-dev \
  --tmpfs /tmp:rw,size=16m,mode=1777 \
  --env CSOPS_LISTEN_ADDR="127.0.0.1:$port" \
  --env CSOPS_METRICS_ADDR="127.0.0.1:$metrics_port" \
  --env CSOPS_SHUTDOWN_GRACE=20s \
  --env CSOPS_DRAIN_DELAY=1s \
  --env CSOPS_LOG_FORMAT=json \
  "$image" > /dev/null

health='{"service":"csops.customers.v1.CustomersService"}'
for _ in $(seq 1 60); do
  if out="$("$grpcurl" -plaintext -max-time 2 -d "$health" "127.0.0.1:$port" grpc.health.v1.Health/Check 2>&1)" \
    && [[ "$out" == *SERVING* && "$out" != *NOT_SERVING* ]]; then
    break
  fi
  [[ "$(podman inspect --format '{{.State.Running}}' "$container")" == true ]] || fail "the container exited"
  sleep 0.5
done
[[ "${out:-}" == *'"SERVING"'* ]] || fail "health never reported SERVING: ${out:-}"
log "smoke test: health SERVING"

if out="$("$grpcurl" -plaintext -max-time 5 -d '{}' "127.0.0.1:$port" \
  csops.customers.v1.CustomersService/ListCustomers 2>&1)"; then
  fail "ListCustomers answered without a token"
fi
[[ "$out" == *Unauthenticated* ]] || fail "ListCustomers without a token: $out"
"$grpcurl" -plaintext -max-time 5 -H "authorization: Bearer $token" -d '{}' "127.0.0.1:$port" \
  csops.customers.v1.CustomersService/ListCustomers > /dev/null \
  || fail "ListCustomers with a token failed"
log "smoke test: ListCustomers refused without a token, answered with one"

metrics="$(python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
  "http://127.0.0.1:$metrics_port/metrics")" || fail "GET /metrics failed"
[[ "$metrics" == *grpc_server_requests_total* ]] || fail "/metrics has no grpc_server_requests_total"
log "smoke test: /metrics serves grpc_server_requests_total"

start=$SECONDS
podman stop --time 30 "$container" > /dev/null
elapsed=$((SECONDS - start))
code="$(podman inspect --format '{{.State.ExitCode}}' "$container")"
[[ "$code" == 0 ]] || fail "exit code $code after SIGTERM (expected 0)"
((elapsed < 30)) || fail "took ${elapsed}s to stop: SIGTERM was not handled within the grace period"
log "smoke test: SIGTERM → exit 0 in ${elapsed}s"
log "ok"
