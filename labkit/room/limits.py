"""What one client of the room's server may take (``Limits``), and ``RoomServer``, the
HTTPServer that holds it to them where Tornado has no setting: a cap on open connections below
the process's open-file limit, where a new connection pushes out the one that has waited longest
for its request's headers, so that clients that trickle their headers (or a flood of them)
cannot lock the room out. Header, idle and body timeouts and the header size are Tornado's own
settings; ``serve`` passes them on."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tornado.httpserver
import tornado.httputil

from labkit.room.reports import NAMES_PER_ADDRESS


@dataclass(frozen=True)
class Limits:
    """What one client may take of the server."""

    header_timeout_s: float = 10.0  # a request's line and headers, also the idle keep-alive
    body_timeout_s: float = 60.0  # a request's body
    max_header_bytes: int = 16 * 1024
    max_connections: int = 500  # at most; lowered below the open-file limit
    names_per_address: int = NAMES_PER_ADDRESS
    files_reserve: int = 64  # open files kept for the pack's files, the reports, the logs


class _HeadersSeen(tornado.httputil.HTTPMessageDelegate):
    """Passes a request on, telling ``RoomServer`` when its headers have arrived."""

    def __init__(self, delegate: Any, seen: Callable[[], None]) -> None:
        self.delegate, self.seen = delegate, seen

    def headers_received(self, start_line: Any, headers: Any) -> Any:
        self.seen()
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Any:
        return self.delegate.data_received(chunk)

    def finish(self) -> None:
        self.delegate.finish()

    def on_connection_close(self) -> None:
        self.delegate.on_connection_close()


class RoomServer(tornado.httpserver.HTTPServer):
    """An HTTPServer with at most ``max_connections`` open at once. When full, a new connection
    closes the one that has waited longest for its request's headers (a client that trickles
    them, or an idle keep-alive); when none is waiting, the new one is closed. Connections are
    known by their streams, which exist from the moment they are accepted."""

    def initialize(self, *args: Any, max_connections: int = 500, **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(*args, **kwargs)
        self.max_connections = max_connections
        self.waiting: dict[Any, float] = {}  # stream -> since when it waits for headers
        self.closing: set[Any] = set()  # streams closed here, whose connection HTTPServer keeps

    def handle_stream(self, stream: Any, address: tuple) -> None:
        if len(self._connections) - len(self.closing) >= self.max_connections:
            if not self.waiting:
                stream.close()
                return
            oldest = min(self.waiting, key=self.waiting.__getitem__)
            del self.waiting[oldest]
            self.closing.add(oldest)
            oldest.close()  # its socket is closed now; on_close comes later
        self.waiting[stream] = time.monotonic()
        super().handle_stream(stream, address)

    def start_request(self, server_conn: Any, request_conn: Any) -> Any:
        stream = server_conn.stream
        self.waiting.setdefault(stream, time.monotonic())  # a keep-alive's next request
        delegate = super().start_request(server_conn, request_conn)
        return _HeadersSeen(delegate, lambda: self.waiting.pop(stream, None))

    def on_close(self, server_conn: Any) -> None:
        self.waiting.pop(server_conn.stream, None)
        self.closing.discard(server_conn.stream)
        super().on_close(server_conn)


def open_files_limit() -> int | None:
    """The soft limit on open files, raised to the hard one (at most 10,240: macOS's) where the
    platform allows; None where there is none to read (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 10240 if hard == resource.RLIM_INFINITY else min(hard, 10240)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return None if soft == resource.RLIM_INFINITY else int(soft)


def connection_cap(limits: Limits, files: int | None) -> int:
    """The connections served at once: below the open-file limit, with a reserve (Windows:
    select() watches at most 512 sockets)."""
    bound = files - limits.files_reserve if files is not None else 500
    return max(4, min(limits.max_connections, bound))
