#!/usr/bin/env bash
# The Containerfile users build, tested here: its runtime stage is built with podman
# from a static binary compiled on the host (the `build` stage is replaced through
# --build-context, since no base image can be pulled offline), then the image runs
# one role and must answer /healthz as that role.
set -euo pipefail

case "${1:-}" in -h | --help) echo "Usage: tests/ops/container.sh"; exit 0 ;; esac

cd "$(dirname "$0")/../.."
source scripts/lib.sh
apt_install podman buildah runc uidmap fuse-overlayfs slirp4netns curl file

target="$(uname -m)-unknown-linux-gnu"
echo "==> static release build ($target)"
RUSTFLAGS='-C target-feature=+crt-static' cargo build --quiet --release --locked --target "$target"
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
binary="$target_dir/$target/release/theater"
file "$binary" | grep -Eq "static(ally|-pie) linked" || die "$binary is not statically linked"

work=$(mktemp -d)
name="theater-test-$$"
# Private storage and settings: podman's defaults (crun, high ulimits) fail here.
cat >"$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$work/containers.conf"
podman=(podman --root "$work/root" --runroot "$work/runroot" --storage-driver vfs)
cleanup() {
  "${podman[@]}" rm -f "$name" >/dev/null 2>&1 || true
  rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT

mkdir -p "$work/build/out"
cp "$binary" "$work/build/out/theater"
echo "==> podman build (runtime stage of the Containerfile)"
"${podman[@]}" build --quiet --pull=never --build-context "build=$work/build" -f Containerfile -t theater:test . >/dev/null
size=$("${podman[@]}" image inspect theater:test --format '{{.Size}}')
user=$("${podman[@]}" image inspect theater:test --format '{{.Config.User}}')
[ "$user" = "65532:65532" ] || die "the image runs as '$user', not 65532:65532"

port=$(free_port)
"${podman[@]}" run -d --name "$name" --read-only -p "127.0.0.1:$port:8081" theater:test --role user >/dev/null
for _ in $(seq 50); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break
  sleep 0.2
done
answer=$(curl -fsS -D - -o /dev/null "http://127.0.0.1:$port/healthz" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-service-name" {print $2}')
if [ "$answer" != "user-service" ]; then
  "${podman[@]}" logs "$name" || true
  die "the container did not answer /healthz as user-service (got '$answer')"
fi
users=$(curl -fsS "http://127.0.0.1:$port/users/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
[ "$users" = 3 ] || die "the container's user-service lists $users users, not the 3 seeded"
echo "container: image $(awk -v b="$size" 'BEGIN {printf "%.1f MiB", b / 1048576}'), user $user, /healthz answered by user-service, 3 seeded users"
