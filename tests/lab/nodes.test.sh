#!/usr/bin/env bash
# The lab's real nodes (lab/, `python3 -m theater_lab nodes`): per cluster a network
# namespace holding its control plane, containerd, runc, the CNI bridge, a kubelet and
# kube-proxy; a registry inside ctx1's node fed by scripts/build-images.sh; Istio
# (istiod, sidecars, east-west gateways: one mesh on two networks). Checks that
# the host's own network namespace is the same before `up`, while the lab is up and
# after `down`; that the app's real image runs as a Pod with the manifests' security
# settings, probes and limits; the kubelet API (logs, exec, port-forward); that a pull
# of an image the lab's registry lacks fails at once, naming it; and that `down` leaves
# no process, namespace, mount or cgroup behind.
# The conditions given to expect() are strings it evaluates:
# shellcheck disable=SC2016
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source scripts/lib.sh
source tests/checks.sh
source tests/lab/host.sh

case "${1:-}" in -h | --help) echo "Usage: tests/lab/nodes.test.sh   (needs root; starts and stops its own nodes)"; exit 0 ;; esac

apt_install runc containernetworking-plugins iptables buildah podman uidmap openssl curl gcc libc6-dev file binutils python3-venv
work=$(mktemp -d)
labdir=$work/lab
nodes() { PYTHONPATH=lab python3 -m theater_lab nodes "$1" --dir "$labdir" "${@:2}"; }
cleanup() {
  stop_pids "${forward_pid:-}"
  [ "${restore_manifests:-0}" = 0 ] || scripts/update-deployment-images.sh --restore >/dev/null
  nodes down >/dev/null 2>&1 || true
  remove_dirs "$work"
}
trap 'exit_after cleanup' EXIT

host_view >"$work/host.before"

echo "==> release binary, static (the image's)"
binary=$(theater_static_binary) || exit 1

started=$SECONDS
run "nodes up: both clusters' nodes Ready" 0 nodes up
up_seconds=$((SECONDS - started))
echo "     (up took ${up_seconds} s)"
[ "$status" -eq 0 ] || { echo "lab: $passed passed, $failed failed"; exit 1; }
export KUBECONFIG=$labdir/kubeconfig
registry=$(json_value "$labdir/nodes.json" 's["ports"]["registry"]')

run "up twice refuses, leaving the running nodes alone" 1 nodes up
expect "it says the nodes are up already" '[[ $out == *"up already"* ]]'

host_view >"$work/host.during"
run "the host's links, addresses, routes, rules and iptables are as before up" 0 diff "$work/host.before" "$work/host.during"

run "kubectl get nodes: ctx1-node Ready, labelled cluster-name=ctx1" 0 \
  kubectl --context ctx1 get nodes -l cluster-name=ctx1 --no-headers
expect "ctx1-node is Ready with a real kubelet v1.37.2" '[[ $out == "ctx1-node "*" Ready "*v1.37.2* ]]'
run "kubectl get nodes: ctx2-node Ready, labelled cluster-name=ctx2" 0 \
  kubectl --context ctx2 get nodes -l cluster-name=ctx2 --no-headers
expect "ctx2-node is Ready" '[[ $out == "ctx2-node "*" Ready "* ]]'

tag=nodes-test-$$
image=harbor.localhost:8000/theater-msa/theater:$tag
run "scripts/build-images.sh localhost:8000 builds the real image and pushes it to the lab's registry" 0 \
  env THEATER_IMAGE_BINARY="$binary" THEATER_PUSH_TO="127.0.0.1:$registry" scripts/build-images.sh localhost:8000 --tag "$tag"
expect "it says where it pushed" '[[ $out == *"pushed $image (to 127.0.0.1:$registry)"* ]]'

# The app's image as the manifests run a role, here --role all with the in-process store.
kubectl --context ctx1 create namespace theater-msa >/dev/null
kubectl --context ctx1 apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: theater-all
  namespace: theater-msa
  labels: {app: theater-all}
spec:
  terminationGracePeriodSeconds: 5
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    seccompProfile: {type: RuntimeDefault}
  containers:
    - name: theater
      image: $image
      args: [--role, all, --listen-addr, 0.0.0.0]
      env:
        - {name: CLUSTER_NAME, value: ctx1}
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        - name: NODE_NAME
          valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
      ports: [{name: http, containerPort: 8080}]
      readinessProbe:
        httpGet: {path: /readyz, port: 8081}
        periodSeconds: 2
      livenessProbe:
        httpGet: {path: /healthz, port: 8080}
        periodSeconds: 5
      resources:
        requests: {cpu: 50m, memory: 32Mi}
        limits: {cpu: 500m, memory: 128Mi}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: {drop: [ALL]}
YAML
k1() { kubectl --context ctx1 -n theater-msa "$@"; }
run "the Pod of the real image becomes Ready (readiness probe through the kubelet)" 0 \
  k1 wait --for condition=Ready pod/theater-all --timeout 120s
k1 get pod theater-all -o wide >"$work/pod" 2>&1
expect "it runs on ctx1-node with a Pod IP of ctx1's range" 'grep -Eq "Running .* 10\.244\.0\.[0-9]+ +ctx1-node" "$work/pod"' "$(cat "$work/pod")"
run "kubectl logs (the kubelet's containerLogs)" 0 k1 logs theater-all --tail 20
expect "the log shows the roles listening" '[[ $out == *listening* || $out == *"8081"* ]]'
run "kubectl exec -- curl (the image's own curl)" 0 k1 exec theater-all -- curl -fsS http://localhost:8081/users/
expect "user-service answers from inside the Pod, served by this Pod" '[[ $out == *"\"pod\":\"theater-all\""* ]]'
run "kubectl exec -- id: user 65532" 0 k1 exec theater-all -- sh -c 'id -u; id -g'
expect "uid and gid 65532" '[[ $out == $'"'"'65532\n65532'"'"' ]]'
run "the root filesystem is read-only" 1 k1 exec theater-all -- sh -c 'touch /probe'
expect "touch says so" '[[ $out == *"Read-only file system"* ]]'
run "the memory limit is the container's cgroup limit" 0 k1 exec theater-all -- cat /sys/fs/cgroup/memory/memory.limit_in_bytes
expect "128 MiB" '[ "$out" = 134217728 ]'

kubectl --context ctx1 -n theater-msa create service clusterip theater --tcp 8081:8081 >/dev/null
kubectl --context ctx1 -n theater-msa set selector service theater app=theater-all >/dev/null
# kube-proxy programs the Service once its EndpointSlice names the Pod.
poll 30 eval 'k1 exec theater-all -- curl -fsS -o /dev/null --max-time 5 http://theater.theater-msa.svc.cluster.local:8081/healthz 2>/dev/null'
run "CoreDNS and kube-proxy: the Pod reaches its own Service by name" 0 \
  k1 exec theater-all -- curl -fsS --max-time 10 http://theater.theater-msa.svc.cluster.local:8081/users/
expect "user-service answers through the Service's ClusterIP" '[[ $out == *"\"pod\":\"theater-all\""* ]]'
run "the cluster DNS answers cluster.local only: another name does not resolve" 6 \
  k1 exec theater-all -- curl -sS --max-time 10 http://example.com/
run "kube-system/coredns runs the lab's CoreDNS image as 65532" 0 \
  kubectl --context ctx2 -n kube-system get pods -l k8s-app=kube-dns -o jsonpath='{.items[0].spec.containers[0].image} {.items[0].status.phase}'
expect "harbor.localhost:8000/theater-lab/coredns:v… Running" '[[ $out == "harbor.localhost:8000/theater-lab/coredns:v"*" Running" ]]'

port=$(free_port)
kubectl --context ctx1 -n theater-msa port-forward pod/theater-all "$port:8080" >"$work/pf.log" 2>&1 &
forward_pid=$!
poll 20 eval 'curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null'
run "kubectl port-forward: the page from the host's 127.0.0.1" 0 curl -fsS "http://127.0.0.1:$port/"
expect "the page's HTML" '[[ $out == *"<html"* ]]'
stop_pids "$forward_pid"

# A container that exits is restarted by the kubelet (restartPolicy Always).
k1 exec theater-all -- sh -c 'kill 1' >/dev/null 2>&1
poll 60 eval '[ "$(k1 get pod theater-all -o jsonpath="{.status.containerStatuses[0].restartCount}")" = 1 ]'
run "a container that exits is started again by the kubelet and is Ready again" 0 \
  k1 wait --for condition=Ready pod/theater-all --timeout 60s
expect "restartCount 1" '[ "$(k1 get pod theater-all -o jsonpath="{.status.containerStatuses[0].restartCount}")" = 1 ]' \
  "$(k1 get pod theater-all -o wide 2>&1)"

# A killed kubelet is started again by the lab's supervisor; its Pods keep running.
old_kubelet=$(cat "$labdir/ctx1/run/kubelet.pid")
kill -KILL "$old_kubelet"
poll 30 eval 'new_kubelet=$(cat "$labdir/ctx1/run/kubelet.pid"); [ "$new_kubelet" != "$old_kubelet" ] && kill -0 "$new_kubelet" 2>/dev/null'
run "a killed kubelet is started again by the lab (supervisor log)" 0 \
  grep "kubelet of ctx1 had exited; started it again" "$labdir/run/supervisor.log"
poll 60 eval 'kubectl --context ctx1 get nodes ctx1-node --no-headers | grep -q " Ready "'
# The new kubelet serves exec once it has taken over the node's running Pods again.
poll 60 eval 'k1 exec theater-all -- true >/dev/null 2>&1'
run "the node is Ready again and the Pod still answers, not restarted" 0 \
  k1 exec theater-all -- curl -fsS http://localhost:8081/healthz
expect "restartCount still 1" '[ "$(k1 get pod theater-all -o jsonpath="{.status.containerStatuses[0].restartCount}")" = 1 ]'

kubectl --context ctx2 run missing --image docker.io/library/redis:7.4-alpine --restart Never >/dev/null
poll 60 eval '[[ $(kubectl --context ctx2 get pod missing -o jsonpath="{.status.containerStatuses[0].state.waiting.message}") == *redis:7.4-alpine* ]]'
run "a pull of an image the lab's registry lacks fails, naming the image" 0 \
  kubectl --context ctx2 get pod missing -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}: {.status.containerStatuses[0].state.waiting.message}'
expect "ErrImagePull or ImagePullBackOff, not found in the lab registry" '[[ $out == *Err* || $out == *BackOff* ]] && [[ $out == *redis:7.4-alpine* ]]'


# ---- The app as the guide deploys it: build-images.sh, update-deployment-images.sh,
# deploy.sh; Redis from the lab's Debian-built image (the lab pulls nothing else).
k1 delete pod theater-all --wait=false >/dev/null
k1 delete service theater >/dev/null
state_of() { json_value "$labdir/nodes.json" "$1"; }
redis_image=$(state_of 's["images"]["redis"]')
expect "the lab's Redis image carries Debian's name, not redis:7.4-alpine" \
  '[[ $redis_image == harbor.localhost:8000/theater-lab/redis:debian-7.* ]]' "$redis_image"
cp -a manifests/guide "$work/guide.before"
run "scripts/update-deployment-images.sh localhost:8000 points the manifests at the pushed tag" 0 \
  scripts/update-deployment-images.sh localhost:8000 --tag "$tag"
restore_manifests=1
expect "update-deployment-images.sh rendered the guide's folders with the pushed tag" \
  '[ "$(cat manifests/guide/ctx1/*.yaml manifests/guide/ctx2/*.yaml | grep -c "image: $image$")" = 7 ]'
run "scripts/deploy.sh --domain localhost --redis-image (checks pass, both clusters applied)" 0 \
  env CTX1=ctx1 CTX2=ctx2 scripts/deploy.sh --domain localhost --redis-image "$redis_image"

# ---- The guide's section 3, verbatim, in its folders (manifests/guide/ctx1, ctx2): every
# `kubectl apply` must leave what deploy.sh made as it is ("unchanged"). The folders were
# rendered by update-deployment-images.sh above with the pushed image and theater.localhost
# (its DOMAIN's port dropped, the host deploy.sh got); the lab's Redis image is the one
# thing the guide's class does not need, so it is rendered in here as deploy.sh got it.
# use-context changes the lab's kubeconfig ($KUBECONFIG), never the host's.
run "scripts/guide-files.sh --domain localhost --redis-image (the lab's Redis, as deploy.sh had it)" 0 \
  scripts/guide-files.sh --domain localhost --redis-image "$redis_image"
context_before=$(kubectl config current-context)
kubeconfig_sum() { { md5sum <~/.kube/config; } 2>/dev/null || echo "no ~/.kube/config"; }
host_kubeconfig=$(kubeconfig_sum)
host_kubeconfig_kept() { [ "$KUBECONFIG" = "$labdir/kubeconfig" ] && [ "$(kubeconfig_sum)" = "$host_kubeconfig" ]; }
# Every line of $out but use-context's says "unchanged", one per object of the folder.
all_unchanged() { # folder
  local objects
  objects=$(cat "manifests/guide/$1"/*.yaml | grep -c '^kind: ' ) || return 1
  objects=$((objects - 1)) # the kustomization.yaml
  [ "$(grep -cv '^Switched to context' <<<"$out")" = "$objects" ] &&
    [ "$(grep -c ' unchanged$' <<<"$out")" = "$objects" ]
}
run "guide step 1 (ctx1), verbatim in manifests/guide/ctx1" 0 bash -ec 'cd manifests/guide/ctx1
kubectl config use-context ctx1
kubectl apply -f namespace.yaml
kubectl apply -f rbac.yaml
kubectl apply -f ui-configmap.yaml
kubectl apply -f redis.yaml
kubectl apply -f user-service-multicloud.yaml
kubectl apply -f movie-service-multicloud.yaml
kubectl apply -f booking-service-multicloud.yaml
kubectl apply -f api-gateway.yaml
kubectl apply -f istio-destinationrules.yaml
kubectl apply -f istio-virtualservices.yaml
kubectl apply -f istio-virtualservice.yaml'
expect "step 1: every object of ctx1 unchanged (deploy.sh made them all)" 'all_unchanged ctx1'
expect "step 1: use-context switched the lab's kubeconfig to ctx1" \
  '[ "$(kubectl config current-context)" = ctx1 ] && [[ $out == "Switched to context \"ctx1\"."* ]]'
run "guide step 2 (ctx2), verbatim in manifests/guide/ctx2" 0 bash -ec 'cd manifests/guide/ctx2
kubectl config use-context ctx2
kubectl apply -f namespace.yaml
kubectl apply -f redis.yaml
kubectl apply -f user-service-multicloud.yaml
kubectl apply -f movie-service-multicloud.yaml
kubectl apply -f booking-service-multicloud.yaml
kubectl apply -f istio-destinationrules.yaml
kubectl apply -f istio-virtualservices.yaml'
expect "step 2: every object of ctx2 unchanged" 'all_unchanged ctx2'
expect "step 2: ctx2's redis.yaml is the Service (and its ServiceAccount), no Deployment" \
  '[ "$(grep redis <<<"$out")" = "serviceaccount/redis unchanged
service/redis unchanged" ] && [ -z "$(kubectl --context ctx2 -n theater-msa get deployment redis --ignore-not-found -o name)" ]'
for ctx in ctx1 ctx2; do
  run "guide step 3 ($ctx): kubectl config use-context $ctx; kubectl apply -k . in manifests/guide/$ctx" 0 \
    bash -ec 'cd "manifests/guide/$1"; kubectl config use-context "$1"; kubectl apply -k .' _ "$ctx"
  expect "step 3 ($ctx): every object unchanged" "all_unchanged $ctx"
done
expect "the host's ~/.kube/config was not touched (KUBECONFIG is the lab's)" \
  'host_kubeconfig_kept'
kubectl config use-context "$context_before" >/dev/null
scripts/update-deployment-images.sh --restore >/dev/null && restore_manifests=0
expect "--restore puts the guide's folders back as they were, no backup left" \
  'diff -r "$work/guide.before" manifests/guide' "$(diff -r "$work/guide.before" manifests/guide 2>&1)"
rolled=0
for ctx in ctx1 ctx2; do
  for deployment in $(kubectl --context "$ctx" -n theater-msa get deployments -o name); do
    kubectl --context "$ctx" -n theater-msa rollout status "$deployment" --timeout 180s >/dev/null || rolled=1
  done
done
run "every Deployment of both clusters rolls out on the real nodes" 0 test "$rolled" -eq 0
for ctx in ctx1 ctx2; do
  run "kubectl get pods -n theater-msa -o wide --show-labels ($ctx)" 0 \
    kubectl --context "$ctx" get pods -n theater-msa -o wide --show-labels
  expect "every Pod of $ctx is 2/2 Running (app and sidecar) on $ctx-node, labelled cluster=$ctx" \
    'awk -v node="$ctx-node" -v label="cluster=$ctx" "NR > 1 && !(\$2 == \"2/2\" && \$3 == \"Running\" && \$7 == node && index(\$10, label)) {bad = 1} END {exit bad || NR < 4}" <<<"$out"'
done
# The app's own container of each Pod (the injected istio-proxy is another).
app_containers='{range .items[*]}{range .spec.containers[?(@.name!="istio-proxy")]}{.image}{"\n"}{end}{end}'
run "the app's Pods run the pushed image, Redis the lab's" 0 \
  kubectl --context ctx1 get pods -n theater-msa -o jsonpath="$app_containers"
expect "four Pods of $image and one of $redis_image" \
  '[ "$(grep -cx "$image" <<<"$out")" = 4 ] && [ "$(grep -cx "$redis_image" <<<"$out")" = 1 ]'

run "kubectl logs -n theater-msa -l app=user-service --tail=50" 0 \
  kubectl --context ctx1 logs -n theater-msa -l app=user-service --tail=50
expect "JSON log lines of the user role" '[[ $out == *"\"role\":\"user\""* || $out == *user-service* ]]'
run "kubectl exec deployment/user-service -- curl http://movie-service.theater-msa.svc.cluster.local:8082/" 0 \
  kubectl --context ctx1 exec -n theater-msa deployment/user-service -- curl -sS http://movie-service.theater-msa.svc.cluster.local:8082/
expect "movie-service answers by its cluster name (its own description)" '[[ $out == *"\"service\":\"movie-service\""* ]]'
pod=$(kubectl --context ctx1 get pods -n theater-msa -l app=user-service -o jsonpath='{.items[0].metadata.name}')
# Redis answers no HTTP, so the guide's connection test cannot succeed; what it prints
# depends on the image's wget (Debian's busybox 1.35 crashes on a reply that is not HTTP).
run "the guide's kubectl exec -it $pod -- wget -qO- http://redis:6379 runs" 0 \
  bash -c 'kubectl --context ctx1 exec -it "$1" -n theater-msa -- wget -qO- http://redis:6379; echo "exit $?"' _ "$pod"
echo "     (it printed: $(tr '\n' ' ' <<<"$out"))"
expect "it fails, as wget of a server that is not HTTP does" '[[ $out == *"exit "[1-9]* ]]'
run "curl shows the connection reaching Redis, which closes it on an HTTP request" 0 \
  bash -c 'kubectl --context ctx1 exec "$1" -n theater-msa -- curl -sS --max-time 5 http://redis:6379; echo "exit $?"' _ "$pod"
expect "curl: (52) Empty reply from server (not 6, no such name, or 7, refused)" '[[ $out == *"(52) Empty reply from server"* ]]'
run "ctx2's booking-service reaches ctx1's Redis through the east-west gateways (its readiness)" 0 \
  kubectl --context ctx2 exec -n theater-msa deployment/booking-service -- curl -fsS http://localhost:8083/readyz

port=$(free_port)
kubectl --context ctx1 port-forward svc/api-gateway "$port:8080" -n theater-msa >"$work/pf.log" 2>&1 &
forward_pid=$!
poll 20 eval 'curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null'
run "kubectl port-forward svc/api-gateway, then the page" 0 curl -fsS "http://127.0.0.1:$port/"
expect "the page's HTML" '[[ $out == *"<html"* ]]'
run "a booking through the gateway" 0 curl -fsS "http://127.0.0.1:$port/bookings/" \
  -H 'content-type: application/json' -d '{"userId":"1","movieId":"3","seats":2}'
booking=$(grep -o '"id":"[^"]*"' <<<"$out" | head -1 | cut -d'"' -f4)
expect "it has an id" '[ -n "$booking" ]'

# metrics-server lists a Pod only after two scrapes of it, so a Pod started a moment
# ago is missing for a while: wait until every Pod of the namespace is listed.
poll 120 eval '[ "$(kubectl --context ctx1 top pods -n theater-msa --no-headers | wc -l)" -ge \
  "$(kubectl --context ctx1 get pods -n theater-msa --no-headers | wc -l)" ]'
run "kubectl top pods -n theater-msa (metrics-server, once it has scraped every Pod)" 0 \
  kubectl --context ctx1 top pods -n theater-msa
expect "CPU and memory of the app's Pods" \
  '[[ $out == *"MEMORY"* ]] && [ "$(grep -E " [0-9]+Mi *$" <<<"$out" | grep -Eo "^(api-gateway|user-service|movie-service|booking-service|redis)-" | sort -u | wc -l)" -eq 5 ]'
run "kubectl get pods -n theater-msa -w, bounded (timeout 5)" 124 \
  timeout 5 kubectl --context ctx1 get pods -n theater-msa -w
expect "the watch lists the Pods" '[[ $out == *user-service* ]]'

# ---- Istio as the guide checks it: istiod, sidecars, the east-west gateways.
tools=$(state_of 's["tools"]')
for ctx in ctx1 ctx2; do
  run "istio-system of $ctx: istiod and the east-west gateway Running" 0 \
    kubectl --context "$ctx" get pods -n istio-system --no-headers
  expect "istiod 1/1 Running, istio-eastwestgateway 1/1 Running" \
    'grep -Eq "^istiod-.* 1/1 +Running" <<<"$out" && grep -Eq "^istio-eastwestgateway-.* 1/1 +Running" <<<"$out"'
done
expect "ctx1 also runs the ingress gateway cp-gateway selects" \
  'kubectl --context ctx1 get pods -n istio-system -l istio=ingressgateway --no-headers | grep -q " 1/1 *Running"' \
  "$(kubectl --context ctx1 get pods -n istio-system 2>&1)"
run "the guide's sidecar check (kubectl get pods -o jsonpath=…{.spec.containers[*].name}…)" 0 \
  kubectl --context ctx1 get pods -n theater-msa -o jsonpath='{range .items[*]}{.metadata.name}{"\t"}{.spec.containers[*].name}{"\n"}{end}'
expect "every Pod lists istio-proxy" 'awk "!/istio-proxy/ {bad = 1} END {exit bad || NR < 5}" <<<"$out"'
run "kubectl get svc istio-eastwestgateway -n istio-system (ctx2)" 0 \
  kubectl --context ctx2 get svc istio-eastwestgateway -n istio-system --no-headers
expect "a LoadBalancer at ctx2's node address, port 15443" '[[ $out == *LoadBalancer*172.30.0.2*15443* ]]'
run "the guide's pilot-agent request GET stats/prometheus | grep envoy_cluster" 0 \
  bash -c 'kubectl --context ctx1 exec -n theater-msa deployment/user-service -c istio-proxy -- pilot-agent request GET stats/prometheus | grep envoy_cluster'
expect "Envoy's per-cluster counters" 'grep -q "^envoy_cluster_upstream_cx_total{" <<<"$out"'
istioctl_() { "$tools/istioctl" "$@" 2>&1 | grep -v GOMEMLIMIT; }
run "istioctl proxy-config cluster deployment/user-service.theater-msa" 0 \
  istioctl_ --context ctx1 proxy-config cluster deployment/user-service.theater-msa
expect "the DestinationRule's subsets ctx1 and ctx2 as outbound clusters" \
  'grep -Eq "^user-service.theater-msa.svc.cluster.local +8081 +ctx2 +outbound +EDS +user-service-dr" <<<"$out"'
run "istioctl proxy-config endpoints deployment/user-service.theater-msa" 0 \
  istioctl_ --context ctx1 proxy-config endpoints deployment/user-service.theater-msa
expect "ctx2's user-service through ctx2's east-west gateway (172.30.0.2:15443), ctx1's at a Pod IP" \
  'grep -Eq "^172\.30\.0\.2:15443 +HEALTHY .*outbound\|8081\|ctx2\|user-service" <<<"$out" &&
   grep -Eq "^10\.244\.0\.[0-9]+:8081 +HEALTHY .*outbound\|8081\|ctx1\|user-service" <<<"$out"'
run "istioctl proxy-config route deployment/user-service.theater-msa" 0 \
  istioctl_ --context ctx1 proxy-config route deployment/user-service.theater-msa
expect "the VirtualServices in force" '[[ $out == *user-service-vs.theater-msa* && $out == *booking-service-vs.theater-msa* ]]'
run "istioctl proxy-config listeners deployment/user-service.theater-msa --port 8081" 0 \
  istioctl_ --context ctx1 proxy-config listeners deployment/user-service.theater-msa --port 8081
expect "an HTTP listener routed by route 8081" '[[ $out == *"Route: 8081"* ]]'
# From the host the remote secrets' addresses (the nodes' on the link between them)
# are not reachable: the other cluster is named as a context instead.
run "istioctl analyze --context ctx1 --remote-contexts ctx2 -n theater-msa (live)" 0 \
  istioctl_ analyze --context ctx1 --remote-contexts ctx2 -n theater-msa
expect "no validation issues" '[[ $out == *"No validation issues found"* ]]'
run "istioctl analyze --context ctx2 --remote-contexts ctx1 -n theater-msa (live)" 0 \
  istioctl_ analyze --context ctx2 --remote-contexts ctx1 -n theater-msa
expect "no validation issues" '[[ $out == *"No validation issues found"* ]]'

# Upstream Envoy lacks Istio's own filters; istiod runs with them off. Every proxy
# must have accepted every listener and cluster update istiod sent.
rejections() { # ctx namespace pod: "lds-rejected cds-rejected lds-accepted"
  kubectl --context "$1" exec -n "$2" "$3" -c istio-proxy -- pilot-agent request GET stats 2>/dev/null |
    awk -F': ' '/^listener_manager.lds.update_rejected/ {l = $2} /^cluster_manager.cds.update_rejected/ {c = $2}
      /^listener_manager.lds.update_success/ {s = $2} END {print l + 0, c + 0, s + 0}'
}
proxies=0 refused=""
for ctx in ctx1 ctx2; do
  while read -r namespace pod; do
    [ -n "$pod" ] || continue
    read -r lds cds accepted <<<"$(rejections "$ctx" "$namespace" "$pod")"
    proxies=$((proxies + 1))
    [ "$lds$cds" = 00 ] && [ "$accepted" -gt 0 ] || refused+=" $ctx/$pod(lds $lds rejected, cds $cds rejected, lds $accepted accepted)"
  done < <(kubectl --context "$ctx" get pods -A -l security.istio.io/tlsMode=istio -o jsonpath='{range .items[*]}{.metadata.namespace} {.metadata.name}{"\n"}{end}';
           kubectl --context "$ctx" get pods -n istio-system -l 'istio in (ingressgateway,eastwestgateway)' -o jsonpath='{range .items[*]}{.metadata.namespace} {.metadata.name}{"\n"}{end}')
done
run "every proxy of both clusters ($proxies: sidecars and gateways) accepted every listener and cluster update" 0 test -z "$refused"
expect "no update_rejected anywhere" '[ -z "$refused" ] && [ "$proxies" -ge 11 ]' "refused:$refused; proxies: $proxies"
for ctx in ctx1 ctx2; do
  run "istiod of $ctx logged no ACK ERROR" 1 \
    bash -c 'kubectl --context "$1" logs -n istio-system deployment/istiod --tail=-1 | grep "ACK ERROR"' _ "$ctx"
done

# The guide's requests through cp-gateway, split by the VirtualServices: user 70/30.
ingress=$(state_of 's["ports"]["ingress"]')
for _ in $(seq 400); do
  curl -s --max-time 5 "http://theater.localhost:$ingress/users/" | grep -o '"cluster":"ctx[12]"' | head -1
done >"$work/split"
ctx1_count=$(grep -c ctx1 "$work/split")
ctx2_count=$(grep -c ctx2 "$work/split")
echo "     (user-service through cp-gateway: ctx1 $ctx1_count, ctx2 $ctx2_count of 400)"
# 70% of 400 is 280, one standard deviation 9.2: ±32 is 3.5 of them (one false alarm in 2,000 runs).
run "curl http://theater.localhost:$ingress/users/ ×400: the 70/30 split, played by Istio" 0 \
  test "$((ctx1_count + ctx2_count))" -eq 400 -a "$ctx1_count" -ge 248 -a "$ctx1_count" -le 312
for _ in $(seq 20); do
  curl -s --max-time 5 -H 'x-canary: true' "http://theater.localhost:$ingress/users/" | grep -o '"cluster":"ctx[12]"' | head -1
done >"$work/canary"
run "x-canary: true ×20: every answer from ctx2, across the east-west gateways" 0 \
  test "$(grep -c ctx2 "$work/canary")" -eq 20
run "scripts/verify.sh --url http://theater.localhost:$ingress: every check passes" 0 \
  env CTX1=ctx1 CTX2=ctx2 scripts/verify.sh --url "http://theater.localhost:$ingress"
expect "sidecars checked in both clusters" '[[ $out == *"have the istio-proxy sidecar in ctx1"* && $out == *"have the istio-proxy sidecar in ctx2"* ]]'

# mtls-authz enforced by the sidecars: STRICT mTLS and deny by default.
run "scripts/scenario.sh mtls-authz (PeerAuthentication STRICT, AuthorizationPolicies)" 0 \
  env CTX1=ctx1 CTX2=ctx2 scripts/scenario.sh mtls-authz
poll 30 eval 'kubectl --context ctx1 exec -n theater-msa deployment/api-gateway -- curl -fsS -o /dev/null --max-time 5 http://user-service:8081/users/ 2>/dev/null'
run "the app keeps working: a booking through cp-gateway" 0 curl -fsS --max-time 10 "http://theater.localhost:$ingress/bookings/" \
  -H 'content-type: application/json' -d '{"userId":"2","movieId":"1","seats":1}'
k1 run nosidecar --image "$image" --restart Never --annotations sidecar.istio.io/inject=false --command -- sleep 300 >/dev/null
k1 create serviceaccount stranger >/dev/null
k1 run stranger --image "$image" --restart Never --overrides '{"spec":{"serviceAccountName":"stranger"}}' --command -- sleep 300 >/dev/null
k1 wait --for condition=Ready pod/nosidecar pod/stranger --timeout 120s >/dev/null
run "a Pod without a sidecar (plaintext to a STRICT workload) is refused" 56 \
  k1 exec nosidecar -- curl -sS --max-time 5 http://user-service:8081/users/
expect "curl: (56) Connection reset by peer" '[[ $out == *"Connection reset by peer"* ]]'
run "a Pod of another ServiceAccount, with its sidecar, is refused by the AuthorizationPolicy" 0 \
  k1 exec stranger -c stranger -- curl -sS --max-time 5 -w " %{http_code}" http://user-service:8081/users/
expect "RBAC: access denied 403" '[ "$out" = "RBAC: access denied 403" ]'
k1 delete pod nosidecar stranger --wait=false >/dev/null
run "scripts/scenario.sh reset" 0 env CTX1=ctx1 CTX2=ctx2 scripts/scenario.sh reset

# Faults on real Pods, as on a real cluster.
app_status='{.status.containerStatuses[?(@.name!="istio-proxy")]'
container_pid() { # ctx pod: the host pid of the Pod's app container
  local id
  id=$(kubectl --context "$1" get pod "$2" -n theater-msa -o jsonpath="$app_status.containerID}")
  "$tools/ctr" --address "$labdir/$1/containerd/containerd.sock" -n k8s.io task ls | awk -v id="${id#containerd://}" '$1 == id {print $2}'
}
restarts() { kubectl --context "$1" get pod "$2" -n theater-msa -o jsonpath="$app_status.restartCount}"; }
redis_pod=$(kubectl --context ctx1 get pods -n theater-msa -l app=redis -o jsonpath='{.items[0].metadata.name}')
kill -KILL "$(container_pid ctx1 "$redis_pod")"
poll 60 eval '[ "$(restarts ctx1 "$redis_pod")" = 1 ]'
run "a killed Redis is restarted by the kubelet and Ready again" 0 \
  kubectl --context ctx1 wait --for condition=Ready "pod/$redis_pod" -n theater-msa --timeout 60s
run "the acknowledged booking survives it (AOF on the Pod's volume)" 0 \
  bash -c 'for _ in $(seq 20); do curl -fsS "$1" && exit 0; sleep 1; done; exit 1' _ "http://127.0.0.1:$port/bookings/$booking"
expect "the same booking" '[[ $out == *"\"id\":\"$booking\""* ]]'
stop_pids "$forward_pid"

movie_pod=$(kubectl --context ctx1 get pods -n theater-msa -l app=movie-service -o jsonpath='{.items[0].metadata.name}')
# A stopped process answers no probe: the kubelet's liveness probe fails three times
# (10 s apart) and the kubelet kills and starts the container again.
kill -STOP "$(container_pid ctx1 "$movie_pod")"
poll 90 eval '[ "$(restarts ctx1 "$movie_pod")" = 1 ]'
run "a failing liveness probe: the kubelet restarts the container, Ready again" 0 \
  kubectl --context ctx1 wait --for condition=Ready "pod/$movie_pod" -n theater-msa --timeout 60s
run "the kubelet's event names the liveness probe" 0 \
  kubectl --context ctx1 get events -n theater-msa --field-selector "involvedObject.name=$movie_pod,reason=Unhealthy" -o jsonpath='{.items[*].message}'
expect "Liveness probe failed" '[[ $out == *"Liveness probe failed"* ]]'

booking_pod=$(kubectl --context ctx1 get pods -n theater-msa -l app=booking-service -o jsonpath='{.items[0].metadata.name}')
kubectl --context ctx1 delete pod "$booking_pod" -n theater-msa --wait=false >/dev/null
run "a deleted Pod is replaced by its ReplicaSet" 0 \
  kubectl --context ctx1 rollout status deployment/booking-service -n theater-msa --timeout 90s
run "the deleted Pod is gone once its preStop and shutdown end" 0 \
  kubectl --context ctx1 wait --for=delete "pod/$booking_pod" -n theater-msa --timeout 90s
expect "a Pod of another name serves" \
  '[ -n "$(kubectl --context ctx1 get pods -n theater-msa -l app=booking-service -o name | grep -v "$booking_pod")" ]'

k2() { kubectl --context ctx2 -n theater-msa "$@"; }
run "kubectl scale deployment/user-service --replicas=3 (ctx2)" 0 k2 scale deployment/user-service --replicas=3
run "three real user-service Pods roll out" 0 k2 rollout status deployment/user-service --timeout 120s
expect "three Running Pods" '[ "$(k2 get pods -l app=user-service --field-selector status.phase=Running -o name | wc -l)" = 3 ]'
tag2=$tag-b
image2=harbor.localhost:8000/theater-msa/theater:$tag2
run "build-images.sh pushes a second tag" 0 \
  env THEATER_IMAGE_BINARY="$binary" THEATER_PUSH_TO="127.0.0.1:$registry" scripts/build-images.sh localhost:8000 --tag "$tag2"
run "kubectl set image deployment/user-service user-service=$image2" 0 \
  k2 set image deployment/user-service "user-service=$image2"
run "kubectl rollout status deployment/user-service" 0 k2 rollout status deployment/user-service --timeout 180s
running_images() { k2 get pods -l app=user-service --field-selector status.phase=Running -o jsonpath="$app_containers"; }
expect "all three Pods run the new tag" '[ "$(running_images | grep -cx "$image2")" = 3 ]' "$(running_images)"

run "nodes status: every daemon running, both nodes Ready" 0 nodes status

started=$SECONDS
run "nodes down" 0 nodes down
echo "     (down took $((SECONDS - started)) s)"
host_view >"$work/host.after"
run "the host's links, addresses, routes, rules and iptables are as before up" 0 diff "$work/host.before" "$work/host.after"
run "no network namespace of the lab is left" 1 bash -c 'ip netns list | grep -E "^theater-ctx[12]"'
run "no process of the lab is left (its folder on a command line)" 1 pgrep -af -- "$labdir"
run "no mount of the lab is left" 1 grep -F -- "$labdir" /proc/self/mounts
run "no cgroup of the lab is left" 0 bash -c '! ls -d /sys/fs/cgroup/*/theater-lab-ctx* 2>/dev/null'

# ^C during up: a real SIGINT once both control planes answer (a shell's background
# job starts with SIGINT ignored, so the default is put back before exec).
python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
  env PYTHONPATH=lab python3 -m theater_lab nodes up --dir "$labdir" >"$work/interrupted.log" 2>&1 &
up_pid=$!
poll 120 eval 'grep -q "control planes ready" "$work/interrupted.log"'
kill -INT "$up_pid"
poll 60 eval '! kill -0 "$up_pid" 2>/dev/null'
wait "$up_pid"
run "^C during up: it stops what it started (exit 130)" 0 test "$?" -eq 130
expect "and says so" 'grep -q "up failed; stopping what it started" "$work/interrupted.log"' "$(cat "$work/interrupted.log")"
run "after ^C no process of the lab is left" 1 pgrep -af -- "$labdir"
run "after ^C no network namespace, mount or cgroup of the lab is left" 0 bash -c '
  ! ip netns list | grep -E "^theater-ctx[12]" && ! grep -F -- "$1" /proc/self/mounts &&
  ! ls -d /sys/fs/cgroup/*/theater-lab-ctx* 2>/dev/null' _ "$labdir"
host_view >"$work/host.interrupted"
run "after ^C the host's namespace is as before" 0 diff "$work/host.before" "$work/host.interrupted"


echo "nodes: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
