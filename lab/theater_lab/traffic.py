"""`traffic`: send N requests, count who answered, judge the split.

Which cluster served a request is read from the backend's `X-Service-Cluster`
(the gateway passes the backend's headers through). A response that no
backend produced, such as an abort injected by Envoy, counts as
`HTTP <status>`; a request without any response as `no answer`. Each share
gets a 99% Wilson score interval: with 1000 requests a 70/30 rule lands
within about ±4 points, so a wrong rule is caught and a right one passes
99 times in 100.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

Z_99 = 2.5758293035489004  # the two-sided 99% quantile of the normal distribution
NO_ANSWER = "no answer"
EXIT_FAILED = 1
EXIT_USAGE = 64
STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class UsageError(Exception):
    """A bad argument; the command exits 64."""


@dataclass(frozen=True)
class Outcome:
    """One request's result: its key (cluster, `HTTP 503` or `no answer`) and status (0 if none)."""

    key: str
    status: int
    ms: float = 0.0  # from sending the request to the end of the answer


def wilson(successes: int, total: int, z: float = Z_99) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion.

    Unlike the textbook p ± z·sqrt(p(1-p)/n), it stays inside [0, 1] and does
    not collapse to a point at 0% or 100%; its ends are exactly 0 and 1 there."""
    if total <= 0:
        raise ValueError("no observations")
    p = successes / total
    scale = 1 + z * z / total
    center = (p + z * z / (2 * total)) / scale
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / scale
    low = 0.0 if successes == 0 else max(0.0, center - half)
    high = 1.0 if successes == total else min(1.0, center + half)
    return low, high


def classify(status: int, headers: http.client.HTTPMessage) -> str:
    """The cluster of the backend that answered, else `HTTP <status>`."""
    service = headers.get("X-Service-Name")
    cluster = headers.get("X-Service-Cluster")
    if service and service != "api-gateway" and cluster:
        return cluster
    return f"HTTP {status}"


def parse_expect(text: str) -> dict[str, float]:
    """`ctx1=70,ctx2=30` or `HTTP 503=30,ctx1=49,ctx2=21`: percentages adding up to 100."""
    expected: dict[str, float] = {}
    for part in text.split(","):
        key, sep, value = part.rpartition("=")
        key = key.strip()
        try:
            share = float(value)
        except ValueError:
            share = -1.0
        if not sep or not key or not 0 <= share <= 100:
            raise UsageError(f"--expect: {part!r} is not KEY=PERCENT (e.g. ctx1=70,ctx2=30)")
        expected[key] = share
    if not math.isclose(sum(expected.values()), 100, abs_tol=1e-6):
        raise UsageError(f"--expect: the shares add up to {sum(expected.values()):g}, not 100")
    return expected


def send(
    url: str,
    path: str,
    count: int,
    headers: dict[str, str],
    *,
    method: str = "GET",
    body: bytes | None = None,
    threads: int = 8,
    timeout: float = 10.0,
) -> list[Outcome]:
    """Sends `count` requests over `threads` keep-alive connections."""
    target = urlsplit(url)
    if target.scheme not in ("http", "https") or not target.hostname:
        raise UsageError(f"--url: {url!r} is not an http(s) URL")
    full_path = target.path.rstrip("/") + (path if path.startswith("/") else "/" + path)
    # The URL's host as written, also when the connection goes to loopback (see _connect).
    headers = {"Host": target.netloc, **(headers or {})}
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def worker(share: int) -> None:
        connection = _connect(target, timeout)
        mine = [_exchange(connection, method, full_path, body, headers) for _ in range(share)]
        connection.close()
        with lock:
            outcomes.extend(mine)

    workers = max(1, min(threads, count))
    pool = [
        threading.Thread(target=worker, args=(count // workers + (i < count % workers),))
        for i in range(workers)
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return outcomes


def _connect(target, timeout: float) -> http.client.HTTPConnection:
    """A connection to the target's host (it reopens itself after close())."""
    kind = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
    # `*.localhost` is loopback by definition (RFC 6761), as curl and browsers treat it,
    # but the system resolver often knows only `localhost` itself: `verify.sh --domain
    # localhost:8000` sends to theater.localhost.
    host = "127.0.0.1" if target.hostname.endswith(".localhost") else target.hostname
    return kind(host, target.port, timeout=timeout)


def _exchange(connection: http.client.HTTPConnection, method, path, body, headers) -> Outcome:
    """One request. When a kept-alive connection turns out closed by the server
    meanwhile, the request never reached anyone and goes again on a fresh
    connection; any other failure is `no answer`."""
    reused = connection.sock is not None
    started = time.monotonic()
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        elapsed = 1000 * (time.monotonic() - started)
        return Outcome(classify(response.status, response.headers), response.status, elapsed)
    except STALE_CONNECTION:
        connection.close()
        if reused:
            return _exchange(connection, method, path, body, headers)
        return Outcome(NO_ANSWER, 0)
    except (OSError, http.client.HTTPException):
        connection.close()
        return Outcome(NO_ANSWER, 0)


def summarize(outcomes: list[Outcome], expected: dict[str, float] | None) -> dict:
    """Counts, shares, 99% intervals and the verdict, as `--json` prints them."""
    total = len(outcomes)
    counts = Counter(o.key for o in outcomes)
    keys = list(expected or {}) + sorted(k for k in counts if k not in (expected or {}))
    rows = {}
    passed = True
    for key in keys:
        low, high = wilson(counts[key], total)
        row = {
            "count": counts[key],
            "sharePct": 100 * counts[key] / total,
            "intervalPct": [100 * low, 100 * high],
        }
        if expected is not None:
            want = expected.get(key, 0.0)
            inside = low - 1e-12 <= want / 100 <= high + 1e-12
            row.update(expectedPct=want, ok=inside)
            passed = passed and inside
        rows[key] = row
    statuses = Counter(str(o.status) if o.status else NO_ANSWER for o in outcomes)
    verdict = "none" if expected is None else ("pass" if passed else "fail")
    answered = [o for o in outcomes if o.status]
    failed = sum(1 for o in outcomes if not o.status or o.status >= 500)
    return {
        "n": total,
        "counts": dict(counts),
        "statuses": dict(sorted(statuses.items())),
        "failedPct": 100 * failed / total,
        "latencyMs": _latency([o.ms for o in answered]),
        "keys": rows,
        "verdict": verdict,
    }


def _latency(values: list[float]) -> dict[str, float]:
    """p50, p99 and max of the answered requests, in ms (nearest rank)."""
    if not values:
        return {}
    ordered = sorted(values)
    rank = lambda q: ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]  # noqa: E731
    return {"p50": round(rank(0.50), 1), "p99": round(rank(0.99), 1), "max": round(ordered[-1], 1)}


def report(summary: dict, title: str) -> str:
    """The human-readable table."""
    lines = [title]
    width = max([len(k) for k in summary["keys"]] + [4])
    for key, row in summary["keys"].items():
        low, high = row["intervalPct"]
        line = (
            f"  {key:<{width}} {row['count']:>6}  {row['sharePct']:5.1f}%"
            f"  99% interval [{low:5.1f}%, {high:5.1f}%]"
        )
        if "expectedPct" in row:
            line += f"  expected {row['expectedPct']:g}%  {'✔' if row['ok'] else '✘'}"
        lines.append(line)
    statuses = summary["statuses"].items()
    lines.append("  statuses: " + ", ".join(f"{status}: {count}" for status, count in statuses))
    latency = summary.get("latencyMs") or {}
    if latency:
        lines.append(
            f"  failed (5xx or no answer): {summary['failedPct']:.1f}%"
            f"   latency: p50 {latency['p50']:g} ms,"
            f" p99 {latency['p99']:g} ms, max {latency['max']:g} ms"
        )
    verdict = {
        "none": "no expectation given (--expect ctx1=70,ctx2=30)",
        "pass": "✔ every share lies within its 99% interval",
        "fail": "✘ some share lies outside its 99% interval",
    }[summary["verdict"]]
    lines.append(f"verdict: {verdict}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser, requests: int = 1000) -> None:
    """The `traffic` command's arguments; `requests` is the default of -n."""
    parser.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--path", required=True, help="e.g. /users/")
    parser.add_argument(
        "-n",
        "--requests",
        dest="n",
        type=int,
        default=requests,
        metavar="N",
        help=f"how many (default {requests})",
    )
    parser.add_argument("--canary", action="store_true", help="send x-canary: true")
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header (repeatable)",
    )
    parser.add_argument("--method", help="default GET, or POST with --data")
    parser.add_argument("--data", metavar="JSON", help="a JSON request body")
    parser.add_argument(
        "--expect",
        metavar="KEY=PCT,...",
        help="expected shares, e.g. ctx1=70,ctx2=30 or 'HTTP 503=30,ctx1=49,ctx2=21';"
        " without it just counts",
    )
    parser.add_argument(
        "--threads", type=int, default=8, help="parallel keep-alive connections (default 8)"
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds per request (default 10)"
    )
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary")


def run(args: argparse.Namespace) -> int:
    """The `traffic` command."""
    try:
        if args.n < 1 or args.threads < 1:
            raise UsageError("-n (--requests) and --threads must be at least 1")
        expected = parse_expect(args.expect) if args.expect else None
        headers = _headers(args.header, args.canary)
        body = None
        if args.data is not None:
            try:
                json.loads(args.data)
            except ValueError as err:
                raise UsageError(f"--data is not JSON: {err}") from err
            body = args.data.encode()
            headers.setdefault("Content-Type", "application/json")
        method = (args.method or ("POST" if body is not None else "GET")).upper()
        started = time.monotonic()
        outcomes = send(
            args.url,
            args.path,
            args.n,
            headers,
            method=method,
            body=body,
            threads=args.threads,
            timeout=args.timeout,
        )
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    summary = summarize(outcomes, expected)
    if args.json:
        print(
            json.dumps({"url": args.url, "path": args.path, "method": method, **summary}, indent=2)
        )
    else:
        canary = " (x-canary: true)" if args.canary else ""
        target = f"{args.url.rstrip('/')}{args.path}"
        seconds = time.monotonic() - started
        title = f"{method} {target}, {args.n} requests{canary}, in {seconds:.1f} s"
        print(report(summary, title))
    return EXIT_FAILED if summary["verdict"] == "fail" else 0


def _headers(raw: list[str], canary: bool) -> dict[str, str]:
    """`--header 'name: value'` options (and --canary) as a header dict."""
    headers = {}
    for item in raw:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"--header {item!r} is not 'NAME: VALUE'")
        headers[name.strip()] = value.strip()
    if canary:
        headers["x-canary"] = "true"
    return headers


class _Parser(argparse.ArgumentParser):
    """argparse that exits 64 on bad usage, like the bash scripts."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"error: {message}\n")


class _Help(argparse.RawDescriptionHelpFormatter):
    """Help that opens with `Usage:`, like the bash scripts' (argparse says `usage:`)."""

    def add_usage(self, usage, actions, groups, prefix=None) -> None:  # type: ignore[no-untyped-def]
        super().add_usage(usage, actions, groups, "Usage: " if prefix is None else prefix)


def main(argv: list[str] | None = None, prog: str = "traffic.py", requests: int = 1000) -> int:
    """The command on its own, without the lab: scripts/traffic.sh runs it with plain
    `python3`, which is why this module uses the standard library only."""
    parser = _Parser(prog=prog, description=_ON_ITS_OWN, formatter_class=_Help)
    add_arguments(parser, requests)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130


_ON_ITS_OWN = """\
Sends N requests to URL+PATH (keep-alive, --threads at a time) and counts who
answered each: the backend's X-Service-Cluster, `HTTP <status>` when no backend
answered (an abort injected by Envoy, say), `no answer` when nothing did. Prints
each share with its 99% Wilson interval, the statuses, the failure rate and the
latency; with --expect also the expected shares and a verdict.

Exit codes: 0 done (and every expected share inside its interval), 1 an expected
share lies outside, 64 bad usage."""


if __name__ == "__main__":
    sys.exit(main())
