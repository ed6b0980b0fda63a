#!/usr/bin/env bash
# Sends N requests and counts which cluster answered (X-Service-Cluster), then
# compares the observed shares with the expected ones using a 99% binomial interval.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/traffic.sh --url BASE_URL --path PATH [options]

  --url URL          where the app answers, e.g. http://theater.10.0.0.5.nip.io
  --path PATH        e.g. /users/
  --requests N       how many (default 200)
  --canary           send x-canary: true
  --expect SPEC      expected shares, e.g. ctx1=70,ctx2=30; without it just counts
  -h, --help         this text

Prints each cluster's count and share, the expected share and the 99% interval of
the observed one, and a verdict; exits 1 when an expected share lies outside.
TXT
}

url="" path="" requests=200 canary=0 expect=""
while [ $# -gt 0 ]; do
  case "$1" in
    --url) url=${2:?--url needs a value}; shift 2 ;;
    --path) path=${2:?--path needs a value}; shift 2 ;;
    --requests) requests=${2:?--requests needs a value}; shift 2 ;;
    --canary) canary=1; shift ;;
    --expect) expect=${2:?--expect needs a value}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "error: unknown argument $1 (see --help)" >&2; exit 64 ;;
  esac
done
if [ -z "$url" ] || [ -z "$path" ]; then
  echo "error: --url and --path are required (see --help)" >&2
  exit 64
fi
[[ "$requests" =~ ^[1-9][0-9]*$ ]] || { echo "error: --requests must be a positive integer" >&2; exit 64; }
[ -z "$expect" ] || [[ "$expect" =~ ^[A-Za-z0-9_.-]+=[0-9]+(,[A-Za-z0-9_.-]+=[0-9]+)*$ ]] ||
  { echo "error: --expect looks like ctx1=70,ctx2=30" >&2; exit 64; }

headers=()
[ "$canary" -eq 1 ] && headers=(-H "x-canary: true")
answers=$(for _ in $(seq "$requests"); do
  curl -s -o /dev/null --max-time 10 "${headers[@]}" -w '%{http_code} %header{x-service-cluster}\n' "${url%/}$path" || echo "000 "
done)

awk -v expect="$expect" -v n="$requests" -v what="${path}$([ "$canary" -eq 1 ] && echo ' (x-canary)')" '
  { cluster = ($2 == "" ? "(none, HTTP " $1 ")" : $2); count[cluster]++ }
  END {
    split(expect, pairs, ",")
    for (i in pairs) { split(pairs[i], kv, "="); want[kv[1]] = kv[2] / 100; total += kv[2] }
    if (expect != "" && total != 100) { print "error: expected shares add up to " total ", not 100"; exit 64 }
    for (c in want) if (!(c in count)) count[c] = 0
    printf "%s: %d requests\n", what, n
    bad = 0
    for (c in count) {
      p = count[c] / n
      line = sprintf("  %-24s %5d  %5.1f%%", c, count[c], 100 * p)
      if (expect != "") {
        e = (c in want) ? want[c] : 0
        # 99% interval of the observed share; at least half a request wide.
        half = 2.576 * sqrt((p * (1 - p) > 0 ? p * (1 - p) : 0.25 / n) / n)
        low = (p - half < 0 ? 0 : p - half); high = (p + half > 1 ? 1 : p + half)
        ok = (e >= low && e <= high)
        if (!ok) bad++
        line = line sprintf("   expected %5.1f%%   99%% interval %5.1f-%5.1f%%   %s", 100 * e, 100 * low, 100 * high, ok ? "✔" : "✘")
      }
      print line
    }
    if (expect != "") print (bad ? "✘ the split differs from the rules" : "✔ the split matches the rules")
    exit (bad ? 1 : 0)
  }' <<<"$answers"
