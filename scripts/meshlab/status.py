"""`status` and `ejected`: what the running Envoy does right now, from its admin API.

Per Envoy cluster, each endpoint with its instance name and health flags
(`/failed_outlier_check` is an outlier ejection), and the versions of the
clusters and routes in force; with `--dir`, whether they are the ones last
rendered, which is how the orchestrator waits for a rule change to land.
"""

from __future__ import annotations

import argparse
import http.client
import json
from pathlib import Path
from typing import Any

from envoy import CDS, listener_ports, rds_file, read_version
from plan import Plan, load_plan

EJECTED = "/failed_outlier_check"


class AdminError(Exception):
    """Envoy's admin API does not answer as expected."""


def admin_get(port: int, path: str, timeout: float = 5.0) -> Any:
    """GETs a JSON page of Envoy's admin API on loopback."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
    except OSError as err:
        raise AdminError(f"Envoy's admin API on 127.0.0.1:{port} does not answer ({err}); is Envoy running?") from err
    finally:
        connection.close()
    if response.status != 200:
        raise AdminError(f"Envoy's admin API answered {response.status} to {path}")
    return json.loads(body)


def endpoints(plan: Plan) -> list[dict[str, Any]]:
    """Every cluster Envoy knows from the rules, with its endpoints' names and health flags."""
    return admin_endpoints(plan.admin_port, {i.port: i.name for i in plan.instances})


def admin_endpoints(admin_port: int, names: dict[int, str]) -> list[dict[str, Any]]:
    """Every cluster of the Envoy at `admin_port`, with its endpoints (named by
    their hostname, else by `names` of their port) and health flags."""
    clusters = []
    for cluster in admin_get(admin_port, "/clusters?format=json").get("cluster_statuses", []):
        hosts = []
        for host in cluster.get("host_statuses", []):
            socket = host.get("address", {}).get("socket_address", {})
            port = socket.get("port_value")
            flags = sorted(f"/{k}" for k, v in host.get("health_status", {}).items() if v is True)
            stats = {s["name"]: int(s.get("value", 0)) for s in host.get("stats", []) if "name" in s}
            hosts.append(
                {
                    "instance": host.get("hostname") or names.get(port, "?"),
                    "address": f"{socket.get('address')}:{port}",
                    "flags": flags,
                    "ejected": EJECTED in flags,
                    "requests": stats.get("rq_total", 0),
                    "errors": stats.get("rq_error", 0),
                }
            )
        clusters.append({"name": cluster.get("name"), "endpoints": hosts})
    return sorted(clusters, key=lambda c: c["name"])


def versions_in_force(plan: Plan) -> dict[str, str | None]:
    """The version of cds.json and of each rds file that Envoy runs (None if not loaded)."""
    running: dict[str, str | None] = {CDS: None, **{rds_file(n): None for n in listener_ports(plan)}}
    for config in admin_get(plan.admin_port, "/config_dump").get("configs", []):
        kind = config.get("@type", "")
        if kind.endswith("ClustersConfigDump"):
            running[CDS] = config.get("version_info")
        elif kind.endswith("RoutesConfigDump"):
            for dynamic in config.get("dynamic_route_configs", []):
                name = dynamic.get("route_config", {}).get("name")
                if name is not None:
                    running[rds_file(name)] = dynamic.get("version_info")
    return running


def snapshot(plan: Plan, directory: str | None) -> dict[str, Any]:
    """Everything `status --json` prints."""
    running = versions_in_force(plan)
    rules = {name: {"inForce": version} for name, version in running.items()}
    if directory is not None:
        for name, entry in rules.items():
            entry["written"] = read_version(Path(directory) / name)
    clusters = endpoints(plan)
    return {
        "rules": rules,
        "inSync": all(e["inForce"] and e.get("written", e["inForce"]) == e["inForce"] for e in rules.values()),
        "clusters": clusters,
        "ejected": sorted({e["instance"] for c in clusters for e in c["endpoints"] if e["ejected"]}),
    }


def run_status(args: argparse.Namespace) -> int:
    """The `status` command."""
    state = snapshot(load_plan(args.plan), args.dir)
    if args.json:
        print(json.dumps(state, indent=2))
        return 0
    print("rules in force:")
    for name, entry in state["rules"].items():
        written = entry.get("written", entry["inForce"])
        mark = "" if written == entry["inForce"] else f"  (rendered {written}: not loaded yet)"
        print(f"  {name:<26} {entry['inForce'] or 'not loaded'}{mark}")
    for cluster in state["clusters"]:
        print(cluster["name"])
        for e in cluster["endpoints"]:
            health = " ".join(e["flags"]) or "healthy"
            print(
                f"  {e['instance']:<22} {e['address']:<16} {health:<24} requests {e['requests']} (errors {e['errors']})"
            )
    print("ejected: " + (", ".join(state["ejected"]) or "none"))
    return 0


def run_ejected(args: argparse.Namespace) -> int:
    """The `ejected` command: ejected instances, one per line (or a JSON list)."""
    ejected = snapshot(load_plan(args.plan), args.dir)["ejected"]
    if args.json:
        print(json.dumps(ejected))
    elif ejected:
        print("\n".join(ejected))
    return 0


def live_snapshot(directory: str) -> dict[str, Any]:
    """The live lab: its state file, and each Envoy's clusters and ejections."""
    state = json.loads((Path(directory) / "lab.json").read_text(encoding="utf-8"))
    for cluster, info in state["clusters"].items():
        try:
            info["envoyClusters"] = admin_endpoints(info["adminPort"], {})
        except AdminError as err:
            info["envoyClusters"], info["envoyError"] = [], str(err)
        info["ejected"] = sorted(
            {e["instance"] for c in info["envoyClusters"] for e in c["endpoints"] if e["ejected"]}
        )
    return state


def run_live_status(args: argparse.Namespace) -> int:
    """The `live-status` command: Pods, each Envoy's endpoints, and what the lab does not play."""
    state = live_snapshot(args.dir)
    if args.json:
        print(json.dumps(state, indent=2))
        return 0
    print("pods (the lab's node agents; the API shows the 10.x address, the process listens on the 127.x twin):")
    for pod in state["pods"]:
        health = "ready" if pod["ready"] else (pod["waiting"] or "not ready")
        print(
            f"  {pod['cluster']}  {pod['pod']:<44} {pod['podIP']:<13} {pod['listensOn']:<14} {health:<10}"
            f" restarts {pod['restarts']}  pid {pod['pid'] or '-'}"
        )
    for cluster, info in state["clusters"].items():
        print(f"{cluster}'s Envoy (the sidecars of {cluster}; admin http://127.0.0.1:{info['adminPort']}):")
        if info.get("envoyError"):
            print(f"  {info['envoyError']}")
        for envoy_cluster in info["envoyClusters"]:
            if not envoy_cluster["name"].startswith("outbound|"):
                continue
            print(f"  {envoy_cluster['name']}")
            for e in envoy_cluster["endpoints"]:
                flags = " ".join(e["flags"]) or "healthy"
                print(f"    {e['instance']:<40} {e['address']:<20} {flags:<22} requests {e['requests']} (errors {e['errors']})")
        print("  ejected: " + (", ".join(info["ejected"]) or "none"))
        for error in info["errors"]:
            print(f"  rules NOT in force (the last good ones stay): {error}")
        for warning in info["warnings"]:
            print(f"  warning: {warning}")
        for line in info["notPlayed"]:
            print(f"  not played by the lab: {line}")
        for line in info["watchErrors"]:
            print(f"  watch error: {line}")
    print("never played by the lab: sidecar injection (one Envoy per cluster stands in for every sidecar), "
          "mTLS, AuthorizationPolicy")
    return 0
