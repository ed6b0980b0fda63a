"""A real Envoy between fake instances, configured by `render` from the repository's rules.

Skipped unless MESHLAB_ENVOY names an Envoy binary (scripts/mesh-lab.sh's venv
has one). Every wait is bounded; Envoy and the fake instances are stopped
however a test ends.

Splits are judged like `traffic` does, with 99% Wilson intervals over 1000
requests. A correct rule still falls outside once in a hundred measurements,
so a failed measurement is repeated once: a wrong rule fails both, a right
one fails both once in ten thousand runs.
"""

from __future__ import annotations

import tempfile
import time
import unittest
from pathlib import Path

from test_support import CLUSTERS, SCENARIOS, EnvoyProcess, FakeFleet, envoy_binary, meshlab, real_plan

# isort: split
# The lab's modules, importable once test_support has put scripts/meshlab on the path.
from envoy import BOOTSTRAP
from manifests import to_json, write_atomically
from render import render
from routes import RetryDefaults
from status import snapshot
from traffic import parse_expect, report, send, summarize

SYNC_TIMEOUT = 10.0


class LiveEnvoy(unittest.TestCase):
    """One Envoy and one fleet for the class; each test applies the rules it needs."""

    @classmethod
    def setUpClass(cls) -> None:
        binary = envoy_binary()
        if binary is None:
            raise unittest.SkipTest("MESHLAB_ENVOY is not set: these tests need a real Envoy binary")
        cls.binary = binary
        scratch = tempfile.TemporaryDirectory(prefix="meshlab-live-")
        cls.addClassCleanup(scratch.cleanup)
        cls.dir = Path(scratch.name)
        cls.out = cls.dir / "envoy"
        cls.out.mkdir()
        cls.state = cls.dir / "rules.json"
        cls.plan = real_plan()
        cls.plan_file = cls.dir / "plan.json"
        write_atomically(cls.plan_file, to_json(cls.plan.to_json()))
        cls.fleet = FakeFleet(cls.plan)
        cls.addClassCleanup(cls.fleet.close)
        cls.apply_rules(CLUSTERS / "ctx1")
        cls.envoy = EnvoyProcess(binary, cls.out / BOOTSTRAP, cls.plan.admin_port, cls.dir / "envoy.log")
        cls.addClassCleanup(cls.envoy.stop)
        cls.wait_in_sync()

    def setUp(self) -> None:
        self.fleet.heal()
        self.apply(CLUSTERS / "ctx1")

    @classmethod
    def apply_rules(cls, *rules: Path, retry_503: bool = True) -> None:
        """Renders rules over the state, like scripts/mesh-lab.sh does."""
        done = render(cls.plan, [str(r) for r in rules], cls.out, cls.binary, str(cls.state), RetryDefaults(retry_503))
        assert not done.problems.errors, done.problems.errors

    @classmethod
    def wait_in_sync(cls) -> None:
        """Waits until Envoy runs the files last rendered."""
        deadline = time.monotonic() + SYNC_TIMEOUT
        while not snapshot(cls.plan, str(cls.out))["inSync"]:
            if time.monotonic() > deadline:
                raise AssertionError(f"Envoy did not load the rendered files in {SYNC_TIMEOUT} s:\n{cls.envoy.tail()}")
            time.sleep(0.05)

    def apply(self, *rules: Path, retry_503: bool = True) -> None:
        self.apply_rules(*rules, retry_503=retry_503)
        self.wait_in_sync()

    def url(self, listener: str) -> str:
        port = self.plan.ingress_port if listener == "ingress" else self.plan.listeners[listener]
        return f"http://127.0.0.1:{port}"

    def assertSplit(self, listener: str, expect: str, headers: dict[str, str] | None = None) -> None:  # noqa: N802
        """1000 requests to a listener fall within the 99% intervals of `expect` (one retry, see above)."""
        tables = []
        for _ in range(2):
            outcomes = send(self.url(listener), "/users/", 1000, headers or {}, threads=8, timeout=10)
            summary = summarize(outcomes, parse_expect(expect))
            if summary["verdict"] == "pass":
                return
            tables.append(report(summary, f"{listener} {headers or ''}"))
        self.fail("split outside its 99% interval twice:\n" + "\n".join(tables))

    def test_base_splits(self) -> None:
        self.assertSplit("user-service", "ctx1=70,ctx2=30")
        self.assertSplit("movie-service", "ctx1=30,ctx2=70")
        self.assertSplit("booking-service", "ctx1=50,ctx2=50")

    def test_canary_header_goes_to_ctx2(self) -> None:
        for listener in ("user-service", "movie-service", "booking-service"):
            self.assertSplit(listener, "ctx2=100", {"x-canary": "true"})

    def test_live_swap_to_error_fault(self) -> None:
        pid = self.envoy.process.pid
        self.apply(SCENARIOS / "error-fault")
        self.assertSplit("user-service", "HTTP 503=30,ctx1=49,ctx2=21")
        self.assertSplit("user-service", "ctx2=100", {"x-canary": "true"})
        self.assertSplit("movie-service", "ctx1=30,ctx2=70")
        self.assertEqual((self.envoy.process.pid, self.envoy.process.poll()), (pid, None), "Envoy was not restarted")

    def test_weight_zero_gets_nothing(self) -> None:
        self.apply(SCENARIOS / "block-cluster")
        for listener in ("user-service", "movie-service", "booking-service"):
            self.assertSplit(listener, "ctx1=100")
            self.assertSplit(listener, "ctx1=100", {"x-canary": "true"})

    def test_outlier_detection_ejects_the_failing_instance(self) -> None:
        self.apply(SCENARIOS / "circuit-breaker")
        self.assertSplit("user-service", "ctx1=50,ctx2=50")
        self.fleet.fail("user-service-ctx2")
        seen = self.send_until_ejected("user-service-ctx2")
        self.assertEqual(seen, {"ctx1"}, "Istio's default retry policy retries a 503 on the other instance")
        self.assertSplit("user-service", "ctx1=100")
        ejected = meshlab("ejected", "--plan", str(self.plan_file))
        self.assertEqual(ejected.stdout.split(), ["user-service-ctx2"], ejected.stderr)

    def test_without_503_retries_the_client_sees_the_failures(self) -> None:
        self.apply(SCENARIOS / "circuit-breaker", retry_503=False)
        self.fleet.fail("movie-service-ctx1")
        seen = self.send_until_ejected("movie-service-ctx1", listener="movie-service")
        self.assertIn("ctx1", seen, "Istio 1.24+ does not retry a 503 answer")
        self.assertSplit("movie-service", "ctx2=100")

    def send_until_ejected(self, instance: str, listener: str = "user-service") -> set[str]:
        """Sends requests one at a time until outlier detection ejects `instance`
        (at most 50); returns the clusters that answered meanwhile."""
        seen = set()
        for _ in range(50):
            seen |= {o.key for o in send(self.url(listener), "/users/", 1, {}, threads=1, timeout=10)}
            if instance in snapshot(self.plan, None)["ejected"]:
                return seen
        raise self.failureException(f"{instance} not ejected after 50 requests:\n{self.envoy.tail()}")

    def test_ingress_routes_the_external_host_to_the_gateway(self) -> None:
        outcomes = send(self.url("ingress"), "/", 20, {"Host": "theater.example.com:8443"}, threads=2, timeout=10)
        self.assertEqual({(o.key, o.status) for o in outcomes}, {("HTTP 200", 200)})
        self.assertGreaterEqual(self.fleet.hits["api-gateway-ctx1"], 20)
        unknown = send(self.url("ingress"), "/", 1, {"Host": "elsewhere.example.com"}, timeout=10)
        self.assertEqual(unknown[0].status, 404)

    def test_status_command(self) -> None:
        done = meshlab("status", "--plan", str(self.plan_file), "--dir", str(self.out))
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("outbound|8081|ctx1|user-service.theater-msa.svc.cluster.local", done.stdout)
        self.assertIn("user-service-ctx1", done.stdout)
        self.assertNotIn("not loaded yet", done.stdout)


if __name__ == "__main__":
    unittest.main()
