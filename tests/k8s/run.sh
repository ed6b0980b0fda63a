#!/usr/bin/env bash
# Real Kubernetes and Istio components in the tests: builds (or finds, cached)
# istioctl, kube-apiserver, kube-controller-manager, kube-scheduler and etcd from their
# official Go modules (scripts/k8s-tools.sh), then runs istioctl analyze on every
# rendering, the two-cluster fixture's own checks, and the app against two real API
# servers with RBAC (tests/k8s/*.test.sh).
set -euo pipefail

case "${1:-}" in -h | --help) echo "Usage: tests/k8s/run.sh"; exit 0 ;; esac

cd "$(dirname "$0")/../.."
source scripts/lib.sh
apt_install openssl curl chromium fonts-noto-cjk
command -v node >/dev/null || apt_install nodejs npm
# The page checks drive Chromium with the pinned playwright-core of tests/ui.
[ -d tests/ui/node_modules/playwright-core ] || (cd tests/ui && npm ci --no-audit --no-fund --loglevel=error)
command -v go >/dev/null || die "Go is needed to build the Kubernetes and Istio components (scripts/k8s-tools.sh)"

started=$SECONDS
scripts/k8s-tools.sh path >/dev/null
echo "==> components ready in $((SECONDS - started)) s: $(scripts/k8s-tools.sh path)"
status=0
for test in analyze fixture app; do
  echo "==> tests/k8s/$test.test.sh"
  bash "tests/k8s/$test.test.sh" || status=1
done
exit "$status"
