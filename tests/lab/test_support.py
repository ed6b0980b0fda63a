"""Shared helpers of the mesh-lab tests (this module holds no tests itself).

It puts scripts/meshlab on the import path, renders the repository's
manifests once per run, and provides fake backends (tiny HTTP servers that
answer like the app's roles) and a real Envoy process for the live tests.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.dont_write_bytecode = True  # keep the checkout free of __pycache__
REPO = Path(__file__).resolve().parents[2]
MESHLAB = REPO / "scripts" / "meshlab"
sys.path.insert(0, str(MESHLAB))

# isort: split
from fields import Problems  # noqa: E402
from manifests import load_objects  # noqa: E402
from plan import Plan, build_plan  # noqa: E402
from render import translate  # noqa: E402
from routes import RetryDefaults  # noqa: E402
from rules import merge, select_rules  # noqa: E402

CLUSTERS = REPO / "manifests" / "clusters"
SCENARIOS = REPO / "manifests" / "scenarios"
ENVOY_ENV = "MESHLAB_ENVOY"


@cache
def rendered(directory: Path) -> tuple[dict[str, Any], ...]:
    """The objects `kubectl kustomize DIRECTORY` renders (once per test run)."""
    return tuple(load_objects(directory))


@cache
def real_plan() -> Plan:
    """The plan of the repository's own manifests (free ports, a free gateway port)."""
    return build_plan([str(CLUSTERS / "ctx1"), str(CLUSTERS / "ctx2")], gateway_port=free_port())


@cache
def located_plan() -> Plan:
    """The real plan as the live lab sees it from ctx1: each instance in its node's
    region and zone, the caller (ctx1's Envoy) in region1/zone1."""
    where = {"ctx1": "region1/zone1", "ctx2": "region2/zone2"}
    plan = real_plan()
    instances = [dataclasses.replace(i, locality=where[i.cluster]) for i in plan.instances]
    return dataclasses.replace(plan, instances=instances, live=True, locality=where["ctx1"])


def free_port() -> int:
    """A TCP port that is free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rules_of(*sources: Path | list[dict], problems: Problems | None = None) -> list[dict]:
    """The rules of rendered directories or object lists, applied in order like
    `kubectl apply`. Objects the lab refuses go to `problems` (or fail the test)."""
    found = Problems() if problems is None else problems
    merged: list[dict] = []
    for source in sources:
        objects = list(rendered(source)) if isinstance(source, Path) else source
        merged = merge(merged, select_rules(objects, "theater-msa", found), "theater-msa")
    assert problems is not None or not found.errors, found.errors
    return merged


def translated(
    plan: Plan, rules: list[dict], retry_503: bool = True, problems: Problems | None = None
) -> tuple[list[dict], dict[str, dict], Problems]:
    """Clusters, route configurations and problems of a set of rules."""
    problems = Problems() if problems is None else problems
    clusters, route_configs = translate(plan, rules, RetryDefaults(retry_503), problems)
    return clusters, route_configs, problems


def meshlab(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Runs the CLI as the orchestrator does, from another directory."""
    return subprocess.run(
        [sys.executable, str(MESHLAB / "meshlab.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tempfile.gettempdir(),
        check=False,
    )


class FakeFleet:
    """One tiny HTTP server per planned instance, answering like the app's roles
    (X-Service-Name, X-Service-Cluster, X-Pod-Name); any can be made to fail."""

    def __init__(self, plan: Plan):
        self.failing: dict[str, int] = {}
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.servers = []
        for instance in plan.instances:
            server = ThreadingHTTPServer(("127.0.0.1", instance.port), self._handler(instance))
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers.append(server)

    def fail(self, name: str, status: int = 503) -> None:
        """Makes an instance answer `status` to everything (its chaos knob)."""
        self.failing[name] = status

    def heal(self) -> None:
        """Every instance answers 200 again."""
        self.failing.clear()

    def close(self) -> None:
        """Stops every server."""
        for server in self.servers:
            server.shutdown()
            server.server_close()

    def _handler(self, instance) -> type[BaseHTTPRequestHandler]:
        fleet = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else Nagle and delayed ACKs cost 40 ms a request

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                with fleet.lock:
                    fleet.hits[instance.name] += 1
                status = fleet.failing.get(instance.name, 200)
                body = json.dumps({"pod": instance.name, "path": self.path}).encode()
                self.send_response(status)
                self.send_header("X-Service-Name", instance.service)
                self.send_header("X-Service-Cluster", instance.cluster)
                self.send_header("X-Pod-Name", instance.name)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


class EnvoyProcess:
    """A real Envoy started on a lab bootstrap, stopped however the test ends."""

    def __init__(self, binary: str, bootstrap: Path, admin_port: int, log: Path):
        self.admin_port = admin_port
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [binary, "-c", str(bootstrap), "--disable-hot-restart", "--log-level", "warn", "--concurrency", "2"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout: float = 20) -> None:
        """Waits until the admin API says LIVE (listeners bound, xDS files loaded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"Envoy exited with {self.process.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/ready", timeout=1) as answer:
                    if answer.read().strip() == b"LIVE":
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"Envoy not ready after {timeout} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        """The end of Envoy's output, for failure messages."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Terminates Envoy (kills it if it does not go within 5 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def envoy_binary() -> str | None:
    """The Envoy the live tests use (MESHLAB_ENVOY), or None to skip them."""
    return os.environ.get(ENVOY_ENV) or None
