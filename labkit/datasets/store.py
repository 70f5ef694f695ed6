"""Find, verify and download dataset files.

A dataset is a folder of files with known SHA-256 checksums. The checksum is of
the file's *content* (the decompressed bytes for ``.gz`` files), so a mirror or a
Linux distribution that recompresses the same data still verifies.

Search order: an explicit ``data_dir``, the roots in ``LABKIT_DATA_DIR``
(separated by ``os.pathsep``), the repository's ``data/``, then system folders
such as Debian's ``/usr/share/datasets``. Each root may hold the dataset in a
sub-folder named after it (``ROOT/fashion-mnist/``) or the files directly.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import shutil
import socket
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from labkit.errors import DataError, first_line
from labkit.paths import default_data_dir

ENV_VAR = "LABKIT_DATA_DIR"
DOWNLOAD_TIMEOUT_S = 30


@dataclass(frozen=True)
class Dataset:
    """What a dataset is made of and where it can come from."""

    name: str
    title: str
    files: dict[str, str]  # file name -> SHA-256 of its (decompressed) content
    mirrors: tuple[str, ...]  # base URLs; a file's URL is base + "/" + file name
    required: bool = True  # needed by the labs (fetched by default, checked by main.py)
    system_dirs: tuple[Path, ...] = field(default=())


def data_roots(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The roots searched for datasets, in order (system folders excluded)."""
    roots: list[Path] = []
    if data_dir is not None:
        roots.append(Path(data_dir))
    roots += [Path(p) for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p.strip()]
    roots.append(default_data_dir())
    return [r.expanduser() for r in roots]


def candidate_dirs(dataset: Dataset, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Every folder that may hold the dataset's files, in search order."""
    dirs: list[Path] = []
    for root in data_roots(data_dir):
        dirs += [root / dataset.name, root]
    dirs += [d.expanduser() for d in dataset.system_dirs]
    return list(dict.fromkeys(dirs))  # drop repeats, keep order


def find(dataset: Dataset, data_dir: str | os.PathLike | None = None) -> Path | None:
    """The first folder holding all of the dataset's files, or None. Cheap: no hashing."""
    for folder in candidate_dirs(dataset, data_dir):
        if all((folder / name).is_file() for name in dataset.files):
            return folder
    return None


def read_content(path: Path) -> bytes:
    """The file's bytes, decompressed when it is a ``.gz``."""
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"{path} is truncated or not a valid gzip file ({exc}). Delete it and run "
            "`python -m labkit data fetch` to download it again."
        ) from None


def read_verified(path: Path, sha256: str) -> bytes:
    """The file's content, after checking it against its expected SHA-256."""
    content = read_content(path)
    actual = hashlib.sha256(content).hexdigest()
    if actual != sha256:
        raise DataError(
            f"{path} does not match its checksum (expected sha256 {sha256[:12]}..., got "
            f"{actual[:12]}...): the file is corrupt or incomplete. Delete it and run "
            "`python -m labkit data fetch` to download it again."
        )
    return content


def locate(dataset: Dataset, data_dir: str | os.PathLike | None = None) -> Path:
    """The dataset's folder; a DataError that lists where we looked when it is missing."""
    folder = find(dataset, data_dir)
    if folder is None:
        raise not_found_error(dataset, data_dir)
    return folder


def obtain(
    dataset: Dataset, data_dir: str | os.PathLike | None = None, download: bool = True
) -> Path:
    """The dataset's folder: found locally, else downloaded when ``download`` allows it."""
    folder = find(dataset, data_dir)
    if folder is not None:
        return folder
    if not download:
        raise not_found_error(dataset, data_dir)
    print(f"{dataset.title} is not on this machine yet: downloading it (once).")
    return fetch(dataset, data_dir)


def not_found_error(dataset: Dataset, data_dir: str | os.PathLike | None = None) -> DataError:
    looked = "\n".join(f"  - {d}" for d in candidate_dirs(dataset, data_dir))
    files = ", ".join(dataset.files)
    return DataError(
        f"{dataset.title} was not found. Looked in:\n{looked}\n"
        f"Fix: run `python -m labkit data fetch {dataset.name}` (needs internet), or copy "
        f"its files ({files}) into one of those folders, or point {ENV_VAR} at a folder "
        f"that holds a `{dataset.name}/` sub-folder."
    )


def verify(dataset: Dataset, data_dir: str | os.PathLike | None = None) -> Path:
    """Check every file's checksum; returns the folder, raises DataError otherwise."""
    folder = locate(dataset, data_dir)
    for name, sha256 in dataset.files.items():
        read_verified(folder / name, sha256)
    return folder


def download_target(data_dir: str | os.PathLike | None = None) -> Path:
    """Where downloads go: ``data_dir``, else the first ``LABKIT_DATA_DIR`` root, else data/."""
    return data_roots(data_dir)[0]


def fetch(dataset: Dataset, data_dir: str | os.PathLike | None = None) -> Path:
    """Make the dataset available and verified; download only what is missing or corrupt.

    A dataset already present anywhere on the search path is used where it is.
    """
    folder = find(dataset, data_dir)
    if folder is not None:
        try:
            return verify(dataset, data_dir)
        except DataError:
            if not os.access(folder, os.W_OK):
                raise  # a read-only copy (a system folder): fetch a good one into ours
    target = download_target(data_dir) / dataset.name
    created = not target.exists()
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"Cannot create {target} ({exc.strerror}). Choose a writable folder "
            f"with --data-dir or {ENV_VAR}."
        ) from None
    try:
        for name, sha256 in dataset.files.items():
            path = target / name
            if path.is_file():
                try:
                    read_verified(path, sha256)
                    continue
                except DataError:
                    path.unlink()  # corrupt: replace it
            download_file(dataset, name, path)
    except DataError:
        if created and not any(target.iterdir()):
            target.rmdir()  # leave no empty folder that looks like a dataset
        raise
    return target


def download_file(dataset: Dataset, name: str, dest: Path) -> None:
    """Download one file from the first mirror that works, verified before it is moved in place."""
    errors = []
    for base in dataset.mirrors:
        url = f"{base.rstrip('/')}/{name}"
        try:
            _download_verified(url, dataset.files[name], dest)
            return
        except DataError as exc:
            errors.append(f"  - {url}: {exc}")
    tried = "\n".join(errors)
    raise DataError(
        f"Could not download {name} for {dataset.title}:\n{tried}\n"
        "Check your internet connection (or proxy) and run `python -m labkit data fetch "
        f"{dataset.name}` again. In a room without internet, ask the instructor for the "
        f"files and point {ENV_VAR} at the folder that holds them."
    )


def _download_verified(url: str, sha256: str, dest: Path) -> None:
    """Download into a staging folder beside ``dest``; move into place only once verified."""
    try:
        from keras.utils import get_file  # Keras' downloader: progress bar, retries on cache
    except ImportError:
        raise DataError(
            "Keras is not installed, so nothing can be downloaded. Run the setup script "
            "(`bash Scripts/environment.sh`, or `Scripts\\environment.bat` on Windows)."
        ) from None
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=dest.parent))
    try:
        try:
            with _socket_timeout(DOWNLOAD_TIMEOUT_S):
                tmp = Path(
                    get_file(
                        fname=dest.name,
                        origin=url,
                        cache_dir=str(staging),
                        cache_subdir=str(staging),
                    )
                )
        except Exception as exc:  # noqa: BLE001 - get_file raises bare Exception on URL errors
            raise DataError(first_line(exc)) from None
        read_verified(tmp, sha256)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """A bad network should fail in seconds, not hang the setup script."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)
