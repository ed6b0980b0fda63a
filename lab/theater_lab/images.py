"""Images the lab's nodes need besides the app's, built here from programs the lab
built or Debian ships, and pushed to the lab's registry under names that say what they
are (never the name or tag of an upstream image they are not)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .procs import LabError, run

KUBERNETES_MODULE = "k8s.io/kubernetes"


def module_dir(repo: Path, module: str, component: str = "kubernetes") -> Path:
    """The pinned module's source in Go's module cache (downloaded if missing), as
    tools/COMPONENT's go.sum checks it."""
    tools = repo / "tools" / component
    out = run(
        ["go", "mod", "download", "-json", module],
        f"go mod download {module}",
        timeout=600,
        cwd=tools,
    )
    for line in out.splitlines():
        if '"Dir":' in line:
            return Path(line.split('"Dir":', 1)[1].strip().strip(",").strip('"'))
    raise LabError(f"go mod download {module} named no folder")


class Builder:
    """buildah with storage of the lab's own (vfs: no overlay-on-overlay questions)."""

    def __init__(self, work: Path):
        self.work = work
        self.base = [
            "buildah",
            "--root",
            str(work / "root"),
            "--runroot",
            str(work / "runroot"),
            "--storage-driver",
            "vfs",
        ]

    def buildah(self, *args: str, timeout: float = 300) -> str:
        return run([*self.base, *args], f"buildah {args[0]}", timeout=timeout).strip()

    def image(
        self,
        files: dict[str, Path],
        entrypoint: list[str],
        user: str,
        name: str,
        push_to: str,
        *,
        path: str = "/usr/bin:/bin",
    ) -> None:
        """A FROM-scratch image of the given files (a folder copied to "/" brings its
        contents, symbolic links as links), committed and pushed (plain http)."""
        container = self.buildah("from", "scratch")
        try:
            for target, source in files.items():
                self.buildah("copy", container, str(source), target)
            entry = "[" + ",".join(f'"{part}"' for part in entrypoint) + "]"
            # A scratch image has no PATH: exec probes and `kubectl exec` look tools up in it.
            self.buildah(
                "config",
                "--entrypoint",
                entry,
                "--user",
                user,
                "--env",
                f"PATH={path}",
                container,
            )
            self.buildah("commit", "--quiet", container, name)
        finally:
            subprocess.run([*self.base, "rm", container], capture_output=True, check=False)
        self.buildah("push", "--quiet", "--tls-verify=false", name, f"docker://{push_to}")


def build_pause(repo: Path, work: Path) -> tuple[Path, str]:
    """Kubernetes' own pause.c from the pinned module, compiled static; returns the
    binary and the version it reports."""
    version = module_version(repo, "kubernetes", KUBERNETES_MODULE)
    source = (
        module_dir(repo, f"{KUBERNETES_MODULE}@{version}") / "build" / "pause" / "linux" / "pause.c"
    )
    binary = work / "pause"
    work.mkdir(parents=True, exist_ok=True)
    run(
        [
            "gcc",
            "-Os",
            "-static",
            f"-DVERSION=kubernetes-{version}",
            "-o",
            str(binary),
            str(source),
        ],
        "compiling pause.c",
    )
    run(["strip", str(binary)], "strip pause")
    return binary, version


def push(
    work: Path,
    files: dict[str, Path],
    *,
    entrypoint: list[str],
    user: str,
    repository: str,
    push_registry: str,
    name_registry: str,
    path: str = "/usr/bin:/bin",
) -> str:
    """Builds a FROM-scratch image of files as localhost/REPOSITORY, pushes it to
    push_registry; returns its name as the nodes pull it (from name_registry)."""
    Builder(work / "buildah").image(
        files,
        entrypoint,
        user,
        f"localhost/{repository}",
        f"{push_registry}/{repository}",
        path=path,
    )
    return f"{name_registry}/{repository}"


def push_pause(repo: Path, work: Path, push_registry: str, name_registry: str) -> str:
    """Builds and pushes the sandbox image; returns its name as the nodes pull it."""
    binary, version = build_pause(repo, work / "pause")
    repository = f"theater-lab/pause:kubernetes-{version}"
    return push(
        work,
        {"/pause": binary},
        entrypoint=["/pause"],
        user="65535:65535",
        repository=repository,
        push_registry=push_registry,
        name_registry=name_registry,
    )


def module_version(repo: Path, component: str, module: str) -> str:
    """The version tools/COMPONENT/go.mod requires of MODULE (its require line, not a
    `tool` line naming a package of it)."""
    for line in (repo / "tools" / component / "go.mod").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "require":
            parts = parts[1:]
        if len(parts) >= 2 and parts[0] == module and parts[1].startswith("v"):
            return parts[1]
    raise LabError(f"tools/{component}/go.mod requires no {module}")


def push_program(
    work: Path, binary: Path, repository: str, push_registry: str, name_registry: str
) -> str:
    """A FROM-scratch image of one static program built by scripts/k8s-tools.sh, run
    as 65532; returns its name as the nodes pull it."""
    return push(
        work,
        {f"/{binary.name}": binary},
        entrypoint=[f"/{binary.name}"],
        user="65532:65532",
        repository=repository,
        push_registry=push_registry,
        name_registry=name_registry,
    )


def push_pinned_program(
    repo: Path,
    work: Path,
    tools: Path,
    program: str,
    *,
    pin: tuple[str, str],
    push_registry: str,
    name_registry: str,
) -> str:
    """push_program of a binary scripts/k8s-tools.sh built, as theater-lab/PROGRAM tagged
    with the version of the module that pin (tools/ folder, Go module) names."""
    version = module_version(repo, *pin)
    return push_program(
        work, tools / program, f"theater-lab/{program}:{version}", push_registry, name_registry
    )


def debian_version(package: str) -> str:
    """The installed version of a Debian package, as an image tag can carry it
    (5:7.0.15-1~deb12u10 becomes 7.0.15-1-deb12u10)."""
    version = run(["dpkg-query", "-W", "-f", "${Version}", package], f"dpkg-query {package}")
    if not version.strip():
        raise LabError(f"the Debian package {package} is not installed (apt-get install {package})")
    return version.strip().split(":", 1)[-1].replace("~", "-").replace("+", "-")


def install_with_libraries(repo: Path, rootfs: Path, program: Path, name: str = "") -> None:
    """PROGRAM into ROOTFS (as NAME, default its own path) with the shared libraries
    ldd names (scripts/lib.sh's install_with_libraries)."""
    run(
        ["bash", "-c", 'source "$1/scripts/lib.sh"; install_with_libraries "${@:2}" >/dev/null',
         "_", str(repo), str(rootfs), str(program), *([name] if name else [])],
        f"copying {program} with its libraries",
    )  # fmt: skip


def push_redis(repo: Path, work: Path, push_registry: str, name_registry: str) -> str:
    """Debian's redis-server and redis-cli with their shared libraries, run as the
    manifests' user 10001; tagged with the Debian package's version (it is not the
    upstream redis image, so it never carries that name)."""
    rootfs = work / "redis" / "rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    # /usr/bin/redis-server is a link to redis-check-rdb: redis picks its mode by the
    # name it runs under, so the file goes in under the server's name.
    server = Path("/usr/bin/redis-server")
    install_with_libraries(repo, rootfs, server.resolve(), str(server))
    install_with_libraries(repo, rootfs, Path("/usr/bin/redis-cli"))
    repository = f"theater-lab/redis:debian-{debian_version('redis-server')}"
    return push(
        work,
        {"/": rootfs},
        entrypoint=["/usr/bin/redis-server"],
        user="10001:10001",
        repository=repository,
        push_registry=push_registry,
        name_registry=name_registry,
    )
