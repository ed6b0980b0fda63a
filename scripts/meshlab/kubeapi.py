"""A small Kubernetes API client for the lab: one context of a kubeconfig,
requests over TLS with the context's client certificate or token, and
informers (list, then watch) that keep a live copy of a collection.

The standard library only: the lab must start on a machine that has Python
and nothing else of ours.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml


class ApiError(Exception):
    """The API server refused a request or could not be reached."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status


class Client:
    """Requests to one cluster's API server as one kubeconfig user."""

    def __init__(self, kubeconfig: str, context: str):
        config = yaml.safe_load(Path(kubeconfig).read_text(encoding="utf-8"))
        base = Path(kubeconfig).parent
        ctx = _named(config, "contexts", context)["context"]
        cluster = _named(config, "clusters", ctx["cluster"])["cluster"]
        user = _named(config, "users", ctx["user"])["user"]
        url = urllib.parse.urlsplit(cluster["server"])
        self.context = context
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 443
        self.ca_pem = _material(cluster, "certificate-authority", base)
        self.tls = ssl.create_default_context(cadata=self.ca_pem.decode())
        self.token = user.get("token")
        if "client-certificate" in user or "client-certificate-data" in user:
            with tempfile.TemporaryDirectory() as scratch:
                cert, key = Path(scratch) / "c.pem", Path(scratch) / "k.pem"
                cert.write_bytes(_material(user, "client-certificate", base))
                key.write_bytes(_material(user, "client-key", base))
                self.tls.load_cert_chain(cert, key)
        self.server = cluster["server"]

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        """One request; the decoded JSON answer, or ApiError."""
        connection = http.client.HTTPSConnection(self.host, self.port, context=self.tls, timeout=30)
        headers = self._headers()
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except OSError as err:
            raise ApiError(0, f"{self.context}: {method} {path}: {err}") from err
        finally:
            connection.close()
        if response.status >= 300:
            try:
                message = json.loads(payload).get("message", payload.decode(errors="replace"))
            except ValueError:
                message = payload.decode(errors="replace")
            raise ApiError(response.status, f"{self.context}: {method} {path}: {message}")
        return json.loads(payload) if payload else None

    def _headers(self) -> dict[str, str]:
        """JSON, and the user's token when the kubeconfig gives one (else the client certificate)."""
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def patch_status(self, path: str, status: dict[str, Any]) -> Any:
        """Merge-patches an object's status subresource."""
        return self.request("PATCH", path + "/status", {"status": status}, "application/merge-patch+json")

    def watch(self, path: str, resource_version: str, timeout: int = 60) -> Iterator[dict[str, Any]]:
        """The watch events of a collection from `resource_version` on, until the server ends the watch."""
        query = urllib.parse.urlencode(
            {"watch": "1", "resourceVersion": resource_version, "timeoutSeconds": str(timeout),
             "allowWatchBookmarks": "true"}
        )
        separator = "&" if "?" in path else "?"
        connection = http.client.HTTPSConnection(self.host, self.port, context=self.tls, timeout=timeout + 15)
        try:
            connection.request("GET", f"{path}{separator}{query}", headers=self._headers())
            response = connection.getresponse()
            if response.status != 200:
                raise ApiError(response.status, f"{self.context}: watch {path}: {response.read()[:300]!r}")
            for line in response:
                if line.strip():
                    yield json.loads(line)
        except OSError as err:
            raise ApiError(0, f"{self.context}: watch {path}: {err}") from err
        finally:
            connection.close()


def _named(config: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    for entry in config.get(section) or []:
        if entry.get("name") == name:
            return entry
    raise ApiError(0, f"the kubeconfig has no {section[:-1]} named {name!r}")


def _material(entry: dict[str, Any], field: str, base: Path) -> bytes:
    """A certificate or key given inline (`<field>-data`, base64) or as a file path."""
    if entry.get(f"{field}-data"):
        return base64.b64decode(entry[f"{field}-data"])
    return (base / entry[field]).read_bytes()


class Informer:
    """A live copy of one collection (list, then watch; relisted after any
    break), calling `on_change` after every change."""

    def __init__(self, client: Client, path: str, on_change: Callable[[], None]):
        self.client, self.path, self.on_change = client, path, on_change
        self.synced = threading.Event()
        self.error = ""
        self._items: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watch {client.context}{path}", daemon=True)

    def start(self) -> Informer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def items(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items.values())

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                listed = self.client.get(self.path)
                kind = str(listed.get("kind", "")).removesuffix("List")
                with self._lock:
                    self._items = {_key(o): {"kind": kind, **o} for o in listed.get("items") or []}
                version = listed["metadata"]["resourceVersion"]
                self.error = ""
                self.synced.set()
                self.on_change()
                while not self._stop.is_set():
                    for event in self.client.watch(self.path, version):
                        obj = event.get("object") or {}
                        if event.get("type") == "ERROR":
                            raise ApiError(obj.get("code", 0), obj.get("message", "watch error"))
                        version = obj.get("metadata", {}).get("resourceVersion", version)
                        if event.get("type") == "BOOKMARK":
                            continue
                        with self._lock:
                            if event.get("type") == "DELETED":
                                self._items.pop(_key(obj), None)
                            else:
                                self._items[_key(obj)] = obj
                        self.on_change()
            except (ApiError, ValueError, KeyError) as err:
                self.error = str(err)
                self._stop.wait(1.0)


def _key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def wait_synced(informers: list[Informer], timeout: float) -> list[str]:
    """Waits until every informer has listed once; the paths that did not, with their errors."""
    deadline = time.monotonic() + timeout
    for informer in informers:
        informer.synced.wait(max(0.0, deadline - time.monotonic()))
    return [f"{i.client.context}{i.path}: {i.error or 'no answer'}" for i in informers if not i.synced.is_set()]
