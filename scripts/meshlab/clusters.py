"""DestinationRules into Envoy clusters, as Istio's pilot builds them.

Every Service of the plan gets its whole-host cluster
(`outbound|8081||user-service...`); each DestinationRule subset adds one
(`outbound|8081|ctx1|user-service...`) holding the instances whose labels
include the subset's. A subset's trafficPolicy replaces the top-level one
field by field (loadBalancer, connectionPool, outlierDetection), which is
Istio's MergeTrafficPolicy. Defaults are Istio's, not Envoy's: 10 s connect
timeout, LEAST_REQUEST, and circuit-breaker thresholds at their maximum so
that only what a DestinationRule sets ever trips.
"""

from __future__ import annotations

from typing import Any

from fields import UINT32_MAX, Message, Node, Problems
from plan import Instance, Plan, Service
from registry import Registry, cluster_name
from rules import check_export, read_spec

DESTINATION_RULE = Message.of(
    "DestinationRule",
    "host trafficPolicy subsets exportTo",
    {"workloadSelector": "the lab has one shared Envoy, so a rule cannot target some workloads only"},
)
SUBSET = Message.of("Subset", "name labels trafficPolicy")
TRAFFIC_POLICY = Message.of(
    "TrafficPolicy",
    "loadBalancer connectionPool outlierDetection",
    {
        "tls": "the lab has no TLS or mTLS: its instances speak plain HTTP on loopback",
        "portLevelSettings": "every lab Service has one port: put these settings in trafficPolicy itself",
        "tunnel": "the lab has no egress tunnels",
        "proxyProtocol": "the lab's instances do not speak the PROXY protocol",
        "retryBudget": "the lab does not translate retry budgets",
    },
)
LOAD_BALANCER = Message.of(
    "LoadBalancerSettings",
    "simple localityLbSetting consistentHash",
    {
        "warmupDurationSecs": "the lab does not translate slow-start warmup",
        "warmup": "the lab does not translate slow-start warmup",
    },
)
CONSISTENT_HASH = Message.of(
    "ConsistentHashLB",
    "httpHeaderName httpCookie useSourceIp httpQueryParameterName ringHash maglev minimumRingSize",
)
HTTP_COOKIE = Message.of("HTTPCookie", "name path ttl")
HASH_POLICY = "_hash_policy"  # a loadBalancer fragment key for the routes, not a cluster field
LOCALITY_KEY = "_locality"  # a loadBalancer fragment key for the endpoints, not a cluster field
NO_LOCALITIES = "the offline plan has no localities (the live lab, scripts/mesh-lab.sh, plays them)"
ONLY_FAILOVER = "the lab plays localityLbSetting.enabled and .failover only"
LOCALITY = Message.of(
    "LocalityLoadBalancerSetting",
    "enabled failover",
    {"distribute": ONLY_FAILOVER, "failoverPriority": ONLY_FAILOVER},
)
FAILOVER = Message.of("LocalityLoadBalancerSetting.Failover", "from to")
CONNECTION_POOL = Message.of("ConnectionPoolSettings", "tcp http")
TCP_SETTINGS = Message.of(
    "TCPSettings",
    "maxConnections connectTimeout maxConnectionDuration",
    {
        "tcpKeepalive": "the lab does not translate TCP keepalive (its connections never leave loopback)",
        "idleTimeout": "tcp.idleTimeout applies to TCP routes, which the lab does not play; use http.idleTimeout",
    },
)
HTTP_SETTINGS = Message.of(
    "HTTPSettings",
    "http1MaxPendingRequests http2MaxRequests maxRequestsPerConnection maxRetries idleTimeout",
    {
        "h2UpgradePolicy": "the lab's instances speak HTTP/1.1 only",
        "useClientProtocol": "the lab's instances speak HTTP/1.1 only",
        "maxConcurrentStreams": "the lab's instances speak HTTP/1.1 only (no HTTP/2 streams)",
    },
)
OUTLIER_DETECTION = Message.of(
    "OutlierDetection",
    "consecutive5xxErrors consecutiveGatewayErrors interval baseEjectionTime maxEjectionPercent "
    "minHealthPercent splitExternalLocalOriginErrors consecutiveLocalOriginFailures",
    {"consecutiveErrors": "deprecated in Istio: use consecutiveGatewayErrors (what it meant) or consecutive5xxErrors"},
)
LB_POLICIES = {
    "UNSPECIFIED": "LEAST_REQUEST",  # Istio's default since 1.14
    "LEAST_REQUEST": "LEAST_REQUEST",
    "LEAST_CONN": "LEAST_REQUEST",  # deprecated alias
    "ROUND_ROBIN": "ROUND_ROBIN",
    "RANDOM": "RANDOM",
}
HTTP_OPTIONS_KEY = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


def build_clusters(plan: Plan, rules: list[dict[str, Any]], registry: Registry, problems: Problems) -> list[dict]:
    """All Envoy clusters: the whole host of every Service, plus every subset.

    Fills `registry.subsets` so that routes can check the subsets they name."""
    policies: dict[str, dict[str, dict]] = {}  # service -> its DR's top-level policy fragments
    subset_clusters: list[dict] = []
    owners: dict[str, str] = {}
    for rule in rules:
        if rule["kind"] != "DestinationRule":
            continue
        namespace = (rule.get("metadata") or {}).get("namespace") or plan.namespace
        spec = read_spec(rule, DESTINATION_RULE, plan.namespace, problems)
        if spec is None:
            continue
        service = _rule_host(spec, namespace, registry, owners)
        check_export(spec)
        fragments = _traffic_policy(spec.at("trafficPolicy"))
        if LOCALITY_KEY in fragments.get("loadBalancer", {}) and not plan.locality:
            spec.error(f"trafficPolicy.loadBalancer.localityLbSetting: {NO_LOCALITIES}")
        if service is None:
            continue
        policies[service.name] = fragments
        registry.subsets[service.name] = {}
        subsets = spec.at("subsets")
        for subset in subsets.items() if subsets is not None else []:
            built = _subset_cluster(plan, service, subset, fragments, registry)
            if built is not None:
                subset_clusters.append(built)
    whole = [
        _cluster(cluster_name(s), plan.members(s.name), policies.get(s.name, {}), registry)
        for s in plan.services.values()
        if plan.live or plan.members(s.name)
    ]
    return sorted(whole + subset_clusters, key=lambda c: c["name"])


def _rule_host(spec: Node, namespace: str, registry: Registry, owners: dict[str, str]) -> Service | None:
    """The Service a DestinationRule's host names; one rule per host, as the lab cannot merge them."""
    host_node = spec.at("host")
    if host_node is None:
        spec.error("host is missing")
        return None
    host = host_node.string()
    if host is None:
        return None
    service = registry.service(host, namespace)
    if service is None:
        host_node.error(f"{host!r} names no Service of the lab (it knows {registry.known_hosts()})")
        return None
    if service.name in owners:
        host_node.error(
            f"{service.host} already has {owners[service.name]}; the lab plays one DestinationRule per host"
        )
        return None
    owners[service.name] = spec.label
    return service


def _subset_cluster(
    plan: Plan, service: Service, subset: Node, inherited: dict[str, dict], registry: Registry
) -> dict | None:
    """One subset's cluster; its trafficPolicy fields replace the inherited ones."""
    if subset.message(SUBSET) is None:
        return None
    name = subset.string_at("name")
    if subset.at("name") is None:
        subset.error_at("name", "is missing")
    labels_node = subset.at("labels")
    labels = {k: n.string(allow_empty=True) for k, n in labels_node.entries()} if labels_node is not None else {}
    fragments = {**inherited, **_traffic_policy(subset.at("trafficPolicy"))}
    if name is None or None in labels.values():
        return None
    if name in registry.subsets[service.name]:
        subset.error_at("name", f"subset {name!r} is defined twice")
        return None
    selector = {k: v for k, v in labels.items() if v is not None}
    registry.subsets[service.name][name] = selector  # known even if empty: routes naming it are not at fault
    members = plan.members(service.name, selector)
    if not members and plan.live:
        (labels_node or subset).warn(f"subset {name!r} has no ready endpoint of {service.name} now")
    elif not members:
        (labels_node or subset).error(f"subset {name!r} selects no instance of {service.name} (labels {selector})")
        return None
    return _cluster(cluster_name(service, name), members, fragments, registry)


def static_cluster(name: str, members: list[Instance]) -> dict:
    """A cluster with Istio's defaults and no DestinationRule (a TCP Service's)."""
    return _cluster(name, members, {})


def _cluster(
    name: str, members: list[Instance], fragments: dict[str, dict], registry: Registry | None = None
) -> dict:
    """An Envoy cluster with static loopback endpoints and Istio's defaults,
    overlaid by the translated trafficPolicy fragments."""
    cluster = {
        "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
        "name": name,
        "type": "STATIC",
        "connect_timeout": "10s",
        "lb_policy": "LEAST_REQUEST",
        "circuit_breakers": {"thresholds": [_thresholds({})]},
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [_endpoint(m) for m in members]}],
        },
    }
    for fragment in fragments.values():
        cluster.update({k: v for k, v in fragment.items() if not k.startswith("_")})
        if HASH_POLICY in fragment and registry is not None:
            registry.hash_policies[name] = fragment[HASH_POLICY]
    failover = fragments.get("loadBalancer", {}).get(LOCALITY_KEY)
    # As in Istio, locality load balancing needs outlier detection (else nothing fails over).
    if failover is not None and "outlierDetection" in fragments and registry is not None and registry.plan.locality:
        cluster["load_assignment"]["endpoints"] = _by_priority(members, registry.plan.locality, failover)
    return cluster


def _by_priority(members: list[Instance], caller: str, failover: list[tuple[str, str]]) -> list[dict]:
    """Endpoints grouped by locality with the priorities istiod computes for a caller
    in `caller` (region/zone): 0 its own zone, 1 its own region, 2 the regions its
    failover rules name, 3 the rest; Envoy sends traffic to the lowest priority with
    healthy endpoints, so ejecting the local pods moves the traffic away and back."""
    region, _, zone = caller.partition("/")
    targets = [to for source, to in failover if source == region]

    def priority(member: Instance) -> int:
        their_region, _, their_zone = member.locality.partition("/")
        if their_region == region:
            return 0 if their_zone == zone else 1
        return 2 if their_region in targets else 3

    levels = sorted({priority(m) for m in members})
    groups: dict[tuple[int, str], list[Instance]] = {}
    for member in members:
        groups.setdefault((levels.index(priority(member)), member.locality), []).append(member)
    return [
        {
            "locality": dict(zip(("region", "zone"), locality.split("/", 1), strict=False)),
            "priority": level,
            "lb_endpoints": [_endpoint(m) for m in group],
        }
        for (level, locality), group in sorted(groups.items())
    ]


def _endpoint(instance: Instance) -> dict:
    """A loopback endpoint named after its instance (shown by admin /clusters)."""
    return {
        "endpoint": {
            "address": {"socket_address": {"address": instance.address, "port_value": instance.port}},
            "hostname": instance.name,
        }
    }


def _thresholds(overrides: dict[str, int]) -> dict:
    """Istio's default circuit breakers (all at the maximum, so Envoy's own
    defaults of 1024 requests and 3 retries never bite) with the rule's limits."""
    limits = {
        "max_connections": UINT32_MAX,
        "max_pending_requests": UINT32_MAX,
        "max_requests": UINT32_MAX,
        "max_retries": UINT32_MAX,
    }
    return {**limits, **overrides, "track_remaining": True}


def _traffic_policy(node: Node | None) -> dict[str, dict]:
    """A trafficPolicy as Envoy cluster fields, keyed by the Istio field they come from."""
    if node is None or node.message(TRAFFIC_POLICY) is None:
        return {}
    readers = {
        "loadBalancer": _load_balancer,
        "connectionPool": _connection_pool,
        "outlierDetection": _outlier_detection,
    }
    fragments = {}
    for field_name, read in readers.items():
        child = node.at(field_name)
        if child is not None:
            fragments[field_name] = read(child)
    return fragments


def _load_balancer(node: Node) -> dict:
    """loadBalancer.simple into lb_policy; a locality setting only when it is off."""
    if node.message(LOAD_BALANCER) is None:
        return {}
    fragment = {}
    simple = node.string_at("simple")
    if simple == "PASSTHROUGH":
        node.error_at("simple", "PASSTHROUGH forwards to the original destination address, which the lab does not have")
    elif simple is not None and simple not in LB_POLICIES:
        node.error_at("simple", f"unknown policy {simple!r} (use {', '.join(LB_POLICIES)})")
    elif simple is not None:
        fragment["lb_policy"] = LB_POLICIES[simple]
    hashing = node.at("consistentHash")
    if hashing is not None and simple is not None:
        node.error("simple and consistentHash are alternatives (a oneof in Istio): set one")
    elif hashing is not None:
        fragment.update(_consistent_hash(hashing))
    locality = node.at("localityLbSetting")
    if locality is not None and locality.message(LOCALITY) is not None and locality.boolean_at("enabled") is not False:
        pairs = []
        for rule in locality.at("failover").items() if locality.at("failover") is not None else []:
            if rule.message(FAILOVER) is not None:
                source, target = rule.string_at("from"), rule.string_at("to")
                if source and target:
                    pairs.append((source, target))
                else:
                    rule.error("needs from and to (regions)")
        fragment[LOCALITY_KEY] = pairs
    return fragment


def _consistent_hash(node: Node) -> dict:
    """consistentHash as Istio writes it: a ring-hash (or Maglev) cluster, and a
    hash policy that every route to this cluster carries (Envoy hashes on the route)."""
    if node.message(CONSISTENT_HASH) is None:
        return {}
    keys = [k for k in ("httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName") if node.at(k) is not None]
    if len(keys) != 1:
        node.error(f"needs exactly one hash key of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName (has: {', '.join(keys) or 'none'})")
        return {}
    policy: dict[str, Any]
    if keys[0] == "httpHeaderName":
        policy = {"header": {"header_name": node.string_at("httpHeaderName")}}
    elif keys[0] == "httpQueryParameterName":
        policy = {"query_parameter": {"name": node.string_at("httpQueryParameterName")}}
    elif keys[0] == "useSourceIp":
        policy = {"connection_properties": {"source_ip": True}}
    else:
        cookie = node.at("httpCookie")
        assert cookie is not None
        if cookie.message(HTTP_COOKIE) is None:
            return {}
        policy = {"cookie": {"name": cookie.string_at("name")}}
        _put(policy["cookie"], "path", cookie.string_at("path") if cookie.at("path") is not None else None)
        _put(policy["cookie"], "ttl", cookie.duration_at("ttl"))
    fragment: dict[str, Any] = {HASH_POLICY: [policy]}
    maglev = node.at("maglev")
    if maglev is not None:
        fragment["lb_policy"] = "MAGLEV"
        _put(fragment, "maglev_lb_config", {"table_size": maglev.integer_at("tableSize")} if maglev.at("tableSize") else None)
    else:
        fragment["lb_policy"] = "RING_HASH"
        ring = node.at("ringHash")
        size = ring.integer_at("minimumRingSize") if ring is not None else node.integer_at("minimumRingSize")
        _put(fragment, "ring_hash_lb_config", {"minimum_ring_size": size} if size else None)
    return fragment


def _connection_pool(node: Node) -> dict:
    """connectionPool into circuit-breaker thresholds, connect timeout and
    HTTP protocol options (limits of 0 mean "not set", as in Istio)."""
    if node.message(CONNECTION_POOL) is None:
        return {}
    fragment: dict[str, Any] = {}
    limits: dict[str, int] = {}
    common: dict[str, Any] = {}
    tcp, http = node.at("tcp"), node.at("http")
    if tcp is not None and tcp.message(TCP_SETTINGS) is not None:
        _limit(tcp, "maxConnections", "max_connections", limits)
        _put(fragment, "connect_timeout", tcp.duration_at("connectTimeout"))
        _put(common, "max_connection_duration", tcp.duration_at("maxConnectionDuration"))
    if http is not None and http.message(HTTP_SETTINGS) is not None:
        _limit(http, "http1MaxPendingRequests", "max_pending_requests", limits)
        _limit(http, "http2MaxRequests", "max_requests", limits)
        _limit(http, "maxRetries", "max_retries", limits)
        _limit(http, "maxRequestsPerConnection", "max_requests_per_connection", common)
        _put(common, "idle_timeout", http.duration_at("idleTimeout"))
    fragment["circuit_breakers"] = {"thresholds": [_thresholds(limits)]}
    if common:
        fragment["typed_extension_protocol_options"] = {
            HTTP_OPTIONS_KEY: {
                "@type": f"type.googleapis.com/{HTTP_OPTIONS_KEY}",
                "common_http_protocol_options": common,
                "explicit_http_config": {"http_protocol_options": {}},
            }
        }
    return fragment


def _limit(node: Node, field_name: str, envoy_name: str, target: dict[str, Any]) -> None:
    """Copies one positive int32 limit (0 means unset in Istio) into `target`."""
    value = node.integer_at(field_name, 0, 2**31 - 1)
    if value:
        target[envoy_name] = value


def _put(target: dict[str, Any], envoy_name: str, value: Any) -> None:
    """Sets a field that is given (and valid) only."""
    if value is not None:
        target[envoy_name] = value


def _outlier_detection(node: Node) -> dict:
    """outlierDetection as Istio's applyOutlierDetection writes it.

    Success-rate ejection is off. A consecutive-error field that is set turns
    its detector on (100% enforcing) or, at 0, off; an unset
    consecutive5xxErrors leaves Envoy's default (5, enforced). The panic
    threshold becomes minHealthPercent, 0 unless set: Istio disables panic
    routing so that ejected pods really receive no traffic."""
    if node.message(OUTLIER_DETECTION) is None:
        return {}
    outlier: dict[str, Any] = {"enforcing_success_rate": 0}
    for field_name, envoy_name in (
        ("consecutive5xxErrors", "consecutive_5xx"),
        ("consecutiveGatewayErrors", "consecutive_gateway_failure"),
    ):
        value = node.integer_at(field_name)
        if value is not None:
            outlier[envoy_name] = value
            outlier[f"enforcing_{envoy_name}"] = 100 if value > 0 else 0
    _put(outlier, "interval", node.duration_at("interval"))
    _put(outlier, "base_ejection_time", node.duration_at("baseEjectionTime"))
    _put(outlier, "max_ejection_percent", node.integer_at("maxEjectionPercent", 0, 100) or None)
    failures = node.integer_at("consecutiveLocalOriginFailures")
    if node.boolean_at("splitExternalLocalOriginErrors"):
        outlier["split_external_local_origin_errors"] = True
        if failures:
            outlier["consecutive_local_origin_failure"] = failures
            outlier["enforcing_consecutive_local_origin_failure"] = 100
        outlier["enforcing_local_origin_success_rate"] = 0
    elif failures is not None:
        node.warn(
            "consecutiveLocalOriginFailures is ignored without splitExternalLocalOriginErrors: true (as in Istio)"
        )
    panic = node.integer_at("minHealthPercent", 0, 100) or 0
    return {"outlier_detection": outlier, "common_lb_config": {"healthy_panic_threshold": {"value": panic}}}
