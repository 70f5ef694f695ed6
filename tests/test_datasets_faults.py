"""The dataset store under faults: a real HTTP server on 127.0.0.1 that fails, trickles, stalls
or serves a gzip bomb; interrupted downloads; corrupt, unreadable and read-only copies; and
staging data once so that it stays found without LABKIT_DATA_DIR."""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from labkit.__main__ import main as cli
from labkit.datasets import DATASETS, atis, store
from labkit.datasets.download import Limits
from labkit.datasets.store import Dataset
from labkit.errors import DataError

TEXT = b"BOS from boston to denver EOS\n" * 50
PACKED = b"0 1 2 3 4 5 6\n" * 200


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def tiny_dataset(*mirrors: str) -> Dataset:
    """Two files, one plain and one gzip-compressed (its checksum is of the content)."""
    files = {"words.txt": sha(TEXT), "ids.txt.gz": sha(PACKED)}
    return Dataset(name="tiny", title="Tiny", files=files, mirrors=mirrors, max_bytes=1_000_000)


def write_tiny(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "words.txt").write_bytes(TEXT)
    (folder / "ids.txt.gz").write_bytes(gzip.compress(PACKED))
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    """Hidden staging files (``.NAME.*.part``) anywhere below ``folder``."""
    return [str(p) for p in folder.rglob("*.part")] if folder.exists() else []


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The repository's data/ is a fresh folder; LABKIT_DATA_DIR is unset."""
    monkeypatch.delenv("LABKIT_DATA_DIR", raising=False)
    repo_data = tmp_path / "repo-data"
    repo_data.mkdir()
    monkeypatch.setattr(store, "default_data_dir", lambda: repo_data)
    return repo_data


# ---------------------------------------------------------------------------- the server


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        route = self.server.routes.get(self.path)  # type: ignore[attr-defined]
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            if route is None:
                self.send_error(404)
            else:
                route(self)

    def log_message(self, *args: object) -> None:
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, Callable[[Handler], None]]
    release: threading.Event
    url: str


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server(("127.0.0.1", 0), Handler)
    srv.routes, srv.release = {}, threading.Event()
    srv.url = f"http://127.0.0.1:{srv.server_port}"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


def body(data: bytes, length: int | None = None) -> Callable[[Handler], None]:
    def respond(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(data) if length is None else length))
        h.end_headers()
        h.wfile.write(data)

    return respond


def status(code: int) -> Callable[[Handler], None]:
    return lambda h: h.send_error(code)


def trickle(data: bytes, every: float) -> Callable[[Handler], None]:
    """One byte every ``every`` seconds."""

    def respond(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        for byte in data:
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
            if h.server.release.wait(every):  # type: ignore[attr-defined]
                return

    return respond


def stall_after(data: bytes, sent: int) -> Callable[[Handler], None]:
    """The first ``sent`` bytes, then silence until the test ends."""

    def respond(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data[:sent])
        h.wfile.flush()
        h.server.release.wait(60)  # type: ignore[attr-defined]

    return respond


def serve_tiny(srv: Server, prefix: str = "/good") -> None:
    srv.routes[f"{prefix}/words.txt"] = body(TEXT)
    srv.routes[f"{prefix}/ids.txt.gz"] = body(gzip.compress(PACKED))


# ---------------------------------------------------------------------------- HTTP faults


def test_http_errors_name_each_mirror_and_the_next_mirror_is_tried(server: Server) -> None:
    server.routes["/broken/words.txt"] = status(500)
    serve_tiny(server)
    dataset = tiny_dataset(f"{server.url}/missing", f"{server.url}/broken", f"{server.url}/good")
    said: list[str] = []
    folder = store.fetch(dataset, say=said.append)
    assert store.verify(dataset) == folder
    assert any("/missing/words.txt" in line for line in said)


def test_every_mirror_failing_leaves_nothing_and_says_what_to_do(
    server: Server, isolated: Path
) -> None:
    server.routes["/broken/words.txt"] = status(500)
    dataset = tiny_dataset(f"{server.url}/missing", f"{server.url}/broken")
    with pytest.raises(DataError) as info:
        store.fetch(dataset, say=lambda _: None)
    message = str(info.value)
    assert "HTTP 404" in message and "HTTP 500" in message
    assert "python -m labkit data fetch tiny --from FOLDER" in message
    assert list(isolated.iterdir()) == []  # no empty dataset folder, no staging file


@pytest.mark.parametrize(
    ("every", "limits", "reason"),
    [
        (0.2, Limits(deadline_s=60, stall_s=1, min_bytes_per_stall=100), "too slow"),
        (0.05, Limits(deadline_s=1, stall_s=10, min_bytes_per_stall=0), "not finished after 1 s"),
    ],
    ids=["below-the-minimum-rate", "past-the-deadline"],
)
def test_a_trickling_server_is_abandoned_in_seconds(
    server: Server, isolated: Path, every: float, limits: Limits, reason: str
) -> None:
    server.routes["/slow/words.txt"] = trickle(TEXT, every=every)
    dataset = tiny_dataset(f"{server.url}/slow")
    start = time.monotonic()
    with pytest.raises(DataError, match=reason):
        store.fetch(dataset, limits=limits, say=lambda _: None)
    assert time.monotonic() - start < 5
    assert list(isolated.iterdir()) == []


def test_a_silent_server_times_out(server: Server) -> None:
    server.routes["/silent/words.txt"] = stall_after(TEXT, sent=10)
    dataset = tiny_dataset(f"{server.url}/silent")
    with pytest.raises(DataError, match="no data for 0.5 s"):
        store.fetch(dataset, limits=Limits(stall_s=0.5), say=lambda _: None)


def test_an_announced_size_over_the_limit_is_refused(server: Server) -> None:
    server.routes["/huge/words.txt"] = body(TEXT, length=10**9)
    dataset = tiny_dataset(f"{server.url}/huge")
    with pytest.raises(DataError, match="announces 1000.0 MB, more than the 1.0 MB limit"):
        store.fetch(dataset, say=lambda _: None)


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """About 1 MB of gzip that decompresses to 1 GiB of zeros (64 members of 16 MiB)."""
    return gzip.compress(bytes(16 << 20), 9) * 64


def test_a_gzip_bomb_download_is_stopped_in_bounded_memory(
    server: Server, gzip_bomb: bytes, isolated: Path
) -> None:
    assert len(gzip_bomb) < 1_100_000
    server.routes["/bomb/ids.txt.gz"] = body(gzip_bomb)
    serve_tiny(server)
    dataset = dataclasses.replace(
        tiny_dataset(f"{server.url}/bomb", f"{server.url}/good"), max_bytes=20_000_000
    )
    tracemalloc.start()
    try:
        folder = store.fetch(
            dataset, say=lambda _: None
        )  # the bomb is refused, the next mirror used
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert store.verify(dataset) == folder


def test_a_gzip_bomb_on_disk_is_refused_by_verify_and_loaders(
    gzip_bomb: bytes, tmp_path: Path
) -> None:
    folder = write_tiny(tmp_path / "copy" / "tiny")
    (folder / "ids.txt.gz").write_bytes(gzip_bomb)
    dataset = dataclasses.replace(tiny_dataset(), max_bytes=20_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="holds more than 20 MB"):
            store.verify(dataset, folder)
        with pytest.raises(DataError, match="holds more than 20 MB"):
            store.read_file(dataset, folder, "ids.txt.gz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 48 * 2**20, f"peak {peak / 2**20:.0f} MiB"


# ---------------------------------------------------------------------------- interruptions

INTERRUPTED_FETCH = """
import signal, sys
# Ctrl-C as in a terminal, also where the test runs as a background job (SIGINT ignored).
signal.signal(signal.SIGINT, signal.default_int_handler)
from labkit.__main__ import main
from labkit.datasets import DATASETS
from labkit.datasets.store import Dataset
DATASETS["tiny"] = Dataset("tiny", "Tiny", {files!r}, ({mirror!r},))
sys.exit(main(["data", "fetch", "tiny", "--data-dir", {target!r}]))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(
    "sig",
    [getattr(signal, "SIGTERM", 15), getattr(signal, "SIGINT", 2), getattr(signal, "SIGHUP", 1)],
    ids=["SIGTERM", "Ctrl-C", "closed-terminal"],
)
@pytest.mark.parametrize("first_files_done", [False, True], ids=["first-file", "third-file"])
def test_an_interrupted_fetch_leaves_no_partial_file(
    server: Server, tmp_path: Path, sig: int, first_files_done: bool
) -> None:
    files = {"words.txt": sha(TEXT), "ids.txt.gz": sha(PACKED)}
    if first_files_done:  # two files arrive whole, the third hangs
        server.routes["/mirror/a.txt"] = body(TEXT)
        server.routes["/mirror/b.txt"] = body(TEXT)
        files = {"a.txt": sha(TEXT), "b.txt": sha(TEXT), **files}
    server.routes["/mirror/words.txt"] = stall_after(TEXT, sent=100)
    target = tmp_path / "target"
    target.mkdir()
    script = INTERRUPTED_FETCH.format(
        files=files, mirror=f"{server.url}/mirror", target=str(target)
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("LABKIT_DATA_DIR", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:

        def stalled() -> bool:  # words.txt is being downloaded (a.txt and b.txt are done)
            done = not first_files_done or (target / "tiny" / "b.txt").exists()
            return done and bool(leftovers(target))

        deadline = time.monotonic() + 60
        while not stalled() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stalled(), "the download never reached words.txt"
        time.sleep(0.2)  # mid-download: the staging file holds the first 100 bytes
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()
    assert b"interrupted" in err and b"Traceback" not in err
    assert leftovers(target) == []
    if first_files_done:  # verified files are kept (the next fetch resumes), nothing else
        assert sorted(p.name for p in (target / "tiny").iterdir()) == ["a.txt", "b.txt"]
    else:
        assert list(target.iterdir()) == []  # no empty dataset folder


def test_a_corrupt_file_is_replaced_only_by_a_verified_one(server: Server, isolated: Path) -> None:
    folder = write_tiny(isolated / "tiny")
    (folder / "words.txt").write_bytes(b"half a download")
    server.routes["/bad/words.txt"] = body(TEXT[:-1] + b"!")  # right size, wrong content
    with pytest.raises(DataError, match="does not match its checksum"):
        store.fetch(tiny_dataset(f"{server.url}/bad"), say=lambda _: None)
    assert (folder / "words.txt").read_bytes() == b"half a download"  # kept until verified
    assert leftovers(isolated) == []
    serve_tiny(server)
    store.fetch(tiny_dataset(f"{server.url}/good"), say=lambda _: None)
    assert (folder / "words.txt").read_bytes() == TEXT


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_killed_fetch_leaves_a_part_file_that_the_next_fetch_removes(
    server: Server, tmp_path: Path
) -> None:
    """SIGKILL leaves no chance to clean up: the next fetch of the dataset removes the staging
    file of the dead process, and keeps one that a running process is writing."""
    server.routes["/mirror/words.txt"] = stall_after(TEXT, sent=100)
    target = tmp_path / "target"
    target.mkdir()
    script = INTERRUPTED_FETCH.format(
        files=tiny_dataset().files, mirror=f"{server.url}/mirror", target=str(target)
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("LABKIT_DATA_DIR", None)
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not leftovers(target) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert leftovers(target), "the download never started"
        proc.kill()
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed = leftovers(target)
    assert len(killed) == 1 and str(proc.pid) in Path(killed[0]).name
    busy = target / "tiny" / f".ids.txt.gz.{os.getpid()}-0123abcd.part"  # a fetch in progress
    busy.write_bytes(b"being written")
    other = target / "tiny" / ".other.txt.1-0123abcd.part"  # not a file of this dataset
    other.write_bytes(b"")
    serve_tiny(server)
    store.fetch(tiny_dataset(f"{server.url}/good"), data_dir=target, say=lambda _: None)
    assert sorted(leftovers(target)) == sorted([str(busy), str(other)])
    assert store.verify(tiny_dataset(), data_dir=target) == target / "tiny"


class RawServer:
    """A TCP server on 127.0.0.1 that reads a request, then answers with ``reply(conn)``."""

    def __init__(self, reply: Callable[[socket.socket], None]) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.reply = reply
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while not self.stop.is_set():
                conn, _ = self.sock.accept()
                threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            request = b""
            while b"\r\n\r\n" not in request and (chunk := conn.recv(4096)):
                request += chunk
            self.reply(conn)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(reply: Callable[[socket.socket], None]) -> RawServer:
        servers.append(RawServer(reply))
        return servers[-1]

    yield start
    for srv in servers:
        srv.close()


def test_a_server_trickling_its_headers_is_dropped_at_the_deadline(
    raw_server: Callable, isolated: Path
) -> None:
    """One header byte every 0.1 s never trips the 1 s read timeout; the clock stops it."""
    stop = threading.Event()

    def trickle_headers(conn: socket.socket) -> None:
        for byte in b"HTTP/1.0 200 OK\r\n" + b"X-Slow: " + b"x" * 1000:
            conn.sendall(bytes([byte]))
            if stop.wait(0.1):
                return

    srv = raw_server(trickle_headers)
    try:
        for limits, reason in [
            (Limits(deadline_s=60, stall_s=1), "did not send its headers within 1 s"),
            (Limits(deadline_s=0.8, stall_s=30), "did not send its headers within 0.8 s"),
        ]:
            start = time.monotonic()
            with pytest.raises(DataError, match=reason):
                store.fetch(tiny_dataset(srv.url), limits=limits, say=lambda _: None)
            assert time.monotonic() - start < 4
    finally:
        stop.set()
    assert list(isolated.iterdir()) == []


def test_a_reply_that_is_not_http_is_named(
    raw_server: Callable, isolated: Path, capsys: pytest.CaptureFixture, monkeypatch
) -> None:
    srv = raw_server(lambda conn: conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n"))
    with pytest.raises(DataError) as info:
        store.fetch(tiny_dataset(srv.url), say=lambda _: None)
    assert "not an HTTP server (it answered 'SSH-2.0-OpenSSH_9.6')" in str(info.value)
    # A server that hangs up without a word is not called "not HTTP".
    hangup = raw_server(lambda conn: None)
    with pytest.raises(DataError) as info:
        store.fetch(tiny_dataset(hangup.url), say=lambda _: None)
    assert "not an HTTP server" not in str(info.value)


def test_with_data_dir_the_fix_names_that_folder(
    server: Server, tmp_path: Path, isolated: Path, capsys: pytest.CaptureFixture, monkeypatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setitem(DATASETS, "tiny", tiny_dataset(f"{server.url}/missing"))
    assert cli(["data", "fetch", "tiny", "--data-dir", str(elsewhere)]) == 1
    err = capsys.readouterr().err
    assert f"`python -m labkit data fetch tiny --data-dir {elsewhere}` again" in err
    assert f"data fetch tiny --data-dir {elsewhere} --from FOLDER" in err
    assert cli(["data", "verify", "tiny", "--data-dir", str(elsewhere)]) == 1
    err = capsys.readouterr().err
    assert f"data fetch tiny --data-dir {elsewhere}`" in err
    assert f"copy in {elsewhere / 'tiny'}" in err and str(isolated) not in err.split("Fix:")[1]
    corrupt = write_tiny(elsewhere / "tiny")
    (corrupt / "words.txt").write_bytes(b"not it")
    assert cli(["data", "verify", "tiny", "--data-dir", str(elsewhere)]) == 1
    err = capsys.readouterr().err
    assert "is corrupt" in err and f"data fetch tiny --data-dir {elsewhere}`" in err
    # Without --data-dir, the repository's data/ as before.
    assert cli(["data", "verify", "tiny"]) == 1
    assert f"copy in {isolated / 'tiny'}" in capsys.readouterr().err


# ---------------------------------------------------------------------------- permissions


class Deny:
    """Unreadable files and unwritable folders, real where permissions bind.

    As root (CI, containers) chmod binds nothing, so the PermissionError the operating system
    would raise is injected where labkit opens a file (``Path.open``: reading an unreadable
    file, creating one in an unwritable folder) or makes a folder (``Path.mkdir``). Either way
    labkit sees the same error.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.as_root = hasattr(os, "geteuid") and os.geteuid() == 0
        self.unreadable: set[Path] = set()
        self.unwritable: set[Path] = set()
        self.chmodded: list[tuple[Path, int]] = []
        if self.as_root:
            self._inject(monkeypatch)

    def read(self, path: Path) -> None:
        self._deny(path, self.unreadable, 0o000)

    def write(self, folder: Path) -> None:
        self._deny(folder, self.unwritable, 0o555)

    def _deny(self, path: Path, injected: set[Path], mode: int) -> None:
        if self.as_root:
            injected.add(path)
        else:
            self.chmodded.append((path, path.stat().st_mode))
            path.chmod(mode)

    def restore(self) -> None:
        for path, mode in reversed(self.chmodded):
            path.chmod(mode)

    def _inject(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_open, real_mkdir = Path.open, Path.mkdir

        def denied(path: object) -> PermissionError:
            return PermissionError(13, "Permission denied", str(path))

        def fake_open(path: Path, mode: str = "r", *args, **kwargs):  # type: ignore[no-untyped-def]
            if path in self.unreadable and "r" in mode:
                raise denied(path)
            if path.parent in self.unwritable and not path.exists() and set(mode) & set("wxa"):
                raise denied(path)
            return real_open(path, mode, *args, **kwargs)

        def fake_mkdir(path: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
            if any(parent in self.unwritable for parent in path.parents) and not path.exists():
                raise denied(path)
            return real_mkdir(path, *args, **kwargs)

        monkeypatch.setattr(Path, "open", fake_open)
        monkeypatch.setattr(Path, "mkdir", fake_mkdir)


@pytest.fixture
def deny(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deny]:
    denier = Deny(monkeypatch)
    yield denier
    denier.restore()


def test_an_unreadable_file_is_a_data_error_everywhere(
    deny: Deny, isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    folder = isolated / "atis"
    for name in atis.DATASET.files:
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text("0\n")
    unreadable = folder / "atis.dict.vocab.csv"  # the first file read
    deny.read(unreadable)
    for call in (lambda: store.verify(atis.DATASET), lambda: atis.load_atis(download=False)):
        with pytest.raises(DataError, match=f"Cannot read {unreadable}") as info:
            call()
        assert "chmod u+r" in str(info.value)
    assert cli(["data", "verify", "atis"]) == 1
    err = capsys.readouterr().err
    assert "Cannot read" in err and "Traceback" not in err


def test_a_read_only_partial_folder_is_a_data_error(
    server: Server, deny: Deny, tmp_path: Path
) -> None:
    serve_tiny(server)
    partial = tmp_path / "stick" / "tiny"
    partial.mkdir(parents=True)
    (partial / "words.txt").write_bytes(TEXT)  # one of two files
    deny.write(partial)
    dataset = tiny_dataset(f"{server.url}/good")
    with pytest.raises(DataError, match=f"Cannot write into {partial}") as info:
        store.fetch(dataset, tmp_path / "stick", say=lambda _: None)
    assert "--data-dir FOLDER" in str(info.value)
    with pytest.raises(DataError, match="only 1 of its 2 files"):
        store.verify(dataset, tmp_path / "stick")


def test_a_corrupt_copy_in_a_read_only_root_does_not_block_the_fetch(
    server: Server, deny: Deny, tmp_path: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stick = tmp_path / "stick"
    write_tiny(stick / "tiny")
    (stick / "tiny" / "ids.txt.gz").write_bytes(gzip.compress(b"corrupt"))
    deny.write(stick / "tiny")
    deny.write(stick)
    before = snapshot(stick)
    monkeypatch.setenv("LABKIT_DATA_DIR", str(stick))
    serve_tiny(server)
    dataset = tiny_dataset(f"{server.url}/good")
    with pytest.raises(DataError) as info:
        store.verify(dataset)
    assert "python -m labkit data fetch tiny" in str(info.value)  # what the user can do
    assert "Delete it" not in str(info.value)  # not on a read-only stick
    folder = store.fetch(dataset, say=lambda _: None)
    assert folder == isolated / "tiny"
    assert snapshot(stick) == before  # nothing written into the LABKIT_DATA_DIR root
    assert store.verify(dataset) == folder  # data/ is searched before LABKIT_DATA_DIR
    # the good file of the stick was copied, the corrupt one downloaded
    assert (folder / "words.txt").read_bytes() == TEXT


# ---------------------------------------------------------------------------- staying found


def test_data_staged_once_through_labkit_data_dir_stays_found_without_it(
    tmp_path: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tiny(tmp_path / "share" / "tiny")
    dataset = tiny_dataset()  # no mirror: nothing can be downloaded
    monkeypatch.setenv("LABKIT_DATA_DIR", str(tmp_path / "share"))
    said: list[str] = []
    assert store.fetch(dataset, say=said.append) == isolated / "tiny"
    assert any("copied from" in line for line in said)
    monkeypatch.delenv("LABKIT_DATA_DIR")  # a new shell, a Jupyter kernel, the tests
    assert store.verify(dataset) == isolated / "tiny"
    assert snapshot(isolated / "tiny") == snapshot(tmp_path / "share" / "tiny")


def test_fetch_from_a_folder_copies_it_into_data(tmp_path: Path, isolated: Path) -> None:
    write_tiny(tmp_path / "usb")  # the files directly in the folder
    folder = store.fetch(tiny_dataset(), sources=[tmp_path / "usb"], say=lambda _: None)
    assert folder == isolated / "tiny" and store.verify(tiny_dataset()) == folder


def test_downloads_never_go_into_a_labkit_data_dir_root(
    server: Server, tmp_path: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "share"
    root.mkdir()
    monkeypatch.setenv("LABKIT_DATA_DIR", str(root))
    serve_tiny(server)
    assert store.fetch(tiny_dataset(f"{server.url}/good"), say=lambda _: None) == isolated / "tiny"
    assert list(root.iterdir()) == []


def test_a_verified_system_copy_is_used_where_it_is(tmp_path: Path, isolated: Path) -> None:
    system = write_tiny(tmp_path / "usr-share" / "tiny")
    dataset = dataclasses.replace(tiny_dataset(), system_dirs=(system,))
    assert store.fetch(dataset, say=lambda _: None) == system
    assert store.fetch(dataset, sources=[tmp_path / "usb"], say=lambda _: None) == system
    assert list(isolated.iterdir()) == []
    assert store.fetch(dataset, isolated, say=lambda _: None) == isolated / "tiny"  # explicit


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_fetched_files_get_the_usual_permissions(tmp_path: Path, isolated: Path) -> None:
    write_tiny(tmp_path / "usb")
    umask = os.umask(0o022)
    try:
        folder = store.fetch(tiny_dataset(), sources=[tmp_path / "usb"], say=lambda _: None)
    finally:
        os.umask(umask)
    assert {oct(p.stat().st_mode & 0o777) for p in folder.iterdir()} == {"0o644"}


def test_cli_fetch_refuses_a_corrupt_copy_and_says_where_it_would_go(
    tmp_path: Path, isolated: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline = dataclasses.replace(atis.DATASET, mirrors=())  # no download in tests
    monkeypatch.setitem(DATASETS, "atis", offline)
    stick = tmp_path / "stick" / "atis"
    stick.mkdir(parents=True)
    for name in offline.files:
        (stick / name).write_text("not ATIS\n")
    assert cli(["data", "fetch", "atis", "--from", str(stick.parent)]) == 1
    captured = capsys.readouterr()
    assert "the copy in" in captured.out and "is corrupt" in captured.out
    assert "atis: FAILED" in captured.err and "--from FOLDER" in captured.err
    assert list(isolated.iterdir()) == []
    assert cli(["data", "fetch", "atis", "--from", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert cli(["data", "where", "atis"]) == 0
    out = capsys.readouterr().out
    assert "atis: not found" in out and f"data fetch atis` puts it in {isolated / 'atis'}" in out


def test_cli_fetch_output_is_plain_and_imports_no_tensorflow(
    server: Server, tmp_path: Path
) -> None:
    serve_tiny(server)
    script = (
        "import sys\n"
        "from labkit.__main__ import main\n"
        "from labkit.datasets import DATASETS\n"
        "from labkit.datasets.store import Dataset\n"
        f"DATASETS['tiny'] = Dataset('tiny', 'Tiny', {tiny_dataset().files!r}, "
        f"({server.url + '/good'!r},))\n"
        f"code = main(['data', 'fetch', 'tiny', '--data-dir', {str(tmp_path)!r}])\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]\n"
        "print('heavy modules:', heavy)\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "heavy modules: []" in result.stdout
    assert f"tiny: ready in {tmp_path / 'tiny'}" in result.stdout
    assert "\x1b" not in result.stdout + result.stderr and "\r" not in result.stdout
    assert result.stderr == ""
