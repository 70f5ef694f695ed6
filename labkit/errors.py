"""Errors a workshop attendee can cause, shown as a short message instead of a traceback."""

from __future__ import annotations


class LabkitError(Exception):
    """An error with a message that says what went wrong and what to do next.

    Jupyter calls ``_render_traceback_`` when it exists, so in a notebook the
    attendee sees the message alone, not a page of library internals.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"\033[1;31m{type(self).__name__}\033[0m: {self}"]


class DataError(LabkitError):
    """A dataset is missing, corrupt, or could not be downloaded."""


def first_line(exc: BaseException | str, limit: int = 300) -> str:
    """The first non-empty line of an error message, at most ``limit`` characters (TensorFlow's
    messages can be pages long); the exception's type when the message is empty."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0][:limit] if lines else type(exc).__name__
