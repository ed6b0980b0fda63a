"""The lab's processes, planned from the rendered manifests of both clusters.

Each app Deployment becomes one process on loopback: `user-service-ctx1`,
`user-service-ctx2`, ... with the pod labels of its template, so that the
DestinationRule subsets select the same instances they select in the real
clusters. Envoy gets one listener per meshed Service (the address the apps
call instead of `http://user-service:8081`) and an ingress listener that plays
the Istio ingress gateway. Redis is started by the orchestrator; the plan only
reserves its port.
"""

from __future__ import annotations

import errno
import json
import socket
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from manifests import load_objects

GATEWAY_ROLE = "gateway"
REDIS = "redis"


class PlanError(Exception):
    """The manifests or the machine do not allow a lab; one line per reason."""


@dataclass(frozen=True)
class Service:
    """A Kubernetes Service: the host name clients use and the pods it selects."""

    name: str
    namespace: str
    port: int
    selector: dict[str, str]

    @property
    def host(self) -> str:
        """The fully qualified host name, as Istio names clusters and hosts."""
        return f"{self.name}.{self.namespace}.svc.cluster.local"

    def selects(self, labels: dict[str, str]) -> bool:
        """True when the selector is a subset of the pod labels (Kubernetes semantics)."""
        return bool(self.selector) and all(labels.get(k) == v for k, v in self.selector.items())


@dataclass(frozen=True)
class Instance:
    """One lab process standing in for the pods of one Deployment."""

    name: str
    role: str
    cluster: str
    service: str
    labels: dict[str, str]
    port: int
    address: str = "127.0.0.1"
    locality: str = ""  # region/zone of its node (the live lab)


@dataclass(frozen=True)
class Plan:
    """Everything the orchestrator starts and Envoy routes between."""

    namespace: str
    services: dict[str, Service]
    instances: list[Instance]
    redis_port: int
    admin_port: int
    ingress_port: int
    listeners: dict[str, int]  # meshed Service name -> Envoy listener port
    # The live lab (pods come and go): a subset or host without ready endpoints is
    # normal, as in Istio (503 "no healthy upstream"), not a mistake in the rules.
    live: bool = False
    # The caller's region/zone (the live lab renders one Envoy per cluster); empty offline.
    locality: str = ""

    def members(self, service: str, labels: dict[str, str] | None = None) -> list[Instance]:
        """Instances of a Service whose labels include `labels` (a subset's selector)."""
        wanted = labels or {}
        return [
            i for i in self.instances if i.service == service and all(i.labels.get(k) == v for k, v in wanted.items())
        ]

    def to_json(self) -> dict[str, Any]:
        """The plan file's content: namespace, redis.port, envoy.{adminPort,
        ingressPort, listeners.<service>.{host, servicePort, port}}, services
        (host, port and selector of each) and instances (name, role, cluster,
        service, labels, port)."""
        return {
            "namespace": self.namespace,
            "redis": {"port": self.redis_port},
            "envoy": {
                "adminPort": self.admin_port,
                "ingressPort": self.ingress_port,
                "listeners": {
                    name: {"host": self.services[name].host, "servicePort": self.services[name].port, "port": port}
                    for name, port in self.listeners.items()
                },
            },
            "services": {
                s.name: {"host": s.host, "port": s.port, "selector": s.selector} for s in self.services.values()
            },
            "instances": [asdict(i) for i in self.instances],
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Plan:
        """Reads a plan file written by `to_json`."""
        try:
            namespace = data["namespace"]
            services = {
                name: Service(name, namespace, s["port"], dict(s["selector"])) for name, s in data["services"].items()
            }
            return Plan(
                namespace=namespace,
                services=services,
                instances=[Instance(**i) for i in data["instances"]],
                redis_port=data["redis"]["port"],
                admin_port=data["envoy"]["adminPort"],
                ingress_port=data["envoy"]["ingressPort"],
                listeners={name: entry["port"] for name, entry in data["envoy"]["listeners"].items()},
            )
        except (KeyError, TypeError) as err:
            raise PlanError(f"not a plan written by `meshlab.py plan`: missing or bad {err}") from err


@dataclass(frozen=True)
class _Workload:
    """An app Deployment before it has a port."""

    name: str
    namespace: str
    role: str
    cluster: str
    labels: dict[str, str]


def build_plan(manifest_files: list[str], gateway_port: int = 8080, base_port: int | None = None) -> Plan:
    """Plans the lab from the rendered manifests of the two clusters.

    A Deployment's cluster is its pod label `cluster`; only a Deployment
    without that label takes its file's place (first file ctx1, second ctx2)."""
    problems: list[str] = []
    services: dict[tuple[str, str], Service] = {}
    workloads: list[_Workload] = []
    for index, path in enumerate(manifest_files):
        for obj in load_objects(path):
            kind = obj.get("kind")
            if kind == "Service":
                _add_service(services, obj, path, problems)
            elif kind == "Deployment":
                found = _workload(obj, f"ctx{index + 1}", path, problems)
                if isinstance(found, _Workload):
                    workloads.append(found)
    if not workloads:
        problems.append("no app Deployment (one with `--role` in its container args) in " + ", ".join(manifest_files))
    namespaces = sorted({w.namespace for w in workloads})
    if len(namespaces) > 1:
        problems.append(f"the app's Deployments span namespaces {namespaces}; the lab plays one namespace")
    if problems:
        raise PlanError("\n".join(problems))
    namespace = namespaces[0]
    matched = _match_services(workloads, services, problems)
    _check_unique(workloads, problems)
    if problems:
        raise PlanError("\n".join(problems))
    return _assign_ports(namespace, workloads, matched, gateway_port, base_port)


def _add_service(services: dict[tuple[str, str], Service], obj: dict, path: str, problems: list[str]) -> None:
    """Records a Service; the same Service in both clusters must be identical."""
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    name, namespace = str(meta.get("name")), str(meta.get("namespace", "default"))
    ports = spec.get("ports") or []
    if len(ports) != 1 or not isinstance(ports[0].get("port"), int):
        problems.append(f"{path}: Service {name}: the lab plays Services with exactly one port")
        return
    service = Service(name, namespace, ports[0]["port"], dict(spec.get("selector") or {}))
    previous = services.setdefault((namespace, name), service)
    if previous != service:
        problems.append(f"{path}: Service {name} differs between the clusters ({previous} vs {service})")


def _workload(obj: dict, file_cluster: str, path: str, problems: list[str]) -> _Workload | str | None:
    """An app Deployment as a workload; REDIS for the Redis Deployment (the
    orchestrator runs redis-server itself); None after reporting a problem."""
    meta = obj.get("metadata") or {}
    name, namespace = str(meta.get("name")), str(meta.get("namespace", "default"))
    template = ((obj.get("spec") or {}).get("template")) or {}
    labels = {str(k): str(v) for k, v in ((template.get("metadata") or {}).get("labels") or {}).items()}
    containers = (template.get("spec") or {}).get("containers") or []
    roles = [r for r in (_role(c.get("args") or []) for c in containers) if r]
    if not roles:
        if name == REDIS or labels.get("app") == REDIS:
            return REDIS
        problems.append(f"{path}: Deployment {name}: no container has `--role` in its args")
        return None
    cluster = labels.get("cluster", file_cluster)
    # The same Deployment name runs in both clusters (the context tells them apart):
    # the lab names each process after its Deployment and its cluster.
    return _Workload(f"{name}-{cluster}", namespace, roles[0], cluster, labels)


def _role(args: list[Any]) -> str | None:
    """The value of `--role` in container args (`--role user` or `--role=user`)."""
    args = [str(a) for a in args]
    for position, arg in enumerate(args):
        if arg == "--role" and position + 1 < len(args):
            return args[position + 1]
        if arg.startswith("--role="):
            return arg.split("=", 1)[1]
    return None


def _match_services(
    workloads: list[_Workload], services: dict[tuple[str, str], Service], problems: list[str]
) -> dict[str, Service]:
    """The one Service selecting each workload's pods, by workload name."""
    matched = {}
    for workload in workloads:
        candidates = [s for (ns, _), s in services.items() if ns == workload.namespace and s.selects(workload.labels)]
        if len(candidates) != 1:
            names = ", ".join(s.name for s in candidates) or "none"
            problems.append(
                f"Deployment {workload.name}: its pods must be selected by exactly one Service (found: {names})"
            )
        else:
            matched[workload.name] = candidates[0]
    return matched


def _check_unique(workloads: list[_Workload], problems: list[str]) -> None:
    """Two Deployments of one name in one cluster (e.g. both files rendering ctx1) would share a port."""
    seen = set()
    for workload in workloads:
        if workload.name in seen:
            problems.append(f"Deployment {workload.name} appears twice (as <name>-<cluster>): render each cluster once")
        seen.add(workload.name)


def _assign_ports(
    namespace: str,
    workloads: list[_Workload],
    matched: dict[str, Service],
    gateway_port: int,
    base_port: int | None,
) -> Plan:
    """Gives every process and Envoy listener a loopback port."""
    backends = [w for w in workloads if w.role != GATEWAY_ROLE]
    meshed = sorted({matched[w.name].name for w in backends})
    fixed = 3  # redis, Envoy admin, Envoy ingress
    with ExitStack() as held:
        if any(w.role == GATEWAY_ROLE for w in workloads):
            held.enter_context(_claim(gateway_port, "--gateway-port"))
        ports = _ports(len(backends) + len(meshed) + fixed, gateway_port, base_port, held)
    redis_port, admin_port, ingress_port = ports[:3]
    listener_ports = dict(zip(meshed, ports[3 : 3 + len(meshed)], strict=True))
    instance_ports = iter(ports[3 + len(meshed) :])
    order = sorted(workloads, key=lambda w: (w.role == GATEWAY_ROLE, w.cluster, w.name))
    instances = [
        Instance(
            name=w.name,
            role=w.role,
            cluster=w.cluster,
            service=matched[w.name].name,
            labels=w.labels,
            port=gateway_port if w.role == GATEWAY_ROLE else next(instance_ports),
        )
        for w in order
    ]
    services = {s.name: s for s in sorted(matched.values(), key=lambda s: s.name)}
    return Plan(namespace, services, instances, redis_port, admin_port, ingress_port, listener_ports)


def _ports(count: int, gateway_port: int, base_port: int | None, held: ExitStack) -> list[int]:
    """`count` distinct free loopback ports: consecutive from `base_port`
    (skipping the gateway's), or chosen by the kernel. Each stays bound until
    all are chosen, so the kernel cannot hand out the same port twice."""
    if base_port is None:
        return [held.enter_context(_claim(0, "a free port")).getsockname()[1] for _ in range(count)]
    chosen = list(islice((p for p in range(base_port, 65536) if p != gateway_port), count))
    if len(chosen) < count:
        raise PlanError(f"--base-port {base_port} leaves fewer than {count} ports below 65536")
    for port in chosen:
        held.enter_context(_claim(port, f"--base-port {base_port}"))
    return chosen


def _claim(port: int, what: str) -> socket.socket:
    """Binds 127.0.0.1:port to prove it free (and keep it so until released).

    A given port is tested with SO_REUSEADDR, as servers bind: a connection
    of a previous run lingering in TIME_WAIT does not make it busy, a listener
    does. A kernel-chosen port (0) is bound without it, so that the kernel
    never hands out a port this plan already holds."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise PlanError(
                f"port {port} on 127.0.0.1 is busy (another lab or app still running?); choose another with {what}"
            ) from err
        raise PlanError(f"cannot bind 127.0.0.1:{port} ({what}): {err.strerror}") from err
    return sock


def load_plan(path: str) -> Plan:
    """Reads a plan file written by `meshlab.py plan`."""
    try:
        return Plan.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError) as err:
        raise PlanError(f"{path}: cannot read the plan: {err}") from err
