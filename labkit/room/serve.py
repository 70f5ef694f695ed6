"""``room serve``: the pack over the room's network, and the readiness board.

Two secrets, made at the first start and kept in ``PACK/room.json`` (so that a restart keeps
every address that was given out): the **room code**, which the attendees' address carries
(``http://HOST:PORT/CODE``: the pack's files, ``/wheels/`` for ``pip --find-links``, ``POST
/report`` where ``main.py --send`` posts, and a page of instructions), and the **instructor's
token**, printed only in the instructor's terminal, whose address (``http://HOST:PORT/TOKEN/``)
shows the live page, ``board`` (the part of it that refreshes), ``reports.json`` and
``reports.txt``. Anything without one of them gets 403; secrets are compared in constant time.
Only the files the pack's manifest lists are served (nothing else of the folder, whatever the
path asked for); reports go to ``PACK/reports/``.

Tornado rather than the standard library's ``http.server``: it comes with JupyterLab, so it is in
every workshop environment already and adds no download; it serves a room's downloads at once on
one thread, sends large files in pieces with ranges and caching headers, its StaticFileHandler
refuses paths that leave the served folder (symbolic links included), and request bodies can be
read as a stream, so an oversized one is measured and refused without being held in memory.
What Tornado leaves to us, ``labkit.room.limits.RoomServer`` adds: a cap on open connections.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import json
import os
import re
import secrets
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

import tornado.netutil
import tornado.web

from labkit.errors import LabkitError, first_line
from labkit.files import write_atomic
from labkit.install.offline import MANIFEST, WHEELS
from labkit.room import manifest as manifests
from labkit.room import page, reports
from labkit.room.instructions import room_instructions
from labkit.room.limits import Limits, RoomServer, connection_cap, open_files_limit
from labkit.room.manifest import CHECKSUMS, Manifest
from labkit.room.reports import MAX_BODY, Refused

REPORTS = "reports"
SECRETS = "room.json"
DEFAULT_PORT = 8765
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off a projector
CODE_PATTERN = r"[A-Za-z0-9_-]{4,64}"
Say = Callable[[str], None]


@dataclass(frozen=True)
class Secrets:
    code: str  # in the attendees' address
    token: str  # in the instructor's


def same(given: str, secret: str) -> bool:
    """Constant-time comparison (of UTF-8 bytes: a path may hold any character)."""
    return hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8"))


def room_secrets(pack: Path, code: str | None) -> tuple[Secrets, bool]:
    """The room's code and the instructor's token: those of ``PACK/room.json``, made at the
    first start (``code`` replaces the code); and whether they could be kept there."""
    if code is not None and not re.fullmatch(CODE_PATTERN, code):
        raise LabkitError(
            f"The room code {code!r} is not accepted: use 4-64 letters, digits, - and _."
        )
    path = pack / SECRETS
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        old = Secrets(str(kept["code"]), str(kept["token"]))
        if not (re.fullmatch(CODE_PATTERN, old.code) and re.fullmatch(CODE_PATTERN, old.token)):
            raise ValueError("not a room's secrets")
    except (OSError, ValueError, KeyError, TypeError):
        old = None
    fresh = Secrets(
        code or (old.code if old else "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))),
        old.token if old and old.token != code else secrets.token_urlsafe(16),
    )
    if fresh == old:
        return fresh, True
    try:
        write_atomic(path, json.dumps({"code": fresh.code, "token": fresh.token}))
        os.chmod(path, 0o600)
    except OSError:
        return fresh, False
    return fresh, True


class RoomHandler(tornado.web.RequestHandler):
    """A handler whose first path part must be a secret: 403 with a line of text otherwise."""

    def initialize(self, secret: str, say: Say) -> None:
        self.secret, self.say = secret, say

    def check_secret(self, given: str) -> None:
        if not same(given, self.secret):
            raise tornado.web.HTTPError(403)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """One line: JSON for a POST (main.py --send reads it), text otherwise."""
        if status_code == 403:
            line = (
                "wrong room code: use the address your instructor gave "
                "(python main.py --send http://HOST:PORT/CODE)"
            )
        else:
            line = f"HTTP {status_code}"
        if self.request.method == "POST":
            self.finish({"error": line})
        else:
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.finish(f"Forbidden: {line}\n" if status_code == 403 else f"{line}\n")


class NoSecretHandler(RoomHandler):
    """``/``, and anything without a secret: 403, saying what to use; ``/CODE`` and ``/TOKEN``
    (typed without their last /) are sent on to ``/CODE/`` and ``/TOKEN/``."""

    def initialize(self, secret: str, say: Say, token: str = "") -> None:  # type: ignore[override]
        super().initialize(secret, say)
        self.token = token

    def get(self, given: str = "") -> None:
        if self.token and (same(given, self.secret) or same(given, self.token)):
            self.redirect(f"/{quote(given, safe='')}/")
            return
        raise tornado.web.HTTPError(403)

    def post(self, *args: str) -> None:
        raise tornado.web.HTTPError(403)

    head = post


class PageHandler(RoomHandler):
    """The instructor's ``TOKEN/`` (the page), ``TOKEN/board`` (its table),
    ``TOKEN/reports.json``, ``TOKEN/reports.txt``; the attendees' ``CODE/``: instructions."""

    def initialize(  # type: ignore[override]
        self, secret: str, say: Say, code: str, folder: Path, instructions: list[str], kind: str
    ) -> None:
        super().initialize(secret, say)
        self.code, self.folder, self.instructions, self.kind = code, folder, instructions, kind

    def get(self, given: str) -> None:
        self.set_header("Cache-Control", "no-store")
        if self.kind == "page" and same(given, self.code):
            self.write(page.attendee_html(self.instructions))
            return
        self.check_secret(given)
        board = reports.board(self.folder)
        if self.kind == "page":
            self.write(page.page_html(board, self.instructions))
        elif self.kind == "board":
            self.write(page.board_html(board))
        elif self.kind == "json":
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.write(page.to_json(board))
        else:
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.write(page.text_table(board))


@tornado.web.stream_request_body
class ReportHandler(RoomHandler):
    """``CODE/report``: one attendee's report. The body is always read to its end (whatever
    its size, within the body timeout), kept only up to MAX_BODY, then answered: a client
    that sends everything before it reads gets the answer (413, 403, ...) rather than a
    reset."""

    def initialize(  # type: ignore[override]
        self, secret: str, say: Say, folder: Path, limits: Limits
    ) -> None:
        super().initialize(secret, say)
        self.folder, self.limits = folder, limits
        self.chunks: list[bytes] = []
        self.size = 0

    def prepare(self) -> None:
        if self.request.method != "POST":
            return
        declared = self.request.headers.get("Content-Length", "")
        waits = self.request.headers.get("Expect", "").lower() == "100-continue"
        if waits and declared.isdigit() and int(declared) > MAX_BODY:
            # The client waits for our consent before it sends the body: refuse at once.
            self.set_status(413)
            self.finish(
                {"error": f"the body has {declared} bytes; a report has at most {MAX_BODY}"}
            )
            return
        self.request.connection.set_max_body_size(2**62)  # type: ignore[union-attr]

    def data_received(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size <= MAX_BODY:
            self.chunks.append(chunk)
        else:
            self.chunks.clear()

    def post(self, given: str) -> None:
        client = self.request.remote_ip or "?"
        try:
            if not same(given, self.secret):
                raise tornado.web.HTTPError(403)
            kind = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if kind != "application/json":
                raise Refused(415, "a report is sent as application/json (by main.py --send)")
            if self.size > MAX_BODY:
                raise Refused(
                    413, f"the body has {self.size} bytes; a report has at most {MAX_BODY}"
                )
            post = reports.parse(b"".join(self.chunks))
            reports.store(self.folder, post, client, self.limits.names_per_address)
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
        state = "READY" if post.report["ok"] else "NOT READY"
        self.say(f"{time.strftime('%H:%M:%S')}  {post.name} ({client}): {state}")
        self.set_status(201)
        self.finish({"stored": post.name, "ready": post.report["ok"]})


class WheelIndexHandler(RoomHandler):
    """``CODE/wheels/``: a link per wheel, with its SHA-256, which ``pip --find-links`` reads."""

    def initialize(self, secret: str, say: Say, manifest: Manifest | None) -> None:  # type: ignore[override]
        super().initialize(secret, say)
        self.manifest = manifest

    def get(self, given: str) -> None:
        self.check_secret(given)
        files = self.manifest.files if self.manifest else {}
        links = [
            f'<a href="{quote(path.split("/", 1)[1])}#sha256={entry.sha256}">'
            f"{escape(path.split('/', 1)[1])}</a><br>"
            for path, entry in sorted(files.items())
            if path.startswith(f"{WHEELS}/")
        ]
        self.write("<!doctype html>\n<html><body>\n" + "\n".join(links) + "\n</body></html>\n")


class PackFileHandler(tornado.web.StaticFileHandler):
    """``CODE/<file>``: a file of the pack, only when the manifest lists it (404 otherwise).
    Its ETag is the manifest's SHA-256, so no file is read whole to make one (Tornado would
    hash every byte, and give up on a wheel over 64 MB); ranges come with StaticFileHandler,
    so a dropped download can resume."""

    def initialize(  # type: ignore[override]
        self, path: str, secret: str, manifest: Manifest | None
    ) -> None:
        super().initialize(path)
        self.secret = secret
        self.files = dict(manifest.files) if manifest else {}
        self.allowed = frozenset([*self.files, MANIFEST, CHECKSUMS]) if manifest else frozenset()

    async def get(self, given: str, path: str, include_body: bool = True) -> None:  # type: ignore[override]
        if not same(given, self.secret):
            raise tornado.web.HTTPError(403)
        await super().get(path, include_body)

    def head(self, given: str, path: str) -> Any:  # type: ignore[override]
        return self.get(given, path, include_body=False)

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        if self.path.replace("\\", "/") not in self.allowed:
            raise tornado.web.HTTPError(404)
        return super().validate_absolute_path(root, absolute_path)

    def compute_etag(self) -> str | None:
        entry = self.files.get(self.path.replace("\\", "/"))
        if entry is not None:
            return f'"{entry.sha256}"'
        st = os.stat(self.absolute_path)  # manifest.json, SHA256SUMS: small, rewritten
        return f'"{st.st_size:x}-{st.st_mtime_ns:x}"'


def make_app(
    pack: Path,
    manifest: Manifest | None,
    url: str,
    keys: Secrets,
    say: Say,
    limits: Limits | None = None,
) -> tornado.web.Application:
    """The server's routes for the pack in ``pack`` (``manifest`` None: the board only); ``url``
    is the attendees' address, with the code."""
    limits = limits or Limits()
    folder = pack / REPORTS
    lines = room_instructions(url, manifest is not None)
    code = {"secret": keys.code, "say": say}
    board: dict[str, Any] = {
        "secret": keys.token,
        "say": say,
        "code": keys.code,
        "folder": folder,
        "instructions": lines,
    }
    part = "([^/]+)"
    return tornado.web.Application(
        [
            (r"/", NoSecretHandler, code),
            (rf"/{part}", NoSecretHandler, {**code, "token": keys.token}),
            (rf"/{part}/", PageHandler, {**board, "kind": "page"}),
            (rf"/{part}/board", PageHandler, {**board, "kind": "board"}),
            (rf"/{part}/reports\.json", PageHandler, {**board, "kind": "json"}),
            (rf"/{part}/reports\.txt", PageHandler, {**board, "kind": "text"}),
            (rf"/{part}/report", ReportHandler, {**code, "folder": folder, "limits": limits}),
            (rf"/{part}/{WHEELS}", tornado.web.RedirectHandler, {"url": f"/{{0}}/{WHEELS}/"}),
            (rf"/{part}/{WHEELS}/", WheelIndexHandler, {**code, "manifest": manifest}),
            (
                rf"/{part}/(.+)",
                PackFileHandler,
                {"path": str(pack), "secret": keys.code, "manifest": manifest},
            ),
            (r"/(.*)", NoSecretHandler, code),
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


def serve(
    pack: Path,
    host: str,
    port: int,
    say: Say,
    code: str | None = None,
    limits: Limits | None = None,
) -> None:
    """Serve until Ctrl-C."""
    limits = limits or Limits()
    pack = pack.expanduser().resolve()
    if not pack.is_dir():
        raise LabkitError(
            f"{pack} is not a folder. Make a pack with `python -m labkit room pack DIR`."
        )
    manifest = manifests.load(pack)
    keys, kept = room_secrets(pack, code)
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
    base = f"http://{shown}:{actual}"
    url = f"{base}/{keys.code}"
    files = open_files_limit()
    cap = connection_cap(limits, files)
    app = make_app(pack, manifest, url, keys, say, limits)
    _announce(pack, manifest, url, f"{base}/{keys.token}/", say)
    if not kept:
        say(f"(Could not keep the code in {pack / SECRETS}: a restart will make new ones.)")
    opened = f"open files: {files}" if files is not None else "no open-file limit to read"
    say(
        f"Limits: {cap} connections at once ({opened}); headers within "
        f"{limits.header_timeout_s:g} s, a body within {limits.body_timeout_s:g} s; "
        f"{limits.names_per_address} new names per address."
    )
    say("")
    asyncio.run(_run(app, sockets, limits, cap))


async def _run(
    app: tornado.web.Application, sockets: list[socket.socket], limits: Limits, cap: int
) -> None:
    server = RoomServer(
        app,
        max_connections=cap,
        max_body_size=MAX_BODY,  # ReportHandler lifts it for its own body
        max_header_size=limits.max_header_bytes,
        idle_connection_timeout=limits.header_timeout_s,
        body_timeout=limits.body_timeout_s,
    )
    server.add_sockets(sockets)
    await _until_stopped()


async def _until_stopped() -> None:
    """Wait for SIGTERM or SIGHUP (a closed terminal), then return: the event loop stops the
    server cleanly. Raised as an exception in whatever the loop was doing (a request's handler,
    a log line), the signal could leave it unable to stop. Ctrl-C stops asyncio.run itself."""
    stop, loop = asyncio.Event(), asyncio.get_running_loop()
    for name in ("SIGTERM", "SIGHUP"):
        try:
            loop.add_signal_handler(getattr(signal, name), stop.set)
        except (AttributeError, NotImplementedError, RuntimeError):
            pass  # not on this platform (Windows): the signal interrupts as Ctrl-C does
    await stop.wait()


def _announce(pack: Path, manifest: Manifest | None, url: str, page_url: str, say: Say) -> None:
    if manifest is None:
        say(f"{pack} holds no pack ({MANIFEST}): serving the readiness page only.")
    else:
        size = manifest.total_bytes / 1e6
        say(f"Serving the pack {pack} ({size:,.0f} MB) at {url}")
    say(f"Room code: {url.rsplit('/', 1)[1]} (in the address the room uses: {url})")
    say(f"Readiness page: {page_url} (yours: keep this address to yourself)")
    say(f"  also {page_url}reports.json and {page_url}reports.txt")
    say(f"Reports are stored in {pack / REPORTS}. Ctrl-C stops the server.")
    say("")
    say("Give the room these instructions (the page shows them too):")
    for line in room_instructions(url, manifest is not None):
        say("  " + line)
    say("")
