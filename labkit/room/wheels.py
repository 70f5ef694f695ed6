"""The pack's wheels: for each machine (a platform and a lock, a ``Target``) and Python, the
files its lock installs, fetched with ``pip download`` for that machine's wheel tags and checked
against the lock's hashes.

Files are downloaded into a staging folder and moved into ``wheels/`` one by one, only once
verified, so an interrupted download leaves nothing in ``wheels/`` that looks complete and is not.
A file already in the pack is not downloaded again: a wheel serves a machine when its SHA-256 is
one the lock names for that package and the machine accepts one of its tags (a pure-Python wheel
serves every machine). A package that PyPI publishes only as source (seqeval) is downloaded as
source, checked against the lock, and built here into a wheel, which must be pure Python so that
one wheel serves every machine; the manifest records both hashes (``Built``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from labkit.errors import LabkitError
from labkit.install import locks
from labkit.install.offline import target_name
from labkit.room.manifest import Built, sha256_file

if TYPE_CHECKING:
    from collections.abc import Callable

    from packaging.tags import Tag

SOURCE_SUFFIXES = (".tar.gz", ".zip")


class PackError(LabkitError):
    """The pack could not be made as asked; the message says what to do."""


@dataclass(frozen=True)
class Target:
    """One kind of machine a pack serves: a platform and the lock it installs."""

    name: str
    platform: str  # a key of locks.PLATFORMS
    lock: str


TARGETS = {
    target_name(platform, lock): Target(target_name(platform, lock), platform, lock)
    for platform, spec in locks.PLATFORMS.items()
    for lock in spec.locks
}
DEFAULT_TARGETS = ("linux-x86_64", "macos-arm64", "windows-amd64")


class Inventory:
    """The files of ``wheels/``: name -> SHA-256 (every file hashed once per run), and the
    wheels built here from a source archive."""

    def __init__(self, folder: Path, built: dict[str, Built]) -> None:
        self.folder = folder
        self.hashes = {p.name: sha256_file(p) for p in sorted(folder.glob("*.whl"))}
        # A record counts only while its wheel is there, unchanged.
        self.built = {name: b for name, b in built.items() if self.hashes.get(name) == b.sha256}
        self.added: list[str] = []  # downloaded or built by this run

    def add(self, path: Path, sha256: str, built: Built | None = None) -> None:
        """Move a verified file into ``wheels/`` (atomically) and remember it."""
        os.replace(path, self.folder / path.name)
        self.hashes[path.name] = sha256
        self.added.append(path.name)
        if built is not None:
            self.built[path.name] = built

    def serves(self, name: str, pin: locks.Pin) -> bool:
        """True when the file ``name`` has content the lock names for ``pin``."""
        sha = self.hashes[name]
        built = self.built.get(name)
        if built is not None and built.sha256 == sha:
            return f"sha256:{built.source_sha256}" in pin.hashes
        return f"sha256:{sha}" in pin.hashes


def _parse(name: str) -> tuple[str, str, frozenset[Tag]] | None:
    """(project, version, tags) of a wheel file name; None for anything else."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        project, version, _, tags = parse_wheel_filename(name)
    except InvalidWheelFilename:
        return None
    return project, str(version), tags


def _same_version(a: str, b: str) -> bool:
    from packaging.version import Version

    return Version(a) == Version(b)


def find(pin: locks.Pin, accepted: dict[Tag, int], inventory: Inventory) -> str | None:
    """The wheel in the pack that serves ``pin`` on a machine accepting ``accepted`` (tag ->
    pip's preference, lower first), the most preferred one; None when there is none."""
    best: tuple[int, str] | None = None
    for name in inventory.hashes:
        parsed = _parse(name)
        if parsed is None or parsed[0] != pin.name or not _same_version(parsed[1], pin.version):
            continue
        ranks = [accepted[tag] for tag in parsed[2] if tag in accepted]
        if ranks and inventory.serves(name, pin) and (best is None or min(ranks) < best[0]):
            best = (min(ranks), name)
    return best[1] if best else None


def run_pip(args: list[str]) -> None:
    """Run pip with this Python; its messages go to the terminal. PackError when it fails.

    PIP_USE_PEP517: a pip older than 23.1 (or one that finds setuptools and wheel installed)
    would prepare a source archive with ``setup.py egg_info``, whose ``setup_requires`` (seqeval's
    setuptools_scm) it fetches the deprecated way, which fails; the standard build installs them
    in the build environment. A pip that no longer has the option ignores the variable."""
    env = {**os.environ, "PIP_USE_PEP517": "1"}
    if subprocess.run([sys.executable, "-m", "pip", *args], env=env).returncode != 0:
        raise PackError(f"`pip {args[0]}` failed (see its messages above).")


def collect(
    target: Target, python: str, inventory: Inventory, staging: Path, say: Callable[[str], None]
) -> dict[str, str]:
    """The wheel file of every package ``target``'s lock installs under ``python``, name ->
    file name, downloading (or building) into the pack what is not there yet."""
    spec = locks.PLATFORMS[target.platform]
    pins = locks.pins(target.lock, target.platform, python)
    accepted: dict[Tag, int] = {}
    for rank, tag in enumerate(spec.wheel_tags(python)):
        accepted.setdefault(tag, rank)
    chosen = {pin.name: find(pin, accepted, inventory) for pin in pins}
    missing = [pin for pin in pins if chosen[pin.name] is None]
    if missing:
        size = "1 file" if len(missing) == 1 else f"{len(missing)} files"
        say(f"{target.name}, Python {python}: downloading {size}")
        _download(missing, target, python, inventory, staging, accepted)
        chosen = {pin.name: find(pin, accepted, inventory) for pin in pins}
    absent = sorted(f"{pin.name}=={pin.version}" for pin in pins if chosen[pin.name] is None)
    if absent:  # pip downloaded something, but not a wheel this machine accepts
        raise PackError(
            f"No wheel for {target.name} with Python {python}: {', '.join(absent)}. Pack "
            "another Python for that machine (--pythons)."
        )
    return {name: file for name, file in chosen.items() if file is not None}


def _download(
    pins: list[locks.Pin],
    target: Target,
    python: str,
    inventory: Inventory,
    staging: Path,
    accepted: dict[Tag, int],
) -> None:
    """pip download ``pins`` for the machine into ``staging``; move each verified file (or the
    wheel built from a source archive) into the pack."""
    folder = staging / f"{target.name}-py{python}"
    folder.mkdir()
    requirements = folder / "requirements.txt"
    requirements.write_text("".join(pin.requirement() + "\n" for pin in pins), encoding="utf-8")
    downloads = folder / "files"
    spec = locks.PLATFORMS[target.platform]
    try:
        run_pip(
            [
                "download",
                "--no-deps",
                "--require-hashes",
                "--disable-pip-version-check",
                "-r",
                str(requirements),
                "-d",
                str(downloads),
                *spec.pip_download_args(python),
            ]
        )
    except PackError:
        raise PackError(
            f"Downloading the wheels for {target.name} with Python {python} failed (see pip's "
            "messages above). Check the internet connection and run the same command again: "
            "what the pack holds already is kept."
        ) from None
    by_name = {pin.name: pin for pin in pins}
    for path in sorted(downloads.iterdir()):
        sha = sha256_file(path)
        pin = _pin_of(path.name, by_name)
        if pin is None or f"sha256:{sha}" not in pin.hashes:
            raise PackError(
                f"{path.name} is not a file that requirements/{target.lock}.txt names (its "
                "SHA-256 differs): a proxy or a mirror altered it. Nothing was kept from it."
            )
        if path.name.endswith(SOURCE_SUFFIXES):
            wheel = _build(path, folder / "built")
            inventory.add(wheel, sha256_file(wheel), Built(path.name, sha, sha256_file(wheel)))
            continue
        parsed = _parse(path.name)
        if parsed is None or not any(tag in accepted for tag in parsed[2]):
            raise PackError(
                f"pip chose {path.name} for {target.name} with Python {python}, which that "
                "machine cannot install."
            )
        inventory.add(path, sha)


def _pin_of(file_name: str, pins: dict[str, locks.Pin]) -> locks.Pin | None:
    """The pin a downloaded wheel or source archive belongs to, by its name and version."""
    from packaging.utils import InvalidSdistFilename, parse_sdist_filename

    parsed = _parse(file_name)
    if parsed is None:
        try:
            project, version = parse_sdist_filename(file_name)
        except InvalidSdistFilename:
            return None
        parsed = (project, str(version), frozenset())
    pin = pins.get(parsed[0])
    return pin if pin is not None and _same_version(parsed[1], pin.version) else None


def _build(source: Path, out: Path) -> Path:
    """Build a pure-Python wheel from a verified source archive (pip fetches its build tools,
    as it did to read the archive's metadata when downloading it)."""
    try:
        run_pip(["wheel", "--no-deps", "--disable-pip-version-check", "-w", str(out), str(source)])
    except PackError:
        raise PackError(
            f"Building a wheel from {source.name} failed (see pip's messages above). Check the "
            "internet connection (pip downloads the build tools) and run the same command again."
        ) from None
    (wheel,) = out.glob("*.whl")
    parsed = _parse(wheel.name)
    if parsed is None or not any(t.abi == "none" and t.platform == "any" for t in parsed[2]):
        raise PackError(
            f"{source.name} builds {wheel.name}, which is not pure Python: a wheel built here "
            "would not serve the other machines. The pack cannot hold it."
        )
    return wheel
