"""The cluster add-ons every lab node gets, as Pods of images built here: CoreDNS as
the cluster DNS (kube-system/kube-dns at the cluster's DNS address) and metrics-server
for `kubectl top`."""

from __future__ import annotations

from pathlib import Path
from string import Template

from . import images
from .node import REPO, Node

MANIFESTS = Path(__file__).parent / "manifests"
# Add-on, named as the program scripts/k8s-tools.sh builds: (its tools/ folder, its
# Go module).
ADDONS = {
    "coredns": ("coredns", "github.com/coredns/coredns"),
    "metrics-server": ("metrics-server", "sigs.k8s.io/metrics-server"),
}


def push_image(name: str, work: Path, tools: Path, push_registry: str, name_registry: str) -> str:
    """The add-on's program in an image tagged with the version tools/ pins."""
    return images.push_pinned_program(
        REPO,
        work,
        tools,
        name,
        pin=ADDONS[name],
        push_registry=push_registry,
        name_registry=name_registry,
    )


def apply(node: Node, name: str, image: str) -> None:
    manifest = Template((MANIFESTS / f"{name}.yaml").read_text()).substitute(
        IMAGE=image, DNS_IP=node.cluster.dns_ip
    )
    node.kubectl("apply", "-f", "-", input_text=manifest)


def wait(node: Node, name: str, timeout: float) -> None:
    node.kubectl(
        "-n",
        "kube-system",
        "rollout",
        "status",
        f"deployment/{name}",
        f"--timeout={int(timeout)}s",
        timeout=timeout,
    )
