#!/usr/bin/env bash
# The Grafana dashboard (manifests/observability) checked by a real Prometheus
# (Debian's `prometheus` package, installed if missing):
#   1. its shape: the datasource variable, one datasource per panel, every variable known;
#   2. every panel's PromQL parses: each becomes a recording rule for `promtool check rules`;
#   3. `promtool test rules`: the split, latency, error-rate, ejection and app-metric
#      panels compute the expected numbers from synthetic series (tests/observability/
#      panels.test.yaml), and a dashboard without reporter="source" must fail them;
#   4. every panel against a live Prometheus: by default one on a free loopback port
#      scraping `theater --role all --chaos` started here, after users, movies,
#      bookings, an upstream timeout and a chaos delay sent through it (every app-metric
#      panel must return data; the Istio/Envoy panels evaluate, empty without a mesh);
#      with --prometheus, a running one (the mesh lab's, scraping its Pods and their
#      sidecars), to which nothing is sent.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: tests/observability/run.sh [--binary PATH] [--prometheus URL] [--require PREFIX]...

  --binary PATH      theater binary to start (default: the debug build, as the other
                     test steps use it; built if missing)
  --prometheus URL   evaluate the panels against this running Prometheus (e.g. the mesh
                     lab's, forwarded by kubectl port-forward) instead of starting one
  --require PREFIX   a panel reading a metric whose name starts with PREFIX must return
                     data (repeatable; without --prometheus: theater_)
A panel whose metrics are scraped but which returns nothing always fails.
Loopback only; the own Prometheus's storage lives in a temporary folder removed on exit.
TXT
}

binary="" prom="" require=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --binary) binary=${2:?--binary needs a path}; shift 2 ;;
    --prometheus) prom=${2:?--prometheus needs a URL}; shift 2 ;;
    --require) require+=(--require "${2:?--require needs a metric prefix}"); shift 2 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 64 ;;
  esac
done

cd "$(dirname "$0")/../.."
source scripts/lib.sh
apt_install prometheus python3 curl

dashboard=manifests/observability/theater-msa-dashboard.json
tool=tests/observability/dashboard.py
work=$(mktemp -d)
prom_pid=""
cleanup() {
  stop_pids "$prom_pid"
  stop_app
  remove_dirs "$work"
}
trap 'exit_after cleanup' EXIT

echo "--> the dashboard's shape"
python3 "$tool" check "$dashboard"

echo "--> every panel's PromQL parses (promtool check rules)"
python3 "$tool" rules "$dashboard" >"$work/panels.rules.yml"
promtool check rules "$work/panels.rules.yml"

echo "--> the panels compute the expected numbers (promtool test rules)"
python3 "$tool" unittest "$dashboard" tests/observability/panels.test.yaml "$work/panels.rules.yml" >"$work/panels.test.yml"
(cd "$work" && promtool test rules panels.test.yml)
# The unit tests must be able to fail: counting both reporters doubles user-service's ctx1.
sed 's/reporter=\\"source\\", //g' "$dashboard" >"$work/broken.json"
python3 "$tool" rules "$work/broken.json" >"$work/broken.rules.yml"
python3 "$tool" unittest "$work/broken.json" tests/observability/panels.test.yaml "$work/broken.rules.yml" >"$work/broken.test.yml" 2>/dev/null
if (cd "$work" && promtool test rules broken.test.yml >/dev/null 2>&1); then
  echo "FAIL: the unit tests pass a dashboard that counts every request twice" >&2
  exit 1
fi
echo "  (and they fail a dashboard that counts both reporters, as they should)"

if [ -n "$prom" ]; then
  echo "--> every panel against $prom"
  python3 "$tool" live "$dashboard" "$prom" "${require[@]}"
  exit
fi

binary=${binary:-$(theater_binary)}
# One process, one registry: the gateway's port serves every role's metrics.
start_app "$binary" "$work/app.log" --chaos --upstream-timeout-ms 300
targets="127.0.0.1:$APP_PORT"
echo "--> a real Prometheus scraping $targets"
python3 "$tool" scrape-config --targets "$targets" --namespace theater-msa --interval 1s >"$work/prometheus.yml"
promtool check config "$work/prometheus.yml" >/dev/null
prom_port=$(free_port)
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$work/prometheus.log" 2>&1 &
prom_pid=$!
prom="http://127.0.0.1:$prom_port"
up_count() {
  curl -fsS "$prom/api/v1/query" --data-urlencode 'query=count(up == 1)' 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)' 2>/dev/null || echo 0
}
for _ in $(seq 150); do
  [ "$(up_count)" = 1 ] && break
  sleep 0.2
done
if [ "$(up_count)" != 1 ]; then
  echo "Prometheus did not scrape $targets within 30 s; its log:" >&2
  cat "$work/prometheus.log" >&2
  exit 1
fi
echo "  $targets up"

gw="http://127.0.0.1:$APP_PORT" user="http://127.0.0.1:$((APP_PORT + 1))"
post() { curl -fsS -o /dev/null -X POST "$gw$1" -H 'content-type: application/json' -d "$2"; }
for i in 1 2 3; do
  post /users/ "{\"name\":\"Dash $i\",\"email\":\"dash$i@example.com\"}"
  curl -fsS -o /dev/null "$gw/movies/"
done
post /movies/ '{"title":"Dashboard","genre":"doc","year":2024,"seats":20}'
post /bookings/ '{"userId":"1","movieId":"1","seats":2}'
post /bookings/ '{"userId":"2","movieId":"2","seats":3}'
# user-service 0.5 s slow behind a 0.3 s upstream timeout: a 504, an upstream error
# and a chaos delay; then back to normal.
curl -fsS -o /dev/null -X PUT "$user/admin/chaos" -H 'content-type: application/json' -d '{"delayMs":500}'
status=$(curl -sS -o /dev/null -w '%{http_code}' "$gw/users/")
[ "$status" = 504 ] || { echo "expected 504 from the gateway with user-service slowed, got $status" >&2; exit 1; }
curl -fsS -o /dev/null -X PUT "$user/admin/chaos" -H 'content-type: application/json' -d '{}'
echo "  sent: 3 users, 3 movie lists, 1 movie, 2 bookings (5 seats), 1 request that timed out (504)"
sleep 3 # a few scrapes after the traffic

echo "--> every panel against it (Istio/Envoy panels are empty here: no mesh, no sidecars)"
python3 "$tool" live "$dashboard" "$prom" --require theater_ "${require[@]}"
