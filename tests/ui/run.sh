#!/usr/bin/env bash
# The page in a real headless Chromium (Debian's package) driven by playwright-core
# (npm, pinned in package-lock.json): starts `theater --role all` on free loopback
# ports, runs page.test.mjs, leaves a screenshot in artifacts/, stops everything.
set -euo pipefail

case "${1:-}" in
  -h | --help)
    echo "Usage: tests/ui/run.sh [--update-docs]   (--update-docs also copies the screenshot to docs/page.png)"
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
trap 'stop_app; rm -rf "$work"' EXIT
start_app "$binary" "$work/app.log"

export BASE_URL="http://127.0.0.1:$APP_PORT/" ARTIFACTS="$PWD/artifacts"
if ! (cd tests/ui && node --test --test-reporter=spec page.test.mjs); then
  echo "page test failed; app log:"
  tail -50 "$work/app.log"
  exit 1
fi
echo "screenshot: artifacts/page.png"
if [ "${1:-}" = "--update-docs" ]; then
  mkdir -p docs
  cp artifacts/page.png docs/page.png
fi
