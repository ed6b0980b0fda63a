# shellcheck shell=bash
# The pass/fail bookkeeping of the shell test files (sourced): ok and bad count and
# print one line per check; check, run and expect judge a command or a condition, and
# eventually gives one time to come true; poll waits without judging. A file ends with:
# echo "NAME: $passed passed, $failed failed".
passed=0 failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() {
  echo "FAIL $1"
  [ -n "${2:-}" ] && head -30 <<<"$2" | while IFS= read -r line; do echo "     $line"; done
  failed=$((failed + 1))
}
# check NAME COMMAND...: passes when COMMAND succeeds; its output is in $out.
check() {
  local name=$1
  shift
  if out=$("$@" 2>&1); then ok "$name"; else bad "$name" "$out"; fi
}
# run NAME EXPECTED_STATUS COMMAND...: passes when COMMAND exits with that status; its
# output is in $out. A before_run function, if defined, runs first.
run() {
  local name=$1 want=$2
  shift 2
  if declare -F before_run >/dev/null; then before_run; fi
  out=$("$@" 2>&1)
  status=$?
  if [ "$status" -eq "$want" ]; then ok "$name"; else bad "$name (exit $status, wanted $want)" "$out"; fi
}
# expect NAME CONDITION [DETAIL]: passes when the string CONDITION, evaluated here, is
# true; a failure shows DETAIL, or else the last command's $out.
expect() { if eval "$2"; then ok "$1"; else bad "$1" "${3:-$out}"; fi; }
# poll SECONDS COMMAND...: runs COMMAND in this shell (output dropped) twice a second
# until it succeeds; fails once SECONDS have passed. A condition written as a string:
# poll 30 eval '...'.
poll() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}
# eventually SECONDS NAME COMMAND...: like check, once COMMAND succeeds within SECONDS;
# a failure shows the output of one last try.
eventually() {
  local seconds=$1 name=$2
  shift 2
  if poll "$seconds" "$@" || out=$("$@" 2>&1); then ok "$name"; else bad "$name (not within ${seconds}s)" "$out"; fi
}
