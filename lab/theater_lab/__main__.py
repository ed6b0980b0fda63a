"""python3 -m theater_lab: the lab's real nodes (nodes up|down|status) and the host's
port forwarder into a lab namespace (forward), which `nodes up` starts itself."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from . import netns
from .node import CLUSTERS
from .nodes import Lab
from .procs import LabError
from .supervise import supervise


def parse_map(text: str) -> tuple[int, str, int]:
    try:
        port, target = text.split("=", 1)
        address, target_port = target.rsplit(":", 1)
        return int(port), address, int(target_port)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"'{text}' is not HOSTPORT=ADDRESS:PORT") from error


def interrupted(number: int, _frame) -> None:
    raise KeyboardInterrupt(signal.Signals(number).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m theater_lab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    nodes = commands.add_parser("nodes", help="the two clusters' real nodes")
    nodes.add_argument("action", choices=["up", "down", "status"])
    nodes.add_argument("--dir", type=Path, required=True, help="the lab's state folder")
    nodes.add_argument(
        "--domain",
        default="localhost:8000",
        help="the class domain: the registry plays harbor.DOMAIN (default %(default)s)",
    )
    nodes.add_argument(
        "--ingress-port",
        type=int,
        default=8000,
        help="host 127.0.0.1 port of ctx1's ingress gateway (default %(default)s)",
    )
    nodes.add_argument(
        "--timeout", type=float, default=180, help="seconds per step (default %(default)s)"
    )
    watch = commands.add_parser("supervise", help="restart the nodes' daemons when they exit")
    watch.add_argument("--dir", type=Path, required=True, help="the lab's state folder")
    forward = commands.add_parser("forward", help="relay host 127.0.0.1 ports into a lab namespace")
    forward.add_argument("--netns", required=True)
    forward.add_argument("maps", nargs="+", type=parse_map, metavar="HOSTPORT=ADDRESS:PORT")
    args = parser.parse_args(argv)
    try:
        return run_command(args)
    except LabError as error:
        print(f"lab: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def run_command(args: argparse.Namespace) -> int:
    if args.command == "forward":
        netns.forward(args.netns, args.maps)
    elif args.command == "supervise":
        runs = [args.dir.resolve() / cluster.name / "run" for cluster in CLUSTERS]
        supervise(runs, lambda message: print(message, flush=True))
    elif args.action == "up":
        nodes_up(Lab(args.dir.resolve(), args.domain, args.ingress_port), args.timeout)
    elif args.action == "down":
        Lab(args.dir.resolve(), args.domain).down()
    else:
        return Lab(args.dir.resolve(), args.domain).status()
    return 0


def nodes_up(lab: Lab, timeout: float) -> None:
    """`up`, and on any failure or interruption `down` of whatever it started."""
    # TERM and HUP stop `up` the way ^C does.
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, interrupted)
    lab.refuse_if_up()
    try:
        lab.up(timeout)
    except BaseException:
        print("lab: up failed; stopping what it started", file=sys.stderr)
        # A second ^C must not cut the cleanup short.
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, signal.SIG_IGN)
        try:
            lab.down()
        except LabError as error:
            print(f"lab: {error}", file=sys.stderr)
        raise


if __name__ == "__main__":
    sys.exit(main())
