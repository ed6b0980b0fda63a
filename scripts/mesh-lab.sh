#!/usr/bin/env bash
# The mesh lab: the two clusters of the guide on this machine, made of real parts (lab/,
# python3 -m theater_lab): per cluster a network namespace with its control plane,
# containerd, a kubelet, kube-proxy and Istio, one mesh on two networks joined by
# east-west gateways, observed by Prometheus and Jaeger; the app built, pushed to the lab's registry and deployed by
# scripts/deploy.sh as the guide deploys it.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/mesh-lab.sh COMMAND [options]   (needs root)

  up [--port 8080] [--ingress-port 8000] [--binary PATH]
                    the real nodes of both clusters (per cluster a network namespace
                    of the lab's own with its control plane, containerd, runc, a
                    kubelet, kube-proxy, CoreDNS, metrics-server and Istio: istiod,
                    an east-west gateway, in ctx1 cp-gateway's ingress gateway, and
                    in ctx1's istio-system Prometheus scraping both clusters' Pods
                    and Jaeger receiving every sidecar's spans), a registry playing
                    harbor.localhost:8000; then the app's image
                    built (scripts/build-images.sh localhost:8000) and pushed there,
                    deployed by scripts/deploy.sh, and the page forwarded by
                    `kubectl port-forward svc/api-gateway`; prints the
                    `export KUBECONFIG=... DOMAIN=...` line for kubectl and curl
  env               print the `export KUBECONFIG=...` line again
  status            every daemon of the nodes, the nodes, Istio's and the app's Pods
  traffic [ARGS]    measure the split through the page port; ARGS as scripts/traffic.sh
                    takes them (e.g. --path /users/ -n 1000 --expect ctx1=70,ctx2=30)
  chaos DEPLOYMENT-CLUSTER JSON
                    set the chaos knobs of every Pod of a Deployment in one cluster
                    (from inside each Pod), e.g. chaos user-service-ctx2 '{"errorRate":1}';
                    the first time it runs `kubectl set env deployment/...
                    CHAOS_ENABLED=true` (a rollout)
  apply NAME|DIR|FILE | reset
                    scripts/scenario.sh NAME | reset against the lab (a folder or file
                    other than a scenario: kubectl apply -k/-f to ctx1 and ctx2)
  down              stop everything up started; no process, network namespace,
                    mount or rule stays
  nodes up|down|status
                    only the real nodes, without the app

The page is at http://127.0.0.1:8080 (--port), the ingress gateway cp-gateway at
http://theater.localhost:8000 (--ingress-port; curl and browsers resolve *.localhost
to 127.0.0.1): with `export DOMAIN=localhost:8000` the guide's
`curl http://theater.$DOMAIN/users/` works as written, and so do the guide's
`kubectl port-forward svc/prometheus 9090:9090 -n istio-system` and
`kubectl port-forward svc/jaeger 16686:16686 -n istio-system` (their HTTP APIs: the
Go modules they are built from carry no web UI).

Files: everything in $MESH_LAB_DIR (default .mesh-lab/ in the repository): nodes/
(each cluster's daemons, their logs, the kubeconfig, nodes.json), logs/ (up's own
and the page's port-forward). The Kubernetes and Istio binaries come from
scripts/k8s-tools.sh, built once from their Go modules and cached.
TXT
}

cd "$(dirname "$0")/.."
source scripts/lib.sh

NAMESPACE=theater-msa
lab=${MESH_LAB_DIR:-$PWD/.mesh-lab}
case "$lab" in /*) ;; *) lab=$PWD/$lab ;; esac
nodes() { PYTHONPATH=lab python3 -m theater_lab nodes "$1" --dir "$lab/nodes" "${@:2}"; }
export KUBECONFIG=$lab/nodes/kubeconfig
nodes_state=$lab/nodes/nodes.json
# The real nodes are up (or a crashed up left them): status, chaos and down follow them.
nodes_up() { [ -f "$nodes_state" ]; }
nodes_value() { json_value "$nodes_state" "$1"; }
need_up() { nodes_up || die "the lab is not up (scripts/mesh-lab.sh up)"; }

# Waits for every Deployment of both clusters to roll out, each within TIMEOUT.
rollout_all() {
  local ctx deployment
  for ctx in ctx1 ctx2; do
    for deployment in $(kubectl --context "$ctx" -n "$NAMESPACE" get deployments -o name); do
      kubectl --context "$ctx" -n "$NAMESPACE" rollout status "$deployment" --timeout "$1" >/dev/null
    done
  done
}

# up: the nodes, the app's image built and pushed to their registry, the app deployed
# as the guide deploys it, the page through kubectl port-forward.
cmd_up() {
  local port=8080 ingress_port=8000 binary="" p
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) port=${2:?--port needs a value}; shift 2 ;;
      --ingress-port) ingress_port=${2:?--ingress-port needs a value}; shift 2 ;;
      --binary) binary=${2:?--binary needs a value}; shift 2 ;;
      *) usage_error "unknown option for up: $1" ;;
    esac
  done
  nodes_up && die "the lab is up already ($lab); scripts/mesh-lab.sh down first"
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
  nodes up --ingress-port "$ingress_port" >"$lab/logs/nodes.log" 2>&1 || { tail -n 30 "$lab/logs/nodes.log" >&2; die "the real nodes did not come up"; }
  trap 'echo "up failed; stopping the real nodes" >&2; cmd_down >/dev/null 2>&1 || true' EXIT
  local image redis
  image=$(class_image localhost:8000 "" "")
  redis=$(nodes_value 's["images"]["redis"]')
  echo "==> scripts/build-images.sh localhost:8000 (pushed to the lab's registry)"
  THEATER_IMAGE_BINARY=$binary THEATER_PUSH_TO=127.0.0.1:$(nodes_value 's["ports"]["registry"]') \
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
  echo "==> the mesh lab is up: page http://127.0.0.1:$port, ingress http://theater.localhost:$ingress_port"
  echo "export KUBECONFIG=$KUBECONFIG DOMAIN=localhost:$ingress_port"
}

cmd_down() {
  STOP_GRACE=5 stop_pids "$(cat "$lab/page-forward.pid" 2>/dev/null || true)"
  rm -f "$lab/page-forward.pid" "$lab/page-port"
  if nodes_up; then nodes down || true; fi
  echo "==> the mesh lab is down (logs stay in $lab)"
}

cmd_status() {
  need_up
  nodes status
  local ctx
  for ctx in ctx1 ctx2; do
    kubectl --context "$ctx" get pods -n istio-system -o wide
    kubectl --context "$ctx" get pods -n "$NAMESPACE" -o wide
  done
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
    # A Pod's address is inside its node only: the knobs are set from inside the Pod.
    printf '%s (%s): ' "$name" "$ip"
    "${k[@]}" exec "$name" -c "$deployment" -- curl -fsS -X PUT "http://localhost:$port/admin/chaos" \
      -H 'content-type: application/json' -d "$2"
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
    measure_split "scripts/mesh-lab.sh traffic" 1000 --url "http://127.0.0.1:$(cat "$lab/page-port")" "$@"
    ;;
  chaos) cmd_chaos "$@" ;;
  nodes)
    case "${1:-}" in up | down | status) nodes "$@" ;; *) usage_error "nodes takes up, down or status" ;; esac
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
