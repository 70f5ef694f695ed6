"""The locks, ``requirements/*.txt``: the exact version and the PyPI hashes of every package the
setup scripts install (made from pyproject.toml's ranges by ``bash requirements/lock.sh``).

The locks are universal: one file serves every platform and supported Python, and markers
choose per machine. pip evaluates those markers for the machine it runs on; ``pins`` evaluates
them for any machine, so that wheels can be fetched for a machine other than this one
(``Platform.pip_download_args``).

``conflicts`` says what to uninstall before installing a lock, so that switching between
--cpu, --gpu and --metal leaves one TensorFlow. The setup scripts run it as
``python -m labkit.install.locks conflicts LOCK`` before the lock's packages are installed, so this
module imports only the standard library at the top (``packaging`` where it is needed).
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from labkit import settings
from labkit.paths import REPO_ROOT

if TYPE_CHECKING:
    from packaging.requirements import Requirement
    from packaging.tags import Tag

LOCK_DIR = REPO_ROOT / "requirements"
LOCKS = ("cpu", "gpu", "metal")
PYTHONS = tuple(settings.python_versions())  # "3.10", ..., the newest

# Distributions that all install the same `tensorflow` package: two of them in one environment
# overwrite each other's files (the setup scripts remove the others before installing a lock).
TENSORFLOW_DISTRIBUTIONS = frozenset(
    {
        "tensorflow",
        "tensorflow-cpu",
        "tensorflow-gpu",
        "tensorflow-intel",
        "tensorflow-macos",
        "tensorflow-aarch64",
        "tensorflow-cpu-aws",
        "tensorflow-rocm",
        "intel-tensorflow",
        "tf-nightly",
        "tf-nightly-cpu",
        "tf-nightly-gpu",
        "tf-nightly-intel",
        "tf-nightly-macos",
    }
)


@dataclass(frozen=True)
class Platform:
    """A kind of machine the locks serve: the marker values pip sees on it, its wheel tag."""

    name: str
    sys_platform: str
    platform_system: str
    platform_machine: str
    wheel_platforms: tuple[str, ...]  # for pip download --platform, newest first
    locks: tuple[str, ...]  # the locks it can install, the default ("cpu") first

    def marker_environment(self, python: str) -> dict[str, str]:
        """What PEP 508 markers see on this platform under CPython ``python`` ("3.12")."""
        return {
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "os_name": "nt" if self.sys_platform == "win32" else "posix",
            "sys_platform": self.sys_platform,
            "platform_system": self.platform_system,
            "platform_machine": self.platform_machine,
            "python_version": python,
            "python_full_version": f"{python}.0",
            "extra": "",
        }

    def pip_download_args(self, python: str) -> list[str]:
        """The ``pip download`` options that fetch what this platform installs, from any machine;
        add ``--require-hashes --no-deps -r FILE -d DIR`` (FILE: ``requirements_for(...)``).

        Wheels where they exist, else the source archive, as pip on that machine would do
        (seqeval, pure Python, publishes no wheel)."""
        return [
            "--prefer-binary",
            *(f"--platform={tag}" for tag in self.wheel_platforms),
            f"--python-version={python}",
            "--implementation=cp",
        ]

    def wheel_tags(self, python: str) -> tuple[Tag, ...]:
        """Every wheel tag pip accepts on this platform under CPython ``python`` ("3.12"), most
        preferred first, for telling which downloaded files belong to which machine."""
        from packaging import tags

        version = tuple(int(part) for part in python.split("."))
        platforms: list[str] = []
        for tag in self.wheel_platforms:
            if tag.startswith("macosx_"):  # pip accepts the older macOS releases too
                _, major, minor, arch = tag.split("_", 3)
                platforms += tags.mac_platforms((int(major), int(minor)), arch)
            else:
                platforms.append(tag)
        interpreter = f"cp{version[0]}{version[1]}"
        return (
            *tags.cpython_tags(version, platforms=platforms),
            *tags.compatible_tags(version, interpreter, platforms),
        )


def _manylinux(arch: str) -> tuple[str, ...]:
    """Every manylinux tag a glibc 2.28 system accepts (pip expands only the legacy aliases)."""
    legacy = (f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}")
    return (*(f"manylinux_2_{minor}_{arch}" for minor in range(28, 4, -1)), *legacy)


PLATFORMS = {
    p.name: p
    for p in (
        # TensorFlow's wheels need glibc 2.27 or newer (Ubuntu 18.04, Debian 10 and later)
        Platform("linux-x86_64", "linux", "Linux", "x86_64", _manylinux("x86_64"), ("cpu", "gpu")),
        Platform("linux-aarch64", "linux", "Linux", "aarch64", _manylinux("aarch64"), ("cpu",)),
        # pip expands a macOS tag to the older releases itself
        Platform(
            "macos-arm64", "darwin", "Darwin", "arm64", ("macosx_14_0_arm64",), ("cpu", "metal")
        ),
        Platform("windows-amd64", "win32", "Windows", "AMD64", ("win_amd64",), ("cpu",)),
    )
}


@dataclass(frozen=True)
class Pin:
    """One package of a lock, as one machine installs it."""

    name: str  # canonical: lower case, dashes
    version: str
    hashes: tuple[str, ...]  # "sha256:..." of every file PyPI has for this version

    def requirement(self) -> str:
        """The line pip installs it from, hash-checked and without a marker."""
        return " ".join([f"{self.name}=={self.version}", *(f"--hash={h}" for h in self.hashes)])


def this_platform() -> str | None:
    """The key of PLATFORMS for this machine, or None when the locks serve no such machine
    (an Intel Mac, a 32-bit system)."""
    machine = platform.machine().lower()
    for name, spec in PLATFORMS.items():
        if spec.sys_platform == sys.platform and spec.platform_machine.lower() == machine:
            return name
    return None


def lock_path(name: str) -> Path:
    """``requirements/<name>.txt``; ``name`` is one of cpu, gpu, metal."""
    return LOCK_DIR / f"{name}.txt"


def read(path: Path) -> list[tuple[Requirement, tuple[str, ...]]]:
    """Every entry of a lock file: its requirement (marker included) and its hashes."""
    from packaging.requirements import Requirement

    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        spec, *hashes = re.split(r"\s+--hash=", line)
        entries.append((Requirement(spec), tuple(h.strip() for h in hashes)))
    return entries


def pins(lock: str, platform: str, python: str) -> list[Pin]:
    """What ``lock`` installs on ``platform`` (a key of PLATFORMS) under Python ``python``."""
    from packaging.utils import canonicalize_name

    environment = PLATFORMS[platform].marker_environment(python)
    result = []
    for requirement, hashes in read(lock_path(lock)):
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        (spec,) = requirement.specifier  # a lock pins exactly: name==version
        if spec.operator != "==":
            raise ValueError(f"{lock_path(lock).name}: {requirement} is not pinned with ==")
        result.append(Pin(canonicalize_name(requirement.name), spec.version, hashes))
    return result


def requirements_for(lock: str, platform: str, python: str) -> str:
    """The hash-checked requirements file that ``lock`` amounts to on one machine."""
    return "".join(pin.requirement() + "\n" for pin in pins(lock, platform, python))


def tensorflow_of(lock: str, sys_platform: str = "", machine: str = "") -> str:
    """The TensorFlow distribution ``lock`` installs on a machine (default: this one):
    tensorflow-cpu from cpu.txt on Linux x86_64, tensorflow everywhere else."""
    sys_platform, machine = sys_platform or sys.platform, machine or platform.machine()
    linux_x86_64 = sys_platform == "linux" and machine == "x86_64"
    return "tensorflow-cpu" if lock == "cpu" and linux_x86_64 else "tensorflow"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(lock: str) -> set[str]:
    """Every package a lock names, on any platform."""
    text = lock_path(lock).read_text(encoding="utf-8")
    return {_canonical(name) for name in re.findall(r"(?m)^([A-Za-z0-9][\w.-]*)==", text)}


def installed_tensorflows(path: Sequence[str] | None = None) -> dict[str, str]:
    """The installed distributions (in ``path``, default ``sys.path``) that put files in
    ``tensorflow/``, name -> version: two of them overwrite each other's files. A shim that
    installs nothing there does not count; a known TensorFlow without a file list does."""
    found = {}
    for dist in importlib.metadata.distributions(path=list(path) if path is not None else sys.path):
        name = _canonical(dist.metadata["Name"] or "")
        files = dist.files
        if files is None:
            ships = name in TENSORFLOW_DISTRIBUTIONS
        else:
            ships = any(str(f).replace("\\", "/") == "tensorflow/__init__.py" for f in files)
        if ships:
            found[name] = dist.version
    return found


def conflicts(lock: str, path: Sequence[str] | None = None) -> list[str]:
    """The installed distributions (in ``path``, default ``sys.path``) to uninstall before
    installing ``lock``: every TensorFlow when any other than the lock's is there (they share
    their files, so the one kept is reinstalled whole), and the packages that only another of
    our locks installs (the CUDA wheels of gpu.txt, tensorflow-metal)."""
    dists = importlib.metadata.distributions(path=list(path) if path is not None else sys.path)
    installed = {_canonical(d.metadata["Name"] or ""): d for d in dists}
    known = {name for name in installed if name in TENSORFLOW_DISTRIBUTIONS}  # shims included
    tensorflows = sorted(known | set(installed_tensorflows(path)))
    remove = set(tensorflows) if tensorflows and tensorflows != [tensorflow_of(lock)] else set()
    only_others = set().union(*(_names(other) for other in LOCKS if other != lock)) - _names(lock)
    return sorted(remove | (only_others & set(installed)))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m labkit.install.locks conflicts LOCK``: print what to uninstall, on one line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "conflicts" or args[1] not in LOCKS:
        print(
            f"usage: python -m labkit.install.locks conflicts {{{','.join(LOCKS)}}}",
            file=sys.stderr,
        )
        return 2
    print(" ".join(conflicts(args[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
