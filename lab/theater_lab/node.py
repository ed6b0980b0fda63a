"""One real Kubernetes node per cluster, kind's model without Docker: a network
namespace of the lab's own holding the cluster's control plane (scripts/k8s-clusters.sh
run inside it), containerd with runc and the CNI bridge, the kubelet and kube-proxy.
The two nodes are joined by one veth pair (the link between the two clouds); the host
reaches them only through forwarded 127.0.0.1 ports."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import netns
from .procs import LabError, pid_of, run, start, stop, wait_until

REPO = Path(__file__).resolve().parents[2]
CGROUP_ROOT = Path("/sys/fs/cgroup")
# The machine-wide sysctls a kubelet sets (vm.overcommit_memory=1, kernel.panic=10,
# kernel.panic_on_oops=1); `down` puts back what they were before `up`.
KUBELET_SYSCTLS = ("vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops")


@dataclass(frozen=True)
class Cluster:
    """The facts of one cluster's node: names, the node's address on the link between
    the two clusters, its Pod subnet, and the Service range k8s-clusters.sh gives it."""

    name: str
    node_ip: str
    pod_subnet: str
    service_range: str
    dns_ip: str
    region: str
    zone: str

    @property
    def node(self) -> str:
        return f"{self.name}-node"

    @property
    def netns(self) -> str:
        return f"theater-{self.name}"

    @property
    def cgroup(self) -> str:
        return f"theater-lab-{self.name}"


CLUSTERS = (
    Cluster(
        "ctx1", "172.30.0.1", "10.244.0.0/24", "10.96.0.0/16", "10.96.0.10", "region1", "zone1"
    ),
    Cluster(
        "ctx2", "172.30.0.2", "10.245.0.0/24", "10.97.0.0/16", "10.97.0.10", "region2", "zone2"
    ),
)
LINK_PREFIX = 24
REGISTRY_PORT = 5000


def registry_address() -> str:
    """The lab registry, inside ctx1's node (reachable from ctx2's over the link)."""
    return f"{CLUSTERS[0].node_ip}:{REGISTRY_PORT}"


class Node:
    """The files and processes of one cluster's node under DIR/<cluster>/."""

    def __init__(self, cluster: Cluster, lab_dir: Path, tools: Path, registry_names: list[str]):
        self.cluster = cluster
        self.dir = lab_dir / cluster.name
        self.run_dir = self.dir / "run"
        self.k8s = self.dir / "k8s"
        self.tools = tools
        self.registry_names = registry_names

    # -- files ------------------------------------------------------------------
    @property
    def pki(self) -> Path:
        return self.k8s / self.cluster.name / "pki"

    @property
    def containerd_socket(self) -> Path:
        return self.dir / "containerd" / "containerd.sock"

    @property
    def api_server_port(self) -> str:
        """The port k8s-clusters.sh chose for this cluster's API server."""
        return (self.k8s / self.cluster.name / "kube-apiserver.port").read_text().strip()

    @property
    def api_server_on_link(self) -> str:
        """The API server as the other cluster reaches it: the node's address on the link
        (the node's own kubeconfig names 127.0.0.1 of its namespace)."""
        return f"{self.cluster.node_ip}:{self.api_server_port}"

    def write_containerd_config(self, sandbox_image: str) -> Path:
        base = self.dir / "containerd"
        certs = base / "certs.d"
        # Every registry name resolves to the lab's registry, and nothing else is
        # tried: a pull of an image it lacks fails at once, naming the image.
        for host in [*self.registry_names, "_default"]:
            (certs / host).mkdir(parents=True, exist_ok=True)
            (certs / host / "hosts.toml").write_text(
                f'server = "http://{registry_address()}"\n\n'
                f'[host."http://{registry_address()}"]\n'
                '  capabilities = ["pull", "resolve"]\n'
            )
        config = base / "config.toml"
        config.write_text(f"""version = 3
root = '{base}/root'
state = '{base}/state'

[grpc]
  address = '{self.containerd_socket}'

[ttrpc]
  address = '{self.containerd_socket}.ttrpc'

[debug]
  address = ''

[metrics]
  address = ''

[plugins.'io.containerd.internal.v1.opt']
  path = '{base}/opt'

[plugins.'io.containerd.nri.v1.nri']
  disable = true

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = '{sandbox_image}'
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = '{certs}'

[plugins.'io.containerd.cri.v1.runtime']
  # This VM lacks CAP_SYS_RESOURCE: runc cannot write a negative oom_score_adj.
  restrict_oom_score_adj = true
  # Pod network namespaces under the state folder, not in /run/netns.
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = 'runc'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = '{shutil.which("runc") or "/usr/sbin/runc"}'
        Root = '{base}/runc'
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['/usr/lib/cni']
    conf_dir = '{self.dir}/cni'

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
  stream_server_port = '0'
""")
        return config

    def write_cni_config(self) -> None:
        cni = self.dir / "cni"
        cni.mkdir(parents=True, exist_ok=True)
        gateway = self.cluster.pod_subnet.rsplit(".", 1)[0] + ".1"
        conflist = {
            "cniVersion": "1.0.0",
            "name": f"theater-{self.cluster.name}",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": "cni0",
                    "isGateway": True,
                    # Traffic from a Pod to anything outside its node's Pod range (the
                    # other node's address) leaves with the node's address: the other
                    # cluster has no route back to this one's Pods (two networks).
                    "ipMasq": True,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "dataDir": str(self.dir / "cni-ipam"),
                        "ranges": [[{"subnet": self.cluster.pod_subnet, "gateway": gateway}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }
        (cni / "10-theater.conflist").write_text(json.dumps(conflist, indent=2))

    def write_kubelet_config(self) -> Path:
        kubelet = self.dir / "kubelet"
        (kubelet / "pki").mkdir(parents=True, exist_ok=True)
        (self.dir / "pod-logs").mkdir(exist_ok=True)
        resolv = self.dir / "resolv.conf"
        # Pods with dnsPolicy Default (CoreDNS itself) get no resolver of the machine's.
        resolv.write_text("# the lab's nodes have no upstream resolver\noptions ndots:1\n")
        config = kubelet / "config.yaml"
        config.write_text(
            json.dumps(
                {
                    "apiVersion": "kubelet.config.k8s.io/v1beta1",
                    "kind": "KubeletConfiguration",
                    # This machine kind has cgroup v1 only; Kubernetes 1.37 refuses it by default.
                    "failCgroupV1": False,
                    "cgroupDriver": "cgroupfs",
                    "cgroupRoot": f"/{self.cluster.cgroup}",
                    "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
                    "address": self.cluster.node_ip,
                    "port": 10250,
                    "readOnlyPort": 0,
                    "healthzBindAddress": "127.0.0.1",
                    "healthzPort": 10248,
                    "authentication": {
                        "anonymous": {"enabled": False},
                        "webhook": {"enabled": True},
                        "x509": {"clientCAFile": str(self.pki / "ca.crt")},
                    },
                    "authorization": {"mode": "Webhook"},
                    "clusterDNS": [self.cluster.dns_ip],
                    "clusterDomain": "cluster.local",
                    "resolvConf": str(resolv),
                    "podLogsDir": str(self.dir / "pod-logs"),
                    "failSwapOn": False,
                    "protectKernelDefaults": False,
                    "serializeImagePulls": False,
                    "rotateCertificates": False,
                    "evictionHard": {
                        "memory.available": "100Mi",
                        "nodefs.available": "2%",
                        "imagefs.available": "2%",
                    },
                    "imageGCHighThresholdPercent": 100,
                    "imageGCLowThresholdPercent": 99,
                    "maxPods": 110,
                    "nodeStatusReportFrequency": "10s",
                    "shutdownGracePeriod": "0s",
                },
                indent=2,
            )
        )
        return config

    def write_kube_proxy_config(self) -> Path:
        config = self.dir / "kube-proxy.yaml"
        config.write_text(
            json.dumps(
                {
                    "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
                    "kind": "KubeProxyConfiguration",
                    "clientConnection": {
                        "kubeconfig": str(self.k8s / self.cluster.name / "kube-proxy.kubeconfig")
                    },
                    "mode": "iptables",
                    "hostnameOverride": self.cluster.node,
                    "clusterCIDR": self.cluster.pod_subnet,
                    "metricsBindAddress": "127.0.0.1:10249",
                    "healthzBindAddress": "127.0.0.1:10256",
                    # Leave the machine-wide conntrack table size alone.
                    "conntrack": {
                        "maxPerCore": 0,
                        "min": 0,
                        "tcpEstablishedTimeout": "0s",
                        "tcpCloseWaitTimeout": "0s",
                    },
                },
                indent=2,
            )
        )
        return config

    # -- cgroups ----------------------------------------------------------------
    def cgroup_dirs(self) -> list[Path]:
        return [
            h / self.cluster.cgroup
            for h in sorted(CGROUP_ROOT.iterdir())
            if h.is_dir() and not h.is_symlink()
        ]

    def make_cgroups(self) -> None:
        """The kubelet's cgroupRoot in every v1 hierarchy (it does not create it), with
        cpuset's cpus and mems copied from the root, as a new cpuset needs them."""
        for path in self.cgroup_dirs():
            path.mkdir(exist_ok=True)
            for knob in ("cpuset.cpus", "cpuset.mems"):
                if (path / knob).exists():
                    (path / knob).write_text((path.parent / knob).read_text())

    def remove_cgroups(self) -> list[str]:
        """Removes the node's cgroups depth first; returns the ones that would not go."""
        left = []
        for top in self.cgroup_dirs():
            if not top.exists():
                continue
            for path in sorted(
                (p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)
            ):
                try:
                    path.rmdir()
                except OSError:
                    left.append(str(path))
            try:
                top.rmdir()
            except OSError:
                left.append(str(top))
        return left

    # -- processes --------------------------------------------------------------
    def start_containerd(self, sandbox_image: str) -> None:
        config = self.write_containerd_config(sandbox_image)
        self.write_cni_config()
        start(
            "containerd",
            [str(self.tools / "containerd"), "--config", str(config)],
            self.run_dir,
            env={"PATH": f"{self.tools}:{os.environ['PATH']}"},
            netns=self.cluster.netns,
        )

    def wait_containerd(self, timeout: float) -> None:
        wait_until(
            f"containerd of {self.cluster.name}",
            lambda: self.ctr("version") is not None,
            timeout,
            "containerd",
            self.run_dir,
        )

    def ctr(self, *args: str) -> str:
        return run(
            [
                str(self.tools / "ctr"),
                "--address",
                str(self.containerd_socket),
                "--namespace",
                "k8s.io",
                *args,
            ],
            f"ctr {' '.join(args)}",
        )

    def start_kubelet(self) -> None:
        self.make_cgroups()
        config = self.write_kubelet_config()
        labels = ",".join(
            [
                f"cluster-name={self.cluster.name}",
                f"topology.kubernetes.io/region={self.cluster.region}",
                f"topology.kubernetes.io/zone={self.cluster.zone}",
            ]
        )
        start(
            "kubelet",
            [
                str(self.tools / "kubelet"),
                "--config",
                str(config),
                "--kubeconfig",
                str(self.k8s / self.cluster.name / "kubelet.kubeconfig"),
                "--root-dir",
                str(self.dir / "kubelet"),
                "--cert-dir",
                str(self.dir / "kubelet" / "pki"),
                "--hostname-override",
                self.cluster.node,
                "--node-ip",
                self.cluster.node_ip,
                "--node-labels",
                labels,
                "--v",
                "1",
            ],
            self.run_dir,
            netns=self.cluster.netns,
        )

    def start_kube_proxy(self) -> None:
        start(
            "kube-proxy",
            [str(self.tools / "kube-proxy"), "--config", str(self.write_kube_proxy_config())],
            self.run_dir,
            netns=self.cluster.netns,
        )

    def kubectl(self, *args: str, timeout: float = 30, input_text: str | None = None) -> str:
        """kubectl as the cluster's admin, from inside the node (the API server's own
        kubeconfig names 127.0.0.1 of the node's namespace)."""
        return run(
            [
                "kubectl",
                "--kubeconfig",
                str(self.k8s / "kubeconfig"),
                "--request-timeout",
                f"{int(timeout)}s",
                *args,
            ],
            f"kubectl {' '.join(args[:3])} in {self.cluster.name}",
            netns=self.cluster.netns,
            input_text=input_text,
            timeout=timeout + 5,
        )

    def node_ready(self) -> bool:
        status = self.kubectl(
            "get",
            "node",
            self.cluster.node,
            "-o",
            "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
        )
        return status.strip() == "True"

    def daemon_pids(self) -> list[int]:
        return [
            pid
            for name in ("kube-proxy", "kubelet", "containerd")
            if (pid := pid_of(name, self.run_dir)) is not None
        ]

    def stop_daemons(self, say) -> None:
        """kube-proxy and the kubelet, then containerd, then every shim and container
        process still running from this node's containerd (their cgroups tell)."""
        for name in ("kube-proxy", "kubelet", "containerd"):
            pid = pid_of(name, self.run_dir)
            if pid is not None:
                stop([pid], 10, say)
        stop(self.shim_pids(), 5, say)
        stop(self.cgroup_pids(), 5, say)

    def shim_pids(self) -> list[int]:
        """containerd-shim processes started for this node's containerd (its socket on
        their command line)."""
        pids = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (
                    (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
            except OSError:
                continue
            if "containerd-shim" in cmdline and str(self.containerd_socket) in cmdline:
                pids.append(int(proc.name))
        return pids

    def cgroup_pids(self) -> list[int]:
        pids: set[int] = set()
        for top in self.cgroup_dirs():
            for procs in top.rglob("cgroup.procs"):
                with contextlib.suppress(OSError, ValueError):
                    pids.update(int(line) for line in procs.read_text().split())
        return sorted(pids)

    def unmount_all(self) -> list[str]:
        """Unmounts whatever containerd and the kubelet mounted under the node's folder
        (overlay rootfs, shm, secrets and projected volumes), deepest first."""
        prefix = str(self.dir) + "/"
        mounts = [
            line.split()[1].replace("\\040", " ")
            for line in Path("/proc/self/mounts").read_text().splitlines()
        ]
        left = []
        for target in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
            done = subprocess.run(["umount", "-l", target], capture_output=True, check=False)
            if done.returncode != 0:
                left.append(target)
        return left


def saved_sysctls(lab_dir: Path) -> Path:
    return lab_dir / "sysctls.json"


def save_sysctls(lab_dir: Path) -> None:
    path = saved_sysctls(lab_dir)
    if not path.exists():
        path.write_text(
            json.dumps(
                {key: Path(f"/proc/sys/{key}").read_text().strip() for key in KUBELET_SYSCTLS}
            )
        )


def restore_sysctls(lab_dir: Path) -> None:
    path = saved_sysctls(lab_dir)
    if path.exists():
        for key, value in json.loads(path.read_text()).items():
            Path(f"/proc/sys/{key}").write_text(value)
        path.unlink()


def link_nodes() -> None:
    """The link between the two clusters' nodes, as between two clouds: the nodes reach
    each other's address; Pod and Service ranges stay each inside its own node."""
    first, second = CLUSTERS
    netns.link_pair(
        (first.netns, "eth0", f"{first.node_ip}/{LINK_PREFIX}"),
        (second.netns, "eth0", f"{second.node_ip}/{LINK_PREFIX}"),
    )
    # A connection to a Service address needs a route before kube-proxy's DNAT picks
    # the Pod: without one the node's own programs (the API server calling an
    # aggregated API or a webhook) fail with "network is unreachable".
    for cluster in CLUSTERS:
        run(
            ["ip", "-n", cluster.netns, "route", "add", cluster.service_range, "dev", "eth0"],
            f"the Service range's route in {cluster.netns}",
        )


def prepare_netns(cluster: Cluster) -> None:
    netns.create(cluster.netns)
    # Per-namespace settings, inside the node only: Pods route through the node, and
    # bridged Pod traffic passes iptables so kube-proxy's Service rules apply to it.
    netns.sysctl(cluster.netns, "net.ipv4.ip_forward", "1")
    netns.sysctl(cluster.netns, "net.bridge.bridge-nf-call-iptables", "1")


def check_machine() -> None:
    """Names what the machine lacks for real nodes, and how to get it."""
    missing = []
    for program, package in (
        ("runc", "runc"),
        ("iptables", "iptables"),
        ("nsenter", "util-linux"),
        ("ip", "iproute2"),
        ("gcc", "gcc"),
        ("buildah", "buildah"),
        ("openssl", "openssl"),
        ("kubectl", "kubectl"),
        ("redis-server", "redis-server"),
    ):
        if shutil.which(program) is None:
            missing.append(f"{program} (apt-get install {package})")
    if not Path("/usr/lib/cni/bridge").exists():
        missing.append(
            "the CNI plugins in /usr/lib/cni (apt-get install containernetworking-plugins)"
        )
    if os.geteuid() != 0:
        missing.append("root (network namespaces, cgroups and mounts need it)")
    if missing:
        raise LabError("real nodes need: " + "; ".join(missing))
