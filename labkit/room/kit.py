"""A copy of the kit for the pack, so that an attendee with nothing but Python can start: one
zip archive (Windows, macOS and Linux open it with no extra tool, and the room's server hands it
out as one download) of the repository's files as they are on disk: the tracked ones and the new
ones git does not ignore, so no datasets, no ``.venv``, no caches.

The archive is the same, byte for byte, for the same files (fixed dates, sorted names), so that
an unchanged kit leaves the pack unchanged.
"""

from __future__ import annotations

import io
import os
import subprocess
import zipfile
from pathlib import Path

from labkit.errors import LabkitError, first_line
from labkit.paths import REPOSITORY_URL
from labkit.room.manifest import write_public

FOLDER = REPOSITORY_URL.rstrip("/").rsplit("/", 1)[-1]  # what the archive unpacks to
ARCHIVE = f"{FOLDER}.zip"
_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can hold: dates would change the bytes


def files(repo: Path, exclude: Path | None = None) -> list[str]:
    """The kit's files, relative to ``repo`` with ``/``: what ``git ls-files`` lists, tracked or
    new but not ignored, that exists on disk, outside ``exclude`` (a pack made inside the clone)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=repo,
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8")
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or str(exc).encode()
        raise LabkitError(
            f"The pack copies the kit from a git clone, and {repo} is not one, or git does not "
            f"run ({first_line(detail.decode(errors='replace'))}). Run `room pack` from a clone "
            "of the workshop repository."
        ) from None
    skip = exclude.resolve() if exclude is not None else None
    kept = []
    for name in sorted(set(filter(None, listed.split("\0")))):
        path = repo / name
        if path.is_symlink() or not path.is_file():
            continue  # deleted but still tracked, or a link
        if skip is not None and path.resolve().is_relative_to(skip):
            continue
        kept.append(name)
    return kept


def archive(repo: Path, names: list[str]) -> bytes:
    """The zip archive of ``names`` under the folder ``FOLDER/``, executables kept executable."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in names:
            path = repo / name
            info = zipfile.ZipInfo(f"{FOLDER}/{name}", date_time=_DATE)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return buffer.getvalue()


def write(repo: Path, pack: Path) -> tuple[str, int]:
    """Write the kit's archive into ``pack`` when it differs from the one there; returns its
    path relative to the pack and the number of files in it."""
    names = files(repo, exclude=pack)
    data = archive(repo, names)
    target = pack / ARCHIVE
    try:
        unchanged = target.read_bytes() == data
    except OSError:
        unchanged = False
    if not unchanged:
        write_public(target, data)
    return ARCHIVE, len(names)
