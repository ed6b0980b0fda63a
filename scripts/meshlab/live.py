"""`meshlab.py run`: the lab's two clusters come alive.

One process plays, for each of the API servers ctx1 and ctx2:
  - the node agent of the cluster's node (agent.py): Pods become processes;
  - Istio's control plane and the cluster's sidecars: it watches Services,
    EndpointSlices, VirtualServices and DestinationRules and translates them
    (render.translate, the same translator the unit tests check) for an Envoy of
    the cluster, which reloads its files live. Each cluster's Envoy follows that
    cluster's own rules (multi-primary: a rule patched in ctx1 steers ctx1's
    callers) and routes to the ready endpoints of both clusters (one mesh).

Every Service gets an Envoy listener on the loopback twin of its ClusterIP
(10.96.1.2:8081 is served on 127.96.1.2:8081); ctx1's Envoy also plays the
ingress gateway cp-gateway (--ingress-port) and `kubectl port-forward
svc/api-gateway` (--page-port). The state for `status` goes to lab.json.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import envoy
from agent import NodeAgent, is_http, loopback
from clusters import static_cluster
from fields import Problems
from kubeapi import ApiError, Client, Informer, wait_synced
from plan import Instance, Plan, Service
from registry import cluster_name
from render import translate
from routes import INGRESS, RetryDefaults

from manifests import to_json, write_atomically

CLUSTERS = ("ctx1", "ctx2")
INGRESS_CLUSTER = "ctx1"  # cp-gateway and the api-gateway run in ctx1
GATEWAY_SERVICE = "api-gateway"
PORT_FORWARD = "port-forward"
INGRESS_NAMESPACE = "istio-system"
REGION_LABEL = "topology.kubernetes.io/region"
ZONE_LABEL = "topology.kubernetes.io/zone"
POLICY_KINDS = {
    "peerauthentications": "PeerAuthentication: the lab has no mTLS between its processes",
    "authorizationpolicies": "AuthorizationPolicy: the lab's Envoy authorizes nothing (no workload identities)",
    "requestauthentications": "RequestAuthentication: the lab's Envoy has no JWT filter",
}


@dataclass
class ClusterView:
    """One cluster as the lab watches it."""

    name: str
    client: Client
    informers: dict[str, Informer] = field(default_factory=dict)

    def watch(self, on_change) -> None:
        paths = {
            "pods": "/api/v1/pods",
            "nodes": "/api/v1/nodes",
            "services": "/api/v1/services",
            "slices": "/apis/discovery.k8s.io/v1/endpointslices",
            "virtualservices": "/apis/networking.istio.io/v1/virtualservices",
            "destinationrules": "/apis/networking.istio.io/v1/destinationrules",
            **{kind: f"/apis/security.istio.io/v1/{kind}" for kind in POLICY_KINDS},
        }
        self.informers = {name: Informer(self.client, path, on_change).start() for name, path in paths.items()}

    def items(self, name: str, namespace: str | None = None) -> list[dict[str, Any]]:
        found = self.informers[name].items()
        return [o for o in found if namespace is None or o["metadata"].get("namespace") == namespace]

    def localities(self) -> dict[str, str]:
        """Node name -> region/zone from its topology labels (empty when unlabelled)."""
        found = {}
        for node in self.items("nodes"):
            labels = node["metadata"].get("labels") or {}
            region, zone = labels.get(REGION_LABEL, ""), labels.get(ZONE_LABEL, "")
            found[node["metadata"]["name"]] = f"{region}/{zone}" if region else ""
        return found


@dataclass
class Mesh:
    """The Envoy of one cluster: its files, its process, what it was last given."""

    cluster: str
    directory: Path
    admin_port: int
    process: subprocess.Popen | None = None
    versions: dict[str, str] = field(default_factory=dict)
    problems: Problems = field(default_factory=Problems)
    not_played: list[str] = field(default_factory=list)


class Lab:
    def __init__(self, args):
        self.dir = Path(args.dir).resolve()
        self.namespace = args.namespace
        self.page_port, self.ingress_port = args.page_port, args.ingress_port
        self.envoy_binary = args.envoy
        self.changed = threading.Event()
        self.stopping = threading.Event()
        self.log_lock = threading.Lock()
        self.views = {c: ClusterView(c, Client(args.kubeconfig, c)) for c in CLUSTERS}
        self.meshes = {
            c: Mesh(c, self.dir / f"envoy-{c}", port) for c, port in zip(CLUSTERS, args.admin_ports, strict=True)
        }
        self.agents: dict[str, NodeAgent] = {}
        self.binary = args.binary
        self.retries = RetryDefaults(retry_503=args.retry_503)

    def log(self, message: str) -> None:
        with self.log_lock:
            print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)

    def on_change(self) -> None:
        self.changed.set()

    # -- the loop ------------------------------------------------------------------
    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: self.stopping.set())
        for view in self.views.values():
            view.watch(self.on_change)
        missing = wait_synced([i for v in self.views.values() for i in v.informers.values()], 60)
        if missing:
            for line in missing:
                self.log(f"error: not listed: {line}")
            return 2
        for cluster, view in self.views.items():
            self.agents[cluster] = NodeAgent(
                cluster, view.client, f"{cluster}-node", self.dir, self.binary,
                lambda view=view: view.items("services"), self.log,
            )
        for mesh in self.meshes.values():
            self._render(mesh)
            self._start_envoy(mesh)
        self.log(f"the lab runs: page http://127.0.0.1:{self.page_port}, ingress port {self.ingress_port}")
        last_render = 0.0
        try:
            while not self.stopping.is_set():
                changed = self.changed.wait(0.25)
                self.changed.clear()
                for cluster, agent in self.agents.items():
                    if changed:
                        agent.sync(self.views[cluster].items("pods"))
                    agent.tick()
                if changed or time.monotonic() - last_render > 2:
                    for mesh in self.meshes.values():
                        self._render(mesh)
                        self._keep_envoy(mesh)
                    last_render = time.monotonic()
                self._write_state()
        finally:
            self.log("stopping: the node agents' processes, then Envoy")
            for agent in self.agents.values():
                agent.stop_all()
            for mesh in self.meshes.values():
                if mesh.process is not None and mesh.process.poll() is None:
                    mesh.process.terminate()
                    try:
                        mesh.process.wait(5)
                    except subprocess.TimeoutExpired:
                        mesh.process.kill()
        return 0

    # -- the control plane ---------------------------------------------------------
    def _plan(self, cluster: str) -> tuple[Plan, dict[str, str], dict[str, tuple[Service, str]]]:
        """The cluster's HTTP Services as the translator's Plan (endpoints of both
        clusters) with their listener addresses, and its TCP Services with theirs."""
        own = self.views[cluster]
        http: dict[str, Service] = {}
        tcp: dict[str, tuple[Service, str]] = {}
        addresses: dict[str, str] = {}
        for obj in own.items("services", self.namespace):
            spec = obj.get("spec") or {}
            ports = spec.get("ports") or []
            ip = spec.get("clusterIP")
            if not ports or not ip or ip == "None":
                continue
            service = Service(obj["metadata"]["name"], self.namespace, int(ports[0]["port"]), dict(spec.get("selector") or {}))
            if is_http(ports[0]):
                http[service.name] = service
                addresses[service.name] = loopback(ip)
            else:
                tcp[service.name] = (service, loopback(ip))
        instances = [i for c in CLUSTERS for i in self._endpoints(c, set(http) | set(tcp))]
        plan = Plan(
            namespace=self.namespace,
            services=dict(sorted(http.items())),
            instances=instances,
            redis_port=0,
            admin_port=self.meshes[cluster].admin_port,
            ingress_port=self.ingress_port if cluster == INGRESS_CLUSTER else 0,
            listeners={name: s.port for name, s in sorted(http.items())},
            live=True,
            locality=own.localities().get(f"{cluster}-node", ""),
        )
        return plan, addresses, tcp

    def _endpoints(self, cluster: str, services: set[str]) -> list[Instance]:
        """The ready endpoints of the Services in one cluster's EndpointSlices, with their Pods' labels."""
        view = self.views[cluster]
        pods = view.items("pods", self.namespace)
        labels = {p["metadata"]["name"]: p["metadata"].get("labels") or {} for p in pods}
        localities = view.localities()
        where = {p["metadata"]["name"]: localities.get((p.get("spec") or {}).get("nodeName", ""), "") for p in pods}
        found = []
        for endpoint_slice in view.items("slices", self.namespace):
            service = (endpoint_slice["metadata"].get("labels") or {}).get("kubernetes.io/service-name")
            ports = endpoint_slice.get("ports") or []
            if service not in services or not ports:
                continue
            for endpoint in endpoint_slice.get("endpoints") or []:
                if not (endpoint.get("conditions") or {}).get("ready"):
                    continue
                pod = (endpoint.get("targetRef") or {}).get("name", "?")
                for address in endpoint.get("addresses") or []:
                    found.append(
                        Instance(
                            name=f"{cluster}/{pod}", role="", cluster=cluster, service=service,
                            labels={str(k): str(v) for k, v in labels.get(pod, {}).items()},
                            port=int(ports[0]["port"]), address=loopback(address), locality=where.get(pod, ""),
                        )
                    )
        return sorted(found, key=lambda i: i.name)

    def _render(self, mesh: Mesh) -> None:
        """Translates the cluster's rules; writes Envoy's files when they changed.
        Rules the lab cannot translate leave the last good files in force."""
        view = self.views[mesh.cluster]
        plan, addresses, tcp = self._plan(mesh.cluster)
        rules = [
            *view.items("virtualservices", self.namespace),
            *view.items("destinationrules", self.namespace),
            *(v for v in view.items("virtualservices", INGRESS_NAMESPACE) if mesh.cluster == INGRESS_CLUSTER),
        ]
        problems = Problems()
        clusters, route_configs = translate(plan, rules, self.retries, problems)
        mesh.problems = problems
        mesh.not_played = [
            f"{why.split(':')[0]} {o['metadata'].get('namespace')}/{o['metadata']['name']}: {why.split(': ', 1)[1]}"
            for kind, why in POLICY_KINDS.items()
            for o in view.items(kind)
        ]
        if problems.errors:
            return
        listeners = [
            envoy.http_listener(name, addresses[name], port, mesh.directory)
            for name, port in plan.listeners.items()
        ]
        for name, (service, address) in tcp.items():
            members = [i for i in plan.instances if i.service == name]
            clusters.append(static_cluster(cluster_name(service), members))
            listeners.append(envoy.tcp_listener(name, address, service.port, cluster_name(service)))
        if mesh.cluster == INGRESS_CLUSTER:
            listeners.append(envoy.http_listener(INGRESS, "127.0.0.1", self.ingress_port, mesh.directory))
            if GATEWAY_SERVICE in plan.services:
                gateway = cluster_name(plan.services[GATEWAY_SERVICE])
                listeners.append(envoy.tcp_listener(PORT_FORWARD, "127.0.0.1", self.page_port, gateway))
        files = envoy.config_files(sorted(clusters, key=lambda c: c["name"]), route_configs)
        files[envoy.LDS] = envoy.discovery_response(envoy.LISTENER_TYPE, listeners)  # last: its routes exist by then
        mesh.directory.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            if mesh.versions.get(name) != content["version_info"]:
                write_atomically(mesh.directory / name, to_json(content))
                mesh.versions[name] = content["version_info"]

    # -- Envoy -----------------------------------------------------------------------
    def _start_envoy(self, mesh: Mesh) -> None:
        bootstrap = mesh.directory / envoy.BOOTSTRAP
        write_atomically(bootstrap, to_json(envoy.live_bootstrap(mesh.admin_port, mesh.directory)))
        log = open(self.dir / "logs" / f"envoy-{mesh.cluster}.log", "ab")  # noqa: SIM115
        mesh.process = subprocess.Popen(
            [self.envoy_binary, "-c", str(bootstrap), "--disable-hot-restart", "--log-level", "warn",
             "--concurrency", "2", "--service-cluster", f"mesh-lab-{mesh.cluster}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )
        log.close()
        self.log(f"{mesh.cluster}: Envoy runs as pid {mesh.process.pid}, admin 127.0.0.1:{mesh.admin_port}")

    def _keep_envoy(self, mesh: Mesh) -> None:
        if mesh.process is not None and mesh.process.poll() is not None:
            self.log(f"{mesh.cluster}: Envoy exited with {mesh.process.returncode}; starting it again")
            self._start_envoy(mesh)

    # -- state for `status` ------------------------------------------------------------
    def _write_state(self) -> None:
        state = {
            "namespace": self.namespace,
            "pagePort": self.page_port,
            "ingressPort": self.ingress_port,
            "clusters": {
                m.cluster: {
                    "adminPort": m.admin_port,
                    "envoyDir": str(m.directory),
                    "envoyPid": m.process.pid if m.process is not None else None,
                    "errors": m.problems.errors,
                    "warnings": m.problems.warnings,
                    "notPlayed": m.not_played,
                    "watchErrors": [f"{name}: {i.error}" for name, i in self.views[m.cluster].informers.items() if i.error],
                }
                for m in self.meshes.values()
            },
            "pods": [p for a in self.agents.values() for p in a.describe()],
        }
        text = to_json(state)
        if text != getattr(self, "_last_state", None):
            write_atomically(self.dir / "lab.json", text)
            self._last_state = text


def run(args) -> int:
    try:
        return Lab(args).run()
    except ApiError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def read_state(directory: str) -> dict[str, Any]:
    return json.loads((Path(directory) / "lab.json").read_text(encoding="utf-8"))
