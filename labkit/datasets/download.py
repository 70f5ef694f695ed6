"""Download one file over HTTP(S) in bounded time and size, with the standard library.

Every read waits at most ``Limits.stall_s`` (a per-request socket timeout, never a
process-wide one), each such window must bring ``Limits.min_bytes_per_stall`` bytes (a server
that trickles a byte every few seconds is abandoned in seconds, not hours), the whole file must
arrive within ``Limits.deadline_s``, and nothing beyond ``max_bytes`` is accepted. The body is
streamed to a file in 64 KiB pieces: memory use does not grow with the file.
"""

from __future__ import annotations

import http.client
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import BinaryIO

from labkit import __version__
from labkit.errors import DataError, first_line

CHUNK = 64 * 1024
USER_AGENT = f"labkit/{__version__} (deep-learning workshop kit; dataset download)"
MACOS_CERTIFICATES_HINT = (
    "On macOS with Python from python.org, run 'Install Certificates.command' from the "
    "Python folder in Applications once, then try again."
)


@dataclass(frozen=True)
class Limits:
    """How long a download may take, per file."""

    deadline_s: float = 900.0  # the whole file: 30 MB needs 15 minutes at 35 KB/s
    stall_s: float = 30.0  # no read waits longer, and each window this long must bring...
    min_bytes_per_stall: int = 32 * 1024  # ... at least this much (about 1 KB/s)


def download(url: str, out: BinaryIO, max_bytes: int, limits: Limits | None = None) -> int:
    """Write the body of ``url`` to ``out``; the number of bytes written (``limits``: the
    defaults of ``Limits`` when None).

    Raises DataError with a one-line reason (HTTP status, timeout, too slow, too large, ...).
    """
    limits = limits or Limits()
    start = time.monotonic()
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=_read_timeout(start, limits)) as response:
            announced = _content_length(response)
            if announced is not None and announced > max_bytes:
                raise DataError(
                    f"the server announces {_mb(announced)}, more than the {_mb(max_bytes)} limit"
                )
            total = _copy_body(response, out, start, max_bytes, limits)
    except urllib.error.HTTPError as exc:
        raise DataError(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DataError(_network_reason(exc.reason)) from None
    except TimeoutError:
        raise DataError(
            f"no data for {limits.stall_s:g} s (the network or the server stalled)"
        ) from None
    except (OSError, http.client.HTTPException) as exc:
        raise DataError(_network_reason(exc)) from None
    if announced is not None and total != announced:
        raise DataError(f"the connection closed after {total} of {announced} bytes")
    return total


def _copy_body(
    response: BinaryIO, out: BinaryIO, start: float, max_bytes: int, limits: Limits
) -> int:
    """Stream the body to ``out``, enforcing the size limit, the deadline and the minimum rate."""
    total = window_bytes = 0
    window_start = time.monotonic()
    while chunk := response.read1(CHUNK):  # read1: whatever has arrived, never waits for more
        total += len(chunk)
        if total > max_bytes:
            raise DataError(f"the file is larger than the {_mb(max_bytes)} limit")
        out.write(chunk)
        now = time.monotonic()
        if now - start > limits.deadline_s:
            raise DataError(f"not finished after {limits.deadline_s:g} s ({_mb(total)} received)")
        window_bytes += len(chunk)
        if now - window_start >= limits.stall_s:
            if window_bytes < limits.min_bytes_per_stall:
                raise DataError(
                    f"too slow: {window_bytes} bytes in the last {now - window_start:.0f} s"
                )
            window_start, window_bytes = now, 0
    return total


def _read_timeout(start: float, limits: Limits) -> float:
    """The socket timeout of this request: one stall window, never past the deadline."""
    return max(0.1, min(limits.stall_s, limits.deadline_s - (time.monotonic() - start)))


def _content_length(response: object) -> int | None:
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    return int(value) if value and value.strip().isdigit() else None


def _network_reason(reason: object) -> str:
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"the server's certificate could not be verified ({reason.verify_message}). {MACOS_CERTIFICATES_HINT}"
    if isinstance(reason, TimeoutError):
        return "the connection timed out"
    return first_line(reason) if isinstance(reason, BaseException) else str(reason)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"
