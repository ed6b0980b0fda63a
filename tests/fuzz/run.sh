#!/usr/bin/env bash
# Property-based API check: schemathesis (PyPI, pinned) reads each role's /openapi.json
# and sends generated requests; it fails on any 5xx, any undocumented status, and any
# response off the documented schema. Bounded: a fixed seed, a cap on examples per
# operation and on time per role.
set -euo pipefail

case "${1:-}" in
  -h | --help) echo "Usage: tests/fuzz/run.sh [BINARY]   (default: the debug build, built if missing)"; exit 0 ;;
esac

cd "$(dirname "$0")/../.."
source scripts/lib.sh

schemathesis_bin=$(pip_tool schemathesis 4.32.5)

binary=${1:-$(theater_binary)}
work=$(mktemp -d)
cleanup() {
  stop_app
  remove_dirs "$work"
}
trap 'exit_after cleanup' EXIT
start_app "$binary" "$work/app.log"

failed=0
for offset in 0 1 2 3; do
  port=$((APP_PORT + offset))
  name=$(curl -fsS "http://127.0.0.1:$port/info" | python3 -c 'import json,sys; print(json.load(sys.stdin)["service"])')
  echo "==> schemathesis: $name"
  if ! "$schemathesis_bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
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
