"""The readiness reports attendees send (``python main.py --send URL``): checked, stored one per
attendee, read back, and summed up in one row each.

A report is stored as ``<slug>-<hash>.json`` in the reports folder, where the hash is of the
attendee's name (case and spacing aside) and the slug its letters and digits: whatever name is
sent, the file stays in that folder, and the same attendee sending again replaces their report.
Files are written atomically (a restart, or a reader, never sees half a report); nothing is kept
in memory, so a restarted server shows every report it had.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.files import write_atomic

MAX_BODY = 256 * 1024  # main.py --json writes about 5 KB
MAX_NAME = 64
MAX_REPORTS = 1000  # a room; a bound on what strangers on the network can fill the disk with
NAME_PUNCTUATION = " .-_'@+()"


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
    key = name.casefold()
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    ascii_name = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:32] or "attendee"
    return f"{slug}-{digest}.json"


def parse(body: bytes) -> tuple[str, dict[str, Any]]:
    """(name, report) from a posted body ``{"name": ..., "report": <main.py --json>}``."""
    if len(body) > MAX_BODY:
        raise Refused(413, f"the body has {len(body)} bytes; a report has at most {MAX_BODY}")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(400, f"the body is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or "name" not in data or "report" not in data:
        raise Refused(400, 'the body must be {"name": "...", "report": <python main.py --json>}')
    name = clean_name(data["name"])
    report = data["report"]
    valid = (
        isinstance(report, dict)
        and isinstance(report.get("ok"), bool)
        and isinstance(report.get("diagnosis"), list)
        and all(isinstance(f, dict) for f in report["diagnosis"])
    )
    if not valid:
        raise Refused(400, "'report' is not the output of `python main.py --json`")
    return name, report


def store(folder: Path, name: str, report: dict[str, Any], address: str = "") -> Path:
    """Store (or replace) the attendee's report, atomically; Refused when the folder already
    holds ``MAX_REPORTS`` other attendees."""
    path = folder / file_name(name)
    if not path.exists() and sum(1 for _ in folder.glob("*.json")) >= MAX_REPORTS:
        raise Refused(507, f"the server already holds {MAX_REPORTS} reports")
    record = {"name": name, "received": time.time(), "address": address, "report": report}
    return write_atomic(path, json.dumps(record, indent=1))


def load_all(folder: Path) -> list[dict[str, Any]]:
    """Every stored report (name, received, address, report); unreadable files are skipped."""
    records = []
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            clean_name(record["name"])
            if not isinstance(record.get("report"), dict):
                continue
        except (OSError, ValueError, KeyError, TypeError, Refused):
            continue
        records.append(record)
    return records


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


def rows(folder: Path) -> list[Row]:
    """Every attendee, problems first (NOT READY, then READY with warnings), then by name."""
    summaries = [summarize(r) for r in load_all(folder)]
    return sorted(summaries, key=lambda row: (row.rank, row.name.casefold()))
