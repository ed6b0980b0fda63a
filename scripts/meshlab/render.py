"""`render`: rules in, Envoy files out, all or nothing.

Rules accumulate like `kubectl apply`: objects replace those of the same
kind/namespace/name in the state file, and the merged set is translated.
Nothing is written unless every object translates and the real Envoy accepts
the result: a half-applied lesson is worse than a refused one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import envoy
from clusters import build_clusters
from fields import Problems
from plan import Plan
from registry import Registry
from routes import RetryDefaults, build_route_configs
from rules import merge, read_state, select_rules, state_document

from manifests import InputError, load_objects, to_json, write_atomically


@dataclass
class Rendered:
    """What a render produced: problems, or the files it wrote and their versions."""

    problems: Problems
    rules: list[dict] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    clusters: list[dict] = field(default_factory=list)
    route_configs: dict[str, dict] = field(default_factory=dict)


def translate(
    plan: Plan, rules: list[dict], retries: RetryDefaults, problems: Problems
) -> tuple[list[dict], dict[str, dict]]:
    """The rules as Envoy clusters and route configurations (problems collected)."""
    registry = Registry(plan)
    clusters = build_clusters(plan, rules, registry, problems)
    route_configs = build_route_configs(plan, rules, registry, problems, retries)
    return clusters, route_configs


def render(
    plan: Plan,
    rule_files: list[str],
    out_dir: Path,
    envoy_binary: str | None,
    state_path: str | None,
    retries: RetryDefaults,
) -> Rendered:
    """Translates the rules (merged into the state), validates, then writes."""
    problems = Problems()
    applied = []
    for path in rule_files:
        try:
            applied += select_rules(load_objects(path), plan.namespace, problems)
        except InputError as err:
            problems.errors.append(str(err))
    rules = merge(read_state(state_path, plan.namespace, problems), applied, plan.namespace)
    result = Rendered(problems, rules)
    result.clusters, result.route_configs = translate(plan, rules, retries, problems)
    if problems.errors:
        return result
    out_dir = out_dir.resolve()
    if state_path is not None and not Path(state_path).resolve().parent.is_dir():
        problems.errors.append(f"{state_path}: its directory does not exist")
        return result
    new_bootstrap = envoy.bootstrap(plan, out_dir)
    _check_bootstrap(out_dir / envoy.BOOTSTRAP, new_bootstrap, problems)
    if problems.errors:
        return result
    if envoy_binary is not None:
        problems.errors += envoy.check(envoy_binary, plan, result.clusters, result.route_configs)
        if problems.errors:
            return result
    files = envoy.config_files(result.clusters, result.route_configs)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not (out_dir / envoy.BOOTSTRAP).exists():
        write_atomically(out_dir / envoy.BOOTSTRAP, to_json(new_bootstrap))
    envoy.write_files(out_dir, files)
    if state_path is not None:
        write_atomically(state_path, to_json(state_document(rules)))
    result.versions = {name: content["version_info"] for name, content in files.items()}
    return result


def _check_bootstrap(path: Path, wanted: dict, problems: Problems) -> None:
    """An existing bootstrap must be the plan's: a running Envoy never rereads it."""
    if not path.exists():
        return
    try:
        current = path.read_text(encoding="utf-8")
    except OSError as err:
        problems.errors.append(f"{path}: cannot read: {err.strerror}")
        return
    if current != to_json(wanted):
        problems.errors.append(
            f"{path} was written for another plan (ports or directory differ); "
            "a running Envoy never rereads it: use a fresh directory or remove it and restart Envoy"
        )
