"""VirtualServices into Envoy route configurations, as Istio's pilot builds them.

Each meshed Service has its own Envoy listener, so its route configuration
has one virtual host matching any domain; its routes are the `http` rules of
the VirtualService bound to the `mesh` gateway for that host, in order, one
Envoy route per `match` entry. A host without a VirtualService gets Istio's
default route to the whole host. VirtualServices bound to other gateways
(e.g. `istio-system/cp-gateway`) go to the ingress listener, one virtual host
per VirtualService whose domains are exactly its hosts, e.g.
`curl -H 'Host: theater.example.com' http://127.0.0.1:<ingressPort>/`.

Istio's defaults are kept where they change what students observe: no route
timeout, the default retry policy (2 retries on connection failures, refused
streams and 503, on another host) and weight-0 destinations left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fields import Message, Node, Problems
from plan import Plan, Service
from registry import Registry, cluster_name
from rules import check_export, label, read_spec

NOT_PER_SOURCE = "the lab's one shared Envoy cannot tell which workload sent a request"
VIRTUAL_SERVICE = Message.of(
    "VirtualService",
    "hosts gateways http exportTo",
    {"tcp": "the lab's Envoy plays HTTP routes only", "tls": "the lab's Envoy plays HTTP routes only"},
)
HTTP_ROUTE = Message.of(
    "HTTPRoute",
    "name match route redirect directResponse rewrite timeout retries fault mirror mirrors "
    "mirrorPercentage mirrorPercent headers",
    {
        "delegate": "the lab does not resolve delegate VirtualServices: inline their routes",
        "corsPolicy": "the lab's Envoy has no CORS filter",
    },
)
MATCH = Message.of(
    "HTTPMatchRequest",
    "name uri scheme method authority headers queryParams ignoreUriCase withoutHeaders",
    {
        "sourceLabels": NOT_PER_SOURCE,
        "sourceNamespace": NOT_PER_SOURCE,
        "gateways": "the lab does not translate per-match gateways: split the rule into one VirtualService per gateway",
        "port": "the lab does not translate port matches (each lab listener serves one Service port)",
        "statPrefix": "the lab's Envoy keeps no per-route stats",
    },
)
STRING_MATCH = Message.of("StringMatch", "exact prefix regex")
ROUTE_DESTINATION = Message.of("HTTPRouteDestination", "destination weight headers")
DESTINATION = Message.of("Destination", "host subset port")
PORT_SELECTOR = Message.of("PortSelector", "number")
HEADERS = Message.of("Headers", "request response")
HEADER_OPERATIONS = Message.of("HeaderOperations", "set add remove")
REWRITE = Message.of("HTTPRewrite", "uri authority uriRegexRewrite")
REGEX_REWRITE = Message.of("RegexRewrite", "match rewrite")
REDIRECT = Message.of(
    "HTTPRedirect",
    "uri authority port scheme redirectCode",
    {"derivePort": "the lab does not translate derivePort: give `port` explicitly"},
)
DIRECT_RESPONSE = Message.of("HTTPDirectResponse", "status body")
BODY = Message.of("HTTPBody", "string bytes")
RETRY = Message.of("HTTPRetry", "attempts perTryTimeout retryOn retryRemoteLocalities retryIgnorePreviousHosts backoff")
FAULT = Message.of("HTTPFaultInjection", "delay abort")
DELAY = Message.of(
    "Delay", "fixedDelay percentage percent", {"exponentialDelay": "Istio itself does not implement exponentialDelay"}
)
ABORT = Message.of(
    "Abort",
    "httpStatus percentage",
    {
        "grpcStatus": "the lab's instances speak plain HTTP, not gRPC",
        "http2Error": "the lab's instances speak HTTP/1.1",
    },
)
PERCENT = Message.of("Percent", "value")
MIRROR_POLICY = Message.of("HTTPMirrorPolicy", "destination percentage")

RETRY_ON = frozenset(
    "5xx gateway-error reset reset-before-request connect-failure envoy-ratelimited retriable-4xx refused-stream "
    "retriable-status-codes retriable-headers http3-post-connect-failure cancelled deadline-exceeded internal "
    "resource-exhausted unavailable".split()
)
REDIRECT_CODES = {
    301: "MOVED_PERMANENTLY",
    302: "FOUND",
    303: "SEE_OTHER",
    307: "TEMPORARY_REDIRECT",
    308: "PERMANENT_REDIRECT",
}
FAULT_FILTER = "envoy.filters.http.fault"
FORWARD_ONLY = ("rewrite", "timeout", "retries", "mirror", "mirrors", "mirrorPercentage", "mirrorPercent")
INGRESS = "ingress"


@dataclass(frozen=True)
class RetryDefaults:
    """Istio's default retry policy. `retry_503` is Istio up to 1.23; from 1.24
    on (EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY=true) a 503 answer is not retried."""

    retry_503: bool = True

    def policy(self) -> dict[str, Any]:
        """The Envoy retry policy Istio puts on a route that sets no `retries`."""
        retry_on = "connect-failure,refused-stream,unavailable,cancelled"
        policy: dict[str, Any] = {
            "retry_on": retry_on + (",retriable-status-codes" if self.retry_503 else ""),
            "num_retries": 2,
            "retry_host_predicate": [_previous_hosts()],
            "host_selection_retry_max_attempts": 5,
        }
        if self.retry_503:
            policy["retriable_status_codes"] = [503]
        return policy


def _previous_hosts() -> dict[str, Any]:
    """Envoy's predicate that makes a retry pick another host."""
    return {
        "name": "envoy.retry_host_predicates.previous_hosts",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
        },
    }


def build_route_configs(
    plan: Plan, rules: list[dict[str, Any]], registry: Registry, problems: Problems, retries: RetryDefaults
) -> dict[str, dict]:
    """One RouteConfiguration per Envoy listener (meshed Services and `ingress`).

    Needs `registry.subsets` filled by build_clusters, to check named subsets."""
    mesh: dict[str, tuple[str, list[dict]]] = {}  # Service -> (VirtualService label, routes)
    ingress: list[dict] = []
    domains: dict[str, str] = {}
    for rule in rules:
        if rule["kind"] != "VirtualService":
            continue
        spec = read_spec(rule, VIRTUAL_SERVICE, plan.namespace, problems)
        if spec is None:
            continue
        namespace = (rule.get("metadata") or {}).get("namespace") or plan.namespace
        check_export(spec)
        hosts = _hosts(spec)
        gateways_node = spec.at("gateways")
        gateways = gateways_node.strings() if gateways_node is not None else ["mesh"]
        meshed = _mesh_services(hosts, registry, namespace, plan, mesh) if "mesh" in gateways else []
        routes = _RouteTranslator(registry, namespace, retries).http(spec)
        for service in meshed:
            mesh[service.name] = (spec.label, routes)
        if any(g != "mesh" for g in gateways):
            ingress.append(_ingress_host(rule, plan.namespace, hosts, domains, routes))
    configs = {}
    for name in plan.listeners:
        service = plan.services[name]
        routes = mesh[name][1] if name in mesh else [default_route(service, retries)]
        if name not in mesh and registry.hash_policies.get(cluster_name(service)):
            routes[0]["route"]["hash_policy"] = registry.hash_policies[cluster_name(service)]
        configs[name] = _route_config(
            name, [{"name": f"{service.host}:{service.port}", "domains": ["*"], "routes": routes}]
        )
    configs[INGRESS] = _route_config(INGRESS, ingress)
    return configs


def default_route(service: Service, retries: RetryDefaults) -> dict:
    """Istio's route for a host without a VirtualService: the whole host, no timeout, default retries."""
    return {
        "name": "default",
        "match": {"prefix": "/"},
        "route": {"cluster": cluster_name(service), "timeout": "0s", "retry_policy": retries.policy()},
    }


def _route_config(name: str, virtual_hosts: list[dict]) -> dict:
    """A RouteConfiguration; clusters are not validated (Istio's choice: a
    missing cluster answers 503 instead of rejecting the whole update)."""
    return {
        "@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
        "name": name,
        "virtual_hosts": virtual_hosts,
        "validate_clusters": False,
    }


def _hosts(spec: Node) -> list[tuple[str, Node]]:
    """The VirtualService's hosts with their nodes (for error paths)."""
    node = spec.at("hosts")
    if node is None or not node.value:
        spec.error("hosts must name at least one host")
        return []
    return [(h, n) for n in node.items() if (h := n.string()) is not None]


def _mesh_services(
    hosts: list[tuple[str, Node]],
    registry: Registry,
    namespace: str,
    plan: Plan,
    mesh: dict[str, tuple[str, list[dict]]],
) -> list[Service]:
    """The meshed Services whose listeners a mesh VirtualService's hosts claim."""
    services = []
    for host, node in hosts:
        service = registry.service(host, namespace)
        if service is None:
            node.error(f"{host!r} names no Service of the lab (it knows {registry.known_hosts()})")
        elif service.name not in plan.listeners:
            node.error(f"{service.name} is not meshed in the lab: its clients call it directly, not through Envoy")
        elif service.name in mesh or service in services:
            owner = mesh[service.name][0] if service.name in mesh else "this VirtualService"
            node.error(f"{service.host} already has {owner}; Istio would ignore one of the two")
        else:
            services.append(service)
    return services


def _ingress_host(
    rule: dict, namespace: str, hosts: list[tuple[str, Node]], domains: dict[str, str], routes: list[dict]
) -> dict:
    """A virtual host on the ingress listener for a gateway-bound VirtualService."""
    where = label(rule, namespace)
    for host, node in hosts:
        if host in domains:
            node.error(f"host {host} is already served on the ingress listener by {domains[host]}")
        domains.setdefault(host, where)
    meta = rule.get("metadata") or {}
    return {
        "name": f"{meta.get('namespace') or namespace}/{meta.get('name')}",
        "domains": [h for h, _ in hosts],
        "routes": routes,
    }


@dataclass(frozen=True)
class _Destination:
    """One translated `route` destination."""

    cluster: str | None
    weight: int | None
    headers: dict
    node: Node


class _RouteTranslator:
    """Translates the `http` rules of one VirtualService (names resolve in its namespace)."""

    def __init__(self, registry: Registry, namespace: str, retries: RetryDefaults):
        self.registry = registry
        self.namespace = namespace
        self.retries = retries

    def http(self, spec: Node) -> list[dict]:
        """All Envoy routes of the VirtualService, in order."""
        http = spec.at("http")
        if http is None:
            spec.error("http is missing: the lab plays HTTP routes only")
            return []
        routes: list[dict] = []
        catch_all: Node | None = None
        for rule in http.items():
            if catch_all is not None:
                rule.warn(f"never used: {catch_all.path} before it matches every request")
            if rule.message(HTTP_ROUTE) is None:
                continue
            translated = self._rule(rule)
            routes.extend(translated)
            if catch_all is None and any(r["match"] == {"prefix": "/"} for r in translated):
                catch_all = rule
        return routes

    def _rule(self, rule: Node) -> list[dict]:
        """One HTTPRoute: an Envoy route per `match` entry, all with the same action."""
        name = rule.string_at("name")
        entries = rule.at("match")
        matches = [_match(m) for m in entries.items()] if entries is not None else [({"prefix": "/"}, None)]
        action = self._action(rule)
        if action is None:
            return []
        routes = []
        for envoy_match, match_name in matches:
            full_name = ".".join(n for n in (name, match_name) if n)
            if envoy_match is not None:
                routes.append({**({"name": full_name} if full_name else {}), "match": envoy_match, **action})
        return routes

    def _action(self, rule: Node) -> dict | None:
        """What a matched request gets: forwarded, redirected or answered directly,
        plus header changes and injected faults."""
        kinds = [k for k in ("route", "redirect", "directResponse") if rule.at(k) is not None]
        if len(kinds) != 1:
            rule.error(f"needs exactly one of route, redirect, directResponse (has: {', '.join(kinds) or 'none'})")
            return None
        extras = _headers(rule.at("headers"))
        fault = rule.at("fault")
        fault_config = _fault(fault) if fault is not None else None
        if fault_config is not None:
            extras["typed_per_filter_config"] = {FAULT_FILTER: fault_config}
        kind, node = kinds[0], rule.at(kinds[0])
        assert node is not None
        if kind == "route":
            forward, destination_headers = self._forward(rule, node)
            return {"route": forward, **_merge_header_ops(extras, destination_headers)}
        for field_name in FORWARD_ONLY:
            if rule.at(field_name) is not None:
                rule.error_at(field_name, f"applies only to `route` destinations, not to {kind}")
        if kind == "redirect":
            return {"redirect": _redirect(node), **extras}
        return {"direct_response": _direct_response(node), **extras}

    def _forward(self, rule: Node, destinations: Node) -> tuple[dict, dict]:
        """The RouteAction of a forwarding rule, and header changes of a lone destination."""
        action, destination_headers = self._destinations(destinations)
        action["timeout"] = rule.duration_at("timeout", minimum_ms=0) or "0s"
        retry = self._retry(rule.at("retries"))
        if retry is not None:
            action["retry_policy"] = retry
        rewrite = rule.at("rewrite")
        if rewrite is not None:
            action.update(_rewrite(rewrite))
        mirrors = self._mirrors(rule)
        if mirrors:
            action["request_mirror_policies"] = mirrors
        return action, destination_headers

    def _destinations(self, node: Node) -> tuple[dict, dict]:
        """`route` destinations as one cluster or weighted clusters.

        As in Istio, weights must add up to 100 when there are several, and
        weight-0 destinations are left out (a lone one keeps 100%)."""
        items = node.items()
        if not items:
            node.error("needs at least one destination")
        entries = [d for d in (self._destination(item) for item in items) if d is not None]
        weights = [d.weight for d in entries]
        if len(items) > 1 and None not in weights and sum(w or 0 for w in weights) != 100:
            node.error(f"weights add up to {sum(w or 0 for w in weights)}; Istio requires 100")
        if not items or len(entries) != len(items) or any(d.cluster is None or d.weight is None for d in entries):
            return {}, {}
        if len(entries) == 1:
            lone = entries[0]
            if lone.weight not in (0, 100):
                lone.node.warn(f"a lone destination receives 100% whatever its weight ({lone.weight})")
            return {"cluster": lone.cluster, **self._hashing([lone])}, lone.headers
        kept = [d for d in entries if d.weight]
        if len(kept) == 1:
            return {"cluster": kept[0].cluster, **self._hashing(kept)}, kept[0].headers
        clusters = [{"name": d.cluster, "weight": d.weight, **d.headers} for d in kept]
        return {"weighted_clusters": {"clusters": clusters}, **self._hashing(kept)}, {}

    def _hashing(self, destinations: list[_Destination]) -> dict:
        """The hash policy of the first destination whose DestinationRule hashes
        (consistentHash), as Istio puts it on the route."""
        for destination in destinations:
            policy = self.registry.hash_policies.get(destination.cluster or "")
            if policy:
                return {"hash_policy": policy}
        return {}

    def _destination(self, item: Node) -> _Destination | None:
        """One HTTPRouteDestination (weight 0 when not given, as in Istio's proto)."""
        if item.message(ROUTE_DESTINATION) is None:
            return None
        destination = item.at("destination")
        if destination is None:
            item.error_at("destination", "is missing")
            return None
        weight = item.integer_at("weight", 0, 100) if item.at("weight") is not None else 0
        return _Destination(self._cluster(destination), weight, _headers(item.at("headers")), item)

    def _cluster(self, node: Node) -> str | None:
        """The Envoy cluster a Destination names; its host must be a Service of the
        plan, its subset defined by that host's DestinationRule, its port the Service's."""
        if node.message(DESTINATION) is None:
            return None
        host = node.string_at("host")
        if node.at("host") is None:
            node.error_at("host", "is missing")
        service = self.registry.service(host, self.namespace) if host else None
        if host and service is None:
            node.error_at("host", f"{host!r} names no Service of the lab (it knows {self.registry.known_hosts()})")
        port = node.at("port")
        number = port.integer_at("number", 1, 65535) if port is not None and port.message(PORT_SELECTOR) else None
        if port is not None and service is not None and number is not None and number != service.port:
            port.error_at("number", f"{service.name} has port {service.port}, not {number}")
        subset = node.string_at("subset") if node.at("subset") is not None else ""
        if service is None or subset is None:
            return None
        defined = self.registry.subsets.get(service.name)
        if subset and subset not in (defined or {}):
            owner = "its DestinationRule" if defined is not None else "a DestinationRule (it has none)"
            listed = ", ".join(defined or {}) or "none"
            node.error_at("subset", f"subset {subset!r} of {service.name} is not defined by {owner}; defined: {listed}")
            return None
        return cluster_name(service, subset)

    def _retry(self, node: Node | None) -> dict | None:
        """Istio's retry.ConvertPolicy: the default policy when `retries` is
        absent, none when attempts is 0, else the default with the rule's fields."""
        if node is None:
            return self.retries.policy()
        if node.message(RETRY) is None:
            return None
        attempts = node.integer_at("attempts", 0, 2**31 - 1) or 0
        policy = self.retries.policy()
        retry_on = node.at("retryOn")
        if retry_on is not None:
            _retry_on(retry_on, policy)
        per_try = node.duration_at("perTryTimeout")
        if per_try is not None:
            policy["per_try_timeout"] = per_try
        if node.boolean_at("retryRemoteLocalities"):
            node.error_at("retryRemoteLocalities", "the lab runs on one machine and has no localities")
        if node.boolean_at("retryIgnorePreviousHosts") is False:
            del policy["retry_host_predicate"]
        backoff = node.duration_at("backoff")
        if backoff is not None:
            policy["retry_back_off"] = {"base_interval": backoff}
        if not attempts:
            if len(node.value) > 1:
                node.warn("attempts is 0, so retries are off and the other retry fields do nothing")
            return None
        policy["num_retries"] = attempts
        return policy

    def _mirrors(self, rule: Node) -> list[dict]:
        """`mirror` (with mirrorPercentage or mirrorPercent) or `mirrors` as
        Envoy request mirror policies; responses of the copies are dropped."""
        mirror, mirrors = rule.at("mirror"), rule.at("mirrors")
        if mirror is not None and mirrors is not None:
            mirrors.error("give either mirror or mirrors, not both")
            return []
        if mirror is not None:
            return self._mirror_policies([(mirror, _mirror_share(rule))])
        for field_name in ("mirrorPercentage", "mirrorPercent"):
            if rule.at(field_name) is not None:
                rule.warn(f"{field_name} does nothing without `mirror`")
        pairs = []
        for item in mirrors.items() if mirrors is not None else []:
            destination = item.at("destination") if item.message(MIRROR_POLICY) is not None else None
            if destination is None:
                item.error_at("destination", "is missing")
                continue
            percentage = item.at("percentage")
            pairs.append((destination, _percent(percentage) if percentage is not None else _ALL))
        return self._mirror_policies(pairs)

    def _mirror_policies(self, pairs: list[tuple[Node, dict | None]]) -> list[dict]:
        """Mirror policies for (destination, share) pairs; a share of 0 mirrors nothing."""
        policies = []
        for destination, share in pairs:
            cluster = self._cluster(destination)
            if cluster is not None and share is not None and share["numerator"] > 0:
                policies.append(
                    {"cluster": cluster, "runtime_fraction": {"default_value": share}, "trace_sampled": False}
                )
        return policies


_ALL = {"numerator": 100, "denominator": "HUNDRED"}
_PRESENT = {"present": True}
_URI_MATCH = {"exact": "path", "prefix": "prefix", "safe_regex": "safe_regex"}


def _match(node: Node) -> tuple[dict | None, str | None]:
    """An HTTPMatchRequest as an Envoy RouteMatch (all its conditions must hold),
    and the match's name (which Istio appends to the route's)."""
    if node.message(MATCH) is None:
        return None, None
    match: dict[str, Any] = {"prefix": "/"}
    uri = node.at("uri")
    matcher = _string_matcher(uri, allow_present=False) if uri is not None else None
    if matcher is not None:
        kind, value = next(iter(matcher.items()))
        match = {_URI_MATCH[kind]: value}
    if node.boolean_at("ignoreUriCase"):
        match["case_sensitive"] = False
    headers = []
    for pseudo in ("scheme", "method", "authority"):
        child = node.at(pseudo)
        if child is not None:
            headers.append(_header_matcher(f":{pseudo}", child, invert=False))
    for field_name, invert in (("headers", False), ("withoutHeaders", True)):
        child = node.at(field_name)
        if child is not None:
            headers += [_header_matcher(k, v, invert) for k, v in child.entries()]
    if headers:
        match["headers"] = headers
    query = node.at("queryParams")
    if query is not None:
        match["query_parameters"] = [
            _with_matcher({"name": k}, _string_matcher(v, allow_present=True)) for k, v in query.entries()
        ]
    return match, node.string_at("name")


def _merge_header_ops(first: dict, second: dict) -> dict:
    """Route-level header changes followed by those of a lone destination."""
    merged = dict(first)
    for key, values in second.items():
        merged[key] = merged.get(key, []) + values
    return merged


def _headers(node: Node | None) -> dict:
    """Istio's `headers` as Envoy header additions and removals: `set`
    overwrites, `add` appends, `remove` removes."""
    if node is None or node.message(HEADERS) is None:
        return {}
    result: dict[str, list] = {}
    for side in ("request", "response"):
        operations = node.at(side)
        if operations is None or operations.message(HEADER_OPERATIONS) is None:
            continue
        additions = []
        for verb, append_action in (("set", "OVERWRITE_IF_EXISTS_OR_ADD"), ("add", "APPEND_IF_EXISTS_OR_ADD")):
            headers = operations.at(verb)
            for name, value in headers.entries() if headers is not None else []:
                text = value.string(allow_empty=True)
                if name.lower() == "host" or name.startswith(":"):
                    value.error("the lab does not rewrite host or pseudo-headers here: use rewrite.authority")
                elif text is not None:
                    additions.append({"header": {"key": name, "value": text}, "append_action": append_action})
        if additions:
            result[f"{side}_headers_to_add"] = additions
        removals = operations.at("remove")
        if removals is not None:
            result[f"{side}_headers_to_remove"] = removals.strings()
    return result


def _string_matcher(node: Node, allow_present: bool) -> dict | None:
    """An Istio StringMatch as an Envoy StringMatcher. An empty match (or an
    empty prefix) of a header or query parameter means "present", as in Istio."""
    if node.message(STRING_MATCH) is None:
        return None
    given = [k for k in ("exact", "prefix", "regex") if k in node.value]
    if len(given) != 1:
        if not given and allow_present:
            return _PRESENT
        node.error(f"give one of exact, prefix, regex (has: {', '.join(given) or 'none'})")
        return None
    kind = given[0]
    value = node.string_at(kind, allow_empty=True)
    if value is None or (allow_present and kind == "prefix" and value == ""):
        return None if value is None else _PRESENT
    if kind == "regex":
        return {"safe_regex": {"regex": value}}
    return {kind: value}


def _with_matcher(target: dict, matcher: dict | None) -> dict:
    """A header or query-parameter matcher with its string match or presence test."""
    if matcher is _PRESENT:
        return {**target, "present_match": True}
    return {**target, "string_match": matcher or {}}


def _header_matcher(name: str, node: Node, invert: bool) -> dict:
    """An Envoy HeaderMatcher; `withoutHeaders` inverts it."""
    matcher = _with_matcher({"name": name}, _string_matcher(node, allow_present=not name.startswith(":")))
    return {**matcher, "invert_match": True} if invert else matcher


def _percent(node: Node) -> dict | None:
    """An Istio Percent (a double, 0-100) as an Envoy FractionalPercent per million,
    as Istio converts it (30 -> 300000/MILLION; 0.1 -> 1000/MILLION)."""
    if node.message(PERCENT) is None:
        return None
    value_node = node.at("value")
    value = value_node.number(0, 100) if value_node is not None else 0.0
    if value is None:
        return None
    return {"numerator": round(value * 10_000), "denominator": "MILLION"}


def _hundredths(node: Node) -> dict | None:
    """A legacy integer percent (0-100) as a FractionalPercent per hundred."""
    value = node.integer(0, 100)
    return None if value is None else {"numerator": value, "denominator": "HUNDRED"}


def _mirror_share(rule: Node) -> dict | None:
    """How much of the traffic `mirror` copies: mirrorPercentage, else the
    legacy mirrorPercent, else all of it (Istio's default)."""
    percentage, percent = rule.at("mirrorPercentage"), rule.at("mirrorPercent")
    if percentage is not None:
        return _percent(percentage)
    if percent is not None:
        return _hundredths(percent)
    return _ALL


def _fault(node: Node) -> dict | None:
    """HTTPFaultInjection as the fault filter's per-route config.

    Istio injects a fault into no request when its percentage is left out
    (Envoy's default is 0%), which the lab says out loud as a warning."""
    if node.message(FAULT) is None:
        return None
    delay, abort = node.at("delay"), node.at("abort")
    if delay is None and abort is None:
        node.error("needs delay or abort")
        return None
    fault: dict[str, Any] = {"@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"}
    if delay is not None and delay.message(DELAY) is not None:
        fault["delay"] = _delay(delay)
    if abort is not None and abort.message(ABORT) is not None:
        fault["abort"] = _abort(abort)
    return fault


def _delay(delay: Node) -> dict:
    """A fixed delay for a share of requests (`percentage`, else the legacy integer `percent`)."""
    if delay.at("fixedDelay") is None:
        delay.error_at("fixedDelay", "is missing")
    result: dict[str, Any] = {"fixed_delay": delay.duration_at("fixedDelay")}
    percentage, percent = delay.at("percentage"), delay.at("percent")
    if percentage is not None:
        result["percentage"] = _percent(percentage)
    elif percent is not None:
        result["percentage"] = _hundredths(percent)
    else:
        delay.warn("no percentage: Istio delays no request")
        result["percentage"] = {"numerator": 0, "denominator": "HUNDRED"}
    return result


def _abort(abort: Node) -> dict:
    """An HTTP status answered by Envoy itself for a share of requests."""
    if abort.at("httpStatus") is None:
        abort.error_at("httpStatus", "is missing")
    result: dict[str, Any] = {"http_status": abort.integer_at("httpStatus", 200, 599)}
    percentage = abort.at("percentage")
    if percentage is not None:
        result["percentage"] = _percent(percentage)
    else:
        abort.warn("no percentage: Istio aborts no request")
    return result


def _retry_on(node: Node, policy: dict) -> None:
    """retryOn: Envoy retry conditions and bare status codes, comma separated.
    Codes become retriable_status_codes (and switch on retriable-status-codes)."""
    text = node.string()
    if text is None:
        return
    conditions, codes = [], []
    for part in (p.strip() for p in text.split(",")):
        if part.isdigit() and 100 <= int(part) <= 599:
            codes.append(int(part))
        elif part in RETRY_ON:
            conditions.append(part)
        elif part:
            node.error(f"unknown retry condition {part!r} (use {', '.join(sorted(RETRY_ON))} or status codes)")
    if codes and "retriable-status-codes" not in conditions:
        conditions.append("retriable-status-codes")
    policy["retry_on"] = ",".join(conditions)
    policy.pop("retriable_status_codes", None)
    if codes:
        policy["retriable_status_codes"] = codes


def _rewrite(node: Node) -> dict:
    """HTTPRewrite: the matched prefix (or whole path) replaced, or a regex
    substitution; and/or the authority replaced."""
    if node.message(REWRITE) is None:
        return {}
    result: dict[str, Any] = {}
    uri, regex = node.string_at("uri"), node.at("uriRegexRewrite")
    if uri is not None and regex is not None:
        regex.error("give either uri or uriRegexRewrite, not both")
    elif uri is not None:
        result["prefix_rewrite"] = uri
    elif regex is not None and regex.message(REGEX_REWRITE) is not None:
        pattern, substitution = regex.string_at("match"), regex.string_at("rewrite", allow_empty=True)
        if regex.at("match") is None or regex.at("rewrite") is None:
            regex.error("needs both match and rewrite")
        elif pattern is not None and substitution is not None:
            result["regex_rewrite"] = {"pattern": {"regex": pattern}, "substitution": substitution}
    authority = node.string_at("authority")
    if authority is not None:
        result["host_rewrite_literal"] = authority
    return result


def _redirect(node: Node) -> dict:
    """HTTPRedirect as an Envoy RedirectAction (301 unless redirectCode says otherwise)."""
    if node.message(REDIRECT) is None:
        return {}
    result: dict[str, Any] = {}
    for field_name, envoy_name in (
        ("uri", "path_redirect"),
        ("authority", "host_redirect"),
        ("scheme", "scheme_redirect"),
    ):
        value = node.string_at(field_name)
        if value is not None:
            result[envoy_name] = value
    port = node.integer_at("port", 1, 65535)
    if port is not None:
        result["port_redirect"] = port
    code = node.integer_at("redirectCode", 300, 399) if node.at("redirectCode") is not None else 301
    if code is not None and code not in REDIRECT_CODES:
        node.error_at("redirectCode", f"Envoy redirects with {', '.join(map(str, REDIRECT_CODES))} only")
    result["response_code"] = REDIRECT_CODES.get(code or 301, "MOVED_PERMANENTLY")
    return result


def _direct_response(node: Node) -> dict:
    """HTTPDirectResponse: Envoy answers itself with this status and body."""
    if node.message(DIRECT_RESPONSE) is None:
        return {}
    if node.at("status") is None:
        node.error_at("status", "is missing")
    result: dict[str, Any] = {"status": node.integer_at("status", 200, 599)}
    body = node.at("body")
    if body is not None and body.message(BODY) is not None:
        given = [k for k in ("string", "bytes") if body.at(k) is not None]
        if len(given) != 1:
            body.error("give one of string or bytes")
        else:
            content = body.string_at(given[0], allow_empty=True)
            if content is not None:
                result["body"] = {{"string": "inline_string", "bytes": "inline_bytes"}[given[0]]: content}
    return result
