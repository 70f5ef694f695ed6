"""The pack's manifest: every file with its size and SHA-256, which wheels serve which machine
and Python, the datasets and the kit.

It is written last, atomically, as ``manifest.json`` (read by ``labkit.install.offline`` and the server)
and ``SHA256SUMS`` (``sha256sum -c SHA256SUMS`` checks a copied stick with standard tools): a
pack whose manifest lists a file holds that file, verified.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labkit.files import write_atomic
from labkit.install.offline import MANIFEST

CHECKSUMS = "SHA256SUMS"
FORMAT = 1
READ_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class FileEntry:
    bytes: int
    sha256: str


@dataclass
class PythonEntry:
    """What one machine installs under one Python: its requirements file and its wheels."""

    requirements: str  # relative path in the pack
    wheels: list[str]


@dataclass
class TargetEntry:
    platform: str  # a key of labkit.install.locks.PLATFORMS
    lock: str  # cpu, gpu, metal
    pythons: dict[str, PythonEntry] = field(default_factory=dict)


@dataclass
class Built:
    """A wheel built here from a source archive that PyPI publishes without a wheel."""

    source: str  # the archive's file name on PyPI
    source_sha256: str  # checked against the lock
    sha256: str  # of the wheel built from it


@dataclass
class Manifest:
    created: str = ""
    labkit: str = ""
    kit: str | None = None  # the kit's archive, relative path
    targets: dict[str, TargetEntry] = field(default_factory=dict)
    datasets: dict[str, list[str]] = field(default_factory=dict)
    built: dict[str, Built] = field(default_factory=dict)  # wheel file name -> its source
    files: dict[str, FileEntry] = field(default_factory=dict)  # relative path -> size, SHA-256
    format: int = FORMAT

    def bytes_of(self, paths: set[str] | list[str]) -> int:
        return sum(self.files[p].bytes for p in set(paths))

    def wheels_of(self, target: str, python: str | None = None) -> set[str]:
        """The wheels one machine installs (under one Python, or any)."""
        entries = self.targets[target].pythons
        chosen = [entries[python]] if python else list(entries.values())
        return {w for entry in chosen for w in entry.wheels}

    def wheel_paths(self) -> set[str]:
        """Every wheel some machine installs."""
        return {w for target in self.targets for w in self.wheels_of(target)}

    def requirements_paths(self) -> set[str]:
        return {e.requirements for t in self.targets.values() for e in t.pythons.values()}

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files.values())

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        targets = {
            name: TargetEntry(
                t["platform"],
                t["lock"],
                {py: PythonEntry(**entry) for py, entry in t["pythons"].items()},
            )
            for name, t in data["targets"].items()
        }
        return cls(
            created=data["created"],
            labkit=data["labkit"],
            kit=data["kit"],
            targets=targets,
            datasets=data["datasets"],
            built={path: Built(**b) for path, b in data["built"].items()},
            files={path: FileEntry(**f) for path, f in data["files"].items()},
            format=data["format"],
        )


def load(pack: Path) -> Manifest | None:
    """The pack's manifest; None when there is none yet, or one this version cannot read (the
    pack is then rebuilt, its files verified again)."""
    try:
        data = json.loads((pack / MANIFEST).read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            return None
        return Manifest.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_public(path: Path, data: str | bytes) -> None:
    """Write a file of the pack atomically, readable by everyone (a stick is read by others;
    ``write_atomic``'s temporary file is private to its owner)."""
    write_atomic(path, data)
    path.chmod(0o644)


def save(pack: Path, manifest: Manifest) -> None:
    """Write SHA256SUMS, then manifest.json, each atomically."""
    sums = "".join(f"{f.sha256}  {path}\n" for path, f in sorted(manifest.files.items()))
    write_public(pack / CHECKSUMS, sums)
    write_public(pack / MANIFEST, manifest.to_json())
