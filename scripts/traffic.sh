#!/usr/bin/env bash
# Sends N requests and counts which cluster answered (X-Service-Cluster), then judges
# each observed share against the expected one with a 99% Wilson interval.
#
# The counting and judging are the mesh lab's `traffic` command
# (scripts/meshlab/traffic.py), so this script, verify.sh and the lab judge a split
# one way. It needs only python3 and its standard library: -I keeps a PYTHONPATH or
# user site-packages of the operator's machine out, -B leaves no __pycache__ behind.
set -euo pipefail

if ! command -v python3 >/dev/null; then
  echo "error: scripts/traffic.sh needs python3 (e.g. apt-get install python3)" >&2
  exit 1
fi
meshlab=$(cd "$(dirname "$0")/meshlab" && pwd)
exec python3 -I -B -c '
import sys
sys.path.insert(0, sys.argv.pop(1))
import traffic
sys.exit(traffic.main(sys.argv[1:], prog="scripts/traffic.sh", requests=200))
' "$meshlab" "$@"
