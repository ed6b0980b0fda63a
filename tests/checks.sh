# shellcheck shell=bash
# The pass/fail bookkeeping of the shell test files (sourced): ok and bad count and
# print one line per check; run captures a command's output in $out and checks its
# exit status. A file ends with: echo "NAME: $passed passed, $failed failed".
passed=0 failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() {
  echo "FAIL $1"
  [ -n "${2:-}" ] && head -30 <<<"$2" | while IFS= read -r line; do echo "     $line"; done
  failed=$((failed + 1))
}
# run NAME EXPECTED_STATUS COMMAND...; a before_run function, if defined, runs first.
run() {
  local name=$1 want=$2
  shift 2
  if declare -F before_run >/dev/null; then before_run; fi
  out=$("$@" 2>&1)
  status=$?
  if [ "$status" -eq "$want" ]; then ok "$name"; else bad "$name (exit $status, wanted $want)" "$out"; fi
}
