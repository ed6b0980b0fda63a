#!/usr/bin/env bash
# Istio's own analysis (istioctl analyze, built from istio.io/istio by
# scripts/k8s-tools.sh) of what an operator applies, offline: each cluster's rendering,
# and each scenario as it replaces the base rules in each cluster, together with what
# the walkthrough presumes exists (tests/k8s/fixtures/istio-world.yaml). No error and
# no warning may be reported; a deliberately broken rendering must be caught.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source scripts/lib.sh
source tests/checks.sh

case "${1:-}" in -h | --help) echo "Usage: tests/k8s/analyze.test.sh"; exit 0 ;; esac

tools=$(scripts/k8s-tools.sh path) || { echo "scripts/k8s-tools.sh could not provide istioctl" >&2; exit 1; }
work=$(mktemp -d)
trap 'exit_after remove_dirs "$work"' EXIT
world=tests/k8s/fixtures/istio-world.yaml

# Offline, over every namespace; a warning fails like an error.
analyze() { "$tools/istioctl" analyze --use-kube=false --all-namespaces --failure-threshold Warning "$@" "$world"; }
# A cluster's rendering without the base rules, which a scenario brings in their place.
without_rules() {
  awk 'BEGIN { RS = "\n---\n"; ORS = "\n---\n" }
    !(/(^|\n)kind: (VirtualService|DestinationRule)\n/ && /\n  namespace: theater-msa\n/)' "$1"
}

for ctx in ctx1 ctx2; do
  kubectl kustomize "manifests/clusters/$ctx" -o "$work/$ctx.yaml"
  run "istioctl analyze: $ctx as deployed" 0 analyze "$work/$ctx.yaml"
  without_rules "$work/$ctx.yaml" >"$work/$ctx-workloads.yaml"
  for dir in manifests/scenarios/*/; do
    name=$(basename "$dir")
    kubectl kustomize "$dir" -o "$work/$name.yaml"
    run "istioctl analyze: $ctx with scenario $name" 0 analyze "$work/$ctx-workloads.yaml" "$work/$name.yaml"
  done
done

# The analysis must be able to fail, or the checks above prove nothing (istioctl exits
# 79 when analyzers report issues at or above the threshold).
sed 's/subset: ctx2$/subset: ctx3/' "$work/ctx1.yaml" >"$work/broken.yaml"
run "istioctl analyze catches a subset no DestinationRule defines (IST0101)" 79 analyze "$work/broken.yaml"
if grep -q "IST0101" <<<"$out"; then ok "… naming it IST0101"; else bad "… naming it IST0101" "$out"; fi
sed 's/- "\*"/- "other.example.org"/' "$world" >"$work/narrow-gateway.yaml"
run "istioctl analyze warns when cp-gateway does not accept the external host (IST0132)" 79 \
  "$tools/istioctl" analyze --use-kube=false --all-namespaces --failure-threshold Warning "$work/ctx1.yaml" "$work/narrow-gateway.yaml"

echo "istioctl analyze: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
