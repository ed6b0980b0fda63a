#!/usr/bin/env bash
# Offline checks of everything an operator applies: each overlay and scenario is
# rendered with `kubectl kustomize`; core objects are validated strictly (unknown
# fields fail) against Kubernetes 1.30 and 1.37 schemas (PyPI kubernetes-validate);
# Istio objects against Istio's CRD schemas and every design invariant by
# tests/ops/manifests.test.mjs (npm, pinned), and for unknown fields by TypeScript's
# excess-property check (tests/ops/istio-types.mjs); the operator scripts against a fake
# kubectl (tests/ops/scripts.test.sh); every shell script by shellcheck, the lab's Python
# (lab/) by ruff and its unit tests (lab/tests/: the split's judge, traffic.py).
set -euo pipefail

case "${1:-}" in -h | --help) echo "Usage: tests/ops/run.sh"; exit 0 ;; esac

cd "$(dirname "$0")/../.."
source scripts/lib.sh

if ! kubectl kustomize --help >/dev/null 2>&1; then
  echo "kubectl with kustomize is needed to render the manifests (it ships with this machine image)" >&2
  exit 1
fi
apt_install shellcheck
command -v node >/dev/null || apt_install nodejs npm
(cd tests/ops && npm ci --no-audit --no-fund --loglevel=error)

validator_bin=$(pip_tool kubernetes-validate 1.37.0)
ruff_bin=$(pip_tool ruff 0.17.5)

work=$(mktemp -d)
trap 'exit_after remove_dirs "$work"' EXIT
targets=(clusters/ctx1 clusters/ctx2 guide/ctx1 guide/ctx2 rules operator observability)
for dir in manifests/scenarios/*/; do targets+=("scenarios/$(basename "$dir")"); done

passed=0 failed=0
check() { # name, command...
  local name=$1
  shift
  if "$@" >"$work/out" 2>&1; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    sed 's/^/     /' "$work/out" | grep -v "Couldn't find schema" | head -20
    failed=$((failed + 1))
  fi
}

for target in "${targets[@]}"; do
  file="$work/${target//\//_}.yaml"
  check "render $target" kubectl kustomize "manifests/$target" -o "$file"
  for k8s in 1.30.0 1.37.0; do
    check "kubernetes $k8s schemas, strict: $target" "$validator_bin/kubernetes-validate" --strict --quiet --no-warn -k "$k8s" "$file"
  done
done

# The strict validator must reject a misspelt field, or the checks above prove nothing.
sed 's/^\(\s*\)terminationGracePeriodSeconds:/\1terminationGracePeriodSecond:/' "$work/clusters_ctx2.yaml" >"$work/typo.yaml"
check "strict validation rejects a misspelt field" bash -c "! '$validator_bin/kubernetes-validate' --strict --quiet --no-warn -k 1.37.0 '$work/typo.yaml'"

check "Istio schemas and design invariants (tests/ops/manifests.test.mjs)" node --test tests/ops/manifests.test.mjs
check "every page has a Korean twin that keeps up: README.md ↔ README.ko.md, docs/X.md ↔ docs/ko/X.md; links exist; README under 250 lines (tests/ops/readme.test.mjs)" node --test tests/ops/readme.test.mjs
check "no unknown fields in Istio objects (TypeScript excess-property check)" node tests/ops/istio-types.mjs
check "operator scripts against a fake kubectl (tests/ops/scripts.test.sh)" bash tests/ops/scripts.test.sh
check "stop, wait, then clean: a slow-exiting server, a failing cleanup (tests/ops/cleanup.test.sh)" bash tests/ops/cleanup.test.sh
check "the Containerfile's image builds with podman, serves, and its curl, wget and sh work inside (tests/ops/container.sh)" bash tests/ops/container.sh
grep "^container:" "$work/out" || true
check "ruff check lab/ tests/observability/ (rules in lab/pyproject.toml)" \
  "$ruff_bin/ruff" check --quiet --config lab/pyproject.toml lab tests/observability
check "ruff format --check lab/ tests/observability/" \
  "$ruff_bin/ruff" format --check --quiet --config lab/pyproject.toml lab tests/observability
check "the lab's unit tests (lab/tests/: counting and judging a split, scripts/traffic.sh; a process started as ^C lands keeps its pid file)" \
  env PYTHONPATH=lab python3 -B -m unittest discover -s lab/tests
check "shellcheck" shellcheck -x scripts/*.sh tests/*.sh tests/*/run.sh tests/*/*.test.sh tests/ops/*.sh tests/k8s/*.sh tests/ops/fake-bin/kubectl .ci/run

echo "ops: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
