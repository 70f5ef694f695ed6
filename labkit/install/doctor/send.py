"""``main.py --send URL``: post the report to the instructor's server (``python -m labkit room
serve``), under the attendee's name or the computer's, with this kit's key (the name belongs to
the kit that first sent it). Standard library only, bounded in time, and it never raises: every
failure is an ``Outcome`` whose message is one line.

The key is kept in the clone, in ``.labkit-room-key`` (git-ignored, so never in a commit or in
the kit's archive that ``room pack`` makes); main.py's own early sender (a Python too old for
labkit) uses the same file."""

from __future__ import annotations

import http.client
import json
import os
import platform
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from labkit.paths import REPO_ROOT

TIMEOUT_S = 15.0
KEY_FILE = ".labkit-room-key"
MAX_ANSWER = 64 * 1024


class SendError(Exception):
    """The report did not reach the server; the message says why, in one line."""


@dataclass(frozen=True)
class Outcome:
    """What became of a send: ``sent``, and one line that says so (or why not)."""

    sent: bool
    message: str
    url: str
    name: str
    status: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_name() -> str:
    """This computer's name, which the server shows when the attendee gives none."""
    return platform.node().split(".")[0] or "unnamed computer"


def one_line(text: object, limit: int = 300) -> str:
    """``text`` as one printable line (a server's words reach the attendee's terminal)."""
    printable = "".join(ch if ch.isprintable() else " " for ch in str(text))
    line = " ".join(printable.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def kit_key(root: Path = REPO_ROOT) -> str:
    """This kit's key, made (random) at its first send and kept in ``root/.labkit-room-key``."""
    path = root / KEY_FILE
    try:
        key = path.read_text(encoding="ascii").strip()
        if 16 <= len(key) <= 128 and all(ch.isalnum() or ch in "-_" for ch in key):
            return key
    except (OSError, ValueError):
        pass
    key = secrets.token_urlsafe(24)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key + "\n")
    except OSError as exc:
        raise SendError(
            f"cannot keep this kit's key in {path} ({exc.strerror}): run main.py from a "
            "folder you can write to (your clone of the workshop)"
        ) from None
    return key


def report_url(url: str) -> str:
    """``URL/report``, once ``url`` is checked: an http(s) address with a host, no space."""
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise SendError(
            f"the address {one_line(url, 80)!r} holds a space or a line break: copy the "
            "address the instructor gives exactly"
        )
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError as exc:
        raise SendError(f"{one_line(url, 80)!r} is not a valid address ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SendError(
            f"{one_line(url, 80)!r} is not an http:// address (the instructor gives it: "
            "http://HOST:PORT/CODE)"
        )
    return f"{url.rstrip('/')}/report"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a place to post the report to."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# Straight to the room's server: no proxy of the environment (it is on the room's network).
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _error_reason(exc: urllib.error.HTTPError) -> str:
    try:
        answer = json.loads(exc.read(MAX_ANSWER))
        reason = answer["error"] if isinstance(answer, dict) and "error" in answer else exc.reason
    except Exception:  # noqa: BLE001 (any answer at all: this is only the reason's wording)
        reason = exc.reason
    if 300 <= exc.code < 400:
        reason = f"a redirect to {exc.headers.get('Location', '?')}"
    return one_line(reason, 300)


def post(url: str, name: str, report: dict[str, Any], key: str) -> tuple[int, str]:
    """Post the report; (HTTP status, the name it is stored under). SendError otherwise."""
    target = report_url(url)
    body = json.dumps({"name": name, "kit": key, "report": report}).encode("utf-8")
    request = urllib.request.Request(
        target, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with _OPENER.open(request, timeout=TIMEOUT_S) as response:
            status, raw = response.status, response.read(MAX_ANSWER)
    except urllib.error.HTTPError as exc:
        raise SendError(f"the server refused it: HTTP {exc.code}, {_error_reason(exc)}") from None
    except urllib.error.URLError as exc:
        raise SendError(f"cannot reach {url} ({one_line(exc.reason, 200)})") from None
    except http.client.HTTPException as exc:
        detail = one_line(f"{type(exc).__name__}: {exc}", 120)
        raise SendError(f"{url} did not answer as the room's server does ({detail})") from None
    except (OSError, ValueError) as exc:
        raise SendError(f"cannot reach {url} ({one_line(exc, 200)})") from None
    try:
        answer = json.loads(raw)
        stored = answer["stored"] if isinstance(answer, dict) else None
    except (ValueError, KeyError):
        stored = None
    if status != 201 or not isinstance(stored, str):
        raise SendError(
            f"{url} answered HTTP {status} {one_line(raw[:60], 60)!r}, not as the room's "
            "server does: check the address"
        )
    return status, stored


def send(url: str, name: str, report_json: str, root: Path = REPO_ROOT) -> Outcome:
    """Send the report (``main.py --json``'s document) to ``url``; never raises."""
    try:
        key = kit_key(root)
        status, stored = post(url, name, json.loads(report_json), key)
    except SendError as exc:
        return Outcome(False, f"Could not send the report: {exc}.", url, name)
    except Exception as exc:  # noqa: BLE001 (main.py --send must end with a line, not a crash)
        detail = one_line(f"{type(exc).__name__}: {exc}", 200)
        return Outcome(False, f"Could not send the report: {detail}.", url, name)
    return Outcome(True, f"Report sent to {url} as {stored!r}.", url, stored, status)
