#!/usr/bin/env bash
# Load benchmark: each role as its own process on loopback (gateway -> user/movie/booking
# -> Redis, as in a cluster), wrk against each scenario, one summary table.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/bench.sh [options]

Starts a throwaway Redis and the four roles as separate processes on 127.0.0.1, seeds
data, warms up, then runs each scenario with wrk (--latency) for several rounds and
prints: scenario, req/s (median of rounds), p50, p99 (of the median round), errors,
plus each role's RSS when idle and at its peak (VmHWM from /proc) and the time from
process start to ready. Everything it started is stopped however it ends.

Options:
  --duration SECONDS     length of one round            (default 10)
  --connections N        wrk connections                (default 32)
  --threads N            wrk threads                    (default 2)
  --rounds N             rounds per scenario            (default 3)
  --role-workers N       worker threads of each role    (default 1: in a cluster the
                         manifests' 500m CPU limit gives each pod one worker)
  --scenarios LIST       comma-separated subset of the scenarios below (default all)
  --out FILE             also write the results as Markdown to FILE
  --binary PATH          run this theater binary instead of building the release one
                         (to compare two builds, run it once per binary, alternating:
                         before, after, before, after, since a shared machine drifts)
  --instructions N       instead of wrk: run the role each scenario addresses once more
                         under valgrind's callgrind, send it N requests one at a time
                         (after 200 to warm up) and print the instructions it executed
                         per request. Unlike req/s this barely moves between runs or with
                         other load on the machine, so it tells a real change in the
                         code's work from drift (it says nothing about waiting on the
                         network or Redis). Installs valgrind if missing.
  --with-instructions N  run the wrk rounds as usual, then also count as --instructions N
                         does and add an "instructions per request" column beside req/s
  --phases               with --instructions: also print, per scenario, where the
                         instructions go (HTTP parsing, routing, the span and access line,
                         Redis, JSON, runtime, memory, ...), each instruction counted once
                         in the code that executed it. Needs symbols: without --binary it
                         builds the release binary with them kept (target/symbols)
  -h, --help             this text

Scenarios:
  user-get-direct       GET /users/1 on user-service
  user-get-gateway      GET /users/1 through api-gateway
  users-list-direct     GET /users/ (3 users) on user-service
  users-list-gateway    GET /users/ (3 users) through api-gateway
  users-list-10k        GET /users/ (first page of 10,000 users) on user-service
  users-list-10k-3      GET /users/?limit=3&offset=9990 (3 of 10,000 users), to compare
                        with users-list-direct: the same page size, a store 3,333 times larger
  users-list-canary-gateway
                        GET /users/ through api-gateway with x-canary: true, as the
                        page's load generator sends it with its canary box ticked
  booking-gateway       POST /bookings/ through api-gateway (two lookups + reservation)
  booking-direct        POST /bookings/ on booking-service (its own share of the above)
  movies-list-gateway   GET /movies/ through api-gateway
TXT
}

duration=10 connections=32 threads=2 rounds=3 role_workers=1 scenarios="" out="" binary="" instructions="" with_instructions="" phases=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=${2:?--duration needs a value}; shift 2 ;;
    --connections) connections=${2:?--connections needs a value}; shift 2 ;;
    --threads) threads=${2:?--threads needs a value}; shift 2 ;;
    --rounds) rounds=${2:?--rounds needs a value}; shift 2 ;;
    --role-workers) role_workers=${2:?--role-workers needs a value}; shift 2 ;;
    --scenarios) scenarios=${2:?--scenarios needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a value}; shift 2 ;;
    --binary) binary=${2:?--binary needs a value}; shift 2 ;;
    --instructions) instructions=${2:?--instructions needs a value}; shift 2 ;;
    --with-instructions) with_instructions=${2:?--with-instructions needs a value}; shift 2 ;;
    --phases) phases=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 64 ;;
  esac
done
for n in "$duration" "$connections" "$threads" "$rounds" "$role_workers" ${instructions:+"$instructions"} ${with_instructions:+"$with_instructions"}; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "numbers must be positive integers, got '$n'" >&2; exit 64; }
done
all_scenarios="user-get-direct user-get-gateway users-list-direct users-list-gateway users-list-canary-gateway users-list-10k users-list-10k-3 booking-gateway booking-direct movies-list-gateway"
selected=${scenarios//,/ }
selected=${selected:-$all_scenarios}
for s in $selected; do
  [[ " $all_scenarios " == *" $s "* ]] || { echo "unknown scenario '$s' (see --help)" >&2; exit 64; }
done
if [ "$phases" -eq 1 ] && [ -z "$instructions" ]; then
  echo "--phases needs --instructions N" >&2
  exit 64
fi
if [ -n "$instructions" ] && [ -n "$with_instructions" ]; then
  echo "--instructions and --with-instructions exclude each other" >&2
  exit 64
fi
if [ -n "$binary" ]; then
  [ -x "$binary" ] || { echo "--binary $binary is not an executable file" >&2; exit 64; }
  binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
fi

cd "$(dirname "$0")/.."
source scripts/lib.sh
apt_install wrk redis-server curl
[ -n "$instructions$with_instructions" ] && apt_install valgrind

work=$(mktemp -d)
pids=()
cleanup() {
  stop_pids "${pids[@]}"
  stop_redis
  remove_dirs "$work"
}
trap 'exit_after cleanup' EXIT

if [ -n "$binary" ]; then
  bin=$binary
  echo "==> using $bin"
elif [ "$phases" -eq 1 ]; then
  echo "==> building the release binary with its symbols kept (for --phases)"
  CARGO_PROFILE_RELEASE_STRIP=none CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
    cargo build --release --quiet --target-dir "$(target_dir)/symbols"
  bin=$(target_dir)/symbols/release/theater
else
  echo "==> building the release binary"
  bin=$(theater_release_binary)
fi

start_redis
redis_url="redis://127.0.0.1:${REDIS_PORT}"

declare -A port ready_ms role_args
movie_ids=() # the halls booking-gateway books, when it runs

# True once 127.0.0.1:$1 answers /readyz, polled up to $2 times $3 seconds apart.
wait_ready() {
  local _
  for _ in $(seq "$2"); do
    curl -fsS -o /dev/null "http://127.0.0.1:$1/readyz" 2>/dev/null && return 0
    sleep "$3"
  done
  return 1
}

# Starts one role; records its pid, port and how long it took to answer /readyz.
start_role() {
  local name=$1 role=$2
  shift 2
  port[$name]=$(free_port)
  # Kept for --instructions, which starts the same role again (no argument has a space).
  role_args[$name]="--role $role --listen-addr 127.0.0.1 --redis-url $redis_url --cluster bench --pod-name $name --workers $role_workers $*"
  local t0 t1
  t0=$(date +%s%N)
  # shellcheck disable=SC2086 # one word per argument
  "$bin" ${role_args[$name]} --port "${port[$name]}" >"$work/$name.log" 2>&1 &
  pids+=($!)
  eval "pid_${name//-/_}=$!"
  if wait_ready "${port[$name]}" 2000 0.005; then
    t1=$(date +%s%N)
    ready_ms[$name]=$(((t1 - t0) / 1000000))
    return 0
  fi
  echo "$name did not become ready; its log:" >&2
  cat "$work/$name.log" >&2
  exit 1
}

start_role user user
start_role movie movie
start_role booking booking --user-service-url "http://127.0.0.1:${port[user]}" \
  --movie-service-url "http://127.0.0.1:${port[movie]}"
start_role gateway gateway --user-service-url "http://127.0.0.1:${port[user]}" \
  --movie-service-url "http://127.0.0.1:${port[movie]}" --booking-service-url "http://127.0.0.1:${port[booking]}"
start_role user10k user --redis-key-prefix bench10k
user=http://127.0.0.1:${port[user]} gateway=http://127.0.0.1:${port[gateway]}
sleep 0.5 # the roles seed in the background right after they turn ready

rss_kib() { awk -v f="$2" '$1 == f":" {print $2}' "/proc/$1/status"; }
declare -A idle_rss
for name in user movie booking gateway; do
  pid_var="pid_${name}"
  idle_rss[$name]=$(rss_kib "${!pid_var}" VmRSS)
done

if [[ " $selected " == *" users-list-10k"* ]]; then
  echo "==> storing 10,000 users for users-list-10k"
  python3 - "${port[user10k]}" <<'PY'
import http.client, json, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
for i in range(9997):  # plus the 3 seeded users
    body = json.dumps({"name": f"bench user {i}", "email": f"bench{i}@example.com"})
    conn.request("POST", "/users/", body, {"content-type": "application/json"})
    resp = conn.getresponse(); resp.read()
    if resp.status != 201:
        sys.exit(f"creating user {i}: HTTP {resp.status}")
PY
fi
if [[ " $selected " == *" booking-"* ]]; then
  # Several large halls, booked in turn, so a run never sells out (a 409 counts as an error).
  movie_ids=()
  for hall in 1 2 3 4 5 6; do
    movie_ids+=("$(curl -fsS "$gateway/movies/" -H 'content-type: application/json' \
      -d "{\"title\":\"Bench hall $hall\",\"genre\":\"Load\",\"year\":2026,\"seats\":100000}" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')")
  done
  quoted=$(printf '"%s",' "${movie_ids[@]}")
  cat >"$work/booking.lua" <<LUA
local movies = {${quoted%,}}
local n = 0
request = function()
  n = n + 1
  local body = '{"userId":"1","movieId":"' .. movies[n % #movies + 1] .. '","seats":1}'
  return wrk.format("POST", nil, {["content-type"] = "application/json"}, body)
end
LUA
fi

# Prints "req_per_s p50_ms p99_ms errors" for one wrk run.
run_wrk() {
  local url=$1 secs=$2 script=${3:-} header=${4:-}
  local args=(-t "$threads" -c "$connections" -d "${secs}s" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  [ -n "$header" ] && args+=(-H "$header")
  wrk "${args[@]}" "$url" >"$work/wrk.out" 2>&1 || { cat "$work/wrk.out" >&2; return 1; }
  python3 -c '
import re, sys
text = sys.stdin.read()
def ms(v):
    n, unit = float(re.match(r"[\d.]+", v).group()), re.search(r"[a-z]+$", v).group()
    return n * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)$", text, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)$", text, re.M).group(1))
errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors += int(m.group(1)) if m else 0
print(f"{rps:.0f} {p50:.2f} {p99:.2f} {errors}")' <"$work/wrk.out" || { echo "could not read wrk output:" >&2; cat "$work/wrk.out" >&2; return 1; }
}

declare -A url_of script_of header_of
url_of[user-get-direct]="$user/users/1"
url_of[user-get-gateway]="$gateway/users/1"
url_of[users-list-direct]="$user/users/"
url_of[users-list-gateway]="$gateway/users/"
url_of[users-list-canary-gateway]="$gateway/users/"
header_of[users-list-canary-gateway]="x-canary: true"
url_of[users-list-10k]="http://127.0.0.1:${port[user10k]}/users/"
url_of[users-list-10k-3]="http://127.0.0.1:${port[user10k]}/users/?limit=3&offset=9990"
url_of[booking-gateway]="$gateway/bookings/"
script_of[booking-gateway]="$work/booking.lua"
url_of[booking-direct]="http://127.0.0.1:${port[booking]}/bookings/"
script_of[booking-direct]="$work/booking.lua"
url_of[movies-list-gateway]="$gateway/movies/"

# The role whose process a scenario's requests enter.
declare -A entry_role=(
  [user-get-direct]=user [user-get-gateway]=gateway [users-list-direct]=user [users-list-gateway]=gateway
  [users-list-10k]=user10k [users-list-10k-3]=user10k [booking-gateway]=gateway [movies-list-gateway]=gateway
  [users-list-canary-gateway]=gateway [booking-direct]=booking
)

# Sends $3 requests ($2: a method and path) to 127.0.0.1:$1 one at a time over one
# connection, with header $4 ("name: value") if not empty; a booking names the halls in
# turn, as wrk's script does.
send_sequentially() {
  python3 - "$@" "${movie_ids[@]}" <<'PY'
import http.client, json, sys
port, (method, path), n, header, movies = int(sys.argv[1]), sys.argv[2].split(" ", 1), int(sys.argv[3]), sys.argv[4], sys.argv[5:]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
for i in range(n):
    body, headers = None, {}
    if header:
        name, value = header.split(":", 1)
        headers[name.strip()] = value.strip()
    if method == "POST":
        body = json.dumps({"userId": "1", "movieId": movies[i % len(movies)], "seats": 1})
        headers["content-type"] = "application/json"
    conn.request(method, path, body, headers)
    resp = conn.getresponse()
    resp.read()
    if resp.status >= 300:
        sys.exit(f"{method} {path}: HTTP {resp.status}")
PY
}

# Prints the instructions per request that scenario $1's entry role executes: the role
# is started once more under callgrind beside the running one (same arguments and
# upstreams), warmed up, its counters zeroed, sent $2 requests, then its counters dumped
# and divided. The dump stays in the run's directory only while the run lasts; set
# BENCH_KEEP_CALLGRIND=DIR to have each scenario's dump copied there for callgrind_annotate.
count_instructions() {
  local s=$1 name=${entry_role[$1]} n=$2 cg_port cg_pid out=$work/callgrind.$1
  cg_port=$(free_port)
  # shellcheck disable=SC2086 # one word per argument
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" ${role_args[$name]} --port "$cg_port" \
    >"$work/$s.callgrind.log" 2>&1 &
  cg_pid=$!
  pids+=("$cg_pid")
  # valgrind starts slowly: up to a minute.
  wait_ready "$cg_port" 600 0.1 ||
    { echo "$name under callgrind did not become ready; its log:" >&2; cat "$work/$s.callgrind.log" >&2; exit 1; }
  local request="GET /${url_of[$s]#http://127.0.0.1:*/}"
  [[ "$s" == booking-* ]] && request="POST /bookings/"
  send_sequentially "$cg_port" "$request" 200 "${header_of[$s]:-}"
  callgrind_control --zero "$cg_pid" >/dev/null 2>&1
  send_sequentially "$cg_port" "$request" "$n" "${header_of[$s]:-}"
  callgrind_control --dump "$cg_pid" >/dev/null 2>&1
  stop_pids "$cg_pid"
  if [ -n "${BENCH_KEEP_CALLGRIND:-}" ]; then
    mkdir -p "$BENCH_KEEP_CALLGRIND"
    cp "$out.1" "$BENCH_KEEP_CALLGRIND/callgrind.$s"
  fi
  # The dump asked for is "$out.1"; its totals count every instruction executed since
  # the zeroing, in all of the role's threads.
  awk -v n="$n" '/^(totals|summary):/ {printf "%.0f\n", $2 / n; exit}' "$out.1"
}

# Prints a Markdown table of where the instructions of callgrind dump $1 ($2 requests)
# went: every instruction counted once, in the function that executed it (its "self"
# cost, inlined code included), and given to the first phase whose rule matches the
# source file of that code or, for Rust's own library (generics, formatting, drops,
# inlined anywhere), the function it was inlined into.
print_phases() {
  python3 - "$1" "$2" <<'PY'
import re, sys
from collections import defaultdict

PHASES = [  # (phase, rule on the source file, rule on the enclosing function)
    ("HTTP parsing: actix-http zeroing its header index (memset)", r"memset", r"^$"),
    ("HTTP parsing (actix-http decoder, httparse, http)",
     r"actix-http-[^/]+/src/(h1/(decoder|codec)|requests|header|message)|httparse-|/http-0\.[^/]+/src/",
     r"httparse|http::header|http::uri|actix_http::header|Decoder"),
    ("response writing (actix-http encoder)", r"actix-http-[^/]+/src/(h1/encoder|body|responses)",
     r"Encoder|encoder|actix_http::body"),
    ("calls to other services (awc, actix-http client)", r"awc-|actix-http-[^/]+/src/h1/client|actix-codec-",
     r"awc::|ClientCodec"),
    ("connection handling (actix-http dispatcher, actix-server)", r"actix-http-|actix-server-|actix-service-",
     r"actix_http|actix_server|actix_service"),
    ("identity headers", r"default_headers\.rs|/src/http/identity\.rs", r"default_headers|DefaultHeader"),
    ("routing and extractors (actix-web, actix-router, regex)",
     r"actix-router-|actix-web-|regex|/src/(http/(request|api)|roles/(user|movie|booking|meta))[./]", r"actix_router|actix_web|regex"),
    ("request span, access line and other text formatting (tracing, core::fmt)", r"tracing|sharded-slab|nu-ansi-term|/src/http/telemetry\.rs|ryu-",
     r"tracing|telemetry|fmt|Debug|Display|flt2dec|nu_ansi"),
    ("metrics", r"/src/http/metrics\.rs", r"metrics"),
    ("chaos check", r"/src/http/chaos\.rs", r"chaos"),
    ("gateway: proxy headers, traffic and history", r"/src/roles/gateway/", r"gateway"),
    ("Redis command and reply (fred, redis-protocol)", r"fred-|redis-protocol-|/src/data/store/|arc-swap|crossbeam",
     r"fred|redis|store"),
    ("JSON (serde_json)", r"serde_json|serde_core|serde-|/src/data/domain/", r"serde"),
    ("runtime and I/O (tokio, futures, system calls)", r"tokio|futures-|mio-|actix-rt-|socket2|sysdeps/unix|/nptl/",
     r"tokio|futures|mio|std::sys|Timespec|thread"),
    ("memory: malloc, free, copies", r"malloc|arena\.c|memmove|memcpy|bytes-|smallvec", r"alloc|RawVec|bytes|drop_in_place"),
    ("hash maps (hashbrown, SipHash)", r"hashbrown|hash/sip", r"hash"),
]
RUST_LIBRARY = re.compile(r"/rustc/|/library/(core|alloc|std)/|/rust/deps/")


def phase_of(file, function):
    library = RUST_LIBRARY.search(file) is not None
    for name, file_rule, function_rule in PHASES:
        if re.search(function_rule, function) if library else re.search(file_rule, file):
            return name
    return next((name for name, rule, _ in PHASES if library and re.search(rule, file)), "other")


def self_costs(path):
    """Instructions per (source file, function), read from the dump's compressed records."""
    names, costs = {"fl": {}, "fn": {}}, defaultdict(int)
    file = inlined = function = None
    skip_next = False  # the line after calls= holds the call's inclusive cost
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if line[:1].isdigit() or line[:1] in ("+", "-", "*"):
            fields = line.split()
            if skip_next:
                skip_next = False
            elif function is not None and len(fields) >= 2:
                costs[(inlined or file, function)] += int(fields[1])
            continue
        key, _, value = line.partition("=")
        m = re.match(r"\((\d+)\)(?: (.*))?", value)
        if m and key in ("fl", "fi", "fe", "fn", "cfl", "cfi", "cfn"):
            table = names["fn" if key.endswith("fn") else "fl"]
            if m.group(2) is not None:
                table[m.group(1)] = m.group(2)
            value = table.get(m.group(1), "?")
        if key == "fl":
            file, inlined = value, None
        elif key in ("fi", "fe"):
            inlined = value
        elif key == "fn":
            function, inlined = value, None
        elif key == "calls":
            skip_next = True
    return costs


dump, requests = sys.argv[1], int(sys.argv[2])
totals, total = defaultdict(int), 0
for (file, function), count in self_costs(dump).items():
    totals[phase_of(file, function)] += count
    total += count
print("| phase | instructions per request | share |")
print("|---|---:|---:|")
for name in [p for p, _, _ in PHASES] + ["other"]:
    if totals[name]:
        print(f"| {name} | {totals[name] / requests:,.0f} | {100 * totals[name] / total:.1f}% |")
print(f"| all | {total / requests:,.0f} | 100% |")
PY
}

results=() breakdowns=()
if [ -n "$instructions" ]; then
  for s in $selected; do
    echo "==> $s: ${entry_role[$s]} under callgrind, 200 requests to warm up, then $instructions counted"
    per_request=$(count_instructions "$s" "$instructions") # a plain assignment, so a failure stops the run
    results+=("| $s | ${entry_role[$s]} | $per_request |")
    if [ "$phases" -eq 1 ]; then
      grep -q '^fn=.*theater::' "$work/callgrind.$s.1" ||
        { echo "$bin has no symbols: --phases needs a binary built with them (drop --binary)" >&2; exit 1; }
      table=$(print_phases "$work/callgrind.$s.1" "$instructions")
      breakdowns+=("" "$s (${entry_role[$s]}), instructions per request by phase:" "" "$table")
    fi
  done
else
  for s in $selected; do
    echo "==> $s: warm-up, then $rounds x ${duration}s, $connections connections"
    run_wrk "${url_of[$s]}" 2 "${script_of[$s]:-}" "${header_of[$s]:-}" >/dev/null
    rows=()
    for _ in $(seq "$rounds"); do
      rows+=("$(run_wrk "${url_of[$s]}" "$duration" "${script_of[$s]:-}" "${header_of[$s]:-}")")
    done
    # The median round by throughput; its latencies are reported with it.
    median=$(printf '%s\n' "${rows[@]}" | sort -n | sed -n "$(((rounds + 1) / 2))p")
    errors=$(printf '%s\n' "${rows[@]}" | awk '{e += $4} END {print e}')
    read -r rps p50 p99 _ <<<"$median"
    results+=("| $s | $rps | $p50 | $p99 | $errors |")
  done
  if [ -n "$with_instructions" ]; then
    # After every wrk round, so callgrind's slow process never shares the CPUs with them.
    i=0
    for s in $selected; do
      echo "==> $s: ${entry_role[$s]} under callgrind, 200 requests to warm up, then $with_instructions counted"
      per_request=$(count_instructions "$s" "$with_instructions")
      results[i]="${results[i]} ${entry_role[$s]} | $per_request |"
      i=$((i + 1))
    done
  fi
fi

peak() { local pid_var="pid_${1}"; rss_kib "${!pid_var}" VmHWM; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
table=$(
  if [ -n "$instructions" ]; then
    echo "| scenario | role measured | instructions per request |"
    echo "|---|---|---:|"
  elif [ -n "$with_instructions" ]; then
    echo "| scenario | req/s (median) | p50 ms | p99 ms | errors | role measured | instructions per request |"
    echo "|---|---:|---:|---:|---:|---|---:|"
  else
    echo "| scenario | req/s (median) | p50 ms | p99 ms | errors |"
    echo "|---|---:|---:|---:|---:|"
  fi
  printf '%s\n' "${results[@]}"
  [ "${#breakdowns[@]}" -eq 0 ] || printf '%s\n' "${breakdowns[@]}"
  if [ -z "$instructions" ]; then # with --instructions no role was under load: no peak
    echo
    echo "| role | ready after start (ms) | RSS idle (MiB) | RSS peak (MiB) |"
    echo "|---|---:|---:|---:|"
    for name in gateway user movie booking; do
      echo "| $name | ${ready_ms[$name]} | $(mib "${idle_rss[$name]}") | $(mib "$(peak "$name")") |"
    done
  fi
)
echo
echo "$table"
if [ -n "$out" ]; then
  {
    echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(free -g | awk '/Mem:/ {print $2}') GiB"
    echo "Date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "Command: scripts/bench.sh --duration $duration --connections $connections --threads $threads --rounds $rounds --role-workers $role_workers${scenarios:+ --scenarios $scenarios}${binary:+ --binary $binary}${instructions:+ --instructions $instructions}${with_instructions:+ --with-instructions $with_instructions}$([ "$phases" -eq 0 ] || echo " --phases")"
    echo
    echo "$table"
  } >"$out"
  echo "(written to $out)"
fi
