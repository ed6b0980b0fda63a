#!/usr/bin/env bash
# The operator scripts, the guide's kubectl commands and the gateway's API reads against
# two real control planes (scripts/k8s-clusters.sh: etcd, kube-apiserver with RBAC,
# controller-manager, scheduler per cluster). Every check asks the API servers what
# they hold. There is no kubelet and no sidecar injector here: pods are bound to the
# labelled nodes by the real scheduler but never run, so readiness and sidecar checks
# are expected to fail and are asserted as such.
# The conditions given to expect() are strings it evaluates after each run:
# shellcheck disable=SC2016
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source scripts/lib.sh

case "${1:-}" in -h | --help) echo "Usage: tests/k8s/app.test.sh   (starts and stops its own two clusters)"; exit 0 ;; esac

work=$(mktemp -d)
cleanup() {
  stop_pids "${confirmer:-}"
  stop_app
  scripts/k8s-clusters.sh down --dir "$work/clusters" >/dev/null 2>&1 || true
  remove_dirs "$work"
}
trap 'exit_after cleanup' EXIT

source tests/checks.sh
k1() { kubectl --context ctx1 "$@"; }
k2() { kubectl --context ctx2 "$@"; }

# istioctl on the PATH, as an operator who has it: deploy.sh then runs its analysis too.
tools=$(scripts/k8s-tools.sh path) || exit 1
export PATH="$tools:$PATH"

echo "==> two control planes"
eval "$(scripts/k8s-clusters.sh up --dir "$work/clusters")" || { echo "the clusters did not start" >&2; exit 1; }
export KUBECONFIG
kubectl config use-context ctx1 >/dev/null

# ---- deploy.sh for real, first as an operator whose permissions come from deploy.yaml ----
for ctx in ctx1 ctx2; do
  kubectl --context "$ctx" apply -f manifests/operator/deploy.yaml >/dev/null
  cluster=$(kubectl config view -o jsonpath="{.contexts[?(@.name==\"$ctx\")].context.cluster}")
  kubectl config set-context "op-$ctx" --cluster "$cluster" --user "op-$ctx" >/dev/null
  kubectl config set-context "nobody-$ctx" --cluster "$cluster" --user "nobody-$ctx" >/dev/null
  admin=$(kubectl config view -o jsonpath="{.contexts[?(@.name==\"$ctx\")].context.user}")
  # Impersonation through the kubeconfig: the API server authorizes the named user
  # and group with RBAC, exactly as it would a real operator's certificate.
  kubectl config view --raw -o json | python3 -c '
import json, sys
config, admin, ctx = json.load(sys.stdin), sys.argv[1], sys.argv[2]
creds = next(u["user"] for u in config["users"] if u["name"] == admin)
for who, groups in (("op", ["theater-msa-deployers"]), ("nobody", [])):
    user = dict(creds, **{"as": f"{who}@example.org", "as-groups": groups or None})
    if not groups:
        user.pop("as-groups")
    config["users"] = [u for u in config["users"] if u["name"] != f"{who}-{ctx}"] + [{"name": f"{who}-{ctx}", "user": user}]
json.dump(config, open(sys.argv[3], "w"))
' "$admin" "$ctx" "$work/kubeconfig.json" && cp "$work/kubeconfig.json" "$KUBECONFIG"
done

# Each prerequisite broken for real, one at a time: deploy.sh names it and applies nothing.
run "deploy.sh stops when a context is missing" 1 env CTX2=ctx9 scripts/deploy.sh --domain lab.example.org
expect "deploy: names the missing context" 'grep -q "kubectl context ctx9 not found" <<<"$out" && ! k1 get namespace theater-msa >/dev/null 2>&1'
k2 label node ctx2-node cluster-name- >/dev/null
run "deploy.sh stops when ctx2's node is not labelled" 1 scripts/deploy.sh --domain lab.example.org
expect "deploy: says how to label it" 'grep -q "kubectl --context ctx2 label node NODE cluster-name=ctx2" <<<"$out" && ! k1 get namespace theater-msa >/dev/null 2>&1'
k2 label node ctx2-node cluster-name=ctx2 >/dev/null
k1 -n istio-system get gateways.networking.istio.io cp-gateway -o yaml >"$work/cp-gateway.yaml"
k1 -n istio-system delete gateways.networking.istio.io cp-gateway >/dev/null
run "deploy.sh stops without cp-gateway" 1 scripts/deploy.sh --domain lab.example.org
expect "deploy: names cp-gateway" 'grep -q "cp-gateway is missing" <<<"$out" && ! k1 get namespace theater-msa >/dev/null 2>&1'
k1 apply -f "$work/cp-gateway.yaml" >/dev/null 2>&1 || k1 create -f "$work/cp-gateway.yaml" >/dev/null
k2 delete crd virtualservices.networking.istio.io --wait=true >/dev/null
run "deploy.sh stops without Istio in ctx2 (no VirtualService CRD)" 1 scripts/deploy.sh --domain lab.example.org
expect "deploy: says Istio is missing in ctx2" 'grep -q "Istio is not installed in ctx2" <<<"$out" && ! k1 get namespace theater-msa >/dev/null 2>&1'
k2 apply -f "$work/clusters/istio-crds.yaml" >/dev/null 2>&1
k2 wait --for condition=established --timeout=60s crd/virtualservices.networking.istio.io >/dev/null

run "deploy.sh without permissions stops and applies nothing" 1 env CTX1=nobody-ctx1 CTX2=nobody-ctx2 scripts/deploy.sh --domain lab.example.org
expect "deploy: names each missing permission and the fix" 'grep -q "you may not create deployment.apps in namespace theater-msa in nobody-ctx1" <<<"$out" && grep -q "manifests/operator/deploy.yaml" <<<"$out" && ! k1 get namespace theater-msa >/dev/null 2>&1'
run "deploy.sh as a member of theater-msa-deployers (deploy.yaml's ClusterRole, real RBAC)" 0 env CTX1=op-ctx1 CTX2=op-ctx2 scripts/deploy.sh --domain lab.example.org
deploy_out=$out

names() { kubectl --context "$1" -n theater-msa get "$2" -o jsonpath='{range .items[*]}{.metadata.name}{" "}{end}'; }
expect "ctx1 holds the guide's Deployments, api-gateway and redis" '[ "$(names ctx1 deployments)" = "api-gateway booking-service movie-service redis user-service " ]' "$(names ctx1 deployments)"
expect "ctx2 holds the three backends only" '[ "$(names ctx2 deployments)" = "booking-service movie-service user-service " ]' "$(names ctx2 deployments)"
expect "each container is named after its Deployment" '[ "$(k2 -n theater-msa get deploy -o jsonpath="{range .items[*]}{.metadata.name}={.spec.template.spec.containers[0].name} {end}")" = "booking-service=booking-service movie-service=movie-service user-service=user-service " ]'
for ctx in ctx1 ctx2; do
  expect "$ctx: VirtualServices and DestinationRules under the guide's names" '[ "$(names '$ctx' virtualservices)" = "booking-service-vs movie-service-vs user-service-vs " ] && [ "$(names '$ctx' destinationrules)" = "booking-service-dr movie-service-dr user-service-dr " ]'
  expect "$ctx: user-service-vs splits 70/30, user-service-dr balances ROUND_ROBIN" '[ "$(kubectl --context '$ctx' -n theater-msa get vs user-service-vs -o jsonpath="{.spec.http[-1:].route[*].weight}")" = "70 30" ] && [ "$(kubectl --context '$ctx' -n theater-msa get dr user-service-dr -o jsonpath="{.spec.trafficPolicy.loadBalancer.simple}")" = ROUND_ROBIN ]'
  # The real scheduler honours the node affinity: every pod of the app on the node labelled for its cluster.
  expect "$ctx: the scheduler binds every pod to the node labelled cluster-name=$ctx" 'poll 30 eval "[ -n \"\$(kubectl --context '$ctx' -n theater-msa get pods -o name)\" ] && [ -z \"\$(kubectl --context '$ctx' -n theater-msa get pods -o jsonpath=\"{range .items[?(@.spec.nodeName!=\\\"'$ctx'-node\\\")]}{.metadata.name} {end}\")\" ]"' "$(kubectl --context "$ctx" -n theater-msa get pods -o wide 2>&1)"
done
expect "ctx1: the page's ConfigMap and the external VirtualService for theater.lab.example.org" 'k1 -n theater-msa get configmap api-gateway-ui -o jsonpath="{.data}" | grep -q app.js && [ "$(k1 -n istio-system get vs theater-msa -o jsonpath="{.spec.hosts[0]}")" = theater.lab.example.org ]'

expect "deploy.sh ran istioctl analyze as its pre-flight, with no error or warning about the app" '! grep -q "istioctl analyze" <<<"$deploy_out"' "$deploy_out"
# Live, multi-cluster (each cluster with the other as remote, so the subsets see the
# pods of both). Suppressed by code, each for what these clusters lack and real ones
# have: IST0103, pods without a sidecar (no injector here); IST0101 for cp-gateway's
# selector (no ingress gateway pods); IST0170, default/kubernetes differing between the
# clusters (each API server listens on its own random loopback port). Anything else fails.
no_data_plane=(--suppress "IST0103=Pod theater-msa/*" --suppress "IST0101=Gateway istio-system/cp-gateway"
  --suppress "IST0170=Service default/kubernetes")
for pair in ctx1:ctx2 ctx2:ctx1; do
  ctx=${pair%:*} remote=${pair#*:}
  run "istioctl analyze against $ctx's API server (remote: $remote), app deployed: no error, no warning" 0 \
    istioctl analyze --context "$ctx" --remote-contexts "$remote" --all-namespaces --failure-threshold Warning "${no_data_plane[@]}"
done

# ---- the guide's commands, verbatim, against the current context (ctx1) ----
run "guide: kubectl describe virtualservice user-service-vs" 0 kubectl describe virtualservice user-service-vs -n theater-msa
run "guide: kubectl describe dr user-service-dr" 0 kubectl describe dr user-service-dr -n theater-msa
expect "guide: describe dr shows the subsets" 'grep -q "Subsets" <<<"$out" && grep -q "ctx2" <<<"$out"'
run "guide: kubectl get vs user-service-vs -o yaml | grep -A 10 weight" 0 bash -c 'kubectl get vs user-service-vs -n theater-msa -o yaml | grep -A 10 weight'
run "guide: the 90/10 patch" 0 kubectl patch virtualservice user-service-vs -n theater-msa --type='merge' -p='{"spec":{"http":[{"match":[{"headers":{"x-canary":{"exact":"true"}}}],"route":[{"destination":{"host":"user-service","subset":"ctx2"},"weight":100}]},{"route":[{"destination":{"host":"user-service","subset":"ctx1"},"weight":90},{"destination":{"host":"user-service","subset":"ctx2"},"weight":10}]}]}}'
expect "guide: the API server now holds 90/10" '[ "$(kubectl get vs user-service-vs -n theater-msa -o jsonpath="{.spec.http[-1:].route[*].weight}")" = "90 10" ]'
run "guide: kubectl scale deployment user-service --replicas=3" 0 kubectl scale deployment user-service --replicas=3 -n theater-msa
expect "scale: the ReplicaSet controller makes three user-service pods, all bound to ctx1-node" 'poll 30 eval "[ \"\$(kubectl get pods -n theater-msa -l app=user-service -o jsonpath=\"{range .items[*]}{.spec.nodeName} {end}\")\" = \"ctx1-node ctx1-node ctx1-node \" ]"' "$(kubectl get pods -n theater-msa -l app=user-service -o wide 2>&1)"
run "guide: kubectl set image deployment/user-service user-service=<image>" 0 kubectl set image deployment/user-service user-service=harbor.lab.example.org/theater-msa/theater:v2 -n theater-msa
expect "set image: the container named user-service runs the new image" '[ "$(kubectl get deploy user-service -n theater-msa -o jsonpath="{.spec.template.spec.containers[0].image}")" = harbor.lab.example.org/theater-msa/theater:v2 ]'
run "guide: kubectl logs -l app=user-service (no kubelet: the API names the pods, has no logs)" 1 kubectl logs -l app=user-service -n theater-msa
expect "logs: the API server answers about the selected pods" 'grep -qi "user-service" <<<"$out"'

# ---- the gateway reads /api/mesh and /api/topology with its own ServiceAccount ----
server=$(kubectl config view --minify --flatten -o jsonpath='{.clusters[0].cluster.server}')
ca=$(kubectl config view --minify --flatten -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
token=$(kubectl create token api-gateway -n theater-msa --duration 1h)
cat >"$work/gateway.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: ctx1, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: api-gateway, user: {token: "$token"}}]
contexts: [{name: api-gateway, context: {cluster: ctx1, user: api-gateway, namespace: theater-msa}}]
current-context: api-gateway
YAML
start_app "$(theater_binary)" "$work/app.log" --kubeconfig "$work/gateway.kubeconfig" --pod-namespace theater-msa --cluster ctx1
mesh() { curl -s "http://127.0.0.1:$APP_PORT/api/mesh"; }
weights() { mesh | python3 -c 'import json,sys; m=json.load(sys.stdin); print(m.get("source"), *[r["weight"] for r in m["services"]["user-service"]["defaultRoute"]])' 2>/dev/null; }
expect "gateway: /api/mesh from the API server with the api-gateway token shows the 90/10 in force" 'poll 10 eval "[ \"\$(weights)\" = \"kubernetes 90 10\" ]"' "$(mesh)"
page="http://127.0.0.1:$APP_PORT/"
run "page: the rules panel shows user-service-vs's 90/10 read with the gateway's token (Chromium)" 0 \
  node tests/ui/panel.mjs "$page" "#rules" "user-service[^\\n]*ctx1 90 / ctx2 10"
run "scenario.sh reset through the API servers" 0 scripts/scenario.sh reset
expect "gateway: after the reset /api/mesh shows 70/30 (within its 3 s cache)" 'poll 10 eval "[ \"\$(weights)\" = \"kubernetes 70 30\" ]"' "$(mesh)"
topology() { curl -s "http://127.0.0.1:$APP_PORT/api/topology"; }
expect "gateway: /api/topology lists ctx1's pods from the API" 'poll 10 eval "topology | grep -q redis"' "$(topology)"
kubectl patch role api-gateway-reader -n theater-msa --type=json -p='[{"op":"replace","path":"/rules/1/verbs","value":["get","watch"]}]' >/dev/null
expect "gateway: a verb removed from the Role shows as forbidden on /api/mesh" 'poll 10 eval "mesh | grep -q forbidden"' "$(mesh)"
run "page: the rules panel says forbidden (Chromium)" 0 node tests/ui/panel.mjs "$page" "#rules" "forbidden"
kubectl apply -n theater-msa -f manifests/gateway/rbac.yaml >/dev/null
stop_app

# ---- every scenario, through scripts/scenario.sh, then reset ----
for dir in manifests/scenarios/*/; do
  name=$(basename "$dir")
  run "scenario.sh $name applies to both clusters" 0 scripts/scenario.sh "$name"
done
run "scenario.sh canary-shift-50-50 (the last applied scenario wins)" 0 scripts/scenario.sh canary-shift-50-50
expect "scenario: both API servers hold user-service-vs at 50/50" '[ "$(k1 -n theater-msa get vs user-service-vs -o jsonpath="{.spec.http[-1:].route[*].weight}")" = "50 50" ] && [ "$(k2 -n theater-msa get vs user-service-vs -o jsonpath="{.spec.http[-1:].route[*].weight}")" = "50 50" ]'
expect "scenario: mtls-authz left its policies (labelled for reset)" '[ -n "$(k2 -n theater-msa get authorizationpolicies -l theater-msa/scenario -o name)" ]'
run "scenario.sh reset" 0 scripts/scenario.sh reset
expect "reset: base weights back and the scenario's policies gone in both clusters" '[ "$(k2 -n theater-msa get vs movie-service-vs -o jsonpath="{.spec.http[-1:].route[*].weight}")" = "30 70" ] && [ -z "$(k1 -n theater-msa get peerauthentication,authorizationpolicy -l theater-msa/scenario -o name)" ] && [ -z "$(k2 -n theater-msa get peerauthentication,authorizationpolicy -l theater-msa/scenario -o name)" ]'

# ---- the API server's own validation: every overlay and scenario, server-side dry run ----
# Each overlay against its own cluster (a Deployment's selector carries its cluster and
# is immutable); the rules and every scenario against both.
for pair in clusters/ctx1:ctx1 clusters/ctx2:ctx2 operator:ctx1 rules:ctx1 rules:ctx2 \
  $(cd manifests && for s in scenarios/*; do echo "$s:ctx1 $s:ctx2"; done); do
  target=${pair%:*} ctx=${pair##*:}
  run "server-side dry run: $target on $ctx" 0 bash -c "kubectl kustomize manifests/$target | kubectl --context $ctx apply --dry-run=server -f -"
done
bad_weight=$(kubectl kustomize manifests/rules | sed 's/weight: 70$/weight: "seventy"/')
run "server-side dry run rejects a weight that is not an integer" 1 kubectl --context ctx1 apply --dry-run=server -f - <<<"$bad_weight"

# ---- verify.sh's API-side checks against the real clusters ----
start_app "$(theater_binary)" "$work/app.log" --cluster ctx1
out=$(scripts/verify.sh --url "http://127.0.0.1:$APP_PORT" --requests 20 2>&1)
expect "verify: contexts, node labels, placement and rules pass" '[ "$(grep -c "^✔ context" <<<"$out")" = 2 ] && grep -q "✔ ctx2 has nodes labelled cluster-name=ctx2" <<<"$out" && grep -q "✔ user-service pods run on ctx2 nodes" <<<"$out" && grep -q "✔ user-service-vs and user-service-dr in ctx2 split 70/30" <<<"$out"'
expect "verify: no kubelet, no injector here: readiness and sidecars fail, and say so" 'grep -q "✘ user-service pods are ready in ctx1" <<<"$out" && grep -q "✘ user-service pods have the istio-proxy sidecar in ctx1" <<<"$out"'
stop_app

# ---- cleanup.sh --all, twice ----
# A pod being deleted is gone only once its kubelet confirms its containers stopped.
# There is no kubelet here, so this loop plays that one part (a forced delete of pods
# already marked for deletion); everything else of the namespace's deletion is the
# real namespace controller's work.
confirm_pod_deletions() {
  local ctx pod
  while :; do
    for ctx in ctx1 ctx2; do
      kubectl --context "$ctx" -n theater-msa get pods \
        -o jsonpath='{range .items[?(@.metadata.deletionTimestamp)]}{.metadata.name}{"\n"}{end}' 2>/dev/null |
        while read -r pod; do
          [ -z "$pod" ] || kubectl --context "$ctx" -n theater-msa delete pod "$pod" --grace-period=0 --force >/dev/null 2>&1
        done
    done
    sleep 1
  done
}
confirm_pod_deletions &
confirmer=$!
run "cleanup.sh --all" 0 timeout 120 scripts/cleanup.sh --all
run "cleanup.sh --all again is harmless" 0 timeout 60 scripts/cleanup.sh --all
gone() { ! kubectl --context "$1" get namespace theater-msa >/dev/null 2>&1; }
expect "cleanup: the namespace is gone from both clusters (the namespace controller finalized it)" 'poll 60 eval "gone ctx1 && gone ctx2"' "$(k1 get ns theater-msa -o yaml 2>&1 | tail -5)"
expect "cleanup: nothing of the app is left, the external VirtualService included" '[ -z "$(k1 get vs -A -l app.kubernetes.io/part-of=theater-msa -o name)" ] && [ -z "$(k1 -n istio-system get vs theater-msa -o name 2>/dev/null)" ]'

kill "$confirmer" 2>/dev/null
wait "$confirmer" 2>/dev/null
echo "k8s: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
