#!/usr/bin/env bash
# Stop, wait, then clean (scripts/lib.sh): stop_pids waits for a process to exit before
# remove_dirs removes its folder, exit_after keeps a script's own status whatever its
# cleanup does. Each case runs a small script under `set -euo pipefail` with an EXIT
# trap, as the tests and scripts of this project do.
# The scripts below are single-quoted on purpose: they expand in the child shell.
# shellcheck disable=SC2016
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source scripts/lib.sh
source tests/checks.sh

case "${1:-}" in -h | --help) echo "Usage: tests/ops/cleanup.test.sh"; exit 0 ;; esac

work=$(mktemp -d)
# Whatever a broken helper left running is stopped here, by hand, before the folder goes.
leftovers() {
  [ -f "$work/pids" ] && xargs -r kill -KILL <"$work/pids" 2>/dev/null
  sleep 0.2
  rm -rf "$work"
}
trap leftovers EXIT

# A server slow to exit: on TERM it goes on writing into its folder for a second, then
# notes outside the folder that it is done.
cat >"$work/slow-server.sh" <<'SH'
#!/usr/bin/env bash
folder=$1 done_file=$2
on_term() {
  for i in 1 2 3 4 5 6 7 8 9 10; do echo "shutting down $i" >>"$folder/server.log"; sleep 0.1; done
  echo done >"$done_file"
  exit 0
}
trap on_term TERM
echo started >"$folder/server.log"
while :; do sleep 0.05; done
SH
# A server that ignores TERM.
cat >"$work/stubborn-server.sh" <<'SH'
#!/usr/bin/env bash
trap '' TERM
echo started >"$1/server.log"
while :; do sleep 0.05; done
SH

# script SOURCE: runs SOURCE in bash under set -euo pipefail with lib.sh sourced
# and $work exported; run() captures its output in $out.
export work
script() { bash -c "set -euo pipefail; source scripts/lib.sh; $1"; }

start_server='folder=$(mktemp -d "$work/server.XXXXXX"); echo "$folder" >"$work/folder"
  bash "$work/$SERVER" "$folder" "$work/done" >/dev/null 2>&1 & pid=$!; echo "$pid" >>"$work/pids"
  for _ in $(seq 50); do [ -s "$folder/server.log" ] && break; sleep 0.1; done'

rm -f "$work/done"
run "a slow server is waited for: stop_pids returns after it exits, then its folder goes" 0 \
  script "SERVER=slow-server.sh; $start_server
  cleanup() { stop_pids \"\$pid\"; [ -s \"\$work/done\" ] || echo 'stop_pids returned before the server exited' >&2; remove_dirs \"\$folder\"; }
  trap 'exit_after cleanup' EXIT"
if [ "$status" -eq 0 ] && [ -s "$work/done" ] && ! grep -q . <<<"$out" && [ -z "$(find "$work" -name 'server.*' -type d)" ]; then
  ok "no warning, the server finished its shutdown, no folder left"
else
  bad "no warning, the server finished its shutdown, no folder left" "$out; left: $(find "$work" -name 'server.*')"
fi

run "a server that ignores TERM is killed after STOP_GRACE, and the run still passes" 0 \
  script "SERVER=stubborn-server.sh; $start_server
  cleanup() { STOP_GRACE=1 stop_pids \"\$pid\"; process_alive \"\$pid\" && echo 'still alive' >&2; remove_dirs \"\$folder\"; }
  trap 'exit_after cleanup' EXIT"
if grep -q "did not exit within 1 s of TERM; killing it" <<<"$out" && ! grep -q "still alive" <<<"$out"; then
  ok "the kill is reported and the process is gone"
else
  bad "the kill is reported and the process is gone" "$out"
fi

run "a failing cleanup does not fail a passing run" 0 script 'trap "exit_after false" EXIT; true'
if grep -q "cleanup 'false' failed (status 1); the run's own status 0 stands" <<<"$out"; then
  ok "the failing cleanup is reported"
else
  bad "the failing cleanup is reported" "$out"
fi
run "a failing cleanup does not hide a failing run's status" 3 script 'trap "exit_after false" EXIT; exit 3'
run "set -e failures keep their status through exit_after" 1 script 'trap "exit_after true" EXIT; false; echo never'

if mkdir -p "$work/held/busy" && mount --bind "$work/held/busy" "$work/held/busy" 2>/dev/null; then
  run "remove_dirs names what it cannot remove (a mount point) and does not fail" 0 \
    script 'remove_dirs "$work/held"; echo "status $?"'
  if grep -q "could not remove $work/held; what is left: $work/held" <<<"$out"; then ok "the folder left behind is named"; else bad "the folder left behind is named" "$out"; fi
  umount "$work/held/busy"
else
  bad "a bind mount for the unremovable-folder case (needs root)" "mount --bind failed"
fi

sleep 0 &
zombie=$!
sleep 0.3
if process_alive "$zombie"; then bad "an exited child not yet reaped counts as gone"; else ok "an exited child not yet reaped counts as gone"; fi
wait "$zombie"

apt_install redis-server
run "stop_redis waits for the throwaway Redis, then removes its folder" 0 \
  script 'REDIS_APPENDONLY=yes start_redis
  redis-cli -p "$REDIS_PORT" set key value >/dev/null
  pid=$(cat "$REDIS_DIR/redis.pid"); dir=$REDIS_DIR
  stop_redis
  process_alive "$pid" && { echo "redis still running" >&2; exit 1; }
  [ ! -e "$dir" ] || { echo "left: $(ls -A "$dir")" >&2; exit 1; }'

echo "cleanup: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
