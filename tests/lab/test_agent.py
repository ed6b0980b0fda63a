"""The node agent's translations: what a Pod's args and env become in the lab,
and how the live lab's plan treats a subset without ready endpoints."""

from __future__ import annotations

import dataclasses
import unittest

import test_support  # noqa: F401 (puts scripts/meshlab on the import path)
from agent import Run, _expand, _field, _is_redis, _port, _Translator, is_http, loopback
from clusters import build_clusters
from fields import Problems
from registry import Registry
from test_support import real_plan, rendered, CLUSTERS

SERVICES = {
    "redis": ("127.96.0.10", 6379, False),
    "user-service": ("127.96.0.20", 8081, True),
}


class AddressTest(unittest.TestCase):
    def test_loopback_twin(self) -> None:
        self.assertEqual(loopback("10.244.0.7"), "127.244.0.7")
        self.assertEqual(loopback("10.96.12.34"), "127.96.12.34")

    def test_service_names_become_cluster_ip_twins(self) -> None:
        translate = _Translator(SERVICES, {})
        cases = {
            "redis://redis.theater-msa.svc.cluster.local:6379": "redis://127.96.0.10:6379",
            "redis://redis:6379": "redis://127.96.0.10:6379",
            "http://user-service.theater-msa:8081/users/": "http://127.96.0.20:8081/users/",
            "http://user-service.theater-msa.svc:8081": "http://127.96.0.20:8081",
            # Not a Service address: another port, a longer name, no port at all.
            "http://user-service:9999": "http://user-service:9999",
            "http://user-service-dr:8081": "http://user-service-dr:8081",
            "user-service": "user-service",
        }
        for given, wanted in cases.items():
            with self.subTest(given=given):
                self.assertEqual(translate(given), wanted)

    def test_mount_paths_become_folders(self) -> None:
        translate = _Translator({}, {"/ui": "/lab/pods/x/volumes/ui", "/data": "/lab/pods/r/volumes/data"})
        self.assertEqual(translate("/ui"), "/lab/pods/x/volumes/ui")
        self.assertEqual(translate("/ui/app.js"), "/lab/pods/x/volumes/ui/app.js")
        self.assertEqual(translate("/uix"), "/uix")
        self.assertEqual(translate("/data"), "/lab/pods/r/volumes/data")


class PodFieldsTest(unittest.TestCase):
    pod = {
        "metadata": {"name": "user-service-abc", "namespace": "theater-msa", "uid": "u-1",
                     "labels": {"cluster": "ctx2"}, "annotations": {"a": "b"}},
        "spec": {"nodeName": "ctx2-node", "serviceAccountName": "user-service"},
    }
    lab_run = Run(uid="u-1", namespace="theater-msa", name="user-service-abc", pod_ip="10.245.0.9",
              container={}, directory=None)  # type: ignore[arg-type]

    def test_downward_api(self) -> None:
        values = {
            "metadata.labels['cluster']": "ctx2",
            "metadata.annotations['a']": "b",
            "metadata.name": "user-service-abc",
            "metadata.namespace": "theater-msa",
            "spec.nodeName": "ctx2-node",
            "status.podIP": "10.245.0.9",
        }
        for path, wanted in values.items():
            with self.subTest(path=path):
                self.assertEqual(_field(self.pod, self.lab_run, path), wanted)

    def test_unknown_field_is_refused(self) -> None:
        with self.assertRaisesRegex(Exception, "not one the lab fills"):
            _field(self.pod, self.lab_run, "status.hostIPs")

    def test_expansion(self) -> None:
        self.assertEqual(_expand("$(A)-$(B)-$(C)", {"A": "1", "B": "2"}), "1-2-$(C)")

    def test_images_and_ports(self) -> None:
        self.assertTrue(_is_redis("redis:7.4-alpine"))
        self.assertTrue(_is_redis("docker.io/library/redis@sha256:00"))
        self.assertFalse(_is_redis("harbor.example.com/theater-msa/theater:abc"))
        self.assertFalse(_is_redis("redis-exporter:1"))
        container = {"ports": [{"name": "http", "containerPort": 8081}]}
        self.assertEqual(_port(container, "http"), 8081)
        self.assertEqual(_port(container, 9000), 9000)
        self.assertTrue(is_http({"name": "http"}))
        self.assertTrue(is_http({"name": "http-web"}))
        self.assertFalse(is_http({"name": "tcp-redis"}))
        self.assertTrue(is_http({"name": "tcp", "appProtocol": "http"}))


class LivePlanTest(unittest.TestCase):
    def test_subset_without_ready_endpoints_is_a_warning_and_an_empty_cluster(self) -> None:
        plan = real_plan()
        live = dataclasses.replace(
            plan, instances=[i for i in plan.instances if i.cluster != "ctx2"], live=True
        )
        rules = [o for o in rendered(CLUSTERS / "ctx1") if o.get("kind") == "DestinationRule"]
        problems = Problems()
        clusters = build_clusters(live, rules, Registry(live), problems)
        self.assertEqual(problems.errors, [])
        self.assertTrue(any("subset 'ctx2' has no ready endpoint" in w for w in problems.warnings), problems.warnings)
        empty = next(c for c in clusters if c["name"] == "outbound|8081|ctx2|user-service.theater-msa.svc.cluster.local")
        self.assertEqual(empty["load_assignment"]["endpoints"][0]["lb_endpoints"], [])

    def test_the_same_gap_without_live_is_an_error(self) -> None:
        plan = real_plan()
        gap = dataclasses.replace(plan, instances=[i for i in plan.instances if i.cluster != "ctx2"])
        rules = [o for o in rendered(CLUSTERS / "ctx1") if o.get("kind") == "DestinationRule"]
        problems = Problems()
        build_clusters(gap, rules, Registry(gap), problems)
        self.assertTrue(any("selects no instance" in e for e in problems.errors), problems.errors)


if __name__ == "__main__":
    unittest.main()
