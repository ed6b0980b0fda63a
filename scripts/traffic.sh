#!/usr/bin/env bash
# Sends N requests and counts which cluster answered (X-Service-Cluster), then judges
# each observed share against the expected one with a 99% Wilson interval.
#
# The counting and judging are lab/theater_lab/traffic.py, which the mesh lab's
# `traffic` and verify.sh run too, so all three judge a split one way. It needs only
# python3 and its standard library.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
measure_split scripts/traffic.sh 200 "$@"
