#!/usr/bin/env bash
# Removes Theater MSA: the namespace (with everything in it) and the external
# VirtualService. Safe to run twice.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/cleanup.sh [--all]

  (no option)   the current kubectl context only
  --all         both clusters (ctx1 and ctx2; override with CTX1/CTX2)
  -h, --help    this text
TXT
}

cd "$(dirname "$0")/.."
source scripts/lib.sh

targets=()
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  --all) targets=("$CTX1" "$CTX2") ;;
  "") targets=("$(kubectl config current-context)") ;;
  *) usage_error "unknown argument $1" ;;
esac
[ $# -le 1 ] || usage_error "too many arguments"

for ctx in "${targets[@]}"; do
  echo "==> $ctx"
  kubectl --context "$ctx" -n istio-system delete virtualservice theater-msa --ignore-not-found
  kubectl --context "$ctx" delete namespace theater-msa --ignore-not-found
done
