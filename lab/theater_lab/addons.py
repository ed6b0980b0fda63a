"""The cluster add-ons every lab node gets, as Pods of images built here: CoreDNS as
the cluster DNS (kube-system/kube-dns at the cluster's DNS address)."""

from __future__ import annotations

from pathlib import Path
from string import Template

from . import images
from .node import REPO, Node

MANIFESTS = Path(__file__).parent / "manifests"


def coredns_image(work: Path, tools: Path, push_registry: str, name_registry: str) -> str:
    version = images.module_version(REPO, "coredns", "github.com/coredns/coredns")
    return images.push_program(
        work, tools / "coredns", f"theater-lab/coredns:{version}", push_registry, name_registry
    )


def apply_coredns(node: Node, image: str) -> None:
    manifest = Template((MANIFESTS / "coredns.yaml").read_text()).substitute(
        IMAGE=image, DNS_IP=node.cluster.dns_ip
    )
    node.kubectl("apply", "-f", "-", input_text=manifest)


def wait_coredns(node: Node, timeout: float) -> None:
    node.kubectl(
        "-n",
        "kube-system",
        "rollout",
        "status",
        "deployment/coredns",
        f"--timeout={int(timeout)}s",
        timeout=timeout,
    )
