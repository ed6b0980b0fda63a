"""The lab's node agent: what a kubelet does for the Pods bound to a lab node,
played with local processes.

For each Pod the scheduler binds to the node it starts the process the Pod
describes: the theater binary for the app's image (any image but Redis's), or
redis-server for a Redis image, with the container's args and env (downward API
and ConfigMap/Secret references filled in), its volumes as folders, and the
Pod's own address. It reports the Pod's IP and Running/Ready from the readiness
probe through the status subresource, restarts a process that exits or fails
its liveness probe, and on deletion runs the preStop hook, stops the process
(TERM, then KILL after the grace period) and confirms the deletion.

What a lab process gets instead of a container:
  - an address of its own: the Pod IP 10.X.Y.Z from the node's podCIDR is
    served on the loopback address 127.X.Y.Z (EndpointSlices refuse loopback
    addresses, so the API shows the 10.X address and Envoy dials the 127.X one);
  - cluster DNS and the sidecar's capture: `name[.ns[.svc[.cluster.local]]]:port`
    of a Service in args and env becomes the loopback twin of its ClusterIP, where
    the cluster's Envoy listens; `<SERVICE>_URL` (USER_SERVICE_URL, ...) is set
    for every HTTP Service the Pod does not configure itself;
  - a ServiceAccount token (TokenRequest, bound to the Pod) in a kubeconfig
    named by KUBECONFIG, when the Pod mounts its token;
  - no isolation: same user, same file system; `securityContext`, resources
    and exec probes (played as a TCP connect to the container's first port)
    are not enforced.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kubeapi import ApiError, Client

REDIS_SERVER = "redis-server"
LAB_LABEL = "theater-msa/mesh-lab"


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def loopback(ip: str) -> str:
    """Where a Pod or Service address of the lab is served: 10.X.Y.Z -> 127.X.Y.Z."""
    return "127." + ip.split(".", 1)[1]


@dataclass
class Probe:
    """A readiness or liveness probe as the Pod declares it."""

    spec: dict[str, Any]
    failures: int = 0
    successes: int = 0
    next_at: float = 0.0

    @property
    def period(self) -> float:
        return float(self.spec.get("periodSeconds", 10))

    @property
    def timeout(self) -> float:
        return float(self.spec.get("timeoutSeconds", 1))


@dataclass
class Run:
    """One Pod the agent runs: its process and what the status reports."""

    uid: str
    namespace: str
    name: str
    pod_ip: str
    container: dict[str, Any]
    directory: Path
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    started_at: str = ""
    restarts: int = 0
    last_exit: dict[str, Any] | None = None
    ready: bool = False
    readiness: Probe | None = None
    liveness: Probe | None = None
    restart_at: float = 0.0
    waiting: tuple[str, str] | None = None  # (reason, message) while not running
    terminating: bool = False
    published: str = ""
    # ConfigMap and Secret volumes: (source as _data takes it, folder), refreshed like a kubelet's.
    synced_volumes: list[tuple[dict[str, Any], Path]] = field(default_factory=list)
    next_volume_sync: float = 0.0

    @property
    def address(self) -> str:
        return loopback(self.pod_ip)


class NodeAgent:
    """Runs the Pods bound to one lab node."""

    def __init__(
        self,
        cluster: str,
        client: Client,
        node: str,
        lab_dir: Path,
        binary: str,
        services: Callable[[], list[dict[str, Any]]],
        log: Callable[[str], None],
    ):
        self.cluster, self.client, self.node = cluster, client, node
        self.lab_dir, self.binary, self.services, self.log = lab_dir, binary, services, log
        self.runs: dict[str, Run] = {}  # pod uid -> run
        self.lock = threading.RLock()
        node_object = client.get(f"/api/v1/nodes/{node}")
        cidr = node_object.get("spec", {}).get("podCIDR")
        if not cidr:
            raise ApiError(0, f"{cluster}: node {node} has no spec.podCIDR to give Pods addresses from")
        self.network = ipaddress.ip_network(cidr)
        # Says so on the node, for `kubectl get nodes --show-labels` and verify.sh.
        client.request("PATCH", f"/api/v1/nodes/{node}", {"metadata": {"labels": {LAB_LABEL: "true"}}},
                       "application/merge-patch+json")

    # -- reconciling -------------------------------------------------------------
    def sync(self, pods: list[dict[str, Any]]) -> None:
        """Starts the node's new Pods, stops the ones being deleted or gone."""
        mine = {p["metadata"]["uid"]: p for p in pods if (p.get("spec") or {}).get("nodeName") == self.node}
        with self.lock:
            for uid, run in list(self.runs.items()):
                pod = mine.get(uid)
                if pod is None:  # deleted without us (forced): the process goes at once
                    run.terminating = True
                    self._kill(run, grace=0)
                    del self.runs[uid]
                elif pod["metadata"].get("deletionTimestamp") and not run.terminating:
                    run.terminating = True
                    threading.Thread(target=self._terminate, args=(run, pod), daemon=True).start()
            for uid, pod in mine.items():
                if uid in self.runs or pod["metadata"].get("deletionTimestamp"):
                    continue
                if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                    continue
                self._admit(pod)

    def tick(self) -> None:
        """Probes, restarts and status reports; called about four times a second."""
        with self.lock:
            runs = [r for r in self.runs.values() if not r.terminating]
        for run in runs:
            if run.process is not None and run.process.poll() is not None:
                code = run.process.returncode
                self.log(f"{self.cluster}: {run.namespace}/{run.name}: exited with {code}; restarting")
                run.last_exit = {"exitCode": code, "reason": "Error" if code else "Completed", "finishedAt": now()}
                run.process, run.ready = None, False
                run.restarts += 1
                delay = min(30.0, 2.0 ** min(run.restarts, 5) / 2)
                run.restart_at = time.monotonic() + delay
                run.waiting = ("CrashLoopBackOff", f"back-off {delay:.0f}s restarting the failed container")
            if run.process is None and run.waiting and run.waiting[0] == "CrashLoopBackOff":
                if time.monotonic() >= run.restart_at:
                    self._start(run)
            if run.process is not None:
                self._probe(run)
                self._sync_volumes(run)
            self._publish(run)

    def stop_all(self) -> None:
        """Stops every process (the lab is going down; the API servers too)."""
        with self.lock:
            for run in self.runs.values():
                if run.process is not None and run.process.poll() is None:
                    run.process.terminate()
            deadline = time.monotonic() + 5
            for run in self.runs.values():
                if run.process is not None:
                    try:
                        run.process.wait(max(0.1, deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        run.process.kill()
                        run.process.wait()

    def describe(self) -> list[dict[str, Any]]:
        """The node's Pods for `status`: name, IP, where it listens, ready, restarts, pid."""
        with self.lock:
            return [
                {
                    "cluster": self.cluster,
                    "pod": f"{r.namespace}/{r.name}",
                    "podIP": r.pod_ip,
                    "listensOn": r.address,
                    "ready": r.ready,
                    "restarts": r.restarts,
                    "pid": r.process.pid if r.process is not None and r.process.poll() is None else None,
                    "waiting": r.waiting[0] if r.waiting else None,
                }
                for r in sorted(self.runs.values(), key=lambda r: (r.namespace, r.name))
            ]

    # -- starting ----------------------------------------------------------------
    def _admit(self, pod: dict[str, Any]) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        containers = spec.get("containers") or []
        run = Run(
            uid=meta["uid"],
            namespace=meta["namespace"],
            name=meta["name"],
            pod_ip=self._allocate_ip(),
            container=containers[0] if containers else {},
            directory=self.lab_dir / "pods" / self.cluster / f"{meta['namespace']}_{meta['name']}",
        )
        self.runs[run.uid] = run
        try:
            if len(containers) != 1 or spec.get("initContainers"):
                raise LabCannotRun("the lab runs Pods of exactly one container and no init containers")
            run.directory.mkdir(parents=True, exist_ok=True)
            run.argv, run.env = self._command(pod, run)
        except (LabCannotRun, ApiError) as err:
            run.waiting = ("LabCannotRun", str(err))
            self.log(f"{self.cluster}: {run.namespace}/{run.name}: {err}")
            self._publish(run)
            return
        for kind in ("readiness", "liveness"):
            probe = run.container.get(f"{kind}Probe")
            if probe:
                setattr(run, kind, Probe(probe, next_at=time.monotonic() + probe.get("initialDelaySeconds", 0)))
        self._start(run)
        self._publish(run)

    def _start(self, run: Run) -> None:
        log = open(run.directory / f"{run.container.get('name', 'container')}.log", "ab")  # noqa: SIM115
        try:
            run.process = subprocess.Popen(
                run.argv, env=run.env, cwd=run.directory, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True,
            )
        except OSError as err:
            run.waiting = ("RunContainerError", f"cannot start {run.argv[0]}: {err.strerror}")
            return
        finally:
            log.close()
        run.started_at, run.waiting, run.ready = now(), None, False
        for probe in (run.readiness, run.liveness):
            if probe is not None:
                probe.failures = probe.successes = 0
        self.log(f"{self.cluster}: {run.namespace}/{run.name} runs as pid {run.process.pid} on {run.address}")

    def _allocate_ip(self) -> str:
        used = {r.pod_ip for r in self.runs.values()}
        for host in self.network.hosts():
            if int(host) - int(self.network.network_address) < 2:
                continue  # .0.1 stays the node's own
            if str(host) not in used:
                return str(host)
        raise LabCannotRun(f"podCIDR {self.network} is full")

    def _command(self, pod: dict[str, Any], run: Run) -> tuple[list[str], dict[str, str]]:
        """The argv and environment of the Pod's container, translated for the lab."""
        container, spec = run.container, pod["spec"]
        image = str(container.get("image", ""))
        ports = [p for p in container.get("ports") or [] if p.get("containerPort")]
        services = self._service_addresses(run.namespace)
        mounts = self._volumes(pod, run)
        translate = _Translator(services, mounts)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOSTNAME": run.name}
        for name, value in self._env(pod, run).items():
            env[name] = translate(value)
        args = [translate(str(a)) for a in container.get("args") or []]
        if _is_redis(image):
            redis = shutil.which(REDIS_SERVER)
            if redis is None:
                raise LabCannotRun("redis-server is not installed (apt-get install redis-server)")
            port = ports[0]["containerPort"] if ports else 6379
            return [redis, *args, "--bind", run.address, "--port", str(port), "--daemonize", "no"], env
        for service, (address, port, http) in services.items():
            variable = re.sub(r"[^A-Z0-9]", "_", service.upper()) + "_URL"
            if http and variable not in env:
                env[variable] = f"http://{address}:{port}"
        env["LISTEN_ADDR"] = run.address  # the Pod's own network namespace, as an address
        if self._mounts_token(pod):
            env["KUBECONFIG"] = str(self._token_kubeconfig(pod, run))
        return [self.binary, *args], env

    def _service_addresses(self, namespace: str) -> dict[str, tuple[str, int, bool]]:
        """Service name -> (loopback twin of its ClusterIP, port, speaks HTTP) in the Pod's namespace."""
        found = {}
        for service in self.services():
            meta, spec = service["metadata"], service.get("spec") or {}
            ip, ports = spec.get("clusterIP"), spec.get("ports") or []
            if meta.get("namespace") != namespace or not ip or ip == "None" or not ports:
                continue
            found[meta["name"]] = (loopback(ip), ports[0]["port"], is_http(ports[0]))
        return found

    def _env(self, pod: dict[str, Any], run: Run) -> dict[str, str]:
        values: dict[str, str] = {}
        for source in run.container.get("envFrom") or []:
            prefix = source.get("prefix", "")
            for key, value in self._data(run.namespace, source).items():
                values[prefix + key] = value
        for variable in run.container.get("env") or []:
            name = variable["name"]
            if "value" in variable:
                values[name] = _expand(str(variable["value"]), values)
                continue
            reference = variable.get("valueFrom") or {}
            if "fieldRef" in reference:
                values[name] = _field(pod, run, reference["fieldRef"]["fieldPath"])
            elif "configMapKeyRef" in reference or "secretKeyRef" in reference:
                kind = "configMapKeyRef" if "configMapKeyRef" in reference else "secretKeyRef"
                ref = reference[kind]
                data = self._data(run.namespace, {kind.replace("KeyRef", "Ref"): ref})
                if ref["key"] in data:
                    values[name] = data[ref["key"]]
                elif not ref.get("optional"):
                    raise LabCannotRun(f"env {name}: key {ref['key']} not found in {ref.get('name')}")
            else:
                raise LabCannotRun(f"env {name}: the lab fills fieldRef, configMapKeyRef and secretKeyRef only")
        return values

    def _data(self, namespace: str, source: dict[str, Any]) -> dict[str, str]:
        """The data of the ConfigMap or Secret a source names ({} when optional and missing)."""
        if "configMapRef" in source:
            ref, path, secret = source["configMapRef"], "configmaps", False
        else:
            ref, path, secret = source["secretRef"], "secrets", True
        try:
            obj = self.client.get(f"/api/v1/namespaces/{namespace}/{path}/{ref['name']}")
        except ApiError as err:
            if err.status == 404 and ref.get("optional"):
                return {}
            raise
        data = obj.get("data") or {}
        return {k: base64.b64decode(v).decode() if secret else v for k, v in data.items()}

    def _volumes(self, pod: dict[str, Any], run: Run) -> dict[str, str]:
        """Mount path -> folder: emptyDir as an empty folder, ConfigMaps and Secrets written out."""
        folders = {}
        volumes = {v["name"]: v for v in pod["spec"].get("volumes") or []}
        for mount in run.container.get("volumeMounts") or []:
            volume = volumes.get(mount["name"], {})
            folder = run.directory / "volumes" / mount["name"]
            folder.mkdir(parents=True, exist_ok=True)
            if "projected" in volume:
                self._projected(pod, run, volume["projected"], folder)
            elif "configMap" in volume or "secret" in volume:
                source = _data_source(volume)
                run.synced_volumes.append((source, folder))
                self._write_volume(run, source, folder)
            elif "emptyDir" not in volume:
                raise LabCannotRun(
                    f"volume {mount['name']}: the lab plays emptyDir, configMap, secret and projected volumes"
                )
            folders[mount["mountPath"]] = str(folder)
        return folders

    def _write_volume(self, run: Run, source: dict[str, Any], folder: Path) -> None:
        """Writes a ConfigMap's or Secret's keys as files (each replaced whole), drops removed keys."""
        data = self._data(run.namespace, source)
        for name, content in data.items():
            path = folder / name
            if not path.exists() or path.read_text(encoding="utf-8") != content:
                temporary = folder / f".{name}.tmp"
                temporary.write_text(content, encoding="utf-8")
                temporary.replace(path)
        for path in folder.iterdir():
            if path.is_file() and not path.name.startswith(".") and path.name not in data:
                path.unlink()

    def _sync_volumes(self, run: Run) -> None:
        """A kubelet refreshes ConfigMap volumes about every minute; the lab every 10 s."""
        if not run.synced_volumes or time.monotonic() < run.next_volume_sync:
            return
        run.next_volume_sync = time.monotonic() + 10
        for source, folder in run.synced_volumes:
            try:
                self._write_volume(run, source, folder)
            except (ApiError, OSError) as err:
                self.log(f"{self.cluster}: {run.namespace}/{run.name}: volume not refreshed: {err}")

    def _mounts_token(self, pod: dict[str, Any]) -> bool:
        """Whether the ServiceAccount admission gave the Pod a token volume."""
        return any(
            "serviceAccountToken" in source
            for volume in pod["spec"].get("volumes") or []
            for source in (volume.get("projected") or {}).get("sources") or []
        )

    def _projected(self, pod: dict[str, Any], run: Run, projected: dict[str, Any], folder: Path) -> None:
        """A projected volume (the ServiceAccount's kube-api-access-*): token, CA and namespace files."""
        for source in projected.get("sources") or []:
            if "serviceAccountToken" in source:
                token = self._token(pod, run, source["serviceAccountToken"].get("expirationSeconds", 3607))
                (folder / source["serviceAccountToken"].get("path", "token")).write_text(token, encoding="utf-8")
            elif "configMap" in source or "secret" in source:
                items = (source.get("configMap") or source.get("secret")).get("items")
                data = self._data(run.namespace, _data_source(source))
                for item in items or [{"key": k, "path": k} for k in data]:
                    if item["key"] in data:
                        (folder / item["path"]).write_text(data[item["key"]], encoding="utf-8")
            elif "downwardAPI" in source:
                for item in source["downwardAPI"].get("items") or []:
                    value = _field(pod, run, item["fieldRef"]["fieldPath"]) if "fieldRef" in item else ""
                    (folder / item["path"]).write_text(value, encoding="utf-8")

    def _token(self, pod: dict[str, Any], run: Run, seconds: int = 86400) -> str:
        """A token the API server issues for the Pod's ServiceAccount, bound to this Pod
        (it stops working when the Pod is deleted), as the kubelet requests it."""
        account = pod["spec"].get("serviceAccountName") or "default"
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "expirationSeconds": max(seconds, 86400),
                "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": run.name, "uid": run.uid},
            },
        }
        answer = self.client.request(
            "POST", f"/api/v1/namespaces/{run.namespace}/serviceaccounts/{account}/token", request
        )
        return answer["status"]["token"]

    def _token_kubeconfig(self, pod: dict[str, Any], run: Run) -> Path:
        """The Pod's token and the cluster's CA as a kubeconfig: the app's Kubernetes
        client reads KUBECONFIG before the in-cluster files, which the lab cannot
        put at /var/run/secrets."""
        account = pod["spec"].get("serviceAccountName") or "default"
        token = self._token(pod, run)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "in-pod",
            "clusters": [
                {
                    "name": self.cluster,
                    "cluster": {
                        "server": self.client.server,
                        "certificate-authority-data": base64.b64encode(self.client.ca_pem).decode(),
                    },
                }
            ],
            "users": [{"name": f"system:serviceaccount:{run.namespace}:{account}",
                       "user": {"token": token}}],
            "contexts": [
                {
                    "name": "in-pod",
                    "context": {
                        "cluster": self.cluster,
                        "user": f"system:serviceaccount:{run.namespace}:{account}",
                        "namespace": run.namespace,
                    },
                }
            ],
        }
        path = run.directory / "serviceaccount.kubeconfig"
        path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        path.chmod(0o600)
        return path

    # -- probing -----------------------------------------------------------------
    def _probe(self, run: Run) -> None:
        moment = time.monotonic()
        probe = run.readiness
        if probe is not None and moment >= probe.next_at:
            ok = self._check(run, probe)
            # Until the first success the lab probes every half second (a kubelet waits a
            # whole period): a class should not wait 5 s for each new pod.
            probe.next_at = moment + (probe.period if run.ready or not ok and probe.failures > 4 else 0.5)
            threshold = int(probe.spec.get("failureThreshold", 3))
            if ok:
                probe.failures, probe.successes = 0, probe.successes + 1
                run.ready = run.ready or probe.successes >= int(probe.spec.get("successThreshold", 1))
            else:
                probe.failures, probe.successes = probe.failures + 1, 0
                if run.ready and probe.failures >= threshold:
                    run.ready = False
        elif probe is None:
            run.ready = True
        live = run.liveness
        if live is not None and moment >= live.next_at:
            live.next_at = moment + live.period
            if self._check(run, live):
                live.failures = 0
            else:
                live.failures += 1
                if live.failures >= int(live.spec.get("failureThreshold", 3)):
                    self.log(f"{self.cluster}: {run.namespace}/{run.name}: liveness probe failed; restarting")
                    self._kill(run, grace=30)

    def _check(self, run: Run, probe: Probe) -> bool:
        spec = probe.spec
        port = _port(run.container, (spec.get("httpGet") or spec.get("tcpSocket") or {}).get("port"))
        try:
            if "httpGet" in spec:
                url = f"http://{run.address}:{port}{spec['httpGet'].get('path', '/')}"
                with urllib.request.urlopen(url, timeout=probe.timeout) as answer:
                    return 200 <= answer.status < 400
            with socket.create_connection((run.address, port), timeout=probe.timeout):
                return True  # tcpSocket, and exec played as a connect to the first port
        except (OSError, urllib.error.URLError, ValueError):
            return False

    # -- reporting ---------------------------------------------------------------
    def _publish(self, run: Run) -> None:
        """Writes the Pod's status when it changed."""
        running = run.process is not None and run.process.poll() is None
        state: dict[str, Any]
        if running:
            state = {"running": {"startedAt": run.started_at}}
        elif run.waiting:
            state = {"waiting": {"reason": run.waiting[0], "message": run.waiting[1]}}
        else:
            state = {"waiting": {"reason": "ContainerCreating"}}
        container = {
            "name": run.container.get("name", "container"),
            "image": run.container.get("image", ""),
            "imageID": "",
            "containerID": f"meshlab://{run.process.pid}" if running and run.process else "",
            "ready": run.ready,
            "started": running,
            "restartCount": run.restarts,
            "state": state,
            "lastState": {"terminated": run.last_exit} if run.last_exit else {},
        }
        ready = "True" if run.ready else "False"
        status = {
            "phase": "Running" if running or run.restarts else "Pending",
            "hostIP": str(next(self.network.hosts())),
            "podIP": run.pod_ip,
            "podIPs": [{"ip": run.pod_ip}],
            "conditions": [
                {"type": "PodReadyToStartContainers", "status": "True"},
                {"type": "Initialized", "status": "True"},
                {"type": "ContainersReady", "status": ready},
                {"type": "Ready", "status": ready},
                {"type": "PodScheduled", "status": "True"},
            ],
            "containerStatuses": [container],
        }
        fingerprint = json.dumps(status, sort_keys=True)
        if fingerprint == run.published:
            return
        stamp = now()
        for condition in status["conditions"]:
            condition["lastTransitionTime"] = stamp
        status["startTime"] = run.started_at or stamp
        try:
            self.client.patch_status(f"/api/v1/namespaces/{run.namespace}/pods/{run.name}", status)
            run.published = fingerprint
        except ApiError as err:
            if err.status != 404:
                self.log(f"{self.cluster}: {run.namespace}/{run.name}: status not written: {err}")

    # -- stopping ----------------------------------------------------------------
    def _terminate(self, run: Run, pod: dict[str, Any]) -> None:
        """A graceful deletion: preStop, TERM, KILL after the grace period, then confirm."""
        grace = int(pod["metadata"].get("deletionGracePeriodSeconds") or pod["spec"].get("terminationGracePeriodSeconds", 30))
        started = time.monotonic()
        pre_stop = ((run.container.get("lifecycle") or {}).get("preStop")) or {}
        if run.process is not None and run.process.poll() is None:
            if "sleep" in pre_stop:
                time.sleep(min(grace, int(pre_stop["sleep"].get("seconds", 0))))
            elif "httpGet" in pre_stop:
                port = _port(run.container, pre_stop["httpGet"].get("port"))
                try:
                    urllib.request.urlopen(f"http://{run.address}:{port}{pre_stop['httpGet'].get('path', '/')}",
                                           timeout=grace).close()
                except (OSError, urllib.error.URLError):
                    pass
        self._kill(run, grace=max(0, grace - int(time.monotonic() - started)))
        with self.lock:
            self.runs.pop(run.uid, None)
        try:
            self.client.request(
                "DELETE",
                f"/api/v1/namespaces/{run.namespace}/pods/{run.name}",
                {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                 "preconditions": {"uid": run.uid}},
            )
        except ApiError as err:
            if err.status not in (404, 409):
                self.log(f"{self.cluster}: {run.namespace}/{run.name}: deletion not confirmed: {err}")
        self.log(f"{self.cluster}: {run.namespace}/{run.name} stopped and deleted")

    def _kill(self, run: Run, grace: int) -> None:
        process, run.process, run.ready = run.process, None, False
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if not run.terminating:  # a liveness restart
            run.restarts += 1
            run.last_exit = {"exitCode": process.returncode, "reason": "Error", "finishedAt": now()}
            self._start(run)


class LabCannotRun(Exception):
    """A Pod the lab cannot play; its status says why."""


class _Translator:
    """Rewrites Service addresses and mount paths in args and env values."""

    def __init__(self, services: dict[str, tuple[str, int, bool]], mounts: dict[str, str]):
        self.mounts = sorted(mounts.items(), key=lambda m: -len(m[0]))
        self.patterns = [
            (re.compile(rf"(?<![\w.-]){re.escape(name)}(\.[a-z0-9-]+(\.svc(\.cluster\.local)?)?)?(?=:{port}\b)"), address)
            for name, (address, port, _) in services.items()
        ]

    def __call__(self, value: str) -> str:
        for path, folder in self.mounts:
            if value == path or value.startswith(path.rstrip("/") + "/"):
                return folder + value[len(path):]
        for pattern, address in self.patterns:
            value = pattern.sub(address, value)
        return value


def _data_source(volume: dict[str, Any]) -> dict[str, Any]:
    """The ConfigMap or Secret a volume (or projected source) names, as _data takes it."""
    if "configMap" in volume:
        ref = volume["configMap"]
        return {"configMapRef": {"name": ref.get("name"), "optional": ref.get("optional")}}
    ref = volume["secret"]
    return {"secretRef": {"name": ref.get("secretName") or ref.get("name"), "optional": ref.get("optional")}}


def is_http(port: dict[str, Any]) -> bool:
    """Istio's protocol selection by port name or appProtocol: http, http2, grpc..."""
    name = str(port.get("appProtocol") or port.get("name") or "")
    return name.split("-")[0] in ("http", "http2", "grpc", "grpc-web", "h2c")


def _is_redis(image: str) -> bool:
    repository = image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    return repository == "redis"


def _port(container: dict[str, Any], port: Any) -> int:
    """A probe's port: a number, or the name of a container port."""
    if isinstance(port, int):
        return port
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    ports = container.get("ports") or []
    return int(ports[0]["containerPort"]) if ports else 0


def _field(pod: dict[str, Any], run: Run, path: str) -> str:
    meta, spec = pod["metadata"], pod["spec"]
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    simple = {
        "metadata.name": meta["name"],
        "metadata.namespace": meta["namespace"],
        "metadata.uid": meta["uid"],
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": run.pod_ip,
        "status.podIPs": run.pod_ip,
    }
    if path not in simple:
        raise LabCannotRun(f"fieldRef {path} is not one the lab fills")
    return str(simple[path])


def _expand(value: str, known: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion of env values and args."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: known.get(m.group(1), m.group(0)), value)
