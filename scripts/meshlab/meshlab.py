#!/usr/bin/env python3
"""The mesh lab: a real Envoy plays Istio's data plane between the ctx1 and
ctx2 Pods of each service, on one machine.

The live lab (`run`, started by scripts/mesh-lab.sh up) follows two real API
servers; the offline commands translate rendered manifests without clusters,
which is how the translator is tested and how a rule can be checked alone.

Commands (each has --help):
  run          the live lab: node agents and an Envoy per cluster, following
               two real API servers (started by scripts/mesh-lab.sh up)
  live-status  the live lab's Pods, each Envoy's endpoints and ejections, and
               what the lab does not play
  traffic      send requests and compare the observed split with the expected one
  plan         offline: plan processes and ports from rendered manifests
  render       offline: translate VirtualServices and DestinationRules into Envoy files
  status       offline: Envoy's clusters, endpoints, ejections and rules in force
  ejected      offline: the instances outlier detection has ejected, one per line

Exit codes: 0 success, 1 a traffic expectation failed, 2 rules or plan
refused or Envoy unreachable (every reason printed as `error: ...`), 64 bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # run from a checkout: leave no __pycache__ beside the scripts

# The lab's own modules, imported after the switch above on purpose.
import status  # noqa: E402
import traffic  # noqa: E402
from plan import PlanError, build_plan, load_plan  # noqa: E402
from render import render  # noqa: E402
from routes import INGRESS, RetryDefaults  # noqa: E402

from manifests import InputError, to_json, write_atomically  # noqa: E402

EXIT_REFUSED = 2
EXIT_USAGE = 64


class _Parser(argparse.ArgumentParser):
    """argparse with the lab's usage exit code (64, like the bash scripts)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except (PlanError, InputError, status.AdminError) as err:
        for line in str(err).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return EXIT_REFUSED
    except BrokenPipeError:
        # `meshlab.py status | head`: the reader left early, which is no error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="meshlab.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(required=True, metavar="COMMAND", parser_class=_Parser)

    plan = commands.add_parser("plan", help="plan processes and ports from the rendered manifests")
    plan.add_argument("--manifests", nargs=2, required=True, metavar=("CTX1.yaml", "CTX2.yaml"))
    plan.add_argument("--out", required=True, metavar="PLAN.json")
    plan.add_argument("--gateway-port", type=_port, default=8080, help="the api-gateway's port (default 8080)")
    plan.add_argument("--base-port", type=_port, help="consecutive ports from here instead of free ones")
    plan.set_defaults(run=_plan)


    rend = commands.add_parser("render", help="translate the rules into Envoy files (all or nothing)")
    rend.add_argument("--plan", required=True, metavar="PLAN.json")
    rend.add_argument("--rules", nargs="+", required=True, metavar="FILE", help="YAML/JSON files or kustomize dirs")
    rend.add_argument("--out", required=True, metavar="DIR")
    rend.add_argument(
        "--envoy", default="envoy", help="Envoy binary for validation, or `none` (default: envoy on PATH)"
    )
    rend.add_argument("--state", metavar="FILE", help="rules in force, updated like kubectl apply (a kind: List)")
    rend.add_argument(
        "--retry-503",
        action="store_true",
        help="Istio 1.23's default retry policy, which retries a 503 answer on another host; "
        "without it, Istio 1.24+'s (EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY): a 503 reaches the caller",
    )
    rend.set_defaults(run=_render)

    traffic.add_arguments(commands.add_parser("traffic", help="measure the split of N requests"))

    for name, summary in (("status", "clusters, endpoints and the rules in force"), ("ejected", "ejected instances")):
        command = commands.add_parser(name, help=summary)
        command.add_argument("--plan", required=True, metavar="PLAN.json")
        command.add_argument("--dir", metavar="DIR", help="render directory: also tell whether Envoy runs its files")
        command.add_argument("--json", action="store_true", help="machine-readable output")
        command.set_defaults(run=status.run_status if name == "status" else status.run_ejected)
    live_status = commands.add_parser("live-status", help="the live lab's Pods, Envoys and problems")
    live_status.add_argument("--dir", required=True, help="the lab's state folder")
    live_status.add_argument("--json", action="store_true", help="machine-readable output")
    live_status.set_defaults(run=status.run_live_status)

    live_run = commands.add_parser("run", help="the live lab over the API servers of ctx1 and ctx2")
    live_run.add_argument("--kubeconfig", required=True)
    live_run.add_argument("--dir", required=True, help="the lab's state folder")
    live_run.add_argument("--binary", required=True, help="the theater binary the app's Pods run")
    live_run.add_argument("--envoy", required=True, help="the Envoy binary")
    live_run.add_argument("--namespace", default="theater-msa")
    live_run.add_argument("--page-port", type=_port, default=8080)
    live_run.add_argument("--ingress-port", type=_port, default=8000)
    live_run.add_argument("--admin-ports", type=_port, nargs=2, required=True, metavar=("CTX1", "CTX2"))
    live_run.add_argument("--retry-503", action="store_true", help="Istio 1.23's default retries (see render)")
    live_run.set_defaults(run=_live)
    return parser


def _live(args: argparse.Namespace) -> int:
    import live  # noqa: PLC0415 (the live lab's modules are not needed by the other commands)

    return live.run(args)


def _port(text: str) -> int:
    """A TCP port argument."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r}")
    return int(text)


def _plan(args: argparse.Namespace) -> int:
    plan = build_plan(args.manifests, args.gateway_port, args.base_port)
    write_atomically(args.out, to_json(plan.to_json()))
    print(f"planned {len(plan.instances)} instances; Envoy admin on 127.0.0.1:{plan.admin_port}; plan in {args.out}")
    return 0


def _render(args: argparse.Namespace) -> int:
    envoy_binary = None if args.envoy == "none" else args.envoy
    plan = load_plan(args.plan)
    result = render(
        plan,
        args.rules,
        Path(args.out),
        envoy_binary,
        args.state,
        RetryDefaults(retry_503=args.retry_503),
    )
    for warning in result.problems.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if result.problems.errors:
        for error in result.problems.errors:
            print(f"error: {error}", file=sys.stderr)
        print(f"nothing written: {len(result.problems.errors)} error(s)", file=sys.stderr)
        return EXIT_REFUSED
    kinds = [r["kind"] for r in result.rules]
    rules = f"{kinds.count('VirtualService')} VirtualServices and {kinds.count('DestinationRule')} DestinationRules"
    tables = f"{len(result.clusters)} clusters and {len(result.route_configs)} route tables"
    print(f"rendered {rules} into {tables} in {args.out}")
    for name, version in result.versions.items():
        print(f"  {name}  version {version}")
    for host in result.route_configs[INGRESS]["virtual_hosts"]:
        for domain in host["domains"]:
            print(f"  ingress: curl -H 'Host: {domain}' http://127.0.0.1:{plan.ingress_port}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
