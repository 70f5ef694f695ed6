"""The readiness reports attendees send (``python main.py --send URL``): checked, stored one per
attendee, read back, and summed up in one row each.

A report is stored as ``<slug>-<hash>.json`` in the reports folder, where the hash is of the
attendee's name (case and spacing aside) and the slug its letters and digits: whatever name is
sent, the file stays in that folder. A name belongs to the kit that first sent it: the record
keeps the SHA-256 of that kit's key (``main.py --send`` keeps the key in the clone), and a report
under that name with another key is refused until the instructor releases the name
(``room forget``). Every post and every stored file is checked against the declared schema
(``labkit.room.schema``); a stored file that fails (cut short, edited, from an older kit) is
moved to ``set-aside/`` and counted, never shown. Files are written atomically (a restart, or a
reader, never sees half a report); nothing is kept in memory but a cache of checked files, so a
restarted server shows every report it had.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import stat
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.files import write_atomic
from labkit.room import schema
from labkit.room.schema import MAX_NAME

MAX_BODY = 256 * 1024  # main.py --json writes about 5 KB
MAX_REPORTS = 1000  # a room; a bound on what strangers on the network can fill the disk with
NAMES_PER_ADDRESS = 20  # new names one address may claim (a NAT'ed room: --names-per-address)
NAME_PUNCTUATION = " .-_'@+()"
SET_ASIDE = "set-aside"


class Refused(Exception):
    """A report the server does not store; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def clean_name(name: object) -> str:
    """The attendee's name, normalised (NFC, no spaces around, single spaces within); Refused
    unless it is 1-64 letters, digits, spaces and ``.-_'@+()``, one letter or digit at least."""
    if not isinstance(name, str):
        raise Refused(400, "'name' must be a string: your name, or your computer's")
    name = unicodedata.normalize("NFC", name).strip()
    name = re.sub(" +", " ", name)
    allowed = all(ch.isalnum() or ch in NAME_PUNCTUATION for ch in name)  # no control character
    if not (0 < len(name) <= MAX_NAME) or not allowed or not any(ch.isalnum() for ch in name):
        raise Refused(
            400,
            f"the name {name[:80]!r} is not accepted: use 1 to {MAX_NAME} letters, digits, "
            f'spaces and {NAME_PUNCTUATION.strip()} (e.g. --name "Ada Lovelace")',
        )
    return name


def file_name(name: str) -> str:
    """The report file of an attendee: never a path, the same for "Ada" and " ada "."""
    key = " ".join(name.split()).casefold()
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    ascii_name = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:32] or "attendee"
    return f"{slug}-{digest}.json"


def kit_digest(kit: str) -> str:
    """What the server keeps of a kit's key: its SHA-256, never the key."""
    return hashlib.sha256(kit.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Post:
    """A posted report, checked: the attendee's name, their kit's key, the report."""

    name: str
    kit: str
    report: dict[str, Any]


def parse(body: bytes) -> Post:
    """The report in a posted body ``{"name": ..., "kit": ..., "report": <main.py --json>}``;
    Refused (400) unless it matches the schema, 413 when it is over ``MAX_BODY``."""
    if len(body) > MAX_BODY:
        raise Refused(413, f"the body has {len(body)} bytes; a report has at most {MAX_BODY}")
    try:
        data = json.loads(body)
    except RecursionError:
        raise Refused(400, "the body is not accepted: it is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(400, f"the body is not valid JSON ({exc})") from None
    wrong = schema.problem(data)
    if wrong is not None:
        raise Refused(400, f"the body is not a report of `python main.py --send`: {wrong}")
    return Post(clean_name(data["name"]), data["kit"], data["report"])


def store(
    folder: Path, post: Post, address: str = "", names_per_address: int = NAMES_PER_ADDRESS
) -> Path:
    """Store (or replace) the attendee's report, atomically. Refused (409) when the name
    belongs to another kit; for a new name, 507 when the room holds ``MAX_REPORTS`` names and
    429 when ``address`` has claimed ``names_per_address`` of them. A known name can always
    report again."""
    path = folder / file_name(post.name)
    digest = kit_digest(post.kit)
    known = _checked_record(path)
    if known is not None and not hmac.compare_digest(known["kit_sha256"], digest):
        raise Refused(
            409,
            f"the name {known['name']!r} belongs to another computer: send again with "
            f'another name (--name "{post.name} 2"), or ask the instructor to release it '
            f"(room forget)",
        )
    if known is None:  # a new name: the room's limits
        records = _records(folder)
        if len(records) >= MAX_REPORTS:
            raise Refused(507, f"the room is full ({MAX_REPORTS} names): tell the instructor")
        if sum(r["address"] == address for r in records.values()) >= max(names_per_address, 0):
            raise Refused(
                429,
                f"{address} has already sent reports under {names_per_address} names: send "
                "again under one of them, or ask the instructor",
            )
    record = {
        "name": post.name,
        "received": time.time(),
        "address": address,
        "kit_sha256": digest,
        "report": post.report,
    }
    write_atomic(path, json.dumps(record, indent=1))
    st = path.lstat()
    _checked[str(path)] = ((st.st_mtime_ns, st.st_size, st.st_ino), record)
    return path


# (mtime, size, inode) and the checked record of each file the loader has read.
_checked: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}


def _read(path: Path, st: os.stat_result) -> dict[str, Any] | None:
    """The record in ``path`` when it is a regular file that matches the schema, else None."""
    if not stat.S_ISREG(st.st_mode) or st.st_size > 4 * MAX_BODY:
        return None
    try:
        record = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    if schema.problem(record, record=True) is not None:
        return None
    try:
        name = clean_name(record["name"])
    except Refused:
        return None
    return record if file_name(name) == path.name else None


def _checked_record(path: Path) -> dict[str, Any] | None:
    """The valid record in ``path`` (from the cache while the file is unchanged); None when
    there is none; an unreadable file is set aside."""
    try:
        st = path.lstat()
    except OSError:
        return None
    key = (st.st_mtime_ns, st.st_size, st.st_ino)
    cached = _checked.get(str(path))
    if cached and cached[0] == key:
        return cached[1]
    record = _read(path, st)
    if record is None:
        _set_aside(path)
        _checked.pop(str(path), None)
        return None
    _checked[str(path)] = (key, record)
    return record


def _set_aside(path: Path) -> None:
    """Move an unreadable report out of the way, keeping it for the instructor to look at."""
    aside = path.parent / SET_ASIDE
    try:
        aside.mkdir(exist_ok=True)
        os.replace(path, aside / f"{path.stem}-{time.time_ns()}{path.suffix}")
    except OSError:
        pass  # counted below, as still there


def _records(folder: Path) -> dict[str, dict[str, Any]]:
    """{file name: record} of the folder's reports, from the cache when it knows every file
    there (the server stores each report it takes in it): no file is read or checked again."""
    with os.scandir(folder) as entries:
        names = {e.name for e in entries if e.name.endswith(".json")}
    inside = str(folder / "x")[:-1]
    known = {
        path[len(inside) :]: record
        for path, (_, record) in _checked.items()
        if path.startswith(inside) and path[len(inside) :] in names
    }
    return known if len(known) == len(names) else load(folder)[0]


def load(folder: Path) -> tuple[dict[str, dict[str, Any]], int]:
    """({file name: record} of every valid stored report, how many files are set aside)."""
    records: dict[str, dict[str, Any]] = {}
    stuck = 0
    with os.scandir(folder) as entries:
        names = sorted(e.name for e in entries if e.name.endswith(".json"))
    for name in names:
        record = _checked_record(folder / name)
        if record is not None:
            records[name] = record
        elif (folder / name).exists():
            stuck += 1  # could not be moved aside
    inside = str(folder / "x")[:-1]
    for gone in [p for p in _checked if p.startswith(inside) and p[len(inside) :] not in records]:
        del _checked[gone]  # released, cleared or set aside
    aside = folder / SET_ASIDE
    stuck += sum(1 for _ in os.scandir(aside)) if aside.is_dir() else 0
    return records, stuck


def forget(folder: Path, names: list[str]) -> list[str]:
    """Release each of ``names`` (case and spacing aside): its report is deleted; the names
    that had one."""
    released = []
    records, _ = load(folder)
    for name in names:
        record = records.get(file_name(name))
        if record is not None:
            (folder / file_name(name)).unlink(missing_ok=True)
            released.append(record["name"])
    return released


def clear(folder: Path) -> int:
    """Delete every report, and those set aside: the room starts afresh. How many."""
    paths = [*folder.glob("*.json")]
    if (folder / SET_ASIDE).is_dir():
        paths += (folder / SET_ASIDE).iterdir()
    for path in paths:
        path.unlink(missing_ok=True)
    return len(paths)


@dataclass(frozen=True)
class Row:
    """One attendee on the readiness page."""

    name: str
    ready: bool
    os: str
    python: str
    tensorflow: str
    gpu: str
    problems: list[dict[str, str]]  # FAIL, then WARN: level, message, fix
    received: float

    @property
    def rank(self) -> int:
        """0: NOT READY, 1: READY with warnings, 2: READY."""
        return 2 if self.ready and not self.problems else int(self.ready)


def _text(value: Any, limit: int = 200) -> str:
    return str(value)[:limit] if value not in (None, "") else "unknown"


def _gpu(report: dict[str, Any]) -> str:
    """The GPUs TensorFlow uses, else those the driver sees (unused), else none."""
    devices = (report.get("tensorflow") or {}).get("devices") or []
    used = [
        d.get("gpu_name") or d.get("name")
        for d in devices
        if isinstance(d, dict) and d.get("type") == "GPU"
    ]
    if used:
        return ", ".join(map(str, used))
    seen = (report.get("driver") or {}).get("gpus") or []
    names = [g.get("name") for g in seen if isinstance(g, dict) and g.get("name")]
    return f"{', '.join(map(str, names))} (not used by TensorFlow)" if names else "none (CPU)"


def summarize(record: dict[str, Any]) -> Row:
    """The page's row for one stored report; missing fields read "unknown" (main.py's early
    exits, e.g. a Python too old, send little more than the diagnosis)."""
    report = record["report"]
    versions = report.get("versions") or {}
    system = report.get("system") or {}
    tensorflow = _text(versions.get("tensorflow"))
    distributions = versions.get("tensorflow_distributions") or {}
    if isinstance(distributions, dict) and distributions and tensorflow != "unknown":
        tensorflow += f" ({', '.join(map(str, distributions))})"
    os_text = _text(system.get("os"))
    if system.get("machine"):
        os_text += f" [{system['machine']}]"
    problems = [
        {
            "level": str(f.get("level")),
            "message": _text(f.get("message"), 500),
            "fix": str(f.get("fix") or "")[:1000],
        }
        for level in ("FAIL", "WARN")
        for f in report["diagnosis"]
        if f.get("level") == level
    ]
    return Row(
        name=record["name"],
        ready=bool(report.get("ok")),
        os=os_text,
        python=_text(versions.get("python")),
        tensorflow=tensorflow,
        gpu=_gpu(report),
        problems=problems,
        received=float(record.get("received") or 0),
    )


@dataclass(frozen=True)
class Board:
    """What the page shows: a row per attendee, and how many stored files were set aside."""

    rows: list[Row]
    set_aside: int = 0


def board(folder: Path) -> Board:
    """Every attendee, problems first (NOT READY, then READY with warnings), then by name."""
    records, set_aside = load(folder)
    summaries = [summarize(r) for r in records.values()]
    return Board(sorted(summaries, key=lambda row: (row.rank, row.name.casefold())), set_aside)
