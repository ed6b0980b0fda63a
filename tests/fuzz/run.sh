#!/usr/bin/env bash
# Property-based API check: schemathesis (PyPI, pinned) reads each role's /openapi.json
# and sends generated requests; it fails on any 5xx, any undocumented status, and any
# response off the documented schema. Bounded: a fixed seed, a cap on examples per
# operation and on time per role.
set -euo pipefail

usage() {
  echo "Usage: tests/fuzz/run.sh [BINARY]   (default: target/debug/theater, built if missing)"
}
case "${1:-}" in -h | --help) usage; exit 0 ;; esac

cd "$(dirname "$0")/../.."
source scripts/lib.sh

schemathesis_version=4.32.5
venv="${XDG_CACHE_HOME:-$HOME/.cache}/theater-msa/schemathesis-$schemathesis_version"
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "==> installing schemathesis $schemathesis_version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi

binary=${1:-}
if [ -z "$binary" ]; then
  cargo build --quiet
  binary="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/theater"
fi

work=$(mktemp -d)
app_pid=""
cleanup() {
  [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null && wait "$app_pid" 2>/dev/null
  rm -rf "$work"
  return 0
}
trap cleanup EXIT

# Four consecutive free ports for --role all (gateway, user, movie, booking).
base=""
for _ in $(seq 20); do
  candidate=$(free_port)
  if python3 -c 'import socket,sys
for p in range(int(sys.argv[1]), int(sys.argv[1]) + 4):
    s = socket.socket(); s.bind(("127.0.0.1", p)); s.close()' "$candidate" 2>/dev/null; then
    base=$candidate
    break
  fi
done
[ -n "$base" ] || { echo "no four consecutive free ports found" >&2; exit 1; }

"$binary" --role all --listen-addr 127.0.0.1 --port "$base" --log-level warn >"$work/app.log" 2>&1 &
app_pid=$!
for _ in $(seq 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$((base + 3))/readyz" 2>/dev/null && break
  sleep 0.1
done

failed=0
for offset in 1 2 3; do
  port=$((base + offset))
  name=$(curl -fsS "http://127.0.0.1:$port/info" | python3 -c 'import json,sys; print(json.load(sys.stdin)["service"])')
  echo "==> schemathesis: $name"
  if ! "$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,unsupported_method \
    --max-examples 15 --seed 20261124 --max-time 25 --request-timeout 10 --no-color >"$work/$name.txt" 2>&1; then
    cat "$work/$name.txt"
    failed=1
  else
    grep -E "generated" "$work/$name.txt" | sed 's/^/    /'
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "the API fuzz run found failures (app log below)"
  tail -50 "$work/app.log"
  exit 1
fi
