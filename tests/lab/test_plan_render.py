"""The `plan` and `render` commands: ports, files, state, all-or-nothing."""

from __future__ import annotations

import json
import socket
import tempfile
import unittest
from contextlib import ExitStack
from pathlib import Path

from test_support import CLUSTERS, SCENARIOS, envoy_binary, free_port, meshlab, real_plan

# isort: split
# The lab's modules, importable once test_support has put scripts/meshlab on the path.
from plan import PlanError, build_plan

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: theater-msa}}
spec:
  template:
    metadata: {{labels: {labels}}}
    spec:
      containers: [{{name: theater, args: ["--role", "{role}"]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: user-service, namespace: theater-msa}}
spec:
  ports: [{{port: 8081}}]
  selector: {{app: user-service}}
"""


def free_window(count: int) -> int:
    """The first of `count` consecutive free ports, below the kernel's ephemeral
    range (where the tests' own client connections come and go)."""
    for base in range(20000, 32000, count):
        try:
            with ExitStack() as held:
                for port in range(base, base + count):
                    sock = held.enter_context(socket.socket())
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise AssertionError(f"no {count} consecutive free ports between 20000 and 32000")


class Plans(unittest.TestCase):
    """Planning from the rendered manifests."""

    def test_real_manifests(self) -> None:
        plan = real_plan()
        names = {i.name: i for i in plan.instances}
        self.assertEqual(
            sorted(names),
            sorted(
                ["api-gateway-ctx1"] + [f"{s}-service-{c}" for s in ("user", "movie", "booking") for c in ("ctx1", "ctx2")]
            ),
        )
        self.assertEqual((names["user-service-ctx2"].role, names["user-service-ctx2"].cluster), ("user", "ctx2"))
        self.assertEqual(names["user-service-ctx2"].labels["cluster"], "ctx2")
        self.assertEqual(names["booking-service-ctx1"].service, "booking-service")
        self.assertEqual((names["api-gateway-ctx1"].role, names["api-gateway-ctx1"].cluster), ("gateway", "ctx1"))
        self.assertEqual(sorted(plan.listeners), ["booking-service", "movie-service", "user-service"])
        ports = [i.port for i in plan.instances] + list(plan.listeners.values())
        ports += [plan.redis_port, plan.admin_port, plan.ingress_port]
        self.assertEqual(len(ports), len(set(ports)), "every port is distinct")

    def test_cluster_comes_from_the_pod_label_not_the_file_order(self) -> None:
        swapped = build_plan([str(CLUSTERS / "ctx2"), str(CLUSTERS / "ctx1")], gateway_port=free_port())
        self.assertEqual(
            {i.name: i.cluster for i in swapped.instances}, {i.name: i.cluster for i in real_plan().instances}
        )

    def test_deployment_without_cluster_label_takes_its_files_cluster(self) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            files = []
            for index in (1, 2):
                path = Path(scratch) / f"ctx{index}.yaml"
                path.write_text(DEPLOYMENT.format(name=f"users-{index}", labels="{app: user-service}", role="user"))
                files.append(str(path))
            plan = build_plan(files, gateway_port=free_port())
        self.assertEqual({i.name: i.cluster for i in plan.instances}, {"users-1-ctx1": "ctx1", "users-2-ctx2": "ctx2"})

    def test_deployment_without_service(self) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "ctx1.yaml"
            path.write_text(DEPLOYMENT.format(name="seats", labels="{app: seat-service}", role="seat"))
            with self.assertRaisesRegex(
                PlanError, "Deployment seats-ctx1: its pods must be selected by exactly one Service"
            ):
                build_plan([str(path), str(path)], gateway_port=free_port())

    def test_busy_gateway_port(self) -> None:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            with self.assertRaisesRegex(PlanError, f"port {port} on 127.0.0.1 is busy.*--gateway-port"):
                build_plan([str(CLUSTERS / "ctx1"), str(CLUSTERS / "ctx2")], gateway_port=port)

    def test_base_port_is_consecutive(self) -> None:
        base = free_window(14)
        plan = build_plan([str(CLUSTERS / "ctx1"), str(CLUSTERS / "ctx2")], gateway_port=base + 3, base_port=base)
        ports = sorted([i.port for i in plan.instances if i.role != "gateway"] + list(plan.listeners.values()))
        ports += [plan.redis_port, plan.admin_port, plan.ingress_port]
        expected = [p for p in range(base, base + len(ports) + 1) if p != base + 3]
        self.assertEqual(sorted(ports), expected)
        self.assertEqual(plan.redis_port, base)


class Render(unittest.TestCase):
    """`render` through the CLI: the files, the state, nothing written on error."""

    def setUp(self) -> None:
        scratch = tempfile.TemporaryDirectory()
        self.addCleanup(scratch.cleanup)
        self.dir = Path(scratch.name)
        self.out = self.dir / "envoy"
        self.out.mkdir()
        self.state = self.dir / "rules.json"
        self.plan = self.dir / "plan.json"
        self.make_plan()

    def make_plan(self) -> None:
        ctx1, ctx2 = str(CLUSTERS / "ctx1"), str(CLUSTERS / "ctx2")
        done = meshlab("plan", "--manifests", ctx1, ctx2, "--out", str(self.plan), "--gateway-port", str(free_port()))
        self.assertEqual(done.returncode, 0, done.stderr)

    def render(self, *rules: Path, envoy: str = "none"):
        options = ["--plan", str(self.plan), "--out", str(self.out), "--state", str(self.state), "--envoy", envoy]
        return meshlab("render", *options, "--rules", *map(str, rules))

    def snapshot(self) -> dict[str, str]:
        return {p.name: p.read_text() for p in sorted(self.dir.rglob("*")) if p.is_file()}

    def test_layout(self) -> None:
        done = self.render(CLUSTERS / "ctx1")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(
            sorted(p.name for p in self.out.iterdir()),
            [
                "bootstrap.json",
                "cds.json",
                "rds-booking-service.json",
                "rds-ingress.json",
                "rds-movie-service.json",
                "rds-user-service.json",
            ],
        )
        bootstrap = json.loads((self.out / "bootstrap.json").read_text())
        cds = bootstrap["dynamic_resources"]["cds_config"]["path_config_source"]
        self.assertEqual((cds["path"], cds["watched_directory"]["path"]), (str(self.out / "cds.json"), str(self.out)))
        self.assertEqual(len(bootstrap["static_resources"]["listeners"]), 4)
        rds = json.loads((self.out / "rds-user-service.json").read_text())
        self.assertEqual(rds["type_url"], "type.googleapis.com/envoy.config.route.v3.RouteConfiguration")
        self.assertRegex(rds["version_info"], "^[0-9a-f]{12}$")
        self.assertIn("ingress: curl -H 'Host: theater.example.com'", done.stdout)

    def test_state_accumulates_like_kubectl_apply(self) -> None:
        self.assertEqual(self.render(CLUSTERS / "ctx1").returncode, 0)
        self.assertEqual(self.render(SCENARIOS / "error-fault").returncode, 0)
        state = json.loads(self.state.read_text())
        self.assertEqual((state["apiVersion"], state["kind"]), ("v1", "List"))
        names = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in state["items"]]
        self.assertEqual(len(names), 7, "the scenario replaced objects of the same names")
        self.assertIn(("VirtualService", "istio-system", "theater-msa"), names, "objects not re-applied stay")
        user = next(
            o for o in state["items"] if o["kind"] == "VirtualService" and o["metadata"]["name"] == "user-service-vs"
        )
        self.assertIn("fault", user["spec"]["http"][1])
        self.assertEqual(self.render(SCENARIOS / "canary-shift-50-50").returncode, 0)
        items = json.loads(self.state.read_text())["items"]
        user = next(o for o in items if o["kind"] == "VirtualService" and o["metadata"]["name"] == "user-service-vs")
        self.assertNotIn("fault", user["spec"]["http"][1], "a re-applied object replaces the old one whole")
        routes = json.loads((self.out / "rds-user-service.json").read_text())["resources"][0]
        weights = routes["virtual_hosts"][0]["routes"][1]["route"]["weighted_clusters"]["clusters"]
        self.assertEqual([w["weight"] for w in weights], [50, 50])

    def test_nothing_written_on_error(self) -> None:
        self.assertEqual(self.render(CLUSTERS / "ctx1").returncode, 0)
        before = self.snapshot()
        bad = self.dir / "bad.yaml"
        bad.write_text(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: user-service-vs}\n"
            "spec: {hosts: [user-service], http: [{route: [{destination: {host: user-service}, wieght: 1}]}]}\n"
        )
        done = self.render(SCENARIOS / "error-fault", bad)
        self.assertEqual(done.returncode, 2)
        self.assertIn(
            "error: VirtualService user-service-vs: spec.http[0].route[0].wieght: unknown field (did you mean 'weight'?)",
            done.stderr,
        )
        self.assertEqual(self.snapshot(), before | {"bad.yaml": bad.read_text()})
        refused = self.render(SCENARIOS / "mtls-authz")
        self.assertEqual(refused.returncode, 2)
        self.assertIn("error: PeerAuthentication default: not playable in the lab", refused.stderr)
        self.assertEqual(self.snapshot(), before | {"bad.yaml": bad.read_text()})

    def test_bootstrap_of_another_plan_is_refused(self) -> None:
        self.assertEqual(self.render(CLUSTERS / "ctx1").returncode, 0)
        self.make_plan()
        done = self.render(CLUSTERS / "ctx1")
        self.assertEqual(done.returncode, 2)
        self.assertIn("was written for another plan", done.stderr)

    def test_envoy_rejection_names_the_listener(self) -> None:
        binary = envoy_binary()
        if binary is None:
            self.skipTest("MESHLAB_ENVOY is not set: no real Envoy to validate with")
        bad = self.dir / "regex.yaml"
        bad.write_text(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: movie-service-vs}\n"
            "spec: {hosts: [movie-service], http: [{match: [{uri: {regex: '/movies/(['}}],"
            " route: [{destination: {host: movie-service}}]}]}\n"
        )
        done = self.render(CLUSTERS / "ctx1", bad, envoy=binary)
        self.assertEqual(done.returncode, 2, done.stdout)
        self.assertIn("error: Envoy rejects the routes of listener movie-service:", done.stderr)
        self.assertFalse((self.out / "cds.json").exists())
        self.assertEqual(self.render(CLUSTERS / "ctx1", envoy=binary).returncode, 0)

    def test_missing_envoy_is_an_error(self) -> None:
        done = self.render(CLUSTERS / "ctx1", envoy=str(self.dir / "no-envoy"))
        self.assertEqual(done.returncode, 2)
        self.assertIn("no Envoy at", done.stderr)


if __name__ == "__main__":
    unittest.main()
