"""``room serve``: the pack over the room's network, and the readiness board.

Routes: ``/`` the live page, ``/board`` the part of it that refreshes, ``/reports.json`` and
``/reports.txt`` the same data, ``POST /report`` where ``main.py --send`` posts, ``/wheels/`` the
wheels' index for ``pip --find-links``, and every file the pack's manifest lists (nothing else:
no other file of the folder, whatever the path asked for). Reports go to ``PACK/reports/``.

Tornado rather than the standard library's ``http.server``: it comes with JupyterLab, so it is in
every workshop environment already and adds no download; it serves a room's downloads at once on
one thread, sends large files in pieces with ranges and caching headers, its StaticFileHandler
refuses paths that leave the served folder (symbolic links included), and request bodies can be
read as a stream, so an oversized one is measured and refused without being held in memory.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

import tornado.httpserver
import tornado.netutil
import tornado.web

from labkit.errors import LabkitError, first_line
from labkit.install.offline import MANIFEST, WHEELS
from labkit.room import manifest as manifests
from labkit.room import page, reports
from labkit.room.instructions import room_instructions
from labkit.room.manifest import CHECKSUMS, Manifest
from labkit.room.reports import MAX_BODY, Refused

REPORTS = "reports"
DEFAULT_PORT = 8765
Say = Callable[[str], None]


class PageHandler(tornado.web.RequestHandler):
    """``/``: the page; ``/board``: its table; ``/reports.json``, ``/reports.txt``."""

    def initialize(self, folder: Path, instructions: list[str], kind: str) -> None:
        self.folder, self.instructions, self.kind = folder, instructions, kind

    def get(self) -> None:
        rows = reports.rows(self.folder)
        self.set_header("Cache-Control", "no-store")
        if self.kind == "page":
            self.write(page.page_html(rows, self.instructions))
        elif self.kind == "board":
            self.write(page.board_html(rows))
        elif self.kind == "json":
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.write(page.to_json(rows))
        else:
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.write(page.text_table(rows))


@tornado.web.stream_request_body
class ReportHandler(tornado.web.RequestHandler):
    """``POST /report``: one attendee's report. A body over MAX_BODY is read to its end but not
    kept, then refused with 413, so that the client gets the answer rather than a reset."""

    def initialize(self, folder: Path, say: Say) -> None:
        self.folder, self.say = folder, say
        self.chunks: list[bytes] = []
        self.size = 0

    def data_received(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size <= MAX_BODY:
            self.chunks.append(chunk)

    def post(self) -> None:
        client = self.request.remote_ip or "?"
        try:
            if self.size > MAX_BODY:
                raise Refused(
                    413, f"the body has {self.size} bytes; a report has at most {MAX_BODY}"
                )
            name, report = reports.parse(b"".join(self.chunks))
            reports.store(self.folder, name, report, client)
        except Refused as exc:
            self.say(f"{time.strftime('%H:%M:%S')}  refused a report from {client}: {exc}")
            self.set_status(exc.status)
            self.finish({"error": str(exc)})
            return
        except OSError as exc:
            self.say(f"Cannot store a report in {self.folder}: {first_line(exc)}")
            self.set_status(500)
            self.finish({"error": f"the server cannot store reports ({exc.strerror})"})
            return
        state = "READY" if report["ok"] else "NOT READY"
        self.say(f"{time.strftime('%H:%M:%S')}  {name} ({client}): {state}")
        self.set_status(201)
        self.finish({"stored": name, "ready": report["ok"]})


class WheelIndexHandler(tornado.web.RequestHandler):
    """``/wheels/``: a link per wheel, with its SHA-256, which ``pip --find-links`` reads."""

    def initialize(self, manifest: Manifest | None) -> None:
        self.manifest = manifest

    def get(self) -> None:
        files = self.manifest.files if self.manifest else {}
        links = [
            f'<a href="{quote(path.split("/", 1)[1])}#sha256={entry.sha256}">'
            f"{escape(path.split('/', 1)[1])}</a><br>"
            for path, entry in sorted(files.items())
            if path.startswith(f"{WHEELS}/")
        ]
        self.write("<!doctype html>\n<html><body>\n" + "\n".join(links) + "\n</body></html>\n")


class PackFileHandler(tornado.web.StaticFileHandler):
    """A file of the pack, only when the manifest lists it: 404 for anything else."""

    def initialize(self, path: str, allowed: frozenset[str]) -> None:  # type: ignore[override]
        super().initialize(path)
        self.allowed = allowed

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        if self.path.replace("\\", "/") not in self.allowed:
            raise tornado.web.HTTPError(404)
        return super().validate_absolute_path(root, absolute_path)


def make_app(pack: Path, manifest: Manifest | None, url: str, say: Say) -> tornado.web.Application:
    """The server's routes for the pack in ``pack`` (``manifest`` None: the board only)."""
    folder = pack / REPORTS
    lines = room_instructions(url, manifest is not None)
    allowed = frozenset([*manifest.files, MANIFEST, CHECKSUMS]) if manifest else frozenset()
    board: dict[str, Any] = {"folder": folder, "instructions": lines}
    return tornado.web.Application(
        [
            (r"/", PageHandler, {**board, "kind": "page"}),
            (r"/board", PageHandler, {**board, "kind": "board"}),
            (r"/reports\.json", PageHandler, {**board, "kind": "json"}),
            (r"/reports\.txt", PageHandler, {**board, "kind": "text"}),
            (r"/report", ReportHandler, {"folder": folder, "say": say}),
            (rf"/{WHEELS}", tornado.web.RedirectHandler, {"url": f"/{WHEELS}/"}),
            (rf"/{WHEELS}/", WheelIndexHandler, {"manifest": manifest}),
            (r"/(.+)", PackFileHandler, {"path": str(pack), "allowed": allowed}),
        ],
        log_function=lambda handler: None,  # the reports are announced by ReportHandler
    )


def room_address() -> str:
    """This computer's address on the room's network: the source address of its route towards
    another network (connecting a UDP socket sends nothing; 192.0.2.1 is a documentation address,
    never routed), else an address of its name, else its name."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            address = probe.getsockname()[0]
            if not address.startswith("127."):
                return address
        except OSError:
            pass
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return socket.gethostname()
    addresses = [info[4][0] for info in infos if not str(info[4][0]).startswith("127.")]
    return str(addresses[0]) if addresses else socket.gethostname()


def serve(pack: Path, host: str, port: int, say: Say) -> None:
    """Serve until Ctrl-C."""
    pack = pack.expanduser().resolve()
    if not pack.is_dir():
        raise LabkitError(
            f"{pack} is not a folder. Make a pack with `python -m labkit room pack DIR`."
        )
    manifest = manifests.load(pack)
    try:
        (pack / REPORTS).mkdir(exist_ok=True)
        sockets = tornado.netutil.bind_sockets(port, address=host, family=socket.AF_INET)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise LabkitError(
                f"Port {port} is in use (another `room serve`?): choose another with --port N."
            ) from None
        raise LabkitError(f"Cannot serve {pack} on {host}:{port}: {first_line(exc)}") from None
    actual = sockets[0].getsockname()[1]
    shown = room_address() if host in ("", "0.0.0.0") else host
    url = f"http://{shown}:{actual}"
    app = make_app(pack, manifest, url, say)
    _announce(pack, manifest, url, say)
    asyncio.run(_run(app, sockets))


async def _run(app: tornado.web.Application, sockets: list[socket.socket]) -> None:
    server = tornado.httpserver.HTTPServer(app, max_body_size=8 * MAX_BODY)
    server.add_sockets(sockets)
    await asyncio.Event().wait()


def _announce(pack: Path, manifest: Manifest | None, url: str, say: Say) -> None:
    if manifest is None:
        say(f"{pack} holds no pack ({MANIFEST}): serving the readiness page only.")
    else:
        size = manifest.total_bytes / 1e6
        say(f"Serving the pack {pack} ({size:,.0f} MB) at {url}")
    say(f"Readiness page: {url}/   (also {url}/reports.json and {url}/reports.txt)")
    say(f"Reports are stored in {pack / REPORTS}. Ctrl-C stops the server.")
    say("")
    say("Give the room these instructions (the page shows them too):")
    for line in room_instructions(url, manifest is not None):
        say("  " + line)
    say("")
