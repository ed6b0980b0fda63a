"""What the class observes the mesh with, as real Pods in ctx1's istio-system:
Prometheus discovering and scraping the Pods of both clusters, and Jaeger receiving
every sidecar's spans (the mesh's tracing provider, istio.TRACING_PROVIDER). Both
programs are built here from their Go modules (scripts/k8s-tools.sh)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from string import Template

from . import images
from .node import REPO, Node
from .procs import LabError

MANIFESTS = Path(__file__).parent / "manifests"
# Program: (its tools/ folder, the Go module that tools/ pins).
PROGRAMS = {
    "prometheus": ("prometheus", "github.com/prometheus/prometheus"),
    "jaeger": ("jaeger", "github.com/jaegertracing/jaeger"),
}


def push_images(work: Path, tools: Path, push_registry: str, name_registry: str) -> dict:
    """Each program in an image tagged with the module version tools/ pins."""
    return {
        program: images.push_pinned_program(
            REPO,
            work,
            tools,
            program,
            pin=pin,
            push_registry=push_registry,
            name_registry=name_registry,
        )
        for program, pin in PROGRAMS.items()
    }


def fill(name: str, **values: str) -> str:
    """A manifest with its ${NAME}s filled in. Prometheus's relabelling keeps its own
    $1 references, so the check is that no ${ is left over."""
    text = Template((MANIFESTS / name).read_text()).safe_substitute(values)
    if "${" in text:
        raise LabError(f"{name}: a placeholder was left unfilled")
    return text


def reader_secret(remote: Node, timeout: float) -> dict:
    """The token and CA of the remote cluster's prometheus-reader, once its controller-
    manager has filled in the token Secret."""
    remote.kubectl("apply", "-f", "-", input_text=fill("prometheus-reader.yaml"))
    remote.kubectl(
        "-n", "istio-system", "wait", "secret/prometheus-reader-token",
        "--for=jsonpath={.data.token}", f"--timeout={int(timeout)}s",
        timeout=timeout,
    )  # fmt: skip
    data = json.loads(
        remote.kubectl(
            "-n", "istio-system", "get", "secret", "prometheus-reader-token", "-o", "json"
        )
    )["data"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"prometheus-{remote.cluster.name}", "namespace": "istio-system"},
        "data": {"token": data["token"], "ca.crt": data["ca.crt"]},
    }


def install(nodes: list[Node], pushed: dict, timeout: float) -> None:
    """Prometheus and Jaeger in the first cluster; in both, tracing on and every proxy
    keeping the client's x-request-id."""
    home, remote = nodes
    secret = reader_secret(remote, timeout)
    if not base64.b64decode(secret["data"]["token"]):
        raise LabError(f"the prometheus-reader token of {remote.cluster.name} is empty")
    home.kubectl("apply", "-f", "-", input_text=json.dumps(secret))
    home.kubectl(
        "apply", "-f", "-",
        input_text=fill(
            "prometheus.yaml",
            IMAGE=pushed["prometheus"],
            CLUSTER=home.cluster.name,
            REMOTE=remote.cluster.name,
            REMOTE_API=remote.api_server_on_link,
        ),
    )  # fmt: skip
    home.kubectl("apply", "-f", "-", input_text=fill("jaeger.yaml", IMAGE=pushed["jaeger"]))
    for node in nodes:
        for manifest in ("tracing.yaml", "request-id.yaml"):
            node.kubectl("apply", "-f", "-", input_text=fill(manifest))
    for name in ("prometheus", "jaeger"):
        try:
            home.kubectl(
                "-n", "istio-system", "rollout", "status", f"deployment/{name}",
                f"--timeout={int(timeout)}s",
                timeout=timeout,
            )  # fmt: skip
        except LabError as error:
            raise LabError(f"{error}\n{why_not_ready(home, name)}") from error


def why_not_ready(node: Node, app: str) -> str:
    """What a Deployment's Pods say about themselves: their state, their events, the
    last lines of each container's log."""
    parts = []
    for args in (
        ("get", "pods", "-l", f"app={app}", "-o", "wide"),
        ("describe", "pods", "-l", f"app={app}"),
        ("logs", "-l", f"app={app}", "--all-containers", "--tail=20", "--prefix"),
    ):
        try:
            out = node.kubectl("-n", "istio-system", *args)
        except LabError as error:
            out = str(error)
        parts.append(f"$ kubectl -n istio-system {' '.join(args)}\n{out[-2500:]}")
    return "\n".join(parts)
