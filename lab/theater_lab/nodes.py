"""`up`, `down` and `status` of the lab's real nodes: both clusters' namespaces, control
planes, registry, containerd, kubelets and kube-proxies, and the host's forwarded ports."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from . import addons, images, istio, netns, observability
from .node import (
    CLUSTERS,
    REGISTRY_PORT,
    REPO,
    Node,
    check_machine,
    link_nodes,
    prepare_netns,
    registry_address,
    restore_sysctls,
    save_sysctls,
)
from .procs import LabError, pid_of, run, start, stop, tail, wait_until

STATE = "nodes.json"
# Folders a kubelet or containerd makes outside the paths its configuration names
# (the device-plugin socket, the container-log links, shim sockets, CNI's cache):
# `down` removes those that did not exist before `up`.
MACHINE_FOLDERS = (
    "/var/lib/kubelet",
    "/var/log/containers",
    "/var/log/pods",
    "/run/containerd",
    "/var/lib/cni",
)


def say(message: str) -> None:
    print(f"lab: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tools_dir() -> Path:
    out = run(
        ["bash", str(REPO / "scripts" / "k8s-tools.sh"), "path"],
        "scripts/k8s-tools.sh path",
        timeout=5400,
    )
    return Path(out.strip())


class Lab:
    def __init__(self, lab_dir: Path, domain: str, ingress_port: int = 8000):
        self.dir = lab_dir
        self.domain = domain
        self.ingress_port = ingress_port
        self.run_dir = lab_dir / "run"
        self.state_file = lab_dir / STATE

    def state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def nodes(self, tools: Path) -> list[Node]:
        return [Node(c, self.dir, tools, [f"harbor.{self.domain}"]) for c in CLUSTERS]

    # -- up -----------------------------------------------------------------------
    def refuse_if_up(self) -> None:
        """`up` twice refuses: the running nodes stay as they are."""
        check_machine()
        if self.state_file.exists() or any(netns.exists(c.netns) for c in CLUSTERS):
            raise LabError(
                "the lab's nodes are up already (or a crashed lab left them): "
                f"scripts/mesh-lab.sh down, or python3 -m theater_lab nodes down --dir {self.dir}"
            )
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", self.ingress_port))
            except OSError as error:
                raise LabError(
                    f"127.0.0.1:{self.ingress_port} (the ingress port) is busy: {error}; "
                    "choose another with --ingress-port"
                ) from error

    def up(self, timeout: float) -> None:
        started = time.monotonic()
        tools = tools_dir()
        nodes = self.nodes(tools)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for node in nodes:
            node.run_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "domain": self.domain,
            "tools": str(tools),
            "ports": {},
            "madeFolders": [f for f in MACHINE_FOLDERS if not Path(f).exists()],
        }
        self.state_file.write_text(json.dumps(state))
        save_sysctls(self.dir)
        for node in nodes:
            prepare_netns(node.cluster)
        link_nodes()
        say("two node namespaces, linked; starting both control planes inside them")
        self.control_planes(nodes, tools, timeout)
        say(f"control planes ready after {time.monotonic() - started:.0f} s")

        self.start_registry(nodes[0], tools, timeout)
        ports = {name: free_port() for name in ("registry", *(n.cluster.name for n in nodes))}
        ports["ingress"] = self.ingress_port
        registry_port = ports["registry"]
        self.start_forwarders(nodes, ports, timeout)
        state["ports"] = ports
        self.state_file.write_text(json.dumps(state))
        self.write_kubeconfig(nodes, ports)

        work, push_to, name_as = (
            self.dir / "images",
            f"127.0.0.1:{registry_port}",
            f"harbor.{self.domain}",
        )
        sandbox = images.push_pause(REPO, work, push_to, name_as)
        say(f"pushed the sandbox image {sandbox}")
        for node in nodes:
            node.start_containerd(sandbox)
        for node in nodes:
            node.wait_containerd(timeout)
            node.start_kubelet()
            node.start_kube_proxy()
        for node in nodes:
            wait_until(
                f"node {node.cluster.node} Ready",
                node.node_ready,
                timeout,
                "kubelet",
                node.run_dir,
                pause=1,
            )
        state["images"] = {
            name: addons.push_image(name, work, tools, push_to, name_as) for name in addons.ADDONS
        }
        # Not an add-on: the Redis the app's manifests deploy (scripts/deploy.sh
        # --redis-image), Debian's, as the lab cannot pull the manifests' redis image.
        state["images"]["redis"] = images.push_redis(REPO, work, push_to, name_as)
        self.state_file.write_text(json.dumps(state))
        for name in addons.ADDONS:
            for node in nodes:
                addons.apply(node, name, state["images"][name])
        for name in addons.ADDONS:
            for node in nodes:
                addons.wait(node, name, timeout)
        say(f"CoreDNS and metrics-server ready in both clusters; images: {state['images']}")
        hub, tag = istio.push_images(work, tools, push_to, name_as)
        state["istio"] = {"hub": hub, "tag": tag}
        self.state_file.write_text(json.dumps(state))
        say(f"pushed Istio's pilot and proxyv2 as {hub}/…:{tag}")
        istio.install(nodes, work, hub, tag, timeout=timeout, say=say)
        state["images"].update(observability.push_images(work, tools, push_to, name_as))
        self.state_file.write_text(json.dumps(state))
        observability.install(nodes, state["images"], timeout)
        say("Prometheus and Jaeger ready in ctx1's istio-system, tracing every request")
        start(
            "supervisor",
            [sys.executable, "-m", "theater_lab", "supervise", "--dir", str(self.dir)],
            self.run_dir,
            env={"PYTHONPATH": str(REPO / "lab")},
        )
        state["upSeconds"] = round(time.monotonic() - started)
        self.state_file.write_text(json.dumps(state))
        say(f"both nodes Ready after {state['upSeconds']} s")
        print(f"export KUBECONFIG={self.dir / 'kubeconfig'}")

    def control_planes(self, nodes: list[Node], tools: Path, timeout: float) -> None:
        """scripts/k8s-clusters.sh inside each node's namespace, both at once."""
        running = []
        for node in nodes:
            log = (node.run_dir / "k8s-clusters.log").open("w")
            argv = [
                "nsenter",
                f"--net=/run/netns/{node.cluster.netns}",
                "bash",
                str(REPO / "scripts" / "k8s-clusters.sh"),
                "up",
                "--dir",
                str(node.k8s),
                "--cluster",
                node.cluster.name,
                "--node-ip",
                node.cluster.node_ip,
                "--timeout",
                str(int(timeout)),
            ]
            running.append(
                (
                    node,
                    subprocess.Popen(
                        argv,
                        stdout=log,
                        stderr=log,
                        stdin=subprocess.DEVNULL,
                        env={**os.environ, "THEATER_K8S_TOOLS_DIR": str(tools)},
                    ),
                )
            )
        failed = []
        for node, process in running:
            if process.wait(timeout * 4) != 0:
                failed.append(
                    f"{node.cluster.name}:\n{tail(node.run_dir / 'k8s-clusters.log', 30)}"
                )
        if failed:
            raise LabError("a control plane did not come up:\n" + "\n".join(failed))

    def start_registry(self, node: Node, tools: Path, timeout: float) -> None:
        """The lab's OCI registry (distribution) in ctx1's node, playing harbor.DOMAIN."""
        base = self.dir / "registry"
        (base / "data").mkdir(parents=True, exist_ok=True)
        config = base / "config.yml"
        config.write_text(
            json.dumps(
                {
                    "version": 0.1,
                    "log": {"level": "warn", "accesslog": {"disabled": True}},
                    "storage": {
                        "filesystem": {"rootdirectory": str(base / "data")},
                        "delete": {"enabled": True},
                    },
                    "http": {"addr": f"0.0.0.0:{REGISTRY_PORT}"},
                }
            )
        )
        start(
            "registry",
            [str(tools / "registry"), "serve", str(config)],
            self.run_dir,
            netns=node.cluster.netns,
        )
        wait_until(
            "the registry",
            lambda: (
                run(
                    ["curl", "-fsS", "-o", "/dev/null", f"http://{registry_address()}/v2/"],
                    "registry",
                    netns=node.cluster.netns,
                )
                is not None
            ),
            timeout,
            "registry",
            self.run_dir,
        )

    def start_forwarders(self, nodes: list[Node], ports: dict[str, int], timeout: float) -> None:
        """One forwarder per node namespace: its API server, and in ctx1 the registry and
        the ingress gateway (its external IP, the node's address)."""
        for node in nodes:
            maps = [f"{ports[node.cluster.name]}=127.0.0.1:{node.api_server_port}"]
            if node is nodes[0]:
                maps.append(f"{ports['registry']}={registry_address()}")
                maps.append(f"{ports['ingress']}={node.cluster.node_ip}:{istio.INGRESS_HTTP_PORT}")
            start(
                f"forward-{node.cluster.name}",
                [
                    sys.executable,
                    "-m",
                    "theater_lab",
                    "forward",
                    "--netns",
                    node.cluster.netns,
                    *maps,
                ],
                self.run_dir,
                env={"PYTHONPATH": str(REPO / "lab")},
            )
        for node in nodes:
            name = f"forward-{node.cluster.name}"
            wait_until(
                f"{name} listening",
                lambda name=name: "forwarding" in tail(self.run_dir / f"{name}.log"),
                timeout,
                name,
                self.run_dir,
            )

    def write_kubeconfig(self, nodes: list[Node], ports: dict[str, int]) -> None:
        """The host's kubeconfig: contexts ctx1 and ctx2 through the forwarded ports."""
        clusters, users, contexts = [], [], []
        for node in nodes:
            name, pki = node.cluster.name, node.pki
            clusters.append(
                {
                    "name": name,
                    "cluster": {
                        "server": f"https://127.0.0.1:{ports[name]}",
                        "certificate-authority": str(pki / "ca.crt"),
                    },
                }
            )
            users.append(
                {
                    "name": f"{name}-admin",
                    "user": {
                        "client-certificate": str(pki / "admin.crt"),
                        "client-key": str(pki / "admin.key"),
                    },
                }
            )
            contexts.append({"name": name, "context": {"cluster": name, "user": f"{name}-admin"}})
        path = self.dir / "kubeconfig"
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "ctx1",
                    "clusters": clusters,
                    "users": users,
                    "contexts": contexts,
                },
                indent=2,
            )
        )
        path.chmod(0o600)

    # -- down ---------------------------------------------------------------------
    def down(self) -> None:
        """Stops everything `up` started, whatever state it reached, and removes what it
        made outside its folder: namespaces, cgroups, mounts, sysctls."""
        state = self.state()
        nodes = self.nodes(Path(state.get("tools") or "/nonexistent"))
        problems = []
        # The supervisor first, or it would start again what is being stopped.
        for name in ("supervisor", "forward-ctx1", "forward-ctx2"):
            if (pid := pid_of(name, self.run_dir)) is not None:
                stop([pid], 5, say)
        for node in nodes:
            node.stop_daemons(say)
        if (pid := pid_of("registry", self.run_dir)) is not None:
            stop([pid], 5, say)
        for node in nodes:
            if node.k8s.exists():
                subprocess.run(
                    [
                        "bash",
                        str(REPO / "scripts" / "k8s-clusters.sh"),
                        "down",
                        "--dir",
                        str(node.k8s),
                    ],
                    capture_output=True,
                    check=False,
                    timeout=120,
                )
        for node in nodes:
            problems += [f"mount {m}" for m in node.unmount_all()]
            problems += [f"cgroup {c}" for c in node.remove_cgroups()]
            self.remove_container_logs(node)
        for cluster in CLUSTERS:
            try:
                netns.delete(cluster.netns)
            except LabError as error:
                problems.append(str(error))
        restore_sysctls(self.dir)
        for folder in state.get("madeFolders", []):
            shutil.rmtree(folder, ignore_errors=True)
            if Path(folder).exists():
                problems.append(f"folder {folder}")
        self.state_file.unlink(missing_ok=True)
        if problems:
            raise LabError("down left: " + "; ".join(problems))
        say("the nodes are down: no process, namespace, mount or cgroup of theirs is left")

    @staticmethod
    def remove_container_logs(node: Node) -> None:
        """The kubelet links each container's log into /var/log/containers."""
        folder = Path("/var/log/containers")
        if not folder.is_dir():
            return
        for link in folder.iterdir():
            try:
                if link.is_symlink() and str(node.dir) in os.readlink(link):
                    link.unlink()
            except OSError:
                pass

    # -- status -------------------------------------------------------------------
    def status(self) -> int:
        state = self.state()
        if not state:
            print("the lab's nodes are not up")
            return 1
        nodes = self.nodes(Path(state["tools"]))
        healthy = True
        for node in nodes:
            for name in ("containerd", "kubelet", "kube-proxy"):
                pid = pid_of(name, node.run_dir)
                healthy &= pid is not None
                print(
                    f"{node.cluster.name:5} {name:12} {'pid ' + str(pid) if pid else 'not running'}"
                )
            try:
                ready = node.node_ready()
            except LabError:
                ready = False
            healthy &= ready
            verdict = "Ready" if ready else "not Ready"
            print(f"{node.cluster.name:5} {'node':12} {node.cluster.node} {verdict}")
        supervisor = pid_of("supervisor", self.run_dir)
        healthy &= supervisor is not None
        running = f"pid {supervisor}" if supervisor else "not running"
        print(f"{'lab':5} {'supervisor':12} {running}")
        for name, port in state.get("ports", {}).items():
            print(f"host  127.0.0.1:{port:<6} -> {name}")
        for name, image in state.get("images", {}).items():
            print(f"image {name:14} {image}")
        if "istio" in state:
            hub, tag = state["istio"]["hub"], state["istio"]["tag"]
            print(f"image {'istio':14} {hub}/{{pilot,proxyv2}}:{tag}")
        return 0 if healthy else 1
