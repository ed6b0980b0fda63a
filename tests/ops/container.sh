#!/usr/bin/env bash
# The Containerfile users build, tested here: its runtime stage is built with podman
# from files prepared on the host (a static binary and the tools of
# scripts/image-rootfs.sh; the `build` stage is replaced through --build-context, since
# no base image can be pulled offline). Then two containers of the image, user and
# movie, run read-only as in the manifests and call each other with the image's own
# curl and wget, the way the guide uses `kubectl exec`.
set -euo pipefail

case "${1:-}" in -h | --help) echo "Usage: tests/ops/container.sh"; exit 0 ;; esac

cd "$(dirname "$0")/../.."
source scripts/lib.sh
apt_install podman buildah runc uidmap fuse-overlayfs slirp4netns file

echo "==> static release build"
binary=$(theater_static_binary)
file "$binary" | grep -Eq "static(ally|-pie) linked" || die "$binary is not statically linked"

work=$(mktemp -d)
user_box="theater-test-user-$$" movie_box="theater-test-movie-$$" files_box="theater-test-files-$$"
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
  # movie shares user's network namespace: it must go first (one `rm` removes in parallel).
  local box
  for box in "$movie_box" "$user_box" "$files_box"; do
    "${podman[@]}" rm -f --ignore "$box" >"$work/rm.log" 2>&1 || cat "$work/rm.log" >&2
  done
  remove_dirs "$work"
}
trap 'exit_after cleanup' EXIT

echo "==> image tools (scripts/image-rootfs.sh)"
bash scripts/image-rootfs.sh "$work/build/out" "$binary"
echo "==> podman build (runtime stage of the Containerfile)"
"${podman[@]}" build --quiet --pull=never --build-context "build=$work/build" -f Containerfile -t theater:test . >/dev/null
size=$("${podman[@]}" image inspect theater:test --format '{{.Size}}')
# The binary (about 14 MiB) and small static tools; a shared-library curl (18 MiB
# with its libraries) would not fit.
limit=$((28 * 1048576))
[ "$size" -le "$limit" ] || die "the image is $size bytes, over 28 MiB"
user=$("${podman[@]}" image inspect theater:test --format '{{.Config.User}}')
[ "$user" = "65532:65532" ] || die "the image runs as '$user', not 65532:65532"

# Every file of the image, from a container that is created, never started.
"${podman[@]}" create --name "$files_box" theater:test >/dev/null
"${podman[@]}" export -o "$work/files.tar" "$files_box"
tar -tvf "$work/files.tar" >"$work/files"
gzipped=$(gzip -6 -c "$work/files.tar" | wc -c) # about what a node pulls
if grep -Ei '(^|/)(apt|apt-get|dpkg)[^/]*$|/(apt|dpkg)/' <(awk '{print $NF}' "$work/files"); then
  die "the image carries a package manager (files above)"
fi
if grep -E '\.so(\.[0-9]+)*$' <(awk '{print $NF}' "$work/files"); then
  die "the image carries shared libraries (files above): its tools should all be static"
fi
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
part() { # size in bytes of the image's files whose path matches the regex
  awk -v re="$1" '$NF ~ re {s += $3} END {print s + 0}' "$work/files"
}
breakdown="theater $(mib "$(part '^theater$')"), busybox $(mib "$(part '^bin/busybox$')"), curl $(mib "$(part '^usr/bin/curl$')") MiB"

# As the manifests run a backend: its args and env (no REDIS_URL: data in memory),
# read-only, no capabilities. The two share one network namespace with only loopback,
# like containers of one pod; each listens on its role's port (user 8081, movie 8082).
run_role() { # container, role, network
  "${podman[@]}" run -d --name "$1" --network "$3" --read-only --cap-drop ALL \
    --security-opt no-new-privileges --env CLUSTER_NAME=ctx1 --env POD_NAME="$2-service-test" \
    --env NODE_NAME=test-node --env POD_NAMESPACE=theater-msa --env LOG_FORMAT=json \
    theater:test --role "$2" >/dev/null
}
run_role "$user_box" user none
run_role "$movie_box" movie "container:$user_box"
show_logs() {
  "${podman[@]}" logs "$user_box" 2>&1 | tail -5 || true
  "${podman[@]}" logs "$movie_box" 2>&1 | tail -5 || true
}
in_box() { # container, command... : runs the command inside, as the image's user
  "${podman[@]}" exec "$@"
}

# The tools themselves: present, real and runnable in the read-only container.
[ "$(in_box "$user_box" sh -c 'echo ok')" = ok ] || die "sh -c 'echo ok' failed in the container"
version=$(in_box "$user_box" curl --version) || die "curl does not run in the container"
grep -Eq '^curl [0-9.]+ .*libcurl' <<<"$version" || die "the container's curl is not curl: $version"
usage=$(in_box "$user_box" wget --help 2>&1 || true)
grep -q '^BusyBox' <<<"$usage" || die "the container has no busybox wget: $usage"
uid=$(in_box "$user_box" cat /proc/1/status | awk '/^Uid:/ {print $2}')
[ "$uid" = 65532 ] || die "the app runs as uid '$uid', not 65532"
if in_box "$user_box" sh -c ': >/probe' 2>/dev/null; then die "the root filesystem is writable"; fi

ready=0
for _ in $(seq 50); do
  if in_box "$user_box" curl -fsS -o /dev/null http://127.0.0.1:8082/readyz 2>/dev/null &&
    in_box "$movie_box" wget -q -O /dev/null http://127.0.0.1:8081/readyz 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.2
done
if [ "$ready" -eq 0 ]; then
  show_logs
  die "user and movie did not both answer /readyz (or curl/wget failed inside the containers)"
fi

# Idle memory as a Pod starts with it, before any call: the app is PID 1. The allocator's
# build setting (.cargo/config.toml) keeps it near 10 MiB; without it, above 20.
rss_kib=$(in_box "$user_box" cat /proc/1/status | awk '/^VmRSS:/ {print $2}')
[ "$rss_kib" -le $((12 * 1024)) ] || die "user-service idles at $rss_kib KiB resident, over 12 MiB"

# user → movie with curl.
info=$(in_box "$user_box" curl -fsS http://localhost:8082/info) || { show_logs; die "curl from user to movie's /info failed"; }
grep -q '"movie-service"' <<<"$info" || die "movie's /info, fetched with curl, does not name movie-service: $info"
grep -q '"memory"' <<<"$info" || die "movie's /info does not report the in-memory store: $info"
served=$(in_box "$user_box" curl -fsS -D - -o /dev/null http://127.0.0.1:8082/healthz | tr -d '\r' | awk -F': ' 'tolower($1) == "x-service-name" {print $2}')
[ "$served" = movie-service ] || die "movie's /healthz, fetched with curl, came from '$served', not movie-service"

# movie → user with wget; its localhost is looked up through /etc/nsswitch.conf.
info=$(in_box "$movie_box" wget -qO- http://localhost:8081/info) || { show_logs; die "wget from movie to user's /info failed"; }
grep -q '"user-service"' <<<"$info" || die "user's /info, fetched with wget, does not name user-service: $info"
users=$(in_box "$movie_box" wget -qO- http://127.0.0.1:8081/users/ | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
[ "$users" = 3 ] || die "user-service lists $users users through wget, not the 3 seeded"

# movie → user with curl: a POST with JSON, as the guide creates a user.
created=$(in_box "$movie_box" curl -sS -D - -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data '{"name":"유관순","email":"gwan@example.com"}' http://localhost:8081/users/ | tr -d '\r') ||
  { show_logs; die "curl's POST from movie to user's /users/ failed"; }
[ "${created##*$'\n'}" = 201 ] || die "user-service answered curl's POST with ${created##*$'\n'}, not 201: $created"
grep -qi '^location: /users/4$' <<<"$created" || die "curl's POST created no /users/4: $created"
users=$(in_box "$user_box" curl -fsS http://127.0.0.1:8081/users/ | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
[ "$users" = 4 ] || die "user-service lists $users users after curl's POST, not 4"

echo "container: image $(mib "$size") MiB (at most 28), $(mib "$gzipped") MiB gzipped ($breakdown), user $user, no apt/dpkg; user-service idle at $(mib $((rss_kib * 1024))) MiB resident; user and movie read-only, curl GET user→movie, curl POST (JSON) movie→user and wget movie→user answered, sh ran, 3 seeded users and 4 after the POST"
