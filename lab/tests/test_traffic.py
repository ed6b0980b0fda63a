"""The `traffic` command: classification, Wilson intervals, verdicts and exit codes."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import tempfile
import threading
import unittest
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from theater_lab.traffic import (
    NO_ANSWER,
    Outcome,
    UsageError,
    classify,
    parse_expect,
    report,
    send,
    summarize,
    wilson,
)

Z_95 = 1.959963984540054
REPO = Path(__file__).resolve().parents[2]


def traffic_sh(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """scripts/traffic.sh, the command on its own, run from another directory."""
    return subprocess.run(
        [str(REPO / "scripts" / "traffic.sh"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tempfile.gettempdir(),
        env=env,
        check=False,
    )


class ScriptedServer:
    """Answers requests from a repeating script of (status, headers): counts are exact
    whatever the order the client's threads send in."""

    def __init__(self, script: list[tuple[int, dict[str, str]]]):
        answers = itertools.cycle(script)
        lock = threading.Lock()
        self.requests: list[dict[str, str]] = []
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                with lock:
                    status, headers = next(answers)
                    server_self.requests.append(
                        {"method": self.command, "path": self.path, "body": body, **self.headers}
                    )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = handle_any  # noqa: N815 (http.server's naming)

            def log_message(self, *_) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def backend(cluster: str, service: str = "user-service") -> tuple[int, dict[str, str]]:
    return 200, {"X-Service-Name": service, "X-Service-Cluster": cluster}


def headers(**values: str) -> Message:
    message = Message()
    for name, value in values.items():
        message[name.replace("_", "-")] = value
    return message


class Wilson(unittest.TestCase):
    def test_known_values(self) -> None:
        # R: prop.test(7, 10, correct = FALSE)$conf.int -> 0.3967781 0.8922087
        low, high = wilson(7, 10, Z_95)
        self.assertAlmostEqual(low, 0.3967781, places=7)
        self.assertAlmostEqual(high, 0.8922087, places=7)
        low, high = wilson(50, 100)
        self.assertAlmostEqual(low, 0.3752796, places=6)
        self.assertAlmostEqual(high, 0.6247204, places=6)
        low, high = wilson(700, 1000)
        self.assertAlmostEqual(low, 0.6614543, places=6)
        self.assertAlmostEqual(high, 0.7359092, places=6)

    def test_edges_are_exact(self) -> None:
        low, high = wilson(0, 1000)
        self.assertEqual(low, 0.0)
        self.assertAlmostEqual(high, 2.5758293035489004**2 / (1000 + 2.5758293035489004**2))
        self.assertEqual(wilson(1000, 1000)[1], 1.0)
        with self.assertRaises(ValueError):
            wilson(0, 0)


class Classify(unittest.TestCase):
    def test_keys(self) -> None:
        self.assertEqual(
            classify(200, headers(X_Service_Name="user-service", X_Service_Cluster="ctx2")), "ctx2"
        )
        self.assertEqual(
            classify(503, headers(X_Service_Name="user-service", X_Service_Cluster="ctx1")), "ctx1"
        )
        self.assertEqual(classify(503, headers()), "HTTP 503")
        self.assertEqual(
            classify(502, headers(X_Service_Name="api-gateway", X_Service_Cluster="ctx1")),
            "HTTP 502",
        )

    def test_expect(self) -> None:
        self.assertEqual(parse_expect("ctx1=70,ctx2=30"), {"ctx1": 70.0, "ctx2": 30.0})
        self.assertEqual(
            parse_expect("HTTP 503=30, ctx1=49.5,ctx2=20.5"),
            {"HTTP 503": 30, "ctx1": 49.5, "ctx2": 20.5},
        )
        for bad in ("ctx1=70,ctx2=20", "ctx1", "ctx1=x,ctx2=100", "=100", "ctx1=120,ctx2=-20"):
            with self.subTest(bad=bad), self.assertRaises(UsageError):
                parse_expect(bad)

    def test_verdicts(self) -> None:
        outcomes = [Outcome("ctx1", 200)] * 700 + [Outcome("ctx2", 200)] * 300
        self.assertEqual(summarize(outcomes, {"ctx1": 70, "ctx2": 30})["verdict"], "pass")
        self.assertEqual(summarize(outcomes, {"ctx1": 50, "ctx2": 50})["verdict"], "fail")
        self.assertEqual(summarize(outcomes, None)["verdict"], "none")
        everything = [Outcome("ctx2", 200)] * 100
        self.assertEqual(summarize(everything, {"ctx2": 100})["verdict"], "pass")
        one_stray = [*everything[:-1], Outcome(NO_ANSWER, 0)]
        summary = summarize(one_stray, {"ctx2": 100})
        self.assertEqual(summary["verdict"], "fail", "a 0% expectation admits no hit at all")
        self.assertFalse(summary["keys"][NO_ANSWER]["ok"])
        self.assertEqual(summary["statuses"], {"200": 99, NO_ANSWER: 1})


class Latency(unittest.TestCase):
    def test_failures_and_latency(self) -> None:
        outcomes = [Outcome("ctx1", 200, float(ms)) for ms in range(1, 99)]
        outcomes += [Outcome("HTTP 504", 504, 1000.0), Outcome(NO_ANSWER, 0, 0.0)]
        summary = summarize(outcomes, None)
        self.assertEqual(summary["failedPct"], 2.0, "a 5xx and a request without answer")
        self.assertEqual(
            summary["latencyMs"],
            {"p50": 50.0, "p99": 1000.0, "max": 1000.0},
            "answered only, nearest rank",
        )
        self.assertIn("latency: p50 50 ms, p99 1000 ms, max 1000 ms", report(summary, "t"))


class Sending(unittest.TestCase):
    def serve(self, script) -> ScriptedServer:
        server = ScriptedServer(script)
        self.addCleanup(server.close)
        return server

    def test_counts_are_exact(self) -> None:
        script = [backend("ctx1")] * 7 + [backend("ctx2")] * 2 + [(503, {})]
        server = self.serve(script)
        outcomes = send(server.url, "/users/", 1000, {"x-canary": "true"}, threads=8, timeout=5)
        summary = summarize(outcomes, {"ctx1": 70, "ctx2": 20, "HTTP 503": 10})
        self.assertEqual(summary["counts"], {"ctx1": 700, "ctx2": 200, "HTTP 503": 100})
        self.assertEqual(summary["verdict"], "pass")
        self.assertTrue(
            all(r["path"] == "/users/" and r["x-canary"] == "true" for r in server.requests)
        )

    def test_a_localhost_subdomain_goes_to_loopback_with_its_own_host_header(self) -> None:
        server = self.serve([backend("ctx1")])
        port = server.server.server_address[1]
        outcomes = send(f"http://theater.localhost:{port}", "/users/", 20, {}, threads=2, timeout=5)
        self.assertEqual(summarize(outcomes, {"ctx1": 100})["counts"], {"ctx1": 20})
        self.assertEqual({r["Host"] for r in server.requests}, {f"theater.localhost:{port}"})

    def test_cli(self) -> None:
        server = self.serve([backend("ctx1")] * 7 + [backend("ctx2")] * 3)
        passed = traffic_sh(
            "--url", server.url, "--path", "/users/", "-n", "200", "--expect", "ctx1=70,ctx2=30"
        )
        self.assertEqual(passed.returncode, 0, passed.stdout + passed.stderr)
        self.assertIn("✔", passed.stdout)
        self.assertIn("statuses: 200: 200", passed.stdout)
        failed = traffic_sh(
            "--url", server.url, "--path", "/users/", "-n", "200", "--expect", "ctx2=100"
        )
        self.assertEqual(failed.returncode, 1)
        self.assertIn("✘", failed.stdout)
        usage = traffic_sh("--url", server.url, "--path", "/users/", "--expect", "ctx1=70,ctx2=40")
        self.assertEqual(usage.returncode, 64)
        self.assertIn("add up to 110", usage.stderr)

    def test_cli_json_and_post(self) -> None:
        server = self.serve([backend("ctx2", "booking-service")])
        options = [
            "-n",
            "20",
            "--data",
            '{"seats": 1}',
            "--header",
            "x-request-id: abc",
            "--expect",
            "ctx2=100",
            "--json",
        ]
        done = traffic_sh("--url", server.url + "/", "--path", "/bookings/", *options)
        self.assertEqual(done.returncode, 0, done.stderr)
        summary = json.loads(done.stdout)
        self.assertEqual(
            (summary["n"], summary["verdict"], summary["method"]), (20, "pass", "POST")
        )
        self.assertEqual(
            (summary["keys"]["ctx2"]["count"], summary["keys"]["ctx2"]["expectedPct"]), (20, 100)
        )
        self.assertEqual(summary["keys"]["ctx2"]["intervalPct"][1], 100.0)
        request = server.requests[0]
        self.assertEqual(
            (request["method"], request["body"], request["x-request-id"]),
            ("POST", '{"seats": 1}', "abc"),
        )
        self.assertEqual(request["Content-Type"], "application/json")

    def test_no_answer(self) -> None:
        server = self.serve([backend("ctx1")])
        url = server.url
        server.close()
        done = traffic_sh(
            "--url", url, "--path", "/", "-n", "5", "--expect", "ctx1=100", "--timeout", "2"
        )
        self.assertEqual(done.returncode, 1)
        self.assertIn("no answer", done.stdout)

    def test_operator_script(self) -> None:
        """scripts/traffic.sh is this command for operators: plain python3, its own
        flags and default, exit 0/1/64, and nothing taken from the caller's PYTHONPATH."""
        server = self.serve([backend("ctx1")] * 7 + [backend("ctx2")] * 3)
        env = {**os.environ, "PYTHONPATH": "/nonexistent"}

        def run(*args: str) -> subprocess.CompletedProcess:
            return traffic_sh(*args, env=env)

        usage = run("--help")
        self.assertEqual(usage.returncode, 0, usage.stderr)
        self.assertTrue(usage.stdout.startswith("Usage: scripts/traffic.sh"), usage.stdout)
        self.assertIn("(default 200)", usage.stdout)
        passed = run("--url", server.url, "--path", "/users/", "--expect", "ctx1=70,ctx2=30")
        self.assertEqual(passed.returncode, 0, passed.stdout + passed.stderr)
        self.assertIn(", 200 requests, in", passed.stdout)
        self.assertIn("✔ every share lies within its 99% interval", passed.stdout)
        canary = run(
            "--url",
            server.url,
            "--path",
            "/users/",
            "--requests",
            "20",
            "--canary",
            "--expect",
            "ctx2=100",
        )
        self.assertEqual(canary.returncode, 1, canary.stdout + canary.stderr)
        self.assertIn("(x-canary: true)", canary.stdout)
        self.assertEqual(server.requests[-1]["x-canary"], "true")
        self.assertEqual(run("--url", server.url, "--path", "/", "--requests", "0").returncode, 64)
        self.assertEqual(run("--bogus").returncode, 64)
        self.assertFalse(
            (REPO / "lab" / "theater_lab" / "__pycache__").exists(), "-B leaves no bytecode behind"
        )


if __name__ == "__main__":
    unittest.main()
