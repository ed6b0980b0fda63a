#!/usr/bin/env bash
# The page in a real headless Chromium (Debian's package) driven by playwright-core
# (npm, pinned in package-lock.json): starts `theater --role all` twice on free
# loopback ports — once without any cluster, once reading Istio rules from a file
# (`--mesh-rules-file`, which the test writes) — runs page.test.mjs, leaves a
# screenshot in artifacts/, stops everything.
set -euo pipefail

case "${1:-}" in
  -h | --help)
    echo "Usage: tests/ui/run.sh   (docs/page.png comes from the mesh lab: tests/lab/mesh.test.sh leaves artifacts/page-lab.png)"
    exit 0
    ;;
esac

cd "$(dirname "$0")/../.."
source scripts/lib.sh
apt_install chromium fonts-noto-cjk curl
command -v node >/dev/null || apt_install nodejs npm

(cd tests/ui && npm ci --no-audit --no-fund --loglevel=error)

binary=$(theater_binary)
work=$(mktemp -d)
cleanup() {
  stop_pids "${bare_pid:-}"
  stop_app
  remove_dirs "$work"
}
trap 'exit_after cleanup' EXIT
start_app "$binary" "$work/app.log"
bare_pid=$APP_PID bare_port=$APP_PORT
export RULES_FILE=$work/rules.json
echo '{"apiVersion": "v1", "kind": "List", "items": []}' >"$RULES_FILE"
start_app "$binary" "$work/app-rules.log" --mesh-rules-file "$RULES_FILE"

export BASE_URL="http://127.0.0.1:$bare_port/" RULES_URL="http://127.0.0.1:$APP_PORT/" ARTIFACTS="$PWD/artifacts"
if ! (cd tests/ui && node --test --test-reporter=spec page.test.mjs); then
  echo "page test failed; app log:"
  tail -n 50 "$work/app.log" "$work/app-rules.log"
  exit 1
fi
echo "screenshot: artifacts/page.png"
