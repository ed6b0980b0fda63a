"""Network namespaces of the lab's own: every lab address (nodes, Pods, Services)
lives only inside them. Nothing here adds an address, route or rule to the machine's
own namespace; the host reaches the lab through forward(), which listens on host
127.0.0.1 ports and connects from inside a lab namespace."""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
from pathlib import Path

from .procs import LabError, run

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")


def exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def create(name: str) -> None:
    """A new network namespace with only its loopback up."""
    if exists(name):
        raise LabError(
            f"network namespace {name} exists already: another lab is up "
            "(scripts/mesh-lab.sh down), or a crashed one left it (ip netns delete "
            f"{name})"
        )
    run(["ip", "netns", "add", name], f"creating network namespace {name}")
    run(["ip", "-n", name, "link", "set", "lo", "up"], f"loopback of {name}")


def delete(name: str) -> None:
    if exists(name):
        run(["ip", "netns", "delete", name], f"deleting network namespace {name}")


def link_pair(left: tuple[str, str, str], right: tuple[str, str, str]) -> None:
    """A veth pair between two lab namespaces, each end given as (namespace, device,
    address/prefix): created inside the first namespace, so it never appears in the
    host's, each end addressed and up."""
    (left_ns, left_if, _), (right_ns, right_if, _) = left, right
    run(
        [
            "ip",
            "-n",
            left_ns,
            "link",
            "add",
            left_if,
            "type",
            "veth",
            "peer",
            "name",
            right_if,
            "netns",
            right_ns,
        ],
        f"veth {left_ns}:{left_if} <-> {right_ns}:{right_if}",
    )
    for ns, dev, cidr in (left, right):
        run(["ip", "-n", ns, "addr", "add", cidr, "dev", dev], f"address {cidr} on {ns}:{dev}")
        run(["ip", "-n", ns, "link", "set", dev, "up"], f"{ns}:{dev} up")


def sysctl(name: str, key: str, value: str) -> None:
    """Sets a per-namespace sysctl (net.*) inside the lab namespace only."""
    run(["sysctl", "-q", "-w", f"{key}={value}"], f"sysctl {key} in {name}", netns=name)


def enter(name: str) -> None:
    """Moves this process (single-threaded at this point) into the namespace: sockets
    it creates from now on live there; sockets it already has stay where they were."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(NETNS_DIR / name, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {name}")
    finally:
        os.close(fd)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            writer.close()


def forward(name: str, mappings: list[tuple[int, str, int]]) -> None:
    """Serves each (host port, lab address, lab port): listens on host 127.0.0.1:port,
    then enters the lab namespace, so each accepted connection is relayed to a
    connection opened from inside it. Runs until killed."""
    listeners = []
    for port, _, _ in mappings:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as error:
            raise LabError(f"cannot listen on 127.0.0.1:{port}: {error.strerror}") from error
        sock.listen(512)
        sock.setblocking(False)
        listeners.append(sock)
    enter(name)

    async def serve() -> None:
        servers = []
        for sock, (_, address, target_port) in zip(listeners, mappings, strict=True):

            async def relay(reader, writer, address=address, target_port=target_port):
                try:
                    up_reader, up_writer = await asyncio.wait_for(
                        asyncio.open_connection(address, target_port), 10
                    )
                except (OSError, TimeoutError):
                    writer.close()
                    return
                await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
                for w in (writer, up_writer):
                    w.close()

            servers.append(await asyncio.start_server(relay, sock=sock))
        print(f"forwarding {len(servers)} ports into {name}", flush=True)
        await asyncio.gather(*(server.serve_forever() for server in servers))

    asyncio.run(serve())
