"""What ``main.py`` collects (``Report``), its verdicts (``Finding``), and ``probe``, which runs
one collector so that a failure becomes a reason in the report instead of a crash."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from labkit.errors import first_line


class Unavailable(Exception):
    """An expected, explained failure of a probe; its message is the reason shown."""


class Finding(NamedTuple):
    """One diagnosis line."""

    level: str  # PASS, INFO, WARN or FAIL
    message: str
    fix: str = ""


@dataclass
class Report:
    """Everything main.py found; ``None`` values have their reason in ``reasons``."""

    versions: dict[str, Any] = field(default_factory=dict)
    system: dict[str, Any] = field(default_factory=dict)
    tensorflow: dict[str, Any] = field(default_factory=dict)
    driver: dict[str, Any] = field(default_factory=dict)
    datasets: dict[str, Any] | None = None
    smoke: list[dict[str, Any]] | None = None
    bench: dict[str, Any] | None = None
    reasons: dict[str, str] = field(default_factory=dict)
    diagnosis: list[Finding] = field(default_factory=list)
    elapsed_s: float | None = None


def probe(
    report: Report, key: str, fn: Callable[..., Any], *args: Any, strict: bool = False
) -> Any:
    """Store ``fn(*args)`` at ``key`` ("section" or "section.name"); on failure None + reason.

    ``strict`` (``main.py --debug``) lets an unexpected exception propagate with its traceback.
    """
    try:
        value, reason = fn(*args), None
    except Unavailable as exc:
        value, reason = None, str(exc)
    except Exception as exc:
        if strict:
            raise
        value, reason = None, f"unavailable ({type(exc).__name__}: {first_line(exc)})"
    section, _, name = key.partition(".")
    if name:
        getattr(report, section)[name] = value
    else:
        setattr(report, section, value)
    if reason is not None:
        report.reasons[key] = reason
    return value
