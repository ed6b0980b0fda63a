#!/usr/bin/env bash
# The two-cluster fixture (scripts/k8s-clusters.sh) against its real API servers:
# both answer, the nodes, Istio's CRDs and cp-gateway are there, RBAC is enforced,
# the real scheduler binds by node affinity, istioctl analyze works offline and
# against ctx1, and `down` leaves no process behind.
#
# Bounded: building the binaries (only on a cold cache) gets $K8S_TOOLS_TIMEOUT
# seconds (default 3600), `up` gets $K8S_UP_TIMEOUT (default 300), every other step
# a few seconds to a minute. The last line is "N passed, M failed".
# Most checks are functions that check/eventually call by name:
# shellcheck disable=SC2317
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source scripts/lib.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/theater-k8s-test.XXXXXX")
dir=$work/clusters
cleanup() {
  scripts/k8s-clusters.sh down --dir "$dir" >/dev/null 2>&1
  remove_dirs "$work"
}
trap 'exit_after cleanup' EXIT

source tests/checks.sh
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}

k() { kubectl --request-timeout 20s "$@"; }
equals() { [ "$1" = "$2" ] || { echo "got '$1', wanted '$2'"; return 1; }; }

started=$SECONDS
if ! tools=$(timeout "${K8S_TOOLS_TIMEOUT:-3600}" scripts/k8s-tools.sh path); then
  bad "scripts/k8s-tools.sh path"
  finish
fi
ok "k8s-tools.sh path gives the binaries ($((SECONDS - started))s)"

started=$SECONDS
if ! env_line=$(timeout "${K8S_UP_TIMEOUT:-300}" scripts/k8s-clusters.sh up --dir "$dir" 2>"$work/up.log"); then
  bad "k8s-clusters.sh up" "$(tail -30 "$work/up.log")"
  finish
fi
ok "k8s-clusters.sh up ($((SECONDS - started))s)"
check "up prints the export line" equals "$env_line" "export KUBECONFIG=$dir/kubeconfig"
eval "$env_line"

# --- the clusters and their world ---------------------------------------------
for ctx in ctx1 ctx2; do
  check "$ctx answers /readyz" equals "$(k --context "$ctx" get --raw /readyz 2>&1)" ok
  node=$(k --context "$ctx" get nodes -l "cluster-name=$ctx" -o jsonpath='{.items[*].metadata.name}' 2>&1)
  check "$ctx has one node labelled cluster-name=$ctx" equals "$node" "$ctx-node"
  check "$ctx-node is Ready" equals \
    "$(k --context "$ctx" get node "$ctx-node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>&1)" True
  check "$ctx-node has region and zone labels" equals \
    "$(k --context "$ctx" get node "$ctx-node" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/region}/{.metadata.labels.topology\.kubernetes\.io/zone}' 2>&1)" \
    "region${ctx#ctx}/zone${ctx#ctx}"
  check "$ctx-node has no taints" equals "$(k --context "$ctx" get node "$ctx-node" -o jsonpath='{.spec.taints}' 2>&1)" ""
  check "$ctx-node offers 8 CPUs, 100Gi of ephemeral storage and 110 pods" equals \
    "$(k --context "$ctx" get node "$ctx-node" -o jsonpath='{.status.allocatable.cpu}/{.status.allocatable.ephemeral-storage}/{.status.allocatable.pods}' 2>&1)" 8/100Gi/110
  for crd in virtualservices destinationrules gateways serviceentries; do
    check "$ctx: $crd.networking.istio.io Established" equals \
      "$(k --context "$ctx" get crd "$crd.networking.istio.io" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}' 2>&1)" True
  done
  check "$ctx: namespace istio-system" k --context "$ctx" get namespace istio-system
  check "$ctx: default namespace has its default ServiceAccount" k --context "$ctx" -n default get serviceaccount default
  check "$ctx: kube-root-ca.crt ConfigMap is published" k --context "$ctx" -n default get configmap kube-root-ca.crt
done
check "ctx1: cp-gateway selects istio=ingressgateway on port 80" equals \
  "$(k --context ctx1 -n istio-system get gateways.networking.istio.io cp-gateway -o jsonpath='{.spec.selector.istio} {.spec.servers[0].port.number} {.spec.servers[0].hosts[0]}' 2>&1)" \
  "ingressgateway 80 *"

# --- RBAC is enforced --------------------------------------------------------------
k --context ctx1 -n default create serviceaccount reader >/dev/null
token=$(k --context ctx1 -n default create token reader --duration 10m 2>&1)
check "kubectl create token gives a JWT" grep -qE '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' <<<"$token"
server=$(kubectl config view -o jsonpath='{.clusters[?(@.name=="ctx1")].cluster.server}')
ca=$(kubectl config view -o jsonpath='{.clusters[?(@.name=="ctx1")].cluster.certificate-authority}')
printf 'apiVersion: v1\nkind: Config\n' >"$work/empty.kubeconfig"
as_reader() {
  kubectl --kubeconfig "$work/empty.kubeconfig" --server "$server" --certificate-authority "$ca" \
    --token "$token" --request-timeout 20s -n default get pods
}
denied() { ! out=$(as_reader 2>&1) && grep -q forbidden <<<"$out" && echo "$out"; }
check "the token alone is forbidden to list pods" denied
check "whoami through the token is the ServiceAccount" equals \
  "$(kubectl --kubeconfig "$work/empty.kubeconfig" --server "$server" --certificate-authority "$ca" --token "$token" \
    auth whoami -o jsonpath='{.status.userInfo.username}' 2>&1)" system:serviceaccount:default:reader
k --context ctx1 -n default create role pod-reader --verb get,list --resource pods >/dev/null
k --context ctx1 -n default create rolebinding reader-reads-pods --role pod-reader --serviceaccount default:reader >/dev/null
eventually 15 "after a Role and RoleBinding the token may list pods" as_reader

# --- the real scheduler ------------------------------------------------------------
deployment() {
  cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $1
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels: {app: $1}
  template:
    metadata:
      labels: {app: $1}
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions:
                  - {key: cluster-name, operator: In, values: [$2]}
      containers:
        - name: pause
          image: registry.k8s.io/pause:3.10
YAML
}
deployment pinned-to-ctx2 ctx2 | k --context ctx2 apply -f - >/dev/null
deployment pinned-to-ctx1 ctx1 | k --context ctx2 apply -f - >/dev/null
bound_node() { k --context ctx2 -n default get pods -l "app=$1" -o jsonpath='{.items[0].spec.nodeName}'; }
bound_to_ctx2() { equals "$(bound_node pinned-to-ctx2 2>&1)" ctx2-node; }
eventually 60 "ctx2: the pod with affinity cluster-name=ctx2 is bound to ctx2-node" bound_to_ctx2
unschedulable() {
  equals "$(k --context ctx2 -n default get pods -l app=pinned-to-ctx1 \
    -o jsonpath='{.items[0].spec.nodeName}/{.items[0].status.conditions[?(@.type=="PodScheduled")].reason}' 2>&1)" /Unschedulable
}
eventually 60 "ctx2: the pod with affinity cluster-name=ctx1 stays unscheduled" unschedulable

# --- istioctl ----------------------------------------------------------------------
cat >"$work/routes.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: user-service, namespace: default}
spec:
  selector: {app: user-service}
  ports: [{name: http, port: 8080}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: user-service, namespace: default}
spec:
  hosts: [user-service]
  http:
    - route:
        - destination: {host: user-service, port: {number: 8080}}
YAML
check "istioctl analyze --use-kube=false accepts a valid VirtualService" \
  timeout 60 "$tools/istioctl" analyze --use-kube=false "$work/routes.yaml"
# A VirtualService bound to cp-gateway: alone, the gateway is missing (IST0101);
# analysed with ctx1 the gateway and the Service come from its API server; ctx2 has
# no cp-gateway.
# The Service it routes to lives in the clusters, as it would after a deploy.
for ctx in ctx1 ctx2; do
  k --context "$ctx" apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: api-gateway, namespace: default}
spec:
  selector: {app: api-gateway}
  ports: [{name: http, port: 8080}]
YAML
done
cat >"$work/external.yaml" <<'YAML'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: theater-external, namespace: default}
spec:
  hosts: [theater.example.org]
  gateways: [istio-system/cp-gateway]
  http:
    - route:
        - destination: {host: api-gateway.default.svc.cluster.local, port: {number: 8080}}
YAML
# analyze FLAGS...: runs istioctl analyze on external.yaml; prints its report.
analyze() { timeout 120 "$tools/istioctl" analyze "$@" "$work/external.yaml" 2>&1; }
gateway_missing() { ! out=$(analyze "$@") && grep -q 'IST0101.*gateway not found.*cp-gateway' <<<"$out" && echo "$out"; }
gateway_found() { out=$(analyze "$@") && ! grep -q IST0101 <<<"$out" && echo "$out"; }
check "istioctl analyze --use-kube=false: cp-gateway not found in the file alone" gateway_missing --use-kube=false
check "istioctl analyze --context ctx1: cp-gateway found through ctx1's API server" gateway_found --context ctx1
check "istioctl analyze --context ctx2: no cp-gateway in ctx2" gateway_missing --context ctx2
check "istioctl analyze --context ctx1 -n default returns cleanly" \
  timeout 120 "$tools/istioctl" analyze --context ctx1 -n default

# --- down ----------------------------------------------------------------------------
started=$SECONDS
check "k8s-clusters.sh down" timeout 60 scripts/k8s-clusters.sh down --dir "$dir"
echo "     (down took $((SECONDS - started))s)"
leftovers() {
  pgrep -af -- "$dir/" | grep -E '/(etcd|kube-apiserver|kube-controller-manager|kube-scheduler) ' || true
}
check "no etcd or kube-* process of the fixture remains" equals "$(leftovers)" ""

finish
