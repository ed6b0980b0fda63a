#!/usr/bin/env bash
# The deployment checklist, automated: a line per check, ✔ or ✘, and for a ✘ the
# command to look closer with.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/verify.sh --domain DOMAIN [--url URL] [--requests N]

  --domain DOMAIN   the app answers at http://theater.DOMAIN (env DOMAIN)
  --url URL         check this address instead (e.g. a port-forward)
  --requests N      requests per split check (default 200)

Checks: kubectl contexts, node labels, pods of each service placed in the right
cluster and ready, sidecars injected, DestinationRules and VirtualServices present
with their weights in both clusters, external access, the observed split of each
service against its rule, and the canary route. Exits with the number of failures.
TXT
}

cd "$(dirname "$0")/.."
source scripts/lib.sh

domain=${DOMAIN:-} url="" requests=200
while [ $# -gt 0 ]; do
  case "$1" in
    --domain) domain=${2:?--domain needs a value}; shift 2 ;;
    --url) url=${2:?--url needs a value}; shift 2 ;;
    --requests) requests=${2:?--requests needs a value}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument $1" ;;
  esac
done
[ -n "$url" ] || [ -n "$domain" ] || usage_error "give --domain (or DOMAIN) or --url"
url=${url:-http://theater.$domain}

failures=0
pass() { echo "✔ $1"; }
fail() {
  echo "✘ $1"
  echo "    investigate: $2"
  failures=$((failures + 1))
}

contexts=$(kubectl config get-contexts -o name 2>/dev/null || true)
declare -A expected=([user-service]="70 30" [movie-service]="30 70" [booking-service]="50 50")
for ctx in "$CTX1" "$CTX2"; do
  if ! grep -qx "$ctx" <<<"$contexts"; then
    fail "context $ctx exists" "kubectl config get-contexts"
    continue
  fi
  pass "context $ctx exists"
  label="cluster-name=$(cluster_of "$ctx")"
  labelled=$(kubectl --context "$ctx" get nodes -l "$label" -o name 2>/dev/null || true)
  if [ -n "$labelled" ]; then pass "$ctx has nodes labelled $label"; else fail "$ctx has nodes labelled $label" "kubectl --context $ctx get nodes --show-labels"; fi
  # Only the locality-failover scenario needs them, so a missing label warns, not fails.
  regions=$(kubectl --context "$ctx" get nodes -l "$label" -o jsonpath='{range .items[*]}{.metadata.labels.topology\.kubernetes\.io/region}{" "}{.metadata.labels.topology\.kubernetes\.io/zone}{"\n"}{end}' 2>/dev/null || true)
  if [ -n "$labelled" ] && grep -qvE '^[^ ]+ [^ ]+$' <<<"$regions"; then
    echo "! $ctx nodes lack topology.kubernetes.io/region or /zone: the locality-failover scenario cannot tell the clusters apart"
    echo "    investigate: kubectl --context $ctx get nodes -L topology.kubernetes.io/region,topology.kubernetes.io/zone"
  elif [ -n "$labelled" ]; then
    pass "$ctx nodes carry region and zone labels ($(sort -u <<<"$regions" | tr '\n' ' ' | sed 's/ $//'))"
  fi

  apps=(user-service movie-service booking-service)
  [ "$ctx" = "$CTX1" ] && apps+=(api-gateway redis)
  for app in "${apps[@]}"; do
    rows=$(kubectl --context "$ctx" -n theater-msa get pods -l "app=$app" \
      -o jsonpath='{range .items[*]}{.spec.nodeName}{" "}{.status.conditions[?(@.type=="Ready")].status}{" "}{.spec.containers[*].name}{" "}{.spec.initContainers[*].name}{"\n"}{end}' 2>/dev/null || true)
    investigate="kubectl --context $ctx -n theater-msa get pods -l app=$app -o wide"
    if [ -z "$rows" ]; then fail "$app runs in $ctx" "$investigate"; continue; fi
    misplaced=$(while read -r node _; do grep -qx "node/$node" <<<"$labelled" || echo "$node"; done <<<"$rows")
    if [ -n "$misplaced" ]; then fail "$app pods run on $ctx nodes" "$investigate"; else pass "$app pods run on $ctx nodes"; fi
    if grep -qv " True " <<<"$rows "; then fail "$app pods are ready in $ctx" "$investigate"; else pass "$app pods are ready in $ctx"; fi
    if grep -qv "istio-proxy" <<<"$rows"; then
      fail "$app pods have the istio-proxy sidecar in $ctx" "kubectl --context $ctx get namespace theater-msa --show-labels"
    else pass "$app pods have the istio-proxy sidecar in $ctx"; fi
  done

  for svc in "${!expected[@]}"; do
    # The default route is the last one (the guide's patch drops the route names).
    weights=$(kubectl --context "$ctx" -n theater-msa get virtualservice "$svc-vs" \
      -o jsonpath='{.spec.http[-1:].route[*].weight}' 2>/dev/null || true)
    investigate="kubectl --context $ctx -n theater-msa describe virtualservice $svc-vs; kubectl --context $ctx -n theater-msa describe destinationrule $svc-dr"
    if ! kubectl --context "$ctx" -n theater-msa get destinationrule "$svc-dr" >/dev/null 2>&1; then
      fail "DestinationRule $svc-dr in $ctx" "$investigate"
    elif [ "$weights" != "${expected[$svc]}" ]; then
      fail "VirtualService $svc-vs in $ctx splits ${expected[$svc]/ //} (found: ${weights:-none}; a scenario may be applied)" "$investigate"
    else pass "$svc-vs and $svc-dr in $ctx split ${expected[$svc]/ //}"; fi
  done
done

health=$(curl -s -o /dev/null --max-time 10 -w '%{http_code} %header{x-service-name}' "$url/healthz" || true)
if [ "$health" = "200 api-gateway" ]; then pass "the gateway answers at $url"; else
  fail "the gateway answers at $url (got: ${health:-nothing})" "kubectl --context $CTX1 -n istio-system get virtualservice theater-msa -o yaml; curl -v $url/healthz"
fi

for pair in "user-service /users/" "movie-service /movies/" "booking-service /bookings/"; do
  read -r svc path <<<"$pair"
  read -r w1 w2 <<<"${expected[$svc]}"
  if scripts/traffic.sh --url "$url" --path "$path" --requests "$requests" --expect "ctx1=$w1,ctx2=$w2" | sed 's/^/    /'; then
    pass "$svc: observed split matches $w1/$w2"
  else fail "$svc: observed split matches $w1/$w2" "scripts/traffic.sh --url $url --path $path; the page's split panel"; fi
  if scripts/traffic.sh --url "$url" --path "$path" --requests $((requests / 4 + 1)) --canary --expect "ctx2=100" | sed 's/^/    /'; then
    pass "$svc: x-canary: true goes to ctx2"
  else fail "$svc: x-canary: true goes to ctx2" "curl -si -H 'x-canary: true' $url$path | grep -i x-service-cluster"; fi
done

if [ "$failures" -eq 0 ]; then echo "✔ all checks passed"; else echo "✘ $failures check(s) failed"; fi
exit "$failures"
