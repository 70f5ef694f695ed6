"""Find, verify, copy and download dataset files.

A dataset is a folder of files with known SHA-256 checksums. The checksum is of the file's
*content* (the decompressed bytes of a ``.gz``), so a mirror or a Linux distribution that
recompresses the same data still verifies. Files are read in 1 MiB pieces and no file may hold
more than ``Dataset.max_bytes``: hashing takes constant memory, even for a gzip bomb.

Search order: an explicit ``data_dir``; the repository's ``data/``, where ``fetch`` puts every
dataset so that any shell or Jupyter kernel finds it with no setting; the roots in
``LABKIT_DATA_DIR`` (separated by ``os.pathsep``); then system folders such as Debian's
``/usr/share/datasets/fashion-mnist``. Each root may hold the dataset in a sub-folder named after
it (``ROOT/atis/``) or the files directly.

``fetch`` makes a verified copy in ``data/`` (or an explicit ``data_dir``): each file missing or
corrupt there is copied from another folder that holds a verified copy, else downloaded. A file
is written under a temporary name beside its destination and renamed into place only once it is
verified; an error or an interruption (Ctrl-C, or SIGTERM, which the CLI turns into one) removes
the temporary file and every folder the call created that is still empty. One that a killed
process left (SIGKILL, a power cut) is removed by the next ``fetch`` of that dataset: its name
carries the process id that wrote it, and it is stale once that process is gone (or, where that
cannot be told, once nothing has written to it for ``STALE_PART_S``).
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import hashlib
import os
import re
import secrets
import shutil
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

from labkit import settings
from labkit.datasets.download import Limits, download
from labkit.errors import DataError, first_line
from labkit.paths import FETCH_CMD, default_data_dir, is_url

READ_CHUNK = 1 << 20
STALE_PART_S = 3600.0  # a staging file untouched this long is a leftover, whoever wrote it

PathLike: TypeAlias = "str | os.PathLike[str]"
Say = Callable[[str], None]


@dataclass(frozen=True)
class Dataset:
    """What a dataset is made of and where it can come from."""

    name: str
    title: str
    files: dict[str, str]  # file name -> SHA-256 of its (decompressed) content
    mirrors: tuple[str, ...]  # base URLs; a file's URL is base + "/" + file name
    required: bool = True  # needed by the labs (fetched by default, checked by main.py)
    system_dirs: tuple[Path, ...] = field(default=())
    max_bytes: int = 100_000_000  # no file may be larger, compressed or not


# ---------------------------------------------------------------------------- searching


def env_roots() -> list[Path]:
    """The folders named in ``LABKIT_DATA_DIR``."""
    value = settings.DATA_DIR.text()
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


def labelled_dirs(dataset: Dataset, data_dir: PathLike | None = None) -> list[tuple[Path, str]]:
    """Every folder that may hold the dataset's files, in search order, each with the reason
    it is searched: "data_dir", "repository", ``LABKIT_DATA_DIR`` or "system"."""
    roots: list[tuple[Path, str]] = []
    if data_dir is not None:
        roots.append((Path(data_dir).expanduser(), "data_dir"))
    roots.append((default_data_dir(), "repository"))
    roots += [(root, settings.DATA_DIR.name) for root in env_roots()]
    dirs = [(folder, why) for root, why in roots for folder in (root / dataset.name, root)]
    dirs += [(folder.expanduser(), "system") for folder in dataset.system_dirs]
    first: dict[Path, str] = {}
    for folder, why in dirs:
        first.setdefault(folder, why)  # a folder reached twice keeps its first place
    return list(first.items())


def candidate_dirs(dataset: Dataset, data_dir: PathLike | None = None) -> list[Path]:
    """Every folder that may hold the dataset's files, in search order."""
    return [folder for folder, _ in labelled_dirs(dataset, data_dir)]


def holds_all(dataset: Dataset, folder: Path) -> bool:
    """True when every file of the dataset is in ``folder`` (existence only)."""
    return all((folder / name).is_file() for name in dataset.files)


def find(dataset: Dataset, data_dir: PathLike | None = None) -> Path | None:
    """The first folder holding all of the dataset's files, or None. Cheap: no hashing."""
    return next((d for d in candidate_dirs(dataset, data_dir) if holds_all(dataset, d)), None)


def origin(dataset: Dataset, folder: Path, data_dir: PathLike | None = None) -> str:
    """Why labkit looks in ``folder``: "data_dir", "repository", ``LABKIT_DATA_DIR`` or "system"."""
    return dict(labelled_dirs(dataset, data_dir)).get(folder, "data_dir")


def download_target(dataset: Dataset, data_dir: PathLike | None = None) -> Path:
    """Where ``fetch`` puts the dataset: ``DATA_DIR/<name>``, else the repository's data/."""
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    return root / dataset.name


def fetch_command(dataset: Dataset, data_dir: PathLike | None = None) -> str:
    """The command that fetches ``dataset`` where labkit would look for it (with ``data_dir``)."""
    where = f" --data-dir {data_dir}" if data_dir is not None else ""
    return f"{FETCH_CMD} {dataset.name}{where}"


def not_found_error(dataset: Dataset, data_dir: PathLike | None = None) -> DataError:
    looked = []
    for folder in candidate_dirs(dataset, data_dir):
        present = sum((folder / name).is_file() for name in dataset.files)
        partial = f"  (only {present} of its {len(dataset.files)} files)" if present else ""
        looked.append(f"  - {folder}{partial}")
    command = fetch_command(dataset, data_dir)
    found_from = (
        "which is found from any shell or notebook (setting "
        f"{settings.DATA_DIR.name} to FOLDER also works, but only where the variable is set)"
        if data_dir is None
        else f"found whenever {data_dir} is given as the data folder"
    )
    return DataError(
        f"{dataset.title} was not found. Looked in:\n" + "\n".join(looked) + "\n"
        f"Fix: run `{command}` (it needs internet), or, with a copy on a USB "
        f"stick or a share, `{command} --from FOLDER`; both put a verified "
        f"copy in {download_target(dataset, data_dir)}, {found_from}."
    )


def locate(dataset: Dataset, data_dir: PathLike | None = None) -> Path:
    """The dataset's folder; a DataError that lists where we looked when it is missing."""
    folder = find(dataset, data_dir)
    if folder is None:
        raise not_found_error(dataset, data_dir)
    return folder


# ---------------------------------------------------------------------------- verifying


class BadFile(DataError):
    """A dataset file that cannot be used as it is: ``problem`` says why (one sentence, for
    reports and lists), the message adds what to do about it."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}. {fix}")
        self.problem = problem


def _content_chunks(path: Path, max_bytes: int, gzipped: bool) -> Iterator[bytes]:
    """The file's content (decompressed when ``gzipped``) in pieces of at most 1 MiB."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise BadFile(
            f"Cannot read {path} ({exc.strerror or first_line(exc)})",
            f"Fix its permissions (e.g. chmod u+r), or delete it and run `{FETCH_CMD}`.",
        ) from None
    with raw:
        stream = gzip.GzipFile(fileobj=raw) if gzipped else raw
        total = 0
        while True:
            try:
                chunk = stream.read(READ_CHUNK)
            except (OSError, EOFError, zlib.error) as exc:
                raise BadFile(
                    f"{path} is truncated or not a valid gzip file ({first_line(exc)})",
                    f"Run `{FETCH_CMD}` to replace it with a verified copy.",
                ) from None
            if not chunk:
                return
            total += len(chunk)
            if total > max_bytes:
                raise BadFile(
                    f"{path} holds more than {max_bytes / 1e6:.0f} MB, far more than the "
                    "dataset's file: it is not the right file",
                    f"Run `{FETCH_CMD}` to replace it.",
                )
            yield chunk


def content_sha256(path: Path, max_bytes: int, gzipped: bool | None = None) -> str:
    """SHA-256 of the file's content (decompressed when ``gzipped``, by default when its name
    ends in ``.gz``), read in constant memory."""
    digest = hashlib.sha256()
    gzipped = path.suffix == ".gz" if gzipped is None else gzipped
    for chunk in _content_chunks(path, max_bytes, gzipped):
        digest.update(chunk)
    return digest.hexdigest()


def _mismatch(
    dataset: Dataset, path: Path, expected: str, actual: str, data_dir: PathLike | None = None
) -> BadFile:
    return BadFile(
        f"{path} is corrupt or incomplete: its content does not match the checksum labkit "
        f"expects (sha256 {expected[:12]}..., got {actual[:12]}...)",
        f"Run `{fetch_command(dataset, data_dir)}`: it puts a verified copy in "
        f"{download_target(dataset, data_dir)}, where labkit looks first (it needs internet, "
        "or `--from FOLDER` with a good copy).",
    )


def check_file(dataset: Dataset, folder: Path, name: str, data_dir: PathLike | None = None) -> None:
    """Raise DataError unless ``folder/name`` has the content the dataset expects (the advice
    names ``data_dir``, where the caller looks first)."""
    path = folder / name
    actual = content_sha256(path, dataset.max_bytes)
    if actual != dataset.files[name]:
        raise _mismatch(dataset, path, dataset.files[name], actual, data_dir)


def read_file(dataset: Dataset, folder: Path, name: str) -> bytes:
    """The content of ``folder/name`` (decompressed for ``.gz``), after checking its checksum."""
    path = folder / name
    content = b"".join(_content_chunks(path, dataset.max_bytes, path.suffix == ".gz"))
    actual = hashlib.sha256(content).hexdigest()
    if actual != dataset.files[name]:
        raise _mismatch(dataset, path, dataset.files[name], actual)
    return content


def verify(dataset: Dataset, data_dir: PathLike | None = None) -> Path:
    """Check every file's checksum; returns the folder, raises DataError otherwise."""
    folder = locate(dataset, data_dir)
    for name in dataset.files:
        check_file(dataset, folder, name, data_dir)
    return folder


def holds_verified(dataset: Dataset, folder: Path) -> bool:
    """True when ``folder`` holds every file of the dataset with the right content."""
    if not holds_all(dataset, folder):
        return False
    try:
        for name in dataset.files:
            check_file(dataset, folder, name)
    except DataError:
        return False
    return True


# ---------------------------------------------------------------------------- fetching


def obtain(dataset: Dataset, data_dir: PathLike | None = None, download: bool = True) -> Path:
    """The dataset's folder: found locally, else fetched when ``download`` allows it."""
    folder = find(dataset, data_dir)
    if folder is not None:
        return folder
    if not download:
        raise not_found_error(dataset, data_dir)
    print(f"{dataset.title} is not on this machine yet: fetching it (once).")
    return fetch(dataset, data_dir)


def fetch(
    dataset: Dataset,
    data_dir: PathLike | None = None,
    sources: Sequence[PathLike] = (),
    limits: Limits | None = None,
    say: Say = print,
) -> Path:
    """Make a verified copy of the dataset in ``download_target``; returns its folder.

    A file already verified there is kept. Any other is copied from the first folder that
    holds a verified copy (the folders of ``sources``, then the search path:
    ``LABKIT_DATA_DIR``, system folders), else downloaded: from the URLs of ``sources`` (the
    room's server: ``URL/<name>/<file>``), then from the dataset's mirrors. Exception: with no
    ``data_dir``, a verified copy in a system folder (``/usr/share/datasets``) is used where it
    is when ``data/`` holds none of the dataset's files: it is found from anywhere with no
    setting, and copying it would only duplicate it. ``say`` receives one line per file copied
    or downloaded.
    """
    target = download_target(dataset, data_dir)
    here = [target] if data_dir is None else [target, target.parent]
    for folder in here:
        if holds_verified(dataset, folder):
            return folder
    if data_dir is None and not any((target / n).exists() for n in dataset.files):
        for folder in dataset.system_dirs:
            if holds_verified(dataset, folder.expanduser()):
                return folder.expanduser()
    origins = [Path(s).expanduser() for s in sources if not is_url(str(s))]
    source_dirs = [d for root in origins for d in (root / dataset.name, root)]
    source_dirs += candidate_dirs(dataset, data_dir)
    # A URL source (the room's server) is tried before the dataset's own mirrors.
    urls = [f"{str(s).rstrip('/')}/{dataset.name}" for s in sources if is_url(str(s))]
    mirrors = (*urls, *dataset.mirrors)
    sources_dirs = [d for d in source_dirs if d != target]
    return _fill(
        dataset, target, sources_dirs, limits, say, mirrors, fetch_command(dataset, data_dir)
    )


def _fill(
    dataset: Dataset,
    target: Path,
    source_dirs: list[Path],
    limits: Limits | None,
    say: Say,
    mirrors: tuple[str, ...],
    command: str,
) -> Path:
    """Bring every file of ``target`` to its verified content; see ``fetch``."""
    created = _make_folder(target)
    _remove_stale_parts(dataset, target)
    try:
        for name in dataset.files:
            if (target / name).is_file():
                try:
                    check_file(dataset, target, name)
                    continue
                except DataError:
                    say(f"  {name}: the copy in {target} is corrupt or unreadable; replacing it")
            if not _copy_verified(dataset, name, source_dirs, target, say):
                _download_verified(dataset, name, target, limits, say, mirrors, command)
    except OSError as exc:
        _remove_if_empty(created)
        raise _unwritable(target, exc) from None
    except BaseException:  # Ctrl-C and SIGTERM included: leave no empty folder behind
        _remove_if_empty(created)
        raise
    return target


def _copy_verified(
    dataset: Dataset, name: str, source_dirs: list[Path], target: Path, say: Say
) -> bool:
    """Copy ``name`` from the first source folder whose copy verifies; False when none does."""
    for folder in source_dirs:
        source = folder / name
        if not source.is_file():
            continue
        try:
            with source.open("rb"):
                size = source.stat().st_size
        except OSError as exc:
            say(f"  {name}: cannot read {source} ({exc.strerror}); looking elsewhere")
            continue
        if size > dataset.max_bytes:
            say(f"  {name}: {source} is too large to be the right file; looking elsewhere")
            continue
        with _staging_file(target, name) as staged:
            shutil.copyfile(source, staged)
            try:
                actual = _staged_sha256(dataset, staged, name)
            except DataError as exc:
                actual = first_line(exc)
            if actual != dataset.files[name]:
                say(f"  {name}: the copy in {folder} is corrupt; looking elsewhere")
                continue
            os.replace(staged, target / name)
        say(f"  {name}: copied from {folder}")
        return True
    return False


def _download_verified(
    dataset: Dataset,
    name: str,
    target: Path,
    limits: Limits | None,
    say: Say,
    mirrors: tuple[str, ...],
    command: str,
) -> None:
    """Download ``name`` from the first of ``mirrors`` that serves the right content."""
    errors = []
    for base in mirrors:
        url = f"{base.rstrip('/')}/{name}"
        say(f"  {name}: downloading {url}")
        with _staging_file(target, name) as staged:
            try:
                with staged.open("wb") as out:
                    download(url, out, dataset.max_bytes, limits)
                actual = _staged_sha256(dataset, staged, name)
            except DataError as exc:
                errors.append(f"  - {url}: {first_line(exc)}")
                continue
            if actual != dataset.files[name]:
                errors.append(
                    f"  - {url}: the file does not match its checksum (got {actual[:12]}...)"
                )
                continue
            os.replace(staged, target / name)
        return
    tried = "\n".join(errors)
    raise DataError(
        f"Could not download {name} for {dataset.title}:\n{tried}\n"
        "Check your internet connection (behind a proxy: set HTTPS_PROXY) and run "
        f"`{command}` again. In a room without internet, get the files from "
        f"the instructor (USB stick or share) and run `{command} --from FOLDER`."
    )


def _staged_sha256(dataset: Dataset, staged: Path, name: str) -> str:
    """The checksum of the file staged for ``name``, read as ``name`` would be (gzip or not)."""
    try:
        return content_sha256(staged, dataset.max_bytes, name.endswith(".gz"))
    except BadFile as exc:  # the problem, without the advice meant for a file in place
        raise DataError(exc.problem.replace(str(staged), "the file")) from None


@contextlib.contextmanager
def _staging_file(target: Path, name: str) -> Iterator[Path]:
    """A new hidden file in ``target`` for ``name``, removed on exit unless renamed into place.

    Created with ``open(mode="x")``, not ``tempfile.mkstemp``, so that it gets the usual
    permissions (the umask's) rather than owner-only ones once it is the dataset's file.
    """
    staged = target / f".{name}.{os.getpid()}-{secrets.token_hex(4)}.part"
    staged.open("xb").close()
    try:
        yield staged
    finally:
        staged.unlink(missing_ok=True)


_PART_PID = re.compile(r"\.(\d+)-[0-9a-f]{8}\.part$")


def _remove_stale_parts(dataset: Dataset, target: Path) -> None:
    """Remove the staging files of ``dataset`` in ``target`` that no running fetch writes."""
    for name in dataset.files:
        for part in target.glob(f".{glob.escape(name)}.*.part"):
            with contextlib.suppress(OSError):  # gone already, or not ours to remove
                if _is_stale(part):
                    part.unlink()


def _is_stale(part: Path) -> bool:
    """True when the process that wrote ``part`` is gone (by its pid, on POSIX, where the pid is
    this machine's: the staging file is beside its dataset, on a local disk as a rule), or when
    nothing has written to it for STALE_PART_S."""
    if time.time() - part.stat().st_mtime > STALE_PART_S:
        return True
    match = _PART_PID.search(part.name)
    if match is None or sys.platform == "win32":
        return match is None  # the older name, without a pid: from an earlier labkit
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):  # alive but another user's, or not a pid
        return False
    return False


def _make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the folders created, outermost first."""
    missing = [p for p in [folder, *folder.parents] if not p.exists()][::-1]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(folder, exc) from None
    return missing


def _remove_if_empty(folders: list[Path]) -> None:
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            return


def _unwritable(folder: Path, exc: OSError) -> DataError:
    return DataError(
        f"Cannot write into {folder} ({exc.strerror or first_line(exc)}). Make it writable "
        "(or delete it), or put the datasets in another folder: `--data-dir FOLDER` on the "
        "command line, `data_dir=FOLDER` in Python."
    )
