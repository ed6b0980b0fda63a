#!/usr/bin/env bash
# The one test command: installs what the tests need on a fresh Debian machine, starts
# a throwaway Redis on a free loopback port, and runs every check.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/test.sh [--help]

Runs every test of Theater MSA, installing what is missing (apt-get: redis-server,
curl, prometheus, chromium, fonts-noto-cjk, shellcheck; PyPI: schemathesis and
kubernetes-validate in cached venvs; npm: playwright-core, kubernetes-models and
@kubernetes-models/istio from the committed lockfiles). Steps: cargo fmt --check, the
layering check (tests/it/layers.rs: no module imports one listed above it in src/lib.rs),
cargo clippy -D warnings, cargo test (roles on loopback against a real Redis and the
in-process store), a bounded schemathesis run against each role's /openapi.json,
the gateway's page driven in headless Chromium (screenshot in artifacts/), and the
manifests: every overlay and scenario rendered with kubectl kustomize and checked
against the Kubernetes and Istio schemas and the design's invariants; shellcheck;
the Grafana dashboard's PromQL (apt-get: prometheus): parsed and unit-tested by
promtool, then run against a real Prometheus scraping the app;
the real Kubernetes and Istio components (Go modules, pinned, built once and cached
by scripts/k8s-tools.sh): istioctl analyze on every rendering, then the operator
scripts, the guide's kubectl commands and the gateway against two real API servers
with RBAC (scripts/k8s-clusters.sh); then the lab's real nodes (lab/; apt-get: runc,
containernetworking-plugins, iptables, buildah, podman): per cluster a network
namespace with its control plane, containerd, a kubelet, kube-proxy and Istio
(istiod, sidecars, east-west gateways), the app's real image pushed to the lab's
registry and run as Pods; and the mesh lab (scripts/mesh-lab.sh up) with the guide's
lessons and every scenario measured on those nodes, the page in Chromium.
A throwaway Redis runs on a free 127.0.0.1 port and is stopped however the run ends.
TXT
}
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) echo "unknown argument: $1" >&2; usage >&2; exit 64 ;;
esac

cd "$(dirname "$0")/.."
source scripts/lib.sh
started=$(date +%s)

apt_install curl python3-venv
trap 'exit_after stop_redis' EXIT
start_redis
export TEST_REDIS_URL="redis://127.0.0.1:${REDIS_PORT}"
echo "==> redis on 127.0.0.1:${REDIS_PORT}"

echo "==> cargo fmt --check"
cargo fmt --check
echo "==> layers (no module imports one of its own layer or above; the list is in src/lib.rs)"
cargo test --quiet --test it layers::
echo "==> cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "==> cargo test"
cargo test --quiet
echo "==> API fuzz (schemathesis against each role's /openapi.json)"
bash tests/fuzz/run.sh
echo "==> the page in headless Chromium"
bash tests/ui/run.sh
echo "==> manifests, schemas, invariants and shell scripts"
bash tests/ops/run.sh
echo "==> the Grafana dashboard's PromQL against a real Prometheus (tests/observability/run.sh)"
bash tests/observability/run.sh
echo "==> real Kubernetes API servers and istioctl, built from their Go modules (tests/k8s/run.sh)"
bash tests/k8s/run.sh
echo "==> the lab's real nodes: kubelet, containerd, kube-proxy and Istio in namespaces of their own (tests/lab/nodes.test.sh)"
bash tests/lab/nodes.test.sh
echo "==> the mesh lab: the guide's lessons and every scenario, played by Istio (tests/lab/mesh.test.sh)"
bash tests/lab/mesh.test.sh

echo "==> all tests passed in $(($(date +%s) - started)) s"
