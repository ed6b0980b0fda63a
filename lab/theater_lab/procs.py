"""The lab's processes: started detached with their output in a log and their pid in a
file, found again from that file, stopped by TERM, a bounded wait, then KILL, before
anything removes their files (the same rule as scripts/lib.sh's stop_pids)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path


class LabError(RuntimeError):
    """A step of the lab failed; the message says which and why."""


def alive(pid: int) -> bool:
    """True while pid names a live process; a zombie counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the command name, which is in parentheses and may hold spaces.
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def tail(log: Path, lines: int = 15) -> str:
    """The last lines of a log, for error messages."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return f"(no log at {log})"
    return "\n".join(text.splitlines()[-lines:]) or f"({log} is empty)"


@contextlib.contextmanager
def signals_held():
    """Holds back ^C, TERM and HUP until the block ends, then acts on them as they would
    have been: a process started inside is never left running without its pid file,
    which is all `down` finds it by. Handlers, unlike a blocked signal mask, are not
    inherited by what is started. Outside the main thread signals cannot be handled, so
    the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    numbers = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {
        number: signal.signal(number, lambda got, _frame: caught.append(got)) for number in numbers
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for number in caught:
            signal.raise_signal(number)


def start(
    name: str,
    argv: Sequence[str],
    run_dir: Path,
    env: dict[str, str] | None = None,
    netns: str | None = None,
) -> int:
    """Starts argv in its own session with stdin closed and stdout and stderr in
    run_dir/NAME.log; writes run_dir/NAME.pid. With netns, inside that network namespace
    (nsenter, not `ip netns exec`, which remounts /sys and hides the cgroup mounts)."""
    if netns is not None:
        argv = ["nsenter", f"--net=/run/netns/{netns}", *argv]
    log = run_dir / f"{name}.log"
    with log.open("ab") as out, signals_held():
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        (run_dir / f"{name}.pid").write_text(f"{process.pid}\n")
    # What it takes to start it again (theater_lab.supervise).
    (run_dir / f"{name}.cmd.json").write_text(json.dumps({"argv": list(argv), "env": env or {}}))
    return process.pid


def restart(name: str, run_dir: Path) -> int:
    """Starts NAME again with the command and environment it was first started with."""
    spec = json.loads((run_dir / f"{name}.cmd.json").read_text())
    return start(name, spec["argv"], run_dir, env=spec["env"])


def pid_of(name: str, run_dir: Path) -> int | None:
    """The pid in run_dir/NAME.pid if that process is alive, else None."""
    try:
        pid = int((run_dir / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def wait_until(
    what: str,
    check,
    timeout: float,
    name: str | None = None,
    run_dir: Path | None = None,
    *,
    pause: float = 0.2,
) -> None:
    """Polls check() until it is true. Fails when the timeout passes or, given a
    process name, when that process dies, quoting the end of its log in the message."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (OSError, subprocess.SubprocessError, LabError):
            pass  # not yet
        if name is not None and run_dir is not None and pid_of(name, run_dir) is None:
            raise LabError(
                f"{name} exited while waiting for {what}; the end of its log "
                f"({run_dir / (name + '.log')}):\n{tail(run_dir / (name + '.log'))}"
            )
        if time.monotonic() > deadline:
            detail = ""
            if name is not None and run_dir is not None:
                detail = f"; the end of {name}'s log:\n{tail(run_dir / (name + '.log'))}"
            raise LabError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
        time.sleep(pause)


def stop(pids: Iterable[int], grace: float = 10.0, say=print) -> None:
    """TERM to each pid, up to grace seconds for all to exit, then KILL and 5 s more.
    Never raises; says which process it had to KILL."""
    pending = []
    for pid in pids:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGTERM)
                pending.append(pid)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    while pending and time.monotonic() < deadline:
        pending = [pid for pid in pending if alive(pid)]
        time.sleep(0.1)
    for pid in pending:
        if alive(pid):
            say(f"pid {pid} did not exit within {grace:.0f} s of TERM; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pending) and time.monotonic() < deadline:
        time.sleep(0.1)


def run(
    argv: Sequence[str],
    what: str,
    *,
    netns: str | None = None,
    timeout: float = 120,
    input_text: str | None = None,
    cwd: Path | None = None,
) -> str:
    """Runs a short command (in netns if given) and returns its stdout; a failure
    raises LabError with the command's stderr."""
    if netns is not None:
        argv = ["nsenter", f"--net=/run/netns/{netns}", *argv]
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input_text,
            cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise LabError(f"{what}: `{' '.join(argv)}` did not finish in {timeout:.0f} s") from error
    except FileNotFoundError as error:
        raise LabError(f"{what}: {argv[0]} is not installed") from error
    if done.returncode != 0:
        raise LabError(
            f"{what}: `{' '.join(argv)}` exited {done.returncode}:\n"
            f"{(done.stderr or done.stdout).strip()[-2000:]}"
        )
    return done.stdout
