"""``main.py --send URL``: post the report to the instructor's server (``python -m labkit room
serve``), under the attendee's name or the computer's. Standard library only, bounded in time."""

from __future__ import annotations

import json
import platform
import urllib.error
import urllib.request

TIMEOUT_S = 15.0


class SendError(Exception):
    """The report did not reach the server; the message says why, in one line."""


def default_name() -> str:
    """This computer's name, which the server shows when the attendee gives none."""
    return platform.node().split(".")[0] or "unnamed computer"


def send(url: str, name: str, report_json: str) -> str:
    """Post ``{"name": name, "report": <report>}`` to ``URL/report``; what the server said."""
    if not url.startswith(("http://", "https://")):
        raise SendError(f"{url!r} is not an http:// address (the instructor gives it)")
    body = json.dumps({"name": name, "report": json.loads(report_json)}).encode("utf-8")
    request = urllib.request.Request(
        f"{url.rstrip('/')}/report",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            answer = json.loads(response.read(64 * 1024) or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read(64 * 1024)).get("error", exc.reason)
        except (ValueError, AttributeError, OSError):
            reason = exc.reason
        raise SendError(f"the server refused it: HTTP {exc.code}, {reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SendError(f"cannot reach {url} ({reason})") from None
    return f"Report sent to {url} as {answer.get('stored', name)!r}."
