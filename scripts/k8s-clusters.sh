#!/usr/bin/env bash
# Two real Kubernetes control planes (ctx1, ctx2) on 127.0.0.1, with the world the
# walkthrough presumes: a labelled Ready node each, Istio's CRDs, istio-system and
# the cp-gateway Gateway. The binaries come from scripts/k8s-tools.sh.
set -euo pipefail
shopt -s inherit_errexit

usage() {
  cat <<'TXT'
Usage: scripts/k8s-clusters.sh COMMAND [--dir DIR] [--timeout SECONDS]

  up        start both control planes and create their world; prints the
            `export KUBECONFIG=...` line on stdout (progress goes to stderr).
            Does nothing if both already answer; starts afresh if they are
            partly up or stopped.
  down      stop every process `up` started from DIR (TERM, then KILL after 10 s);
            the files stay for post-mortems (--purge deletes them)
  status    each process (pid, port, RSS) and each API server's /readyz;
            exits 1 unless both clusters are up
  env       print the `export KUBECONFIG=...` line
  -h, --help

  --dir DIR        state folder (default $THEATER_K8S_DIR, else ${TMPDIR:-/tmp}/theater-k8s):
                   certificates, etcd data, kubeconfigs, logs/, pids
  --timeout SECS   how long up waits for each step (default 120)
  --cluster CTX    only this cluster (ctx1 or ctx2); the kubeconfig has its context only
  --node-ip IP     real nodes (the mesh lab runs this inside the cluster's network
                   namespace): the API server listens on every address of that
                   namespace and advertises IP (so Service kubernetes has endpoints),
                   node lifecycle and TaintNodesByCondition stay on, no Node is
                   written (the kubelet registers its own), and pki/ gains the
                   certificates a kubelet and the API server's kubelet client need

Per cluster, all on 127.0.0.1 with free ports:
  etcd                     plain http on loopback, no fsync (throwaway data)
  kube-apiserver           TLS with our own CA (openssl), client certificates,
                           --authorization-mode=Node,RBAC, service-account tokens
                           signed by a per-cluster key (kubectl create token works)
  kube-controller-manager  every default controller except the node lifecycle one,
                           per-controller service-account credentials, no leader election
  kube-scheduler           no leader election
The kubeconfig has contexts ctx1 and ctx2 (clusters ctx1/ctx2, users ctx1-admin and
ctx2-admin: client certificates in group system:masters).

The world, in each cluster: a Node <ctx>-node labelled cluster-name=<ctx> and
topology.kubernetes.io/region=region1|2, zone=zone1|2, podCIDR 10.244|245.0.0/16, whose status (Ready, 8 CPUs,
16Gi, 110 pods) is written through the status subresource; Istio's CRDs from
`istioctl manifest generate`, Established; the istio-system namespace. In ctx1 also
the Gateway istio-system/cp-gateway (selector istio=ingressgateway, port 80 http, "*").

There is no kubelet and no container runtime: the scheduler binds pods to the node
(spec.nodeName is set) but they never run and stay Pending (with --node-ip the mesh
lab's real nodes run them). Istio itself (istiod, sidecars, gateways) is not running
either: only its API types exist.
TXT
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

CLUSTERS=(ctx1 ctx2)
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler)
MARKER=.theater-k8s-clusters

# One row per cluster: its node's region and zone and its Service IP range.
region_of() { case $1 in ctx1) echo region1 ;; ctx2) echo region2 ;; esac }
zone_of() { case $1 in ctx1) echo zone1 ;; ctx2) echo zone2 ;; esac }
service_range_of() { case $1 in ctx1) echo 10.96.0.0/16 ;; ctx2) echo 10.97.0.0/16 ;; esac }
service_ip_of() { case $1 in ctx1) echo 10.96.0.1 ;; ctx2) echo 10.97.0.1 ;; esac }
# The node's Pod range.
pod_range_of() { case $1 in ctx1) echo 10.244.0.0/16 ;; ctx2) echo 10.245.0.0/16 ;; esac }

log() { echo "k8s-clusters: $*" >&2; }

# A free 127.0.0.1 port between 26000 and the start of the ephemeral range (the lab's
# tests use fixed ports in the 24000s).
free_listen_port() {
  python3 -c 'import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    port = random.randrange(26000, max(low, 26001))
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    raise SystemExit("no free port below the ephemeral range")'
}

env_line() { echo "export KUBECONFIG=$dir/kubeconfig"; }

# --- certificates -------------------------------------------------------------

# Makes a self-signed CA: $1 cluster, $2 file stem, $3 common name.
make_ca() {
  local pki=$dir/$1/pki stem=$2
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$stem.key" 2>/dev/null
  openssl req -x509 -new -key "$pki/$stem.key" -subj "/CN=$3" -days 365 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$pki/$stem.crt" 2>/dev/null
}

# Signs a certificate: $1 cluster, $2 CA file stem, $3 file stem, $4 subject,
# $5 extendedKeyUsage, $6 subjectAltName (optional).
sign() {
  local pki=$dir/$1/pki ca=$2 stem=$3 subject=$4 usage=$5 san=${6:-} ext
  ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=$usage"
  [ -z "$san" ] || ext+=$'\n'"subjectAltName=$san"
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$stem.key" 2>/dev/null
  openssl req -new -key "$pki/$stem.key" -subj "$subject" 2>/dev/null |
    openssl x509 -req -CA "$pki/$ca.crt" -CAkey "$pki/$ca.key" -CAcreateserial -days 365 \
      -extfile <(printf '%s\n' "$ext") -out "$pki/$stem.crt" 2>/dev/null
}

make_pki() {
  local ctx=$1 pki=$dir/$1/pki
  mkdir -p "$pki"
  make_ca "$ctx" ca "theater-$ctx-ca"
  sign "$ctx" ca apiserver "/CN=kube-apiserver" serverAuth \
    "IP:127.0.0.1,IP:$(service_ip_of "$ctx")${node_ip:+,IP:$node_ip},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sign "$ctx" ca admin "/O=system:masters/CN=$ctx-admin" clientAuth
  sign "$ctx" ca kube-controller-manager "/CN=system:kube-controller-manager" clientAuth
  sign "$ctx" ca kube-scheduler "/CN=system:kube-scheduler" clientAuth
  if [ -n "$node_ip" ]; then
    # The kubelet's identity for the Node authorizer, kube-proxy's, and the API
    # server's client for the kubelet API (logs, exec, port-forward).
    sign "$ctx" ca kubelet "/O=system:nodes/CN=system:node:$ctx-node" clientAuth
    sign "$ctx" ca kube-proxy "/CN=system:kube-proxy" clientAuth
    sign "$ctx" ca apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
  fi
  # The aggregation layer's front proxy, as kubeadm sets it up: without its CA in
  # kube-system/extension-apiserver-authentication, the controller manager and the
  # scheduler log an error about it every few seconds.
  make_ca "$ctx" front-proxy-ca "theater-$ctx-front-proxy-ca"
  sign "$ctx" front-proxy-ca front-proxy-client "/CN=front-proxy-client" clientAuth
  # Service-account tokens: the API server signs with sa.key and verifies with sa.pub.
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
}

# --- kubeconfigs ----------------------------------------------------------------

kubeconfig_entries() {
  local ctx=$1 user=$2 stem=$3 pki=$dir/$1/pki
  cat <<YAML
clusters:
- name: $ctx
  cluster:
    server: https://127.0.0.1:$(port "$ctx" kube-apiserver)
    certificate-authority: $pki/ca.crt
users:
- name: $user
  user:
    client-certificate: $pki/$stem.crt
    client-key: $pki/$stem.key
contexts:
- name: $ctx
  context:
    cluster: $ctx
    user: $user
YAML
}

# A kubeconfig for one component of one cluster.
write_component_kubeconfig() {
  local ctx=$1 component=$2
  {
    echo "apiVersion: v1"
    echo "kind: Config"
    echo "current-context: $ctx"
    kubeconfig_entries "$ctx" "$component" "$component"
  } >"$dir/$ctx/$component.kubeconfig"
}

# The admin kubeconfig with both contexts.
write_kubeconfig() {
  local ctx section
  {
    echo "apiVersion: v1"
    echo "kind: Config"
    echo "current-context: ${CLUSTERS[0]}"
    for section in clusters users contexts; do
      echo "$section:"
      for ctx in "${CLUSTERS[@]}"; do
        kubeconfig_entries "$ctx" "$ctx-admin" admin |
          awk -v s="$section:" '/^[a-z]+:$/ { on = ($0 == s); next } on'
      done
    done
  } >"$dir/kubeconfig"
  chmod 600 "$dir/kubeconfig"
}

# --- processes ------------------------------------------------------------------

port() { cat "$dir/$1/$2.port"; }
pid_of() { cat "$dir/$1/$2.pid" 2>/dev/null || true; }
logfile() { echo "$dir/$1/logs/$2.log"; }

# True when PID is alive and was started from this state folder (its command line
# names the folder), so a recycled pid is never taken for ours.
ours() {
  local pid=$1 args
  [ -n "$pid" ] && args=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") && [[ $args == *"$dir/"* ]]
}

# The pids of the live processes running COMPONENT (default: any of ours) with this
# state folder on their command line, found even if their pid files are gone.
our_processes() {
  local names=" ${1:-${COMPONENTS[*]}} " pattern pid program _
  pattern=$(printf '%s/' "$dir" | sed 's/[][\.*^$+?(){}|]/\\&/g')
  { pgrep -af -- "$pattern" || true; } | while read -r pid program _; do
    if [[ $names == *" ${program##*/} "* ]]; then echo "$pid"; fi
  done
  return 0
}

# Starts COMPONENT of CTX in the background: stdin, stdout and stderr detached (so a
# caller's $(...) does not wait for it), in its own session (a Ctrl-C in the
# terminal that ran `up` does not reach it).
launch() {
  local ctx=$1 component=$2
  shift 2
  setsid "$bin/$component" "$@" </dev/null >"$(logfile "$ctx" "$component")" 2>&1 &
  local pid=$! binary _
  echo "$pid" >"$dir/$ctx/$component.pid"
  # Until the forked shell has exec'd the component, its command line is this
  # script's, which `ours` does not recognise: a check in that window took a starting
  # component for one that had exited (with an empty log). Wait for the exec.
  binary=$(readlink -f "$bin/$component")
  for _ in $(seq 100); do
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$binary" ] && return 0
    [ -e "/proc/$pid" ] || return 0
    sleep 0.05
  done
}

fail_with_log() {
  local ctx=$1 component=$2
  log "$component of $ctx is not ready; the end of $(logfile "$ctx" "$component"):"
  tail -n 25 "$(logfile "$ctx" "$component")" >&2 || true
  exit 1
}

# Waits until CHECK (a command) succeeds, the component dies, or the timeout passes.
wait_for() {
  local ctx=$1 component=$2 deadline=$((SECONDS + timeout))
  shift 2
  until "$@" >/dev/null 2>&1; do
    ours "$(pid_of "$ctx" "$component")" || { log "$component of $ctx exited"; fail_with_log "$ctx" "$component"; }
    [ "$SECONDS" -lt "$deadline" ] || { log "timed out after ${timeout}s"; fail_with_log "$ctx" "$component"; }
    sleep 0.2
  done
}

curl_api() {
  local ctx=$1 path=$2 pki=$dir/$1/pki
  curl -fsS --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    "https://127.0.0.1:$(port "$ctx" kube-apiserver)$path"
}
etcd_healthy() { curl -fsS --max-time 5 "http://127.0.0.1:$(port "$1" etcd)/health" | grep -q '"health":"true"'; }
apiserver_ready() { [ "$(curl_api "$1" /readyz)" = ok ]; }
# The controller manager and the scheduler serve /healthz to anyone (their default
# --authorization-always-allow-paths), over TLS with a self-signed certificate.
component_healthy() { [ "$(curl -ksS --max-time 5 "https://127.0.0.1:$(port "$1" "$2")/healthz")" = ok ]; }

start_etcd() {
  local ctx=$1
  launch "$ctx" etcd --name "$ctx" --data-dir "$dir/$ctx/etcd" \
    --listen-client-urls "http://127.0.0.1:$(port "$ctx" etcd)" \
    --advertise-client-urls "http://127.0.0.1:$(port "$ctx" etcd)" \
    --listen-peer-urls "http://127.0.0.1:$(port "$ctx" etcd-peer)" \
    --initial-advertise-peer-urls "http://127.0.0.1:$(port "$ctx" etcd-peer)" \
    --initial-cluster "$ctx=http://127.0.0.1:$(port "$ctx" etcd-peer)" \
    --initial-cluster-state new \
    --quota-backend-bytes $((512 * 1024 * 1024)) \
    --unsafe-no-fsync \
    --log-level warn
}

start_apiserver() {
  local ctx=$1 pki=$dir/$1/pki
  # Without the watch cache an API server here holds ~405 MiB instead of ~435 MiB
  # (measured with Istio's CRDs); lists and watches go to etcd, fine at this size.
  # The endpoint reconciler (which publishes the API server's address as the
  # endpoints of Service default/kubernetes) refuses a loopback address: on loopback
  # there is no reconciler, and that Service has no endpoints. With --node-ip the API
  # server is in a namespace of the lab's own and advertises the node's address.
  local addresses=(--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --endpoint-reconciler-type none)
  local plugins=(--disable-admission-plugins TaintNodesByCondition)
  if [ -n "$node_ip" ]; then
    addresses=(--bind-address 0.0.0.0 --advertise-address "$node_ip"
      --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt"
      --kubelet-client-key "$pki/apiserver-kubelet-client.key"
      --kubelet-preferred-address-types InternalIP)
    plugins=(--enable-admission-plugins NodeRestriction)
  fi
  launch "$ctx" kube-apiserver \
    --etcd-servers "http://127.0.0.1:$(port "$ctx" etcd)" \
    "${addresses[@]}" \
    --secure-port "$(port "$ctx" kube-apiserver)" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --requestheader-client-ca-file "$pki/front-proxy-ca.crt" \
    --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$pki/front-proxy-client.crt" --proxy-client-key-file "$pki/front-proxy-client.key" \
    --authorization-mode Node,RBAC \
    --service-account-issuer "https://kubernetes.default.svc.cluster.local" \
    --service-account-key-file "$pki/sa.pub" \
    --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range "$(service_range_of "$ctx")" \
    --allow-privileged \
    "${plugins[@]}" \
    --profiling=false \
    --watch-cache=false \
    --event-ttl 10m
}

start_controller_manager() {
  local ctx=$1 pki=$dir/$1/pki kubeconfig=$dir/$1/kube-controller-manager.kubeconfig
  # Without a kubelet nobody renews the node's heartbeat, so the node lifecycle
  # controller would mark it NotReady/unreachable and taint it within a minute;
  # without it the node keeps the status we wrote and the scheduler keeps binding pods
  # to it. (For the same reason the API server runs without the TaintNodesByCondition
  # admission plugin: it gives every new node a not-ready taint that only that
  # controller lifts.) Real nodes (--node-ip) keep both, as on any cluster.
  local controllers="*,-$node_lifecycle"
  [ -z "$node_ip" ] || controllers="*"
  launch "$ctx" kube-controller-manager \
    --kubeconfig "$kubeconfig" \
    --authentication-kubeconfig "$kubeconfig" --authorization-kubeconfig "$kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$(port "$ctx" kube-controller-manager)" \
    --leader-elect=false \
    --controllers "$controllers" \
    --use-service-account-credentials \
    --service-account-private-key-file "$pki/sa.key" \
    --root-ca-file "$pki/ca.crt" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --cluster-name "$ctx" \
    --profiling=false
}

start_scheduler() {
  local ctx=$1 kubeconfig=$dir/$1/kube-scheduler.kubeconfig
  launch "$ctx" kube-scheduler \
    --kubeconfig "$kubeconfig" \
    --authentication-kubeconfig "$kubeconfig" --authorization-kubeconfig "$kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$(port "$ctx" kube-scheduler)" \
    --leader-elect=false \
    --profiling=false
}

# Picks distinct free loopback ports for every listener of both clusters, below the
# kernel's ephemeral range: a port from that range can be taken, between choosing it
# and binding it, as the source port of another component's outgoing connection.
assign_ports() {
  local ctx name p taken=" "
  for ctx in "${CLUSTERS[@]}"; do
    for name in etcd etcd-peer kube-apiserver kube-controller-manager kube-scheduler; do
      p=$(free_listen_port)
      while [[ $taken == *" $p "* ]]; do p=$(free_listen_port); done
      taken+="$p "
      echo "$p" >"$dir/$ctx/$name.port"
    done
  done
}

# --- the world ------------------------------------------------------------------

k() {
  local ctx=$1
  shift
  kubectl --kubeconfig "$dir/kubeconfig" --context "$ctx" --request-timeout 30s "$@"
}

create_node() {
  local ctx=$1 node=$1-node now
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  k "$ctx" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Node
metadata:
  name: $node
  labels:
    cluster-name: $ctx
    kubernetes.io/hostname: $node
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    topology.kubernetes.io/region: $(region_of "$ctx")
    topology.kubernetes.io/zone: $(zone_of "$ctx")
spec:
  podCIDR: $(pod_range_of "$ctx")
  podCIDRs: [$(pod_range_of "$ctx")]
YAML
  # As a kubelet reports them, ephemeral storage too (every container requests some).
  local resources='{"cpu": "8", "memory": "16Gi", "ephemeral-storage": "100Gi", "pods": "110"}'
  k "$ctx" patch node "$node" --subresource=status --type=merge -p "{\"status\": {
    \"capacity\": $resources, \"allocatable\": $resources,
    \"addresses\": [{\"type\": \"Hostname\", \"address\": \"$node\"}],
    \"conditions\": [{\"type\": \"Ready\", \"status\": \"True\", \"reason\": \"FixtureReady\",
      \"message\": \"no kubelet: status written by scripts/k8s-clusters.sh\",
      \"lastHeartbeatTime\": \"$now\", \"lastTransitionTime\": \"$now\"}]}}" >/dev/null
}

# Istio's CRDs as istioctl itself renders them (the base chart of its default profile).
istio_crds() {
  "$bin/istioctl" manifest generate 2>/dev/null |
    awk 'BEGIN { doc = "\n" }
         /^---/ { if (doc ~ /\nkind: CustomResourceDefinition\n/) printf "---%s", doc; doc = "\n"; next }
         { doc = doc $0 "\n" }
         END { if (doc ~ /\nkind: CustomResourceDefinition\n/) printf "---%s", doc }'
}

cp_gateway() {
  cat <<'YAML'
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: cp-gateway
  namespace: istio-system
spec:
  selector:
    istio: ingressgateway
  servers:
    - port:
        number: 80
        name: http
        protocol: HTTP
      hosts:
        - "*"
YAML
}

default_service_account_exists() { k "$1" -n default get serviceaccount default; }
root_ca_published() { k "$1" -n default get configmap kube-root-ca.crt; }

create_world() {
  local ctx crds=$dir/istio-crds.yaml count
  istio_crds >"$crds"
  count=$(grep -c '^kind: CustomResourceDefinition' "$crds" || true)
  [ "$count" -gt 0 ] || die "istioctl manifest generate gave no CustomResourceDefinition"
  for ctx in "${CLUSTERS[@]}"; do
    [ -n "$node_ip" ] || create_node "$ctx"
    # Server-side apply: some Istio CRDs are larger than the annotation that a
    # client-side apply would store.
    k "$ctx" apply --server-side --force-conflicts -f "$crds" >/dev/null
    k "$ctx" create namespace istio-system --dry-run=client -o yaml | k "$ctx" apply -f - >/dev/null
  done
  for ctx in "${CLUSTERS[@]}"; do
    k "$ctx" wait --for condition=Established --timeout "${timeout}s" -f "$crds" >/dev/null
    if [ -n "$node_ip" ]; then
      log "$ctx: $count Istio CRDs Established; node $ctx-node is for its kubelet to register"
    else
      log "$ctx: node $ctx-node Ready, $count Istio CRDs Established"
    fi
  done
  if [ "${CLUSTERS[0]}" = ctx1 ]; then cp_gateway | k ctx1 apply -f - >/dev/null; fi
  # The controllers at work: every namespace gets a default ServiceAccount and the
  # kube-root-ca.crt ConfigMap.
  for ctx in "${CLUSTERS[@]}"; do
    wait_for "$ctx" kube-controller-manager default_service_account_exists "$ctx"
    wait_for "$ctx" kube-controller-manager root_ca_published "$ctx"
  done
}

# --- commands -------------------------------------------------------------------

all_up() {
  local ctx component
  [ -f "$dir/kubeconfig" ] || return 1
  for ctx in "${CLUSTERS[@]}"; do
    for component in "${COMPONENTS[@]}"; do
      ours "$(pid_of "$ctx" "$component")" || return 1
    done
    apiserver_ready "$ctx" || return 1
  done
}

up() {
  if all_up; then
    log "both clusters already up in $dir"
    env_line
    return 0
  fi
  if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ] && [ ! -f "$dir/$MARKER" ]; then
    die "$dir is not empty and was not made by this script; give another --dir"
  fi
  [ -z "$(our_processes)" ] || { log "stopping what is left of an earlier run"; down; }
  command -v kubectl >/dev/null || die "kubectl is not installed"
  apt_install openssl curl
  bin=$("$root/scripts/k8s-tools.sh" path)
  node_lifecycle="node-lifecycle-controller"
  grep -q -- "$node_lifecycle" <<<"$("$bin/kube-controller-manager" --help 2>&1)" ||
    die "kube-controller-manager ($bin) names no $node_lifecycle; check its --controllers help"

  local started=$SECONDS ctx
  mkdir -p "$dir"
  rm -rf "${dir:?}/kubeconfig" "$dir/istio-crds.yaml" "${CLUSTERS[@]/#/$dir/}"
  touch "$dir/$MARKER"
  for ctx in "${CLUSTERS[@]}"; do
    mkdir -p "$dir/$ctx/logs"
    make_pki "$ctx"
  done
  assign_ports
  write_kubeconfig
  for ctx in "${CLUSTERS[@]}"; do
    write_component_kubeconfig "$ctx" kube-controller-manager
    write_component_kubeconfig "$ctx" kube-scheduler
    if [ -n "$node_ip" ]; then
      write_component_kubeconfig "$ctx" kubelet
      write_component_kubeconfig "$ctx" kube-proxy
    fi
  done

  # From here on a failure stops whatever was started.
  trap 'log "up failed; stopping what it started"; down >/dev/null 2>&1 || true' EXIT
  for ctx in "${CLUSTERS[@]}"; do start_etcd "$ctx"; done
  for ctx in "${CLUSTERS[@]}"; do wait_for "$ctx" etcd etcd_healthy "$ctx"; done
  for ctx in "${CLUSTERS[@]}"; do start_apiserver "$ctx"; done
  for ctx in "${CLUSTERS[@]}"; do wait_for "$ctx" kube-apiserver apiserver_ready "$ctx"; done
  log "API servers ready after $((SECONDS - started))s"
  for ctx in "${CLUSTERS[@]}"; do
    start_controller_manager "$ctx"
    start_scheduler "$ctx"
  done
  for ctx in "${CLUSTERS[@]}"; do
    wait_for "$ctx" kube-controller-manager component_healthy "$ctx" kube-controller-manager
    wait_for "$ctx" kube-scheduler component_healthy "$ctx" kube-scheduler
  done
  create_world
  trap - EXIT
  log "up in $((SECONDS - started))s; state and logs in $dir"
  env_line
}

down() {
  local component pids stopped=0
  # Dependents first, so none of them spends its shutdown retrying a dead server:
  # the schedulers and controller managers, then the API servers, then etcd.
  for component in kube-scheduler kube-controller-manager kube-apiserver etcd; do
    read -r -a pids <<<"$(our_processes "$component" | tr '\n' ' ')"
    stopped=$((stopped + ${#pids[@]}))
    STOP_GRACE=10 stop_pids "${pids[@]}"
  done
  rm -f "$dir"/*/*.pid
  log "stopped $stopped processes from $dir"
  if [ "$purge" -eq 1 ] && [ -f "$dir/$MARKER" ]; then
    rm -rf "${dir:?}/kubeconfig" "${dir:?}/istio-crds.yaml" "${dir:?}/$MARKER" "${CLUSTERS[@]/#/$dir/}"
    rmdir "$dir" 2>/dev/null || true
    log "deleted the state in $dir"
  fi
}

status() {
  local ctx component pid healthy=1 rss state
  for ctx in "${CLUSTERS[@]}"; do
    for component in "${COMPONENTS[@]}"; do
      pid=$(pid_of "$ctx" "$component")
      if ours "$pid"; then
        rss=$(($(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status") / 1024))
        state="pid $pid, port $(port "$ctx" "$component"), RSS ${rss} MiB"
      else
        state="not running"
        healthy=0
      fi
      printf '%-5s %-24s %s\n' "$ctx" "$component" "$state"
    done
    if [ -f "$dir/$ctx/kube-apiserver.port" ] && apiserver_ready "$ctx" 2>/dev/null; then
      printf '%-5s %-24s %s\n' "$ctx" "/readyz" ok
    else
      printf '%-5s %-24s %s\n' "$ctx" "/readyz" "no answer"
      healthy=0
    fi
  done
  [ "$healthy" -eq 1 ]
}

command="" dir=${THEATER_K8S_DIR:-${TMPDIR:-/tmp}/theater-k8s} timeout=120 purge=0
bin="" node_lifecycle="" node_ip=""
while [ $# -gt 0 ]; do
  case "$1" in
    up | down | status | env)
      [ -z "$command" ] || usage_error "one command at a time"
      command=$1
      shift
      ;;
    --dir) dir=${2:?--dir needs a folder}; shift 2 ;;
    --timeout)
      timeout=${2:?--timeout needs seconds}
      [[ $timeout =~ ^[1-9][0-9]*$ ]] || usage_error "--timeout takes whole seconds, not '$timeout'"
      shift 2
      ;;
    --purge) purge=1; shift ;;
    --cluster)
      case "${2:-}" in ctx1 | ctx2) CLUSTERS=("$2") ;; *) usage_error "--cluster takes ctx1 or ctx2" ;; esac
      shift 2
      ;;
    --node-ip)
      node_ip=${2:?--node-ip needs an address}
      [[ $node_ip =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || usage_error "--node-ip takes an IPv4 address, not '$node_ip'"
      shift 2
      ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument $1" ;;
  esac
done
[ -n "$command" ] || usage_error "give a command: up, down, status or env"
[ "$purge" -eq 0 ] || [ "$command" = down ] || usage_error "--purge goes with down"
case "$dir" in /*) ;; *) dir=$PWD/$dir ;; esac
dir=${dir%/}

case "$command" in
  up) up ;;
  down) down ;;
  status) status ;;
  env) env_line ;;
esac
