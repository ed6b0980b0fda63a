"""Translation of the repository's rules (and small hand-written ones) into Envoy config."""

from __future__ import annotations

import copy
import dataclasses
import unittest

from test_support import CLUSTERS, SCENARIOS, located_plan, real_plan, rendered, rules_of, translated

# isort: split
# The lab's modules, importable once test_support has put scripts/meshlab on the path.
from fields import Problems, envoy_duration, parse_duration
from render import translate
from routes import RetryDefaults

NS = "theater-msa"
USER_HOST = "user-service.theater-msa.svc.cluster.local"


def cluster(service: str, port: int, subset: str = "") -> str:
    """Istio's cluster name."""
    return f"outbound|{port}|{subset}|{service}.{NS}.svc.cluster.local"


def vs(service: str, http: list, hosts: list | None = None, **spec) -> dict:
    """A hand-written VirtualService for a service, named as the manifests name it."""
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": f"{service}-vs", "namespace": NS},
        "spec": {"hosts": hosts or [service], "http": http, **spec},
    }


def dr(service: str, **spec) -> dict:
    """A hand-written DestinationRule with the ctx1/ctx2 subsets, named as the manifests name it."""
    subsets = [{"name": c, "labels": {"cluster": c}} for c in ("ctx1", "ctx2")]
    return {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "DestinationRule",
        "metadata": {"name": f"{service}-dr", "namespace": NS},
        "spec": {"host": service, "subsets": subsets, **spec},
    }


def routes_of(route_configs: dict, listener: str) -> list[dict]:
    """The routes of a mesh listener's only virtual host."""
    return route_configs[listener]["virtual_hosts"][0]["routes"]


class Base:
    """Helpers shared by the test classes below."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.plan = real_plan()
        cls.base = rules_of(CLUSTERS / "ctx1")

    def translate(self, *extra: dict, retry_503: bool = True):
        """Translates the base rules with hand-written objects applied over them."""
        problems = Problems()
        return translated(self.plan, rules_of(self.base, list(extra), problems=problems), retry_503, problems)

    def errors(self, *extra: dict) -> list[str]:
        """The errors of the base rules with `extra` applied."""
        return self.translate(*extra)[2].errors

    def assertError(self, errors: list[str], *fragments: str) -> None:  # noqa: N802 (unittest style)
        """Some error contains every fragment (object, path, reason)."""
        if not any(all(f in e for f in fragments) for e in errors):
            self.fail(f"no error with {fragments} among:\n" + "\n".join(errors))


class BaseRules(Base, unittest.TestCase):
    """manifests/clusters/ctx1: the rules as deployed."""

    def setUp(self) -> None:
        self.clusters, self.routes, problems = translated(self.plan, self.base)
        self.assertEqual(problems.errors, [])

    def test_weighted_splits(self) -> None:
        for service, port, ctx1, ctx2 in (
            ("user-service", 8081, 70, 30),
            ("movie-service", 8082, 30, 70),
            ("booking-service", 8083, 50, 50),
        ):
            with self.subTest(service=service):
                split = routes_of(self.routes, service)[1]
                self.assertEqual(split["name"], "split")
                self.assertEqual(split["match"], {"prefix": "/"})
                self.assertEqual(
                    split["route"]["weighted_clusters"]["clusters"],
                    [
                        {"name": cluster(service, port, "ctx1"), "weight": ctx1},
                        {"name": cluster(service, port, "ctx2"), "weight": ctx2},
                    ],
                )

    def test_canary_route_comes_first(self) -> None:
        for service, port in (("user-service", 8081), ("movie-service", 8082), ("booking-service", 8083)):
            with self.subTest(service=service):
                canary = routes_of(self.routes, service)[0]
                self.assertEqual(canary["name"], "canary")
                self.assertEqual(
                    canary["match"],
                    {"prefix": "/", "headers": [{"name": "x-canary", "string_match": {"exact": "true"}}]},
                )
                self.assertEqual(canary["route"]["cluster"], cluster(service, port, "ctx2"))

    def test_istio_defaults_on_routes(self) -> None:
        route = routes_of(self.routes, "user-service")[1]["route"]
        self.assertEqual(route["timeout"], "0s")
        retry = route["retry_policy"]
        self.assertEqual(retry["num_retries"], 2)
        self.assertEqual(
            retry["retry_on"], "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
        )
        self.assertEqual(retry["retriable_status_codes"], [503])
        self.assertEqual(retry["host_selection_retry_max_attempts"], 5)
        self.assertEqual(retry["retry_host_predicate"][0]["name"], "envoy.retry_host_predicates.previous_hosts")

    def test_istio_124_default_retry_excludes_503(self) -> None:
        _, routes, _ = translated(self.plan, self.base, retry_503=False)
        self.assertNotIn("retriable_status_codes", routes_of(routes, "user-service")[1]["route"]["retry_policy"])

    def test_clusters_whole_host_and_subsets(self) -> None:
        by_name = {c["name"]: c for c in self.clusters}
        ports = {i.name: i.port for i in self.plan.instances}

        def endpoints(name: str) -> list[int]:
            lb = by_name[name]["load_assignment"]["endpoints"][0]["lb_endpoints"]
            return sorted(e["endpoint"]["address"]["socket_address"]["port_value"] for e in lb)

        self.assertEqual(
            endpoints(cluster("user-service", 8081)), sorted([ports["user-service-ctx1"], ports["user-service-ctx2"]])
        )
        self.assertEqual(endpoints(cluster("user-service", 8081, "ctx1")), [ports["user-service-ctx1"]])
        self.assertEqual(endpoints(cluster("movie-service", 8082, "ctx2")), [ports["movie-service-ctx2"]])
        self.assertEqual(endpoints(cluster("api-gateway", 8080)), [ports["api-gateway-ctx1"]])
        self.assertEqual(len(self.clusters), 10)
        whole = by_name[cluster("user-service", 8081)]
        # user-service-dr balances ROUND_ROBIN as the guide states (Istio's default is LEAST_REQUEST).
        self.assertEqual(
            (whole["connect_timeout"], whole["lb_policy"], whole["type"]), ("10s", "ROUND_ROBIN", "STATIC")
        )
        self.assertEqual(whole["circuit_breakers"]["thresholds"][0]["max_retries"], 4294967295)

    def test_external_virtualservice_on_the_ingress_listener(self) -> None:
        (host,) = self.routes["ingress"]["virtual_hosts"]
        self.assertEqual(host["name"], "istio-system/theater-msa")
        self.assertEqual(host["domains"], ["theater.example.com"])
        self.assertEqual(host["routes"][0]["route"]["cluster"], cluster("api-gateway", 8080))
        for service in ("user-service", "movie-service", "booking-service"):
            self.assertEqual(self.routes[service]["virtual_hosts"][0]["domains"], ["*"])

    def test_host_without_virtualservice_gets_the_default_route(self) -> None:
        rules = [
            r for r in self.base if not (r["kind"] == "VirtualService" and r["metadata"]["name"] == "movie-service-vs")
        ]
        _, routes, problems = translated(self.plan, rules)
        self.assertEqual(problems.errors, [])
        (default,) = routes_of(routes, "movie-service")
        self.assertEqual(default["name"], "default")
        self.assertEqual(default["route"]["cluster"], cluster("movie-service", 8082))
        self.assertEqual(default["route"]["retry_policy"]["num_retries"], 2)

    def test_ctx2_renders_the_same_rules(self) -> None:
        _, routes2, problems = translated(self.plan, rules_of(CLUSTERS / "ctx2"))
        self.assertEqual(problems.errors, [])
        for service in ("user-service", "movie-service", "booking-service"):
            self.assertEqual(routes2[service], self.routes[service])
        self.assertEqual(routes2["ingress"]["virtual_hosts"], [])


class Scenarios(Base, unittest.TestCase):
    """manifests/scenarios: each applied over the base rules."""

    def scenario(self, name: str):
        """A scenario over the base rules, translated as the live lab's ctx1 Envoy does."""
        clusters, routes, problems = translated(located_plan(), rules_of(self.base, SCENARIOS / name))
        return clusters, routes, problems

    def test_locality_failover(self) -> None:
        clusters, routes, _ = self.scenario("locality-failover")
        whole = next(c for c in clusters if c["name"] == cluster("user-service", 8081))
        groups = [(g["priority"], g["locality"]["region"]) for g in whole["load_assignment"]["endpoints"]]
        self.assertEqual(groups, [(0, "region1"), (1, "region2")])
        self.assertEqual(routes_of(routes, "user-service")[1]["route"]["cluster"], cluster("user-service", 8081))

    def test_every_scenario_but_mtls_authz_translates(self) -> None:
        names = sorted(p.name for p in SCENARIOS.iterdir() if p.is_dir())
        self.assertIn("circuit-breaker", names)
        for name in names:
            if name == "mtls-authz":
                continue
            with self.subTest(scenario=name):
                self.assertEqual(self.scenario(name)[2].errors, [])

    def test_mtls_authz_is_refused_per_object(self) -> None:
        errors = self.errors(*rendered(SCENARIOS / "mtls-authz"))
        self.assertError(errors, "PeerAuthentication default:", "mTLS")
        policies = [
            o["metadata"]["name"] for o in rendered(SCENARIOS / "mtls-authz") if o["kind"] == "AuthorizationPolicy"
        ]
        self.assertGreaterEqual(len(policies), 5)
        for name in policies:
            self.assertError(errors, f"AuthorizationPolicy {name}:", "workload identities")

    def test_error_fault(self) -> None:
        _, routes, _ = self.scenario("error-fault")
        canary, split = routes_of(routes, "user-service")
        self.assertNotIn("typed_per_filter_config", canary)
        fault = split["typed_per_filter_config"]["envoy.filters.http.fault"]
        self.assertEqual(fault["@type"], "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault")
        self.assertEqual(
            fault["abort"], {"http_status": 503, "percentage": {"numerator": 300000, "denominator": "MILLION"}}
        )

    def test_delay_fault(self) -> None:
        _, routes, _ = self.scenario("delay-fault")
        fault = routes_of(routes, "movie-service")[1]["typed_per_filter_config"]["envoy.filters.http.fault"]
        self.assertEqual(
            fault["delay"], {"fixed_delay": "3s", "percentage": {"numerator": 500000, "denominator": "MILLION"}}
        )

    def test_block_cluster_drops_weight_zero(self) -> None:
        _, routes, _ = self.scenario("block-cluster")
        for service, port in (("user-service", 8081), ("movie-service", 8082), ("booking-service", 8083)):
            canary, split = routes_of(routes, service)
            self.assertEqual(canary["route"]["cluster"], cluster(service, port, "ctx1"))
            self.assertEqual(split["route"]["cluster"], cluster(service, port, "ctx1"))
            self.assertNotIn("weighted_clusters", split["route"])

    def test_canary_shift_steps(self) -> None:
        for name, ctx1, ctx2 in (("canary-shift-90-10", 90, 10), ("canary-shift-50-50", 50, 50)):
            weights = routes_of(self.scenario(name)[1], "user-service")[1]["route"]["weighted_clusters"]["clusters"]
            self.assertEqual([w["weight"] for w in weights], [ctx1, ctx2])
        last = routes_of(self.scenario("canary-shift-0-100")[1], "user-service")[1]["route"]
        self.assertEqual(last["cluster"], cluster("user-service", 8081, "ctx2"))

    def test_circuit_breaker(self) -> None:
        clusters, routes, _ = self.scenario("circuit-breaker")
        self.assertEqual(routes_of(routes, "user-service")[1]["route"]["cluster"], cluster("user-service", 8081))
        by_name = {c["name"]: c for c in clusters}
        for name in (cluster("user-service", 8081), cluster("user-service", 8081, "ctx2")):
            with self.subTest(cluster=name):
                built = by_name[name]
                self.assertEqual(built["lb_policy"], "ROUND_ROBIN")
                thresholds = built["circuit_breakers"]["thresholds"][0]
                self.assertEqual((thresholds["max_connections"], thresholds["max_pending_requests"]), (20, 10))
                options = built["typed_extension_protocol_options"][
                    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
                ]
                self.assertEqual(options["common_http_protocol_options"], {"max_requests_per_connection": 10})
                self.assertEqual(
                    built["outlier_detection"],
                    {
                        "enforcing_success_rate": 0,
                        "consecutive_5xx": 3,
                        "enforcing_consecutive_5xx": 100,
                        "interval": "5s",
                        "base_ejection_time": "30s",
                        "max_ejection_percent": 100,
                    },
                )
                self.assertEqual(built["common_lb_config"], {"healthy_panic_threshold": {"value": 0}})

    def test_consistent_hash(self) -> None:
        clusters, routes, _ = self.scenario("consistent-hash")
        whole = next(c for c in clusters if c["name"] == cluster("user-service", 8081))
        self.assertEqual(whole["lb_policy"], "RING_HASH")
        self.assertNotIn("_hash_policy", whole)
        default = routes_of(routes, "user-service")[1]["route"]
        self.assertEqual(default["cluster"], cluster("user-service", 8081))
        self.assertEqual(default["hash_policy"], [{"header": {"header_name": "x-user-id"}}])
        canary = routes_of(routes, "user-service")[0]["route"]
        self.assertEqual(canary["hash_policy"], default["hash_policy"], "subsets inherit the top-level policy")

    def test_least_request(self) -> None:
        clusters, routes, _ = self.scenario("least-request")
        by_name = {c["name"]: c for c in clusters}
        self.assertEqual(by_name[cluster("user-service", 8081)]["lb_policy"], "LEAST_REQUEST")
        self.assertEqual(by_name[cluster("movie-service", 8082)]["lb_policy"], "ROUND_ROBIN")
        self.assertEqual(routes_of(routes, "user-service")[1]["route"]["cluster"], cluster("user-service", 8081))


class HandWritten(Base, unittest.TestCase):
    """Small objects over the base rules: what translates, and what is refused loudly."""

    def test_consistent_hash_keys_and_errors(self) -> None:
        cases = {
            "httpCookie": ({"httpCookie": {"name": "sid", "ttl": "60s"}}, {"cookie": {"name": "sid", "ttl": "60s"}}),
            "useSourceIp": ({"useSourceIp": True}, {"connection_properties": {"source_ip": True}}),
            "query": ({"httpQueryParameterName": "u"}, {"query_parameter": {"name": "u"}}),
        }
        for name, (hashing, policy) in cases.items():
            with self.subTest(key=name):
                rule = dr("user-service", trafficPolicy={"loadBalancer": {"consistentHash": hashing}})
                clusters, routes, problems = self.translate(rule)
                self.assertEqual(problems.errors, [])
                self.assertEqual(routes_of(routes, "user-service")[0]["route"].get("hash_policy"), [policy])
                by_name = {c["name"]: c for c in clusters}
                self.assertEqual(by_name[cluster("user-service", 8081, "ctx1")]["lb_policy"], "RING_HASH")
        both = dr("user-service", trafficPolicy={"loadBalancer": {"simple": "RANDOM", "consistentHash": {"useSourceIp": True}}})
        self.assertError(self.errors(both), "DestinationRule user-service-dr:", "alternatives")
        none = dr("user-service", trafficPolicy={"loadBalancer": {"consistentHash": {"maglev": {}}}})
        self.assertError(self.errors(none), "needs exactly one hash key")

    def user_vs(self, **route) -> dict:
        """user-service's VirtualService with one catch-all rule."""
        return vs("user-service", [{"route": [{"destination": {"host": "user-service", "subset": "ctx1"}}], **route}])

    def user_route(self, **route) -> dict:
        _, routes, problems = self.translate(self.user_vs(**route))
        self.assertEqual(problems.errors, [])
        return routes_of(routes, "user-service")[0]

    def test_misspelt_field(self) -> None:
        bad = vs("user-service", [{"route": [{"destination": {"host": "user-service"}, "wieght": 100}]}])
        self.assertError(
            self.errors(bad), "VirtualService user-service-vs:", "spec.http[0].route[0].wieght", "did you mean 'weight'"
        )

    def test_subset_no_destinationrule_defines(self) -> None:
        bad = vs("user-service", [{"route": [{"destination": {"host": "user-service", "subset": "canary"}}]}])
        self.assertError(
            self.errors(bad), "VirtualService user-service-vs:", "spec.http[0].route[0].destination.subset", "'canary'"
        )

    def test_host_naming_no_service(self) -> None:
        self.assertError(
            self.errors(vs("seat-service", [])), "VirtualService seat-service-vs:", "spec.hosts[0]", "no Service"
        )
        bad = vs("user-service", [{"route": [{"destination": {"host": "users.other-ns.svc.cluster.local"}}]}])
        self.assertError(self.errors(bad), "spec.http[0].route[0].destination.host", "no Service")

    def test_bad_duration(self) -> None:
        self.assertError(
            self.errors(self.user_vs(timeout="5 seconds")),
            "VirtualService user-service-vs:",
            "spec.http[0].timeout",
            "duration",
        )
        bad_dr = dr("user-service", trafficPolicy={"outlierDetection": {"interval": "10"}})
        self.assertError(
            self.errors(bad_dr), "DestinationRule user-service-dr:", "spec.trafficPolicy.outlierDetection.interval"
        )

    def test_mirror_is_translated(self) -> None:
        route = self.user_route(mirror={"host": "user-service", "subset": "ctx2"}, mirrorPercentage={"value": 25})
        (mirror,) = route["route"]["request_mirror_policies"]
        self.assertEqual(mirror["cluster"], cluster("user-service", 8081, "ctx2"))
        self.assertEqual(mirror["runtime_fraction"]["default_value"], {"numerator": 250000, "denominator": "MILLION"})
        full = self.user_route(mirror={"host": "user-service"})["route"]["request_mirror_policies"][0]
        self.assertEqual(full["runtime_fraction"]["default_value"], {"numerator": 100, "denominator": "HUNDRED"})

    def test_unplayable_fields_and_kinds(self) -> None:
        cors = self.user_vs(corsPolicy={"allowOrigins": [{"exact": "*"}]})
        self.assertError(self.errors(cors), "spec.http[0].corsPolicy", "CORS")
        source = vs(
            "user-service",
            [{"match": [{"sourceLabels": {"app": "x"}}], "route": [{"destination": {"host": "user-service"}}]}],
        )
        self.assertError(self.errors(source), "spec.http[0].match[0].sourceLabels")
        tcp = vs("user-service", [], tcp=[{"route": []}])
        self.assertError(self.errors(tcp), "spec.tcp", "HTTP routes only")
        tls = dr("user-service", trafficPolicy={"tls": {"mode": "ISTIO_MUTUAL"}})
        self.assertError(self.errors(tls), "DestinationRule user-service-dr:", "spec.trafficPolicy.tls")
        gateway = {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "gw"}, "spec": {}}
        self.assertError(self.errors(gateway), "Gateway gw:", "not playable")
        mistyped = self.user_vs() | {"apiVersion": "networking.istio/v1"}
        self.assertError(self.errors(mistyped), "VirtualService user-service-vs:", "apiVersion 'networking.istio/v1'")
        self.assertEqual(self.errors({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}), [])

    def test_percentages(self) -> None:
        for value, numerator in ((30, 300000), (0.1, 1000), (12.5, 125000), (100, 1000000), (0, 0)):
            fault = self.user_route(fault={"abort": {"httpStatus": 500, "percentage": {"value": value}}})
            abort = fault["typed_per_filter_config"]["envoy.filters.http.fault"]["abort"]
            self.assertEqual(abort["percentage"], {"numerator": numerator, "denominator": "MILLION"}, value)
        legacy = self.user_route(fault={"delay": {"fixedDelay": "1s", "percent": 10}})
        delay = legacy["typed_per_filter_config"]["envoy.filters.http.fault"]["delay"]
        self.assertEqual(delay["percentage"], {"numerator": 10, "denominator": "HUNDRED"})
        self.assertError(
            self.errors(self.user_vs(fault={"abort": {"httpStatus": 503, "percentage": {"value": 130}}})),
            "percentage.value",
        )

    def test_fault_without_percentage_warns(self) -> None:
        _, _, problems = self.translate(self.user_vs(fault={"abort": {"httpStatus": 503}}))
        self.assertEqual(problems.errors, [])
        self.assertTrue(any("Istio aborts no request" in w for w in problems.warnings), problems.warnings)

    def test_durations(self) -> None:
        cases = {"5s": "5s", "100ms": "0.1s", "1m": "60s", "1h": "3600s", "1.5s": "1.5s", "1m30s": "90s", "0s": "0s"}
        for text, envoy in cases.items():
            self.assertEqual(envoy_duration(parse_duration(text)), envoy, text)
        for bad in ("5", "5x", "-1s", "s", "", "1.5", "1s2"):
            self.assertIsNone(parse_duration(bad), bad)
        self.assertError(self.errors(self.user_vs(timeout="1.0005s")), "millisecond precision")

    def test_host_forms(self) -> None:
        for host in ("user-service", "user-service.theater-msa", "user-service.theater-msa.svc", USER_HOST):
            rule = vs("user-service", [{"route": [{"destination": {"host": host, "subset": "ctx2"}}]}], hosts=[host])
            _, routes, problems = self.translate(rule)
            self.assertEqual(problems.errors, [], host)
            self.assertEqual(
                routes_of(routes, "user-service")[0]["route"]["cluster"], cluster("user-service", 8081, "ctx2")
            )
        elsewhere = vs("user-service", [], hosts=["user-service.other-ns"])
        self.assertError(self.errors(elsewhere), "spec.hosts[0]", "no Service")

    def test_retries(self) -> None:
        self.assertNotIn("retry_policy", self.user_route(retries={"attempts": 0})["route"])
        policy = self.user_route(retries={"attempts": 3, "retryOn": "5xx,503", "perTryTimeout": "2s"})["route"][
            "retry_policy"
        ]
        self.assertEqual(
            (policy["num_retries"], policy["retry_on"], policy["retriable_status_codes"], policy["per_try_timeout"]),
            (3, "5xx,retriable-status-codes", [503], "2s"),
        )
        self.assertError(self.errors(self.user_vs(retries={"attempts": 2, "retryOn": "5xxx"})), "retryOn", "5xxx")
        self.assertError(
            self.errors(self.user_vs(retries={"attempts": 2, "retryRemoteLocalities": True})), "localities"
        )

    def test_matches(self) -> None:
        rule = vs(
            "user-service",
            [
                {
                    "name": "api",
                    "match": [
                        {"name": "v2", "uri": {"prefix": "/v2/"}, "method": {"exact": "POST"}},
                        {"uri": {"regex": "^/u/[0-9]+$"}, "ignoreUriCase": True, "withoutHeaders": {"x-test": {}}},
                        {"queryParams": {"debug": {"exact": "1"}}, "headers": {"x-user": {"prefix": "a"}}},
                    ],
                    "route": [{"destination": {"host": "user-service"}}],
                }
            ],
        )
        _, routes, problems = self.translate(rule)
        self.assertEqual(problems.errors, [])
        first, second, third = routes_of(routes, "user-service")
        self.assertEqual(first["name"], "api.v2")
        self.assertEqual(
            first["match"], {"prefix": "/v2/", "headers": [{"name": ":method", "string_match": {"exact": "POST"}}]}
        )
        self.assertEqual(
            second["match"],
            {
                "safe_regex": {"regex": "^/u/[0-9]+$"},
                "case_sensitive": False,
                "headers": [{"name": "x-test", "present_match": True, "invert_match": True}],
            },
        )
        self.assertEqual(third["match"]["query_parameters"], [{"name": "debug", "string_match": {"exact": "1"}}])
        self.assertEqual(third["match"]["headers"], [{"name": "x-user", "string_match": {"prefix": "a"}}])

    def test_weights_must_add_up_to_100(self) -> None:
        rule = vs(
            "user-service",
            [
                {
                    "route": [
                        {"destination": {"host": "user-service", "subset": s}, "weight": 40} for s in ("ctx1", "ctx2")
                    ]
                }
            ],
        )
        self.assertError(self.errors(rule), "spec.http[0].route", "add up to 80")

    def test_subset_policy_replaces_fields_of_the_top_level_one(self) -> None:
        rule = dr(
            "user-service",
            trafficPolicy={"loadBalancer": {"simple": "RANDOM"}, "outlierDetection": {"consecutive5xxErrors": 0}},
        )
        rule["spec"]["subsets"][1]["trafficPolicy"] = {"outlierDetection": {"consecutiveGatewayErrors": 2}}
        clusters, _, problems = self.translate(rule)
        self.assertEqual(problems.errors, [])
        by_name = {c["name"]: c for c in clusters}
        whole, ctx2 = by_name[cluster("user-service", 8081)], by_name[cluster("user-service", 8081, "ctx2")]
        self.assertEqual((whole["lb_policy"], ctx2["lb_policy"]), ("RANDOM", "RANDOM"))
        self.assertEqual(whole["outlier_detection"]["enforcing_consecutive_5xx"], 0)
        self.assertNotIn("consecutive_5xx", ctx2["outlier_detection"])
        self.assertEqual(ctx2["outlier_detection"]["enforcing_consecutive_gateway_failure"], 100)

    def test_subset_selecting_nothing(self) -> None:
        rule = dr("user-service")
        rule["spec"]["subsets"].append({"name": "ctx3", "labels": {"cluster": "ctx3"}})
        self.assertError(
            self.errors(rule), "DestinationRule user-service-dr:", "spec.subsets[2].labels", "selects no instance"
        )

    def test_locality_setting(self) -> None:
        off = dr("user-service", trafficPolicy={"loadBalancer": {"localityLbSetting": {"enabled": False}}})
        self.assertEqual(self.errors(off), [])
        on = dr("user-service", trafficPolicy={"loadBalancer": {"localityLbSetting": {"enabled": True}}})
        self.assertError(self.errors(on), "localityLbSetting", "offline plan has no localities")
        distribute = dr(
            "user-service", trafficPolicy={"loadBalancer": {"localityLbSetting": {"enabled": False, "distribute": []}}}
        )
        self.assertError(self.errors(distribute), "localityLbSetting.distribute", "enabled and .failover only")

    def test_locality_failover_in_the_live_lab(self) -> None:
        where = {"ctx1": "region1/zone1", "ctx2": "region2/zone2"}
        live = dataclasses.replace(
            self.plan,
            instances=[dataclasses.replace(i, locality=where[i.cluster]) for i in self.plan.instances],
            live=True,
            locality="region1/zone1",
        )
        policy = {
            "loadBalancer": {"simple": "ROUND_ROBIN", "localityLbSetting": {"enabled": True, "failover": [{"from": "region1", "to": "region2"}]}},
            "outlierDetection": {"consecutive5xxErrors": 3, "interval": "5s", "baseEjectionTime": "30s"},
        }
        problems = Problems()
        clusters, _ = translate(live, rules_of(self.base, [dr("user-service", trafficPolicy=policy)], problems=problems), RetryDefaults(), problems)
        self.assertEqual(problems.errors, [])
        whole = next(c for c in clusters if c["name"] == cluster("user-service", 8081))
        groups = [(g["priority"], g["locality"]["region"], len(g["lb_endpoints"])) for g in whole["load_assignment"]["endpoints"]]
        self.assertEqual(groups, [(0, "region1", 1), (1, "region2", 1)], "the caller's region first, region2 on failover")
        without_detection = {"loadBalancer": policy["loadBalancer"]}
        problems = Problems()
        clusters, _ = translate(live, rules_of(self.base, [dr("user-service", trafficPolicy=without_detection)], problems=problems), RetryDefaults(), problems)
        whole = next(c for c in clusters if c["name"] == cluster("user-service", 8081))
        self.assertEqual(len(whole["load_assignment"]["endpoints"]), 1, "as in Istio: no outlier detection, no failover")

    def test_two_virtualservices_for_one_host(self) -> None:
        second = copy.deepcopy(self.user_vs())
        second["metadata"]["name"] = "user-service-again"
        self.assertError(
            self.errors(second), "VirtualService user-service-again:", "already has VirtualService user-service-vs"
        )

    def test_export_to(self) -> None:
        rule = self.user_vs()
        rule["spec"]["exportTo"] = ["."]
        self.assertEqual(self.errors(rule), [])
        rule["spec"]["exportTo"] = ["other"]
        self.assertError(self.errors(rule), "spec.exportTo")

    def test_redirect_direct_response_rewrite_headers(self) -> None:
        rule = vs(
            "user-service",
            [
                {"match": [{"uri": {"exact": "/old"}}], "redirect": {"uri": "/users/", "redirectCode": 308}},
                {
                    "match": [{"uri": {"exact": "/teapot"}}],
                    "directResponse": {"status": 418, "body": {"string": "tea"}},
                },
                {
                    "route": [{"destination": {"host": "user-service"}, "headers": {"request": {"set": {"x-d": "1"}}}}],
                    "rewrite": {"uri": "/users/", "authority": "users.internal"},
                    "headers": {
                        "request": {"add": {"x-r": "2"}, "remove": ["x-secret"]},
                        "response": {"set": {"x-s": "3"}},
                    },
                },
            ],
        )
        _, routes, problems = self.translate(rule)
        self.assertEqual(problems.errors, [])
        redirect, direct, forward = routes_of(routes, "user-service")
        self.assertEqual(redirect["redirect"], {"path_redirect": "/users/", "response_code": "PERMANENT_REDIRECT"})
        self.assertEqual(direct["direct_response"], {"status": 418, "body": {"inline_string": "tea"}})
        self.assertEqual(
            (forward["route"]["prefix_rewrite"], forward["route"]["host_rewrite_literal"]),
            ("/users/", "users.internal"),
        )
        self.assertEqual([h["header"]["key"] for h in forward["request_headers_to_add"]], ["x-r", "x-d"])
        self.assertEqual(forward["request_headers_to_remove"], ["x-secret"])
        self.assertEqual(forward["response_headers_to_add"][0]["append_action"], "OVERWRITE_IF_EXISTS_OR_ADD")
        bad = vs("user-service", [{"redirect": {"uri": "/x"}, "timeout": "1s"}])
        self.assertError(self.errors(bad), "spec.http[0].timeout", "only to `route`")


if __name__ == "__main__":
    unittest.main()
