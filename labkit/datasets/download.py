"""Download one file over HTTP(S) in bounded time and size, with the standard library.

Every read waits at most ``Limits.stall_s`` (a per-request socket timeout, never a
process-wide one), each such window must bring ``Limits.min_bytes_per_stall`` bytes (a server
that trickles a byte every few seconds is abandoned in seconds, not hours), the whole file must
arrive within ``Limits.deadline_s``, and nothing beyond ``max_bytes`` is accepted. The body is
streamed to a file in 64 KiB pieces: memory use does not grow with the file.

The socket timeout bounds each read, not a reply that comes a byte at a time, so a watchdog
thread shuts the request's sockets down when time is up: the status line and headers must
arrive within one stall window (an honest server sends them at once), the whole file within
the deadline. A reply that is not HTTP (an SSH or mail server on that port) is said to be so.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
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
    with _Watchdog() as watchdog:
        try:
            return _download(url, out, max_bytes, limits, watchdog)
        except DataError:
            if watchdog.expired is not None:
                raise DataError(watchdog.expired) from None
            raise


def _download(url: str, out: BinaryIO, max_bytes: int, limits: Limits, watchdog: _Watchdog) -> int:
    start = time.monotonic()
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    watchdog.arm(
        min(limits.stall_s, limits.deadline_s),
        f"the server did not send its headers within {min(limits.stall_s, limits.deadline_s):g} s "
        "(it trickles or stalls)",
    )
    try:
        opener = _opener(watchdog)
        with opener.open(request, timeout=_read_timeout(start, limits)) as response:
            watchdog.arm(
                limits.deadline_s - (time.monotonic() - start),
                f"not finished after {limits.deadline_s:g} s",
            )
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


class _Watchdog:
    """Shuts down the sockets of one request when its time is up; ``expired`` then says why."""

    def __init__(self) -> None:
        self.expired: str | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def __enter__(self) -> _Watchdog:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def arm(self, seconds: float, reason: str) -> None:
        """Expire in ``seconds`` with ``reason`` (replacing the previous deadline)."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(max(0.0, seconds), self._expire, (reason,))
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
            if self.expired is not None:
                _shut(sock)
        return sock

    def _expire(self, reason: str) -> None:
        with self._lock:
            self.expired = reason
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed
        pass


def _opener(watchdog: _Watchdog) -> urllib.request.OpenerDirector:
    """urllib's opener (proxies and redirects as usual) whose connections ``watchdog`` sees."""

    def connect(conn: http.client.HTTPConnection, connect_base) -> None:  # type: ignore[no-untyped-def]
        create = conn._create_connection  # type: ignore[attr-defined]
        conn._create_connection = lambda *a, **k: watchdog.watch(create(*a, **k))  # type: ignore[attr-defined]
        connect_base(conn)
        watchdog.watch(conn.sock)  # the TLS socket, once wrapped

    class Connection(http.client.HTTPConnection):
        def connect(self) -> None:
            connect(self, http.client.HTTPConnection.connect)

    class SecureConnection(http.client.HTTPSConnection):
        def connect(self) -> None:
            connect(self, http.client.HTTPSConnection.connect)

    class Handler(urllib.request.HTTPHandler):
        def http_open(self, req):  # type: ignore[no-untyped-def]
            return self.do_open(Connection, req)

    class SecureHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):  # type: ignore[no-untyped-def]
            return self.do_open(SecureConnection, req, context=self._context)  # type: ignore[attr-defined]

    return urllib.request.build_opener(Handler, SecureHandler)


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
    if isinstance(reason, http.client.LineTooLong):
        return "not an HTTP server (its reply starts with an endless line)"
    if isinstance(reason, http.client.BadStatusLine) and not isinstance(
        reason, http.client.RemoteDisconnected
    ):
        answer = str(reason.args[0] if reason.args else "").strip()[:60]
        return f"not an HTTP server (it answered {answer!r})" if answer else "not an HTTP server"
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"the server's certificate could not be verified ({reason.verify_message}). {MACOS_CERTIFICATES_HINT}"
    if isinstance(reason, TimeoutError):
        return "the connection timed out"
    return first_line(reason) if isinstance(reason, BaseException) else str(reason)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"
