"""Keeps every node's daemons running, as systemd keeps a real node's: a containerd,
kubelet or kube-proxy that exits is started again with its first command, at most
RESTARTS times within WINDOW seconds each (then it stays down and the log says so)."""

from __future__ import annotations

import os
import time
from collections import defaultdict, deque
from pathlib import Path

from .procs import pid_of, restart

DAEMONS = ("containerd", "kubelet", "kube-proxy")
RESTARTS = 5
WINDOW = 300.0


def reap() -> None:
    """Collects the exit status of any child that ended (restarted daemons are ours)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def supervise(run_dirs: list[Path], say) -> None:
    """Checks each daemon every second; runs until killed."""
    history: dict[tuple[Path, str], deque[float]] = defaultdict(deque)
    given_up: set[tuple[Path, str]] = set()
    say(f"watching {', '.join(DAEMONS)} of {len(run_dirs)} nodes")
    while True:
        reap()
        for run_dir in run_dirs:
            for name in DAEMONS:
                key = (run_dir, name)
                if key in given_up or not (run_dir / f"{name}.cmd.json").exists():
                    continue
                if pid_of(name, run_dir) is not None:
                    continue
                now = time.monotonic()
                recent = history[key]
                while recent and now - recent[0] > WINDOW:
                    recent.popleft()
                if len(recent) >= RESTARTS:
                    say(
                        f"{name} of {run_dir.parent.name} exited {RESTARTS} times within "
                        f"{WINDOW:.0f} s; leaving it down (see {run_dir / (name + '.log')})"
                    )
                    given_up.add(key)
                    continue
                recent.append(now)
                pid = restart(name, run_dir)
                say(f"{name} of {run_dir.parent.name} had exited; started it again (pid {pid})")
        time.sleep(1)
