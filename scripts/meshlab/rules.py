"""Which objects are rules, and how new rules replace old ones (like `kubectl apply`).

The lab plays VirtualServices and DestinationRules. Everything that is not
Istio (Namespaces, Deployments, RBAC, ...) belongs to the plan and is skipped
without a word; any other Istio kind is an error, because silently ignoring a
PeerAuthentication would let a student believe STRICT mTLS is in force.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fields import Message, Node, Problems

RULE_GROUP = "networking.istio.io"
RULE_KINDS = ("VirtualService", "DestinationRule")
RULE_VERSIONS = ("v1", "v1beta1", "v1alpha3")

NO_IDENTITY = "the lab's processes have no workload identities and no mTLS between them"
UNPLAYABLE = {
    "PeerAuthentication": NO_IDENTITY + ", so there is no mTLS mode to enforce",
    "AuthorizationPolicy": NO_IDENTITY + " (every call reaches one shared Envoy), so there is nothing to authorize",
    "RequestAuthentication": "the lab's Envoy has no JWT filter",
    "Gateway": "the lab's ingress listener stands in for every Gateway; bind a VirtualService to it instead",
    "ServiceEntry": "the lab routes only to the Services of its plan",
    "Sidecar": "the lab has one shared Envoy, not a sidecar per workload",
    "EnvoyFilter": "raw Envoy patches target Istio's generated config, which the lab does not reproduce",
    "WorkloadEntry": "the lab's workloads come from the plan's Deployments",
    "WorkloadGroup": "the lab's workloads come from the plan's Deployments",
    "Telemetry": "the lab's Envoy logs to stdout and has no telemetry providers",
    "ProxyConfig": "the lab's Envoy is configured by the lab, not by ProxyConfig",
    "WasmPlugin": "the lab's Envoy loads no Wasm plugins",
}


def label(obj: dict[str, Any], namespace: str) -> str:
    """How errors name an object: `VirtualService user-service`, with the
    namespace only when it differs from the app's (`VirtualService istio-system/theater-msa`)."""
    meta = obj.get("metadata") or {}
    own = meta.get("namespace") or namespace
    name = meta.get("name") or "(no name)"
    return f"{obj.get('kind')} {name if own == namespace else own + '/' + name}"


def select_rules(objects: Iterable[dict[str, Any]], namespace: str, problems: Problems) -> list[dict[str, Any]]:
    """The VirtualServices and DestinationRules among `objects`; errors for other Istio kinds."""
    rules = []
    for obj in objects:
        api_version = str(obj.get("apiVersion", ""))
        group, _, version = api_version.rpartition("/")
        kind = obj.get("kind")
        where = label(obj, namespace)
        if not group.endswith("istio.io"):
            if kind in RULE_KINDS:  # a mistyped apiVersion must not make a rule vanish
                problems.errors.append(f"{where}: apiVersion {api_version!r} is not {RULE_GROUP}/{RULE_VERSIONS[0]}")
            continue
        if group == RULE_GROUP and kind in RULE_KINDS:
            if version not in RULE_VERSIONS:
                problems.errors.append(f"{where}: apiVersion {api_version} is not one the lab reads ({RULE_VERSIONS})")
            elif not (obj.get("metadata") or {}).get("name"):
                problems.errors.append(f"{where}: metadata.name is missing")
            else:
                rules.append(obj)
            continue
        why = UNPLAYABLE.get(str(kind), "the lab plays only VirtualServices and DestinationRules")
        problems.errors.append(f"{where}: not playable in the lab: {why}")
    return rules


def identity(obj: dict[str, Any], namespace: str) -> tuple[str, str, str]:
    """What `kubectl apply` matches objects by: kind, namespace, name."""
    meta = obj.get("metadata") or {}
    return (str(obj.get("kind")), meta.get("namespace") or namespace, str(meta.get("name")))


def merge(current: list[dict[str, Any]], applied: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """`current` after applying `applied`: an object replaces the one of the same
    kind/namespace/name in place; new objects are appended in order."""
    merged = {identity(o, namespace): o for o in current}
    for obj in applied:
        merged[identity(obj, namespace)] = obj
    return list(merged.values())


def read_state(path: str | None, namespace: str, problems: Problems) -> list[dict[str, Any]]:
    """The rules in force from a state file (a `kind: List`), empty when there is none yet."""
    if path is None or not Path(path).exists():
        return []
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        problems.errors.append(f"{path}: cannot read the rules state: {err}")
        return []
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        problems.errors.append(f"{path}: not a rules state written by the lab (expected a kind: List)")
        return []
    return select_rules(document["items"], namespace, problems)


def state_document(rules: list[dict[str, Any]]) -> dict[str, Any]:
    """The state file's content: the rules in force as a Kubernetes List, which
    the gateway's page reads like the output of `kubectl get -o json`."""
    return {"apiVersion": "v1", "kind": "List", "items": rules}


def read_spec(obj: dict[str, Any], shape: Message, namespace: str, problems: Problems) -> Node | None:
    """An object's `spec`, checked against its shape, ready to read field by field."""
    where = label(obj, namespace)
    if not isinstance(obj.get("spec"), dict):
        problems.errors.append(f"{where}: spec is missing or not an object")
        return None
    return Node(obj["spec"], "spec", where, problems).message(shape)


def check_export(spec: Node) -> None:
    """exportTo may be ignored only while it keeps the rule visible to the app's namespace."""
    export = spec.at("exportTo")
    if export is not None and not {".", "*"} & set(export.strings()):
        export.error("exportTo must include '.' or '*': the lab's clients live in the rules' namespace")
