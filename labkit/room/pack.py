"""``room pack``: make (or complete) a folder a room installs from without internet.

The folder gets the wheels of every chosen machine and Python (``wheels``), their hash-checked
requirements files, the datasets (copied or downloaded, verified), the kit's archive (``kit``), a
README for the stick (``instructions``), and last the manifest. Running it again adds what is
asked for and downloads nothing already there; the machines, Pythons and datasets of the earlier
runs stay in the pack (delete the folder to start afresh). Work in progress lives in a hidden
staging folder inside the pack, removed when the run ends, however it ends.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from labkit import __version__
from labkit.datasets import DATASETS
from labkit.datasets import store as data_store
from labkit.errors import DataError, first_line
from labkit.install import locks
from labkit.install.offline import DATA, REQUIREMENTS, WHEELS, requirements_path
from labkit.paths import REPO_ROOT
from labkit.room import instructions, kit
from labkit.room import manifest as manifests
from labkit.room.manifest import (
    FileEntry,
    Manifest,
    PythonEntry,
    TargetEntry,
    sha256_file,
    write_public,
)
from labkit.room.wheels import TARGETS, Inventory, PackError, collect

README = "README.txt"
STAGING_PREFIX = ".staging-"


@dataclass(frozen=True)
class Outcome:
    """What a run did: the manifest written, and what it had to download or build."""

    manifest: Manifest
    new_files: list[str]  # wheels this run downloaded or built
    new_bytes: int


def pack(
    out: Path,
    targets: Sequence[str],
    pythons: Sequence[str],
    datasets: Sequence[str],
    say: Callable[[str], None] = print,
    repo: Path | None = None,
) -> Outcome:
    """Make or complete the pack in ``out`` with the kit of ``repo`` (default: this clone);
    see the module's docstring."""
    out = out.expanduser().resolve()
    try:
        for folder in (out, out / WHEELS, out / REQUIREMENTS):
            folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PackError(f"Cannot write into {out} ({exc.strerror or first_line(exc)}).") from None
    for leftover in out.glob(f"{STAGING_PREFIX}*"):  # from a run that was killed
        shutil.rmtree(leftover, ignore_errors=True)
    old = manifests.load(out)
    wanted = {(t, py) for t in targets for py in pythons}
    names = set(datasets)
    if old is not None:  # what earlier runs packed stays
        wanted |= {(t, py) for t in old.targets for py in old.targets[t].pythons}
        names |= set(old.datasets)
    wanted = {(t, py) for t, py in wanted if t in TARGETS and py in locks.PYTHONS}

    staging = out / f"{STAGING_PREFIX}{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        say(f"Checking the {sum(1 for _ in (out / WHEELS).glob('*.whl'))} wheels in the pack...")
        inventory = Inventory(out / WHEELS, old.built if old else {})
        new = Manifest(created=time.strftime("%Y-%m-%d %H:%M"), labkit=__version__)
        _pack_wheels(out, new, sorted(wanted), inventory, staging, say)
        for name in sorted(n for n in names if n in DATASETS):
            new.datasets[name] = _pack_dataset(out, name, say)
        new.kit, count = kit.write(repo or REPO_ROOT, out)
        say(f"Kit: {new.kit} ({count} files)")
        new.files = _entries(out, new, inventory)
        write_public(out / README, instructions.stick_readme(new))
        new.files[README] = FileEntry((out / README).stat().st_size, sha256_file(out / README))
        manifests.save(out, new)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    added = sorted(set(inventory.added) & {Path(w).name for w in new.wheel_paths()})
    return Outcome(new, added, sum(new.files[f"{WHEELS}/{n}"].bytes for n in added))


def _pack_wheels(
    out: Path,
    new: Manifest,
    wanted: list[tuple[str, str]],
    inventory: Inventory,
    staging: Path,
    say: Callable[[str], None],
) -> None:
    """The wheels and the requirements file of each (machine, Python) into the pack and the
    manifest; what no machine needs any more out of the pack."""
    for target, python in wanted:
        chosen = collect(TARGETS[target], python, inventory, staging, say)
        relpath = requirements_path(target, python)
        write_public(out / relpath, _requirements(target, python, chosen, inventory))
        entry = new.targets.setdefault(
            target, TargetEntry(TARGETS[target].platform, TARGETS[target].lock)
        )
        wheels = sorted(f"{WHEELS}/{name}" for name in chosen.values())
        entry.pythons[python] = PythonEntry(relpath, wheels)
    used = {Path(w).name for w in new.wheel_paths()}
    new.built = {name: b for name, b in inventory.built.items() if name in used}
    _remove_others(out / WHEELS, used, say)
    _remove_others(out / REQUIREMENTS, {Path(r).name for r in new.requirements_paths()}, say)


def _pack_dataset(out: Path, name: str, say: Callable[[str], None]) -> list[str]:
    """A verified copy of the dataset in the pack (copied, else downloaded); its files."""
    dataset = DATASETS[name]
    try:
        folder = data_store.fetch(dataset, out / DATA, say=say)
    except DataError as exc:
        raise PackError(
            f"The pack needs a verified copy of {dataset.title}, and none could be had:\n"
            f"{exc}\nWith a copy at hand (a stick, a share), bring it into this clone first "
            f"(`python -m labkit data fetch {name} --from FOLDER`), or set "
            "LABKIT_DATA_DIR=FOLDER; then run room pack again."
        ) from None
    prefix = folder.relative_to(out).as_posix()
    return [f"{prefix}/{file}" for file in dataset.files]


def _requirements(target: str, python: str, chosen: dict[str, str], inventory: Inventory) -> str:
    """The hash-checked requirements of one machine: each package with the SHA-256 of the file
    the pack holds for it."""
    lock = TARGETS[target].lock
    lines = [
        f"# requirements/{lock}.txt for {target} and Python {python}: the files of this pack's",
        f"# {WHEELS}/ folder. Made by `python -m labkit room pack`; installed by",
        "# Scripts/environment.sh --offline PACK (or --from URL).",
    ]
    for pin in locks.pins(lock, TARGETS[target].platform, python):
        name = chosen[pin.name]
        built = inventory.built.get(name)
        if built is not None:
            lines.append(
                f"# {pin.name}: built by room pack from {built.source} (sha256:"
                f"{built.source_sha256}, as in the lock): PyPI has no wheel of it"
            )
        lines.append(f"{pin.name}=={pin.version} --hash=sha256:{inventory.hashes[name]}")
    return "\n".join(lines) + "\n"


def _remove_others(folder: Path, keep: set[str], say: Callable[[str], None]) -> None:
    """Delete the files of ``folder`` not in ``keep`` (left by an older lock)."""
    for path in folder.iterdir():
        if path.is_file() and path.name not in keep:
            say(f"Removing {path.relative_to(folder.parent).as_posix()}: no machine needs it now")
            path.unlink()


def _entries(out: Path, manifest: Manifest, inventory: Inventory) -> dict[str, FileEntry]:
    """Size and SHA-256 of every file the manifest names (the wheels' hashes are known)."""
    paths = manifest.wheel_paths() | manifest.requirements_paths()
    paths |= {f for files in manifest.datasets.values() for f in files}
    if manifest.kit:
        paths.add(manifest.kit)
    entries = {}
    for relpath in sorted(paths):
        path = out / relpath
        name = relpath.split("/", 1)[1] if relpath.startswith(f"{WHEELS}/") else None
        sha = inventory.hashes[name] if name else sha256_file(path)
        entries[relpath] = FileEntry(path.stat().st_size, sha)
    return entries
