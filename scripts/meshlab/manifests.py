"""Loading Kubernetes objects and writing the lab's files.

Inputs are what instructors already have: rendered multi-document YAML, JSON
(a single object or a `List`, as `kubectl get -o json` prints), or a kustomize
directory, which is rendered with `kubectl kustomize` exactly as `kubectl
apply -k` would. Outputs are replaced atomically, because a running Envoy
watches them and must never read half a file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when present: much faster


class InputError(Exception):
    """A file the lab cannot read; the message says which and why."""


def load_objects(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every Kubernetes object in a file or kustomize directory, Lists expanded."""
    path = Path(path)
    if path.is_dir():
        if not any((path / name).is_file() for name in ("kustomization.yaml", "kustomization.yml", "Kustomization")):
            raise InputError(f"{path}: a directory must hold a kustomization.yaml")
        text = kustomize(path)
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise InputError(f"{path}: {err.strerror}") from err
    try:
        documents = list(yaml.load_all(text, Loader=_LOADER))
    except yaml.YAMLError as err:
        raise InputError(f"{path}: not valid YAML or JSON: {err}") from err
    objects: list[dict[str, Any]] = []
    for number, document in enumerate(documents, 1):
        if document is None:
            continue
        if not isinstance(document, dict):
            raise InputError(f"{path}: document {number} is not a Kubernetes object")
        objects.extend(expand_lists(document))
    return objects


def expand_lists(document: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """A `kind: List` (or `...List`) yields its items, any other object itself."""
    if str(document.get("kind", "")).endswith("List") and isinstance(document.get("items"), list):
        for item in document["items"]:
            yield from expand_lists(item)
    else:
        yield document


def kustomize(directory: Path) -> str:
    """Renders a kustomize directory with kubectl, as `kubectl apply -k` would."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise InputError(f"{directory}: rendering a kustomize directory needs kubectl on PATH")
    try:
        done = subprocess.run(
            [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired as err:
        raise InputError(f"{directory}: kubectl kustomize did not finish in 60 s") from err
    if done.returncode != 0:
        raise InputError(f"{directory}: kubectl kustomize failed: {done.stderr.strip()}")
    return done.stdout


def write_atomically(path: str | os.PathLike, text: str) -> None:
    """Replaces `path` with `text` so that readers see the old or the new file, never a mix.

    The temporary file lives in the same directory (a rename across file
    systems is not atomic) and starts with a dot; Envoy's watched_directory
    reacts to the final rename, which is the moment the new content is whole."""
    path = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide the rules from a gateway running as another user
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def to_json(value: Any) -> str:
    """Stable, readable JSON for files people open in class."""
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"
