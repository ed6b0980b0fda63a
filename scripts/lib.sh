# shellcheck shell=bash
# Shared helpers for the scripts in this folder (sourced, not run).

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs Debian packages that are missing; runs `apt-get update` at most once.
apt_install() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  echo "==> installing ${missing[*]} (apt-get)"
  if [ -z "${THEATER_APT_UPDATED:-}" ]; then
    as_root apt-get update -qq
    export THEATER_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Installs PyPI PACKAGE==VERSION into a cached virtualenv of its own (once per machine)
# and prints that virtualenv's bin folder.
pip_tool() {
  local package=$1 version=$2 venv
  venv="${XDG_CACHE_HOME:-$HOME/.cache}/theater-msa/$package-$version"
  # The marker is written last: an install cut short (^C, a killed run) is redone.
  if [ ! -e "$venv/.installed" ]; then
    echo "==> installing $package $version into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$package==$version" >&2
    touch "$venv/.installed"
  fi
  echo "$venv/bin"
}

# Prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# measure_split PROG DEFAULT_REQUESTS ARGS...: lab/theater_lab/traffic.py, the one
# judge of a split, with python3's standard library only: -I keeps a PYTHONPATH or user
# site-packages of the operator's machine out, -B leaves no __pycache__ behind.
measure_split() {
  command -v python3 >/dev/null || die "$1 needs python3 (e.g. apt-get install python3)"
  python3 -I -B -c '
import sys
sys.path.insert(0, sys.argv.pop(1))
from theater_lab import traffic
prog, requests = sys.argv.pop(1), int(sys.argv.pop(1))
sys.exit(traffic.main(sys.argv[1:], prog=prog, requests=requests))
' "$(project_root)/lab" "$@"
}

# True when nothing listens on 127.0.0.1:$1 (a server's SO_REUSEADDR bind succeeds).
port_free() {
  python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

# Starts a throwaway Redis on a free loopback port; sets REDIS_PORT and REDIS_DIR.
# Stop it with stop_redis (the caller's trap should call it).
start_redis() {
  apt_install redis-server
  REDIS_DIR=$(mktemp -d)
  REDIS_PORT=$(free_port)
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" --save '' \
    --appendonly "${REDIS_APPENDONLY:-no}" --daemonize yes --pidfile "$REDIS_DIR/redis.pid" \
    --logfile "$REDIS_DIR/redis.log" >/dev/null
  local _
  for _ in $(seq 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "redis did not start; its log:" >&2
  cat "$REDIS_DIR/redis.log" >&2
  return 1
}

stop_redis() {
  local pid=""
  if [ -n "${REDIS_DIR:-}" ] && [ -f "$REDIS_DIR/redis.pid" ]; then pid=$(cat "$REDIS_DIR/redis.pid"); fi
  stop_pids "$pid"
  remove_dirs "${REDIS_DIR:-}"
}

# Stop, wait, then clean: every script and test stops its processes with stop_pids and
# only then removes their files with remove_dirs, so a server still writing its last log
# line never races the removal of its folder. Neither ever fails.

# True while PID names a live process; a zombie (exited, not yet reaped) counts as gone.
process_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  # The state follows the command name, which is in parentheses and may hold spaces.
  stat=${stat##*) }
  [ "${stat%% *}" != Z ] && [ "${stat%% *}" != X ]
}

# Stops each PID given (empty ones are skipped): TERM, then up to STOP_GRACE seconds
# (default 10) for all of them to exit, then KILL and up to 5 s more. Our own children
# are reaped. Says which process it had to KILL and which outlived even that.
stop_pids() {
  local grace=${STOP_GRACE:-10} pid pending=() still=() _
  for pid in "$@"; do
    { [ -n "$pid" ] && process_alive "$pid"; } || continue
    kill -TERM "$pid" 2>/dev/null && pending+=("$pid")
  done
  for _ in $(seq $((grace * 10))); do
    still=()
    for pid in "${pending[@]}"; do process_alive "$pid" && still+=("$pid"); done
    [ "${#still[@]}" -eq 0 ] && break
    sleep 0.1
  done
  for pid in "${still[@]}"; do
    process_alive "$pid" || continue
    echo "warning: pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80)) did not exit within ${grace} s of TERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  done
  for pid in "${still[@]}"; do
    for _ in $(seq 50); do process_alive "$pid" || break; sleep 0.1; done
    process_alive "$pid" && echo "warning: pid $pid is still alive after KILL" >&2
  done
  for pid in "${pending[@]}"; do
    process_alive "$pid" || wait "$pid" 2>/dev/null || true
  done
  return 0
}

# Removes each folder given (empty names are skipped), once its processes are stopped.
# What cannot be removed is named on stderr; the caller's status is never changed.
remove_dirs() {
  local dir
  for dir in "$@"; do
    { [ -n "$dir" ] && [ -e "$dir" ]; } || continue
    rm -rf "$dir" 2>/dev/null && continue
    sleep 0.5
    rm -rf "$dir" 2>/dev/null && continue
    echo "warning: cleanup could not remove $dir; what is left: $(find "$dir" 2>/dev/null | head -5 | tr '\n' ' ')" >&2
  done
  return 0
}

# For EXIT traps: `trap 'exit_after cleanup' EXIT` runs the cleanup and exits with the
# script's own status, so a failing cleanup is reported but never becomes the result.
exit_after() {
  local status=$? code
  set +e
  "$@"
  code=$?
  [ "$code" -eq 0 ] || echo "warning: cleanup '$*' failed (status $code); the run's own status $status stands" >&2
  exit "$status"
}

# Prints a port P such that P plus each role's offset is free on 127.0.0.1 (for `--role all`).
free_port_block() {
  local candidate offsets _
  read -ra offsets <<<"$(role_port_offsets)"
  for _ in $(seq 20); do
    candidate=$(free_port)
    if python3 -c 'import socket,sys
for offset in sys.argv[2:]:
    s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]) + int(offset))); s.close()' "$candidate" "${offsets[@]}" 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "no free block of ports for every role found" >&2
  return 1
}

# Prints cargo's target folder (it may be moved by CARGO_TARGET_DIR or a config).
target_dir() {
  cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])'
}

# Prints the path of the debug binary, building it if needed.
theater_binary() {
  cargo build --quiet
  echo "$(target_dir)/debug/theater"
}

# Prints the path of the release binary, building it if needed.
theater_release_binary() {
  cargo build --release --quiet
  echo "$(target_dir)/release/theater"
}

# The image's binary: a release build linked statically (glibc, crt-static), as the
# Containerfile builds it; prints its path.
theater_static_binary() {
  local target
  target="$(uname -m)-unknown-linux-gnu"
  RUSTFLAGS='-C target-feature=+crt-static' cargo build --quiet --release --locked --target "$target"
  echo "$(target_dir)/$target/release/theater"
}

# Starts `theater --role all` on free loopback ports and waits until every role is
# ready. Sets APP_PORT (the gateway's; backends follow) and APP_PID. Extra args pass on.
# Stop it with stop_app.
start_app() {
  local binary=$1 log=$2
  shift 2
  APP_PORT=$(free_port_block)
  "$binary" --role all --listen-addr 127.0.0.1 --port "$APP_PORT" --log-level warn "$@" >"$log" 2>&1 &
  APP_PID=$!
  local offset _
  for offset in $(role_port_offsets); do
    for _ in $(seq 100); do
      curl -fsS -o /dev/null "http://127.0.0.1:$((APP_PORT + offset))/readyz" 2>/dev/null && break
      sleep 0.1
    done
    curl -fsS -o /dev/null "http://127.0.0.1:$((APP_PORT + offset))/readyz" || { cat "$log" >&2; return 1; }
  done
}

# The project's folder (the one above scripts/), wherever the caller runs from.
project_root() (
  cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd
)

# Each role's port less the gateway's, from the service table (tests/services.json):
# `--role all` gives every role its default port shifted by the same amount.
role_port_offsets() {
  python3 -c 'import json,sys; p=[s["port"] for s in json.load(open(sys.argv[1]))["services"]]; print(*(x - p[0] for x in p))' \
    "$(project_root)/tests/services.json"
}

stop_app() {
  stop_pids "${APP_PID:-}"
}

# Prints a message to stderr and exits with the given status (default 1).
die() {
  echo "error: $1" >&2
  exit "${2:-1}"
}

# For argument errors: the message, a pointer to --help, exit 64 (EX_USAGE).
usage_error() {
  echo "error: $1 (see --help)" >&2
  exit 64
}

# The kubectl contexts of the two clusters (override with CTX1/CTX2).
CTX1=${CTX1:-ctx1}
CTX2=${CTX2:-ctx2}

# The cluster (ctx1 or ctx2: overlay, node label value) a kubectl context stands for.
cluster_of() {
  if [ "$1" = "$CTX1" ]; then echo ctx1; else echo ctx2; fi
}

# Prints a Python expression over `s`, the JSON in FILE (e.g. 's["ports"]["registry"]').
json_value() { # file expression
  python3 -c 'import json,sys; print(eval(sys.argv[2], {}, {"s": json.load(open(sys.argv[1]))}))' "$1" "$2"
}

# The app's image as the manifests name it now (manifests/components/image), NAME:TAG.
manifests_image() {
  awk '/newName:/ {n=$2} /newTag:/ {t=$2} END {print n ":" t}' \
    "$(project_root)/manifests/components/image/kustomization.yaml"
}

# Checks IMAGE is REGISTRY[:PORT]/PATH:TAG with a tag; a usage error names the option.
check_image() { # image option
  [[ "$1" =~ ^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9._-]+)*:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$ ]] ||
    usage_error "$2: '$1' is not NAME:TAG (e.g. harbor.example.com/theater-msa/theater:v1)"
}

# Renders a cluster overlay with the external host set to theater.$2 (if given) and
# each image named NAME (as the overlay renders it) replaced, for every further
# argument NAME=IMAGE[:TAG]. The overlay is wrapped in a throwaway kustomization so no
# file in the repo changes.
render_cluster() {
  local overlay=$1 domain=${2:-}
  shift $(($# < 2 ? $# : 2))
  local root
  root=$(project_root)
  if [ -z "$domain" ] && [ $# -eq 0 ]; then
    kubectl kustomize "$root/manifests/clusters/$overlay"
    return
  fi
  local wrap relative replacement name image tag
  wrap=$(mktemp -d)
  # kustomize takes only relative paths to other kustomizations.
  relative=$(python3 -c 'import os,sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$root/manifests/clusters/$overlay" "$wrap")
  {
    printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - %s\n' "$relative"
    if [ -n "$domain" ]; then
      cat <<YAML
patches:
  - target:
      kind: VirtualService
      name: theater-msa
      namespace: istio-system
    patch: |-
      - op: replace
        path: /spec/hosts/0
        value: theater.$domain
YAML
    fi
    [ $# -eq 0 ] || echo "images:"
    for replacement in "$@"; do
      name=${replacement%%=*} image=${replacement#*=} tag=""
      # A tag is what follows the last colon, unless a slash does (a registry's port).
      if [[ ${image##*:} != */* && $image == *:* ]]; then tag=${image##*:} image=${image%:*}; fi
      printf '  - name: %s\n    newName: %s\n' "$name" "$image"
      [ -z "$tag" ] || printf '    newTag: "%s"\n' "$tag"
    done
  } >"$wrap/kustomization.yaml"
  kubectl kustomize --load-restrictor LoadRestrictionsNone "$wrap"
  rm -rf "$wrap"
}

# Copies PROGRAM into ROOTFS (at NAME, default its own path) with every shared library
# ldd resolves for it, the dynamic loader too, each at the path ldd prints; prints the
# libraries' paths inside ROOTFS. ldd lines: "libz.so.1 => /lib/.../libz.so.1 (0x…)",
# "/lib64/ld-linux-x86-64.so.2 (0x…)" (the loader), "linux-vdso.so.1 (0x…)" (no file).
install_with_libraries() {
  local rootfs=$1 program=$2 name=${3:-$2} closure libraries library
  closure=$(ldd "$program") || die "ldd cannot read $program"
  if grep -q 'not found' <<<"$closure"; then
    die "$program's libraries are incomplete on this machine: $(grep 'not found' <<<"$closure")"
  fi
  libraries=$(awk '$2 == "=>" && $3 ~ /^\// {print $3; next} $1 ~ /^\// {print $1}' <<<"$closure")
  [ -n "$libraries" ] || die "ldd found no libraries for $program"
  install -D -m 0755 "$program" "$rootfs$name"
  while read -r library; do
    # install copies the file a soname link points to, under the soname ldd printed.
    install -D -m 0755 "$library" "$rootfs$library"
    echo "$rootfs$library"
  done <<<"$libraries"
}

# Checks a class domain given as the first argument (the guide runs
# `./build-images.sh ${DOMAIN}`) and prints it; an image name there is a usage error.
# A port may follow (the mesh lab's DOMAIN is localhost:8000).
class_domain() {
  [[ "$1" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$ ]] ||
    usage_error "'$1' is not a domain name (e.g. 10.0.0.5.nip.io); for a full image name use --image"
  echo "$1"
}

# The one image of the class: REGISTRY/theater:TAG, where REGISTRY defaults to
# harbor.DOMAIN/theater-msa and TAG to the git short sha. Args: domain registry tag.
class_image() {
  local domain=$1 registry=$2 tag=$3
  [ -n "$registry" ] || [ -n "$domain" ] || usage_error "give the domain (first argument, --domain or DOMAIN) or --registry"
  registry=${registry:-harbor.$domain/theater-msa}
  tag=${tag:-$(git rev-parse --short HEAD 2>/dev/null || true)}
  [ -n "$tag" ] || usage_error "no git checkout to take a tag from: give --tag"
  echo "$registry/theater:$tag"
}
