"""The Envoy side: the bootstrap, the xDS files Envoy watches, and validation.

Files in the output directory:
  bootstrap.json        admin, the listeners, CDS from cds.json; written once,
                        it never changes when rules change
  cds.json              every cluster (a DiscoveryResponse)
  rds-<listener>.json   one RouteConfiguration per listener: rds-user-service.json,
                        rds-movie-service.json, rds-booking-service.json, rds-ingress.json

Envoy reads cds.json and rds-*.json through `path_config_source` with
`watched_directory` set to the directory, so replacing a file by a rename
(see manifests.write_atomically) swaps the rules live, without a restart.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from plan import Plan
from routes import INGRESS

from manifests import to_json, write_atomically

_ENVOY_LOG_PREFIX = re.compile(
    r"^\[[^]]*\]\[\d+\]\[\w+\]\[\w+\] \[[^]]*\] (error initializing configuration '[^']*': )?"
)
HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
NODE = {"id": "theater-mesh-lab", "cluster": "theater-mesh-lab"}
CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ROUTE_TYPE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
BOOTSTRAP = "bootstrap.json"
CDS = "cds.json"
LDS = "lds.json"
LISTENER_TYPE = "type.googleapis.com/envoy.config.listener.v3.Listener"
TCP_PROXY_TYPE = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
ACCESS_LOG_FORMAT = (
    '[%START_TIME(%T.%3f)%] {listener} "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%" '
    "%RESPONSE_CODE% flags=%RESPONSE_FLAGS% route=%ROUTE_NAME% upstream=%UPSTREAM_CLUSTER% "
    "%UPSTREAM_HOST% tries=%UPSTREAM_REQUEST_ATTEMPT_COUNT% %DURATION%ms x-canary=%REQ(X-CANARY)%\n"
)


def rds_file(listener: str) -> str:
    """The route file of one listener."""
    return f"rds-{listener}.json"


def listener_ports(plan: Plan) -> dict[str, int]:
    """Every Envoy listener of the lab by name: the meshed Services, then `ingress`."""
    return {**plan.listeners, INGRESS: plan.ingress_port}


def bootstrap(plan: Plan, directory: Path) -> dict[str, Any]:
    """The bootstrap Envoy starts with: static listeners whose routes, like the
    clusters, come from the watched files in `directory`."""
    watched = {"watched_directory": {"path": str(directory)}}
    listeners = [
        _listener(
            name,
            port,
            {
                "rds": {
                    "route_config_name": name,
                    "config_source": {
                        "path_config_source": {"path": str(directory / rds_file(name)), **watched},
                        "resource_api_version": "V3",
                    },
                }
            },
        )
        for name, port in listener_ports(plan).items()
    ]
    return {
        "node": NODE,
        "admin": _admin(plan),
        "static_resources": {"listeners": listeners},
        "dynamic_resources": {
            "cds_config": {
                "path_config_source": {"path": str(directory / CDS), **watched},
                "resource_api_version": "V3",
            }
        },
    }


def live_bootstrap(admin_port: int, directory: Path) -> dict[str, Any]:
    """The live lab's bootstrap: listeners (lds.json) and clusters (cds.json) both
    come from watched files, so Services that appear later get a listener."""
    watched = {"watched_directory": {"path": str(directory)}}
    return {
        "node": NODE,
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "dynamic_resources": {
            "lds_config": {"path_config_source": {"path": str(directory / LDS), **watched}, "resource_api_version": "V3"},
            "cds_config": {"path_config_source": {"path": str(directory / CDS), **watched}, "resource_api_version": "V3"},
        },
    }


def http_listener(name: str, address: str, port: int, directory: Path) -> dict[str, Any]:
    """A listener resource whose routes come from rds-<name>.json in `directory`."""
    source = {"path_config_source": {"path": str(directory / rds_file(name)), "watched_directory": {"path": str(directory)}}}
    routes = {"rds": {"route_config_name": name, "config_source": {**source, "resource_api_version": "V3"}}}
    return {"@type": LISTENER_TYPE, **_listener(name, port, routes, address)}


def tcp_listener(name: str, address: str, port: int, cluster: str) -> dict[str, Any]:
    """A listener that passes bytes to `cluster`: a TCP Service (Redis) as a sidecar
    forwards it, or the lab's port-forward to the api-gateway Service."""
    proxy = {"@type": TCP_PROXY_TYPE, "stat_prefix": name, "cluster": cluster}
    return {
        "@type": LISTENER_TYPE,
        "name": name,
        "address": {"socket_address": {"address": address, "port_value": port}},
        "filter_chains": [{"filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": proxy}]}],
    }


def static_equivalent(
    plan: Plan, clusters: list[dict], route_configs: dict[str, dict], only: set[str] | None = None
) -> dict[str, Any]:
    """The same configuration with everything inline, for `envoy --mode validate`,
    which checks static resources but does not load xDS files. `only` keeps
    just the named listeners (to find the one Envoy rejects)."""
    listeners = [
        _listener(name, port, {"route_config": _unwrap(route_configs[name])})
        for name, port in listener_ports(plan).items()
        if only is None or name in only
    ]
    return {
        "node": NODE,
        "admin": _admin(plan),
        "static_resources": {"listeners": listeners, "clusters": [_unwrap(c) for c in clusters]},
    }


def discovery_response(type_url: str, resources: list[dict]) -> dict[str, Any]:
    """A DiscoveryResponse as Envoy's filesystem subscription reads it; the
    version is a hash of the content, so unchanged rules keep their version."""
    digest = hashlib.sha256(json.dumps(resources, sort_keys=True).encode()).hexdigest()[:12]
    return {"version_info": digest, "type_url": type_url, "resources": resources}


def config_files(clusters: list[dict], route_configs: dict[str, dict]) -> dict[str, dict]:
    """The xDS files by name, in the order they must be written: clusters first,
    so that no new route ever points at a cluster Envoy does not know yet."""
    files = {CDS: discovery_response(CLUSTER_TYPE, clusters)}
    for name, config in route_configs.items():
        files[rds_file(name)] = discovery_response(ROUTE_TYPE, [config])
    return files


def check(envoy: str, plan: Plan, clusters: list[dict], route_configs: dict[str, dict]) -> list[str]:
    """Envoy's verdict on the translated rules: no messages when it accepts them.

    When it rejects them, the clusters and then each listener's routes are
    tried alone, so that the message says whose rules Envoy refuses (its own
    messages, such as `missing ]: [` for a bad regex, do not say where)."""
    binary = shutil.which(envoy) or (envoy if Path(envoy).is_file() else None)
    if binary is None:
        return [f"cannot validate: no Envoy at {envoy!r} (give --envoy PATH, or --envoy none to skip validation)"]
    verdict = validate(binary, static_equivalent(plan, clusters, route_configs))
    if verdict is None:
        return []
    clusters_alone = validate(binary, static_equivalent(plan, clusters, route_configs, only=set()))
    if clusters_alone is not None:
        return [f"Envoy rejects the clusters: {clusters_alone}"]
    culprits = []
    for name in listener_ports(plan):
        alone = validate(binary, static_equivalent(plan, clusters, route_configs, only={name}))
        if alone is not None:
            culprits.append(f"Envoy rejects the routes of listener {name}: {alone}")
    return culprits or [f"Envoy rejects the configuration: {verdict}"]


def validate(binary: str, config: dict[str, Any]) -> str | None:
    """Envoy's own verdict on a configuration: None when valid, else its message."""
    with tempfile.TemporaryDirectory(prefix="meshlab-validate-") as scratch:
        path = Path(scratch) / "static.json"
        path.write_text(to_json(config), encoding="utf-8")
        try:
            done = subprocess.run(
                [binary, "--mode", "validate", "-c", str(path), "--log-level", "critical"],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return "Envoy did not finish validating in 120 s"
    if done.returncode == 0:
        return None
    lines = [_ENVOY_LOG_PREFIX.sub("", line) for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return " | ".join(lines[-6:])


def write_files(directory: Path, files: dict[str, dict]) -> None:
    """Replaces each file atomically, in the given order."""
    for name, content in files.items():
        write_atomically(directory / name, to_json(content))


def read_version(path: Path) -> str | None:
    """The version_info of an xDS file on disk, or None."""
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("version_info")
    except (OSError, ValueError, AttributeError):
        return None


def _admin(plan: Plan) -> dict[str, Any]:
    """The admin interface, on loopback only."""
    return {"address": {"socket_address": {"address": "127.0.0.1", "port_value": plan.admin_port}}}


def _listener(name: str, port: int, routes: dict[str, Any], address: str = "127.0.0.1") -> dict[str, Any]:
    """A loopback listener with an HTTP connection manager: the fault filter
    (faults are configured per route) then the router, logging each request."""
    manager: dict[str, Any] = {
        "@type": HCM_TYPE,
        "stat_prefix": name,
        **routes,
        "http_filters": [
            {
                "name": "envoy.filters.http.fault",
                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"},
            },
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
            },
        ],
        "access_log": [
            {
                "name": "envoy.access_loggers.stdout",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
                    "log_format": {"text_format_source": {"inline_string": ACCESS_LOG_FORMAT.format(listener=name)}},
                },
            }
        ],
    }
    if name == INGRESS:
        # As on Istio's gateways: `Host: theater.example.com:15080` matches the domain theater.example.com.
        manager["strip_any_host_port"] = True
    return {
        "name": name,
        "address": {"socket_address": {"address": address, "port_value": port}},
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": manager}]}
        ],
    }


def _unwrap(resource: dict) -> dict:
    """A resource without its Any type tag, as static config embeds it."""
    plain = copy.deepcopy(resource)
    plain.pop("@type", None)
    return plain
