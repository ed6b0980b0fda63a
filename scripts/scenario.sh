#!/usr/bin/env bash
# Applies a practice scenario's rules to both clusters, or returns to the base rules.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/scenario.sh NAME     apply a scenario to ctx1 and ctx2
       scripts/scenario.sh reset    back to the base rules (removes scenario-only policies)
       scripts/scenario.sh list     the scenarios and what each shows
       scripts/scenario.sh status   the rules in force now (read from ctx1)

A scenario replaces the VirtualServices and DestinationRules of the same names
(user-service-vs, user-service-dr, ...), so only one set of rules exists per service
at any time.
TXT
}

cd "$(dirname "$0")/.."
source scripts/lib.sh
[ $# -eq 1 ] || usage_error "expected one argument"

scenarios() { ls manifests/scenarios; }
apply_both() { # kustomization dir
  local ctx
  for ctx in "$CTX1" "$CTX2"; do
    echo "==> $ctx"
    kubectl kustomize "$1" | kubectl --context "$ctx" apply -f -
  done
}

case "$1" in
  -h | --help) usage ;;
  list)
    for name in $(scenarios); do
      printf '%-22s %s\n' "$name" "$(sed -n '1s/^# //p' "manifests/scenarios/$name/kustomization.yaml")"
    done
    ;;
  reset)
    apply_both manifests/rules
    for ctx in "$CTX1" "$CTX2"; do
      kubectl --context "$ctx" -n theater-msa delete peerauthentication,authorizationpolicy \
        -l theater-msa/scenario --ignore-not-found
    done
    echo "==> base rules in force"
    ;;
  status)
    for svc in user-service movie-service booking-service; do
      printf '%-20s %s\n' "$svc-vs" "$(kubectl --context "$CTX1" -n theater-msa get virtualservice "$svc-vs" \
        -o jsonpath='{range .spec.http[*]}{.name}: {range .route[*]}{.destination.subset}={.weight} {end}{.fault}; {end}')"
    done
    kubectl --context "$CTX1" -n theater-msa get peerauthentication,authorizationpolicy -l theater-msa/scenario 2>/dev/null || true
    ;;
  -*) usage_error "unknown option $1" ;;
  *)
    [ -d "manifests/scenarios/$1" ] || usage_error "no scenario '$1'; one of: $(scenarios | tr '\n' ' ')"
    apply_both "manifests/scenarios/$1"
    echo "==> scenario $1 in force on both clusters; undo with: scripts/scenario.sh reset"
    ;;
esac
