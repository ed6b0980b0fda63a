#!/usr/bin/env bash
# Deploys Theater MSA to both clusters: checks every prerequisite first (with what to
# do about each), then applies ctx1 and ctx2.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/deploy.sh --domain DOMAIN [--image NAME:TAG] [--redis-image NAME:TAG] [--dry-run]

  --domain DOMAIN         the app answers at http://theater.DOMAIN (env DOMAIN)
  --image NAME:TAG        run this image instead of the one the manifests name
                          (scripts/update-deployment-images.sh changes that one)
  --redis-image NAME:TAG  Redis from this image instead of the manifests' redis:7.4-alpine
                          (a cluster that cannot pull from Docker Hub; the mesh lab's own)
  --dry-run               print the YAML each cluster would get; touch no cluster
  -h, --help              this text

Before applying it checks: kubectl contexts ctx1 and ctx2 exist (override the names
with CTX1/CTX2), each cluster has nodes labelled cluster-name=<ctx>, Istio is
installed in both, the ingress Gateway cp-gateway exists in ctx1's istio-system, and
you may get, create and patch every kind of object each cluster gets (kubectl auth
can-i; manifests/operator/deploy.yaml grants it), and, when istioctl is on the PATH,
that istioctl analyze finds no error in what each cluster gets (offline, with that
cluster's own istio-system Gateways). Then: kubectl apply to ctx1
(namespace, rules, Redis, gateway, the page's ConfigMap, backends, the external
VirtualService) and to ctx2 (namespace, rules, backends).
TXT
}

cd "$(dirname "$0")/.."
source scripts/lib.sh

domain=${DOMAIN:-} dry_run=0 images=()
while [ $# -gt 0 ]; do
  case "$1" in
    --domain) domain=${2:?--domain needs a value}; shift 2 ;;
    --image)
      check_image "${2:?--image needs a value}" --image
      images+=("$(manifests_image | sed 's/:[^:/]*$//')=$2"); shift 2 ;;
    --redis-image)
      check_image "${2:?--redis-image needs a value}" --redis-image
      images+=("redis=$2"); shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument $1" ;;
  esac
done
[ -n "$domain" ] || usage_error "give --domain (or DOMAIN), e.g. --domain 10.0.0.5.nip.io"
[[ "$domain" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || usage_error "'$domain' is not a domain name"
command -v kubectl >/dev/null || die "kubectl is not installed"

# Each cluster's objects, rendered once; every step below reads these.
rendered=$(mktemp -d)
trap 'exit_after remove_dirs "$rendered"' EXIT
for cluster in ctx1 ctx2; do render_cluster "$cluster" "$domain" "${images[@]}" >"$rendered/$cluster.yaml"; done

if [ "$dry_run" -eq 1 ]; then
  for ctx in "$CTX1" "$CTX2"; do
    echo "# ---- cluster $ctx ----"
    cat "$rendered/$(cluster_of "$ctx").yaml"
  done
  exit 0
fi

problems=0
problem() {
  echo "✘ $1" >&2
  echo "  → $2" >&2
  problems=$((problems + 1))
}
contexts=$(kubectl config get-contexts -o name 2>/dev/null || true)
for ctx in "$CTX1" "$CTX2"; do
  if ! grep -qx "$ctx" <<<"$contexts"; then
    problem "kubectl context $ctx not found" "kubectl config get-contexts; rename one with: kubectl config rename-context OLD $ctx"
    continue
  fi
  label="cluster-name=$(cluster_of "$ctx")"
  if [ -z "$(kubectl --context "$ctx" get nodes -l "$label" -o name 2>/dev/null)" ]; then
    problem "no node in $ctx is labelled $label" "kubectl --context $ctx label node NODE $label"
  fi
  if kubectl --context "$ctx" get nodes -l "$label" -o jsonpath='{range .items[*]}{.metadata.labels.topology\.kubernetes\.io/region}{"\n"}{end}' 2>/dev/null | grep -q '^$'; then
    echo "! nodes of $ctx labelled $label have no topology.kubernetes.io/region: the locality-failover scenario needs it (kubectl --context $ctx label node NODE topology.kubernetes.io/region=REGION topology.kubernetes.io/zone=ZONE)" >&2
  fi
  if ! kubectl --context "$ctx" get crd virtualservices.networking.istio.io >/dev/null 2>&1; then
    problem "Istio is not installed in $ctx (no VirtualService CRD)" "install Istio (multi-cluster, one mesh) before deploying"
  fi
done
if grep -qx "$CTX1" <<<"$contexts" && ! kubectl --context "$CTX1" -n istio-system get gateways.networking.istio.io cp-gateway >/dev/null 2>&1; then
  problem "the ingress Gateway cp-gateway is missing in $CTX1/istio-system" "kubectl --context $CTX1 -n istio-system get gateways.networking.istio.io"
fi
# Every kind each cluster gets, with its namespace: read from the rendering itself, so
# a new kind in the manifests is checked without a change here.
kinds_of() { # cluster
  awk '
    function emit() { if (kind) print kind, group, ns }
    BEGIN { group = ns = "-" }
    /^---/ { emit(); kind = ""; group = ns = "-"; next }
    /^apiVersion: / { split($2, parts, "/"); group = (parts[2] == "" ? "-" : parts[1]) }
    /^kind: / { kind = tolower($2) }
    /^  namespace: / { ns = $2 }
    END { emit() }' "$rendered/$1.yaml" | sort -u
}
for ctx in "$CTX1" "$CTX2"; do
  grep -qx "$ctx" <<<"$contexts" || continue
  while read -r kind group ns; do
    [ "$group" = - ] && group=""
    [ "$ns" = - ] && ns=""
    resource=$kind${group:+.$group}
    for verb in get create patch; do
      if ! kubectl --context "$ctx" auth can-i "$verb" "$resource" ${ns:+-n "$ns"} >/dev/null 2>&1; then
        problem "you may not $verb $resource${ns:+ in namespace $ns} in $ctx" \
          "a cluster admin runs: kubectl apply -f manifests/operator/deploy.yaml --context $ctx, and adds you to the group theater-msa-deployers"
      fi
    done
  done < <(kinds_of "$(cluster_of "$ctx")")
done
# Istio's own analysis of what each cluster gets, when istioctl is installed: offline,
# on the rendering plus the cluster's own istio-system Gateways (which the external
# VirtualService binds). Offline, because analysing files against a live cluster counts
# only the cluster's Services, so a first deployment would see none. Errors stop the
# deployment; warnings are shown.
if command -v istioctl >/dev/null; then
  for ctx in "$CTX1" "$CTX2"; do
    grep -qx "$ctx" <<<"$contexts" || continue
    gateways=$rendered/gateways-$ctx.yaml
    kubectl --context "$ctx" -n istio-system get gateways.networking.istio.io -o yaml >"$gateways" 2>/dev/null || true
    analyzed=0
    report=$(istioctl analyze --use-kube=false --all-namespaces "$rendered/$(cluster_of "$ctx").yaml" "$gateways" 2>&1) || analyzed=$?
    # 79: the analyzers found errors; anything else non-zero: the analysis did not run.
    if [ "$analyzed" -ne 0 ] && [ "$analyzed" -ne 79 ]; then
      echo "! istioctl analyze could not run for $ctx (exit $analyzed): $(head -1 <<<"$report")" >&2
    fi
    ours=$(grep -E '^(Error|Warning) \[IST[0-9]+\] \([A-Za-z]+ (theater-msa/|istio-system/theater-msa[ )])' <<<"$report" || true)
    while IFS= read -r line; do
      case "$line" in
        Error*) problem "istioctl analyze ($ctx): ${line#Error }" "fix the manifests, or cp-gateway in $ctx's istio-system" ;;
        Warning*) echo "! istioctl analyze ($ctx): ${line#Warning }" >&2 ;;
      esac
    done <<<"$ours"
  done
fi
[ "$problems" -eq 0 ] || die "$problems prerequisite(s) missing; nothing was applied"

for ctx in "$CTX1" "$CTX2"; do
  echo "==> applying to $ctx"
  kubectl --context "$ctx" apply -f - <"$rendered/$(cluster_of "$ctx").yaml"
done
echo "==> deployed. Next: scripts/verify.sh --domain $domain"
