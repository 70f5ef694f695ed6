"""Helpers of the room kit's tests: a server started as the instructor starts it, HTTP requests
by hand, a tiny wheel, a pack built by hand around it, real reports of main.py, and a tripwire
that records (and refuses) any network connection a Python process attempts."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from conftest import REPO_ROOT

from labkit.datasets import DATASETS
from labkit.install import locks
from labkit.install.offline import requirements_path, target_name
from labkit.room import manifest as manifests
from labkit.room.manifest import FileEntry, Manifest, PythonEntry, TargetEntry, sha256_file

THIS_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"

# sitecustomize.py for a folder put on PYTHONPATH: every Python process started with it refuses
# (and writes to $TRIPWIRE_LOG) any connection or name lookup beyond this computer.
TRIPWIRE = """
import os, socket
_LOG = os.environ.get("TRIPWIRE_LOG")
_connect, _getaddrinfo = socket.socket.connect, socket.getaddrinfo
def _local(host):
    return str(host) in ("localhost", "::1") or str(host).startswith("127.")
def _note(what):
    if _LOG:
        with open(_LOG, "a") as f:
            f.write("%d %s\\n" % (os.getpid(), what))
def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
        _note("connect %r" % (address,))
        raise OSError("the network is blocked by the test")
    return _connect(self, address)
def getaddrinfo(host, *args, **kwargs):
    if host is not None and not _local(host):
        _note("getaddrinfo %r" % (host,))
        raise socket.gaierror(socket.EAI_NONAME, "the network is blocked by the test")
    return _getaddrinfo(host, *args, **kwargs)
socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo
"""


def tripwire(folder: Path) -> tuple[Path, Path]:
    """(a folder to put on PYTHONPATH, the log it writes any network attempt to)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(TRIPWIRE)
    return folder, folder / "attempts.log"


def closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- the server

# A report as main.py --json sends it, READY (the fields the page shows, and a few more).
GOOD = {
    "ok": True,
    "exit_code": 0,
    "diagnosis": [{"level": "PASS", "message": "TensorFlow 2.21.0 imports", "fix": ""}],
    "versions": {"python": "3.12.4", "tensorflow": "2.21.0"},
    "system": {"os": "Windows 11", "machine": "AMD64"},
    "tensorflow": {"devices": [{"name": "CPU:0", "type": "CPU"}]},
    "driver": {"gpus": None},
}


@dataclass
class Server:
    url: str  # the attendees' address: http://127.0.0.1:PORT/CODE
    page: str  # the instructor's: http://127.0.0.1:PORT/TOKEN/
    process: subprocess.Popen
    pack: Path
    started: str  # what it printed up to its limits

    @property
    def port(self) -> int:
        return int(urlsplit(self.url).port or 0)

    @property
    def code(self) -> str:
        return urlsplit(self.url).path.strip("/")

    def at(self, path: str) -> str:
        """The path of ``path`` under the room code (what attendees reach)."""
        return f"/{self.code}/{path.lstrip('/')}"

    def board(self, path: str = "") -> str:
        """The path of ``path`` under the instructor's token (the page, reports.json...)."""
        return urlsplit(self.page).path + path


def start_server(pack: Path, *options: str, port: int = 0, **popen: object) -> Server:
    """``python -m labkit room serve PACK --host 127.0.0.1 OPTIONS`` in the background; returns
    once it prints its limits (after its addresses)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "labkit", "room", "serve", str(pack), "--host", "127.0.0.1"]
        + ["--port", str(port), *options],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )
    deadline = time.monotonic() + 60
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Limits: "):
            text = "".join(lines)
            url = re.search(r"the address the room uses: (http://\S+)\)", text)
            page = re.search(r"Readiness page: (http://\S+/) ", text)
            assert url and page, text
            return Server(url.group(1), page.group(1), process, pack, text)
    process.kill()
    raise AssertionError("the server did not start:\n" + "".join(lines))


def stop_server(server: Server) -> str:
    """SIGTERM, as a closed terminal would; what it printed."""
    server.process.send_signal(signal.SIGTERM)
    out, _ = server.process.communicate(timeout=30)
    return out


@contextlib.contextmanager
def running(pack: Path, *options: str, port: int = 0, **popen: object) -> Iterator[Server]:
    server = start_server(pack, *options, port=port, **popen)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            stop_server(server)


def request(
    server: Server, method: str, path: str, body: bytes | None = None, headers: dict | None = None
) -> tuple[int, bytes]:
    """One raw request (the path is sent exactly as given); (status, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def kit_of(name: object) -> str:
    """A kit's key per attendee, the same for "Ada" and " ADA " (as one clone would send)."""
    folded = " ".join(str(name).split()).casefold()
    return "test-kit-" + hashlib.sha256(folded.encode()).hexdigest()[:24]


def post_report(
    server: Server, name: object, report: object, kit: str | None = None, code: str | None = None
) -> tuple[int, dict]:
    """POST /CODE/report as main.py --send does (``kit``: the key of another clone; ``code``:
    another room code)."""
    body = json.dumps({"name": name, "kit": kit or kit_of(name), "report": report}).encode()
    path = f"/{server.code if code is None else code}/report"
    status, answer = request(server, "POST", path, body, {"Content-Type": "application/json"})
    return status, json.loads(answer or b"{}")


def board(server: Server) -> dict:
    """The instructor's reports.json."""
    status, body = request(server, "GET", server.board("reports.json"))
    assert status == 200, (status, body[:200])
    return json.loads(body)


# ----------------------------------------------------------------------------- a tiny pack


def tiny_wheel(folder: Path, name: str = "roomtiny", version: str = "1.0") -> Path:
    """A valid pure-Python wheel with one module that says hello."""
    files = {
        f"{name}/__init__.py": b"GREETING = 'hello from the pack'\n",
        f"{name}-{version}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        ).encode(),
        f"{name}-{version}.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: room_helpers\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


def tiny_pack(pack: Path, datasets: dict[str, Path] | None = None) -> Manifest:
    """A pack made by hand: the tiny wheel for this machine and Python (and the files of
    ``datasets``: name -> folder), with its manifest, as `room pack` lays it out."""
    wheel = tiny_wheel(pack / "wheels")
    target = target_name(locks.this_platform() or "linux-x86_64", "cpu")
    requirements = requirements_path(target, THIS_PYTHON)
    sha = sha256_file(wheel)
    (pack / requirements).parent.mkdir(parents=True, exist_ok=True)
    (pack / requirements).write_text(f"roomtiny==1.0 --hash=sha256:{sha}\n")
    manifest = Manifest(created="test", labkit="test")
    manifest.targets[target] = TargetEntry(
        target, "cpu", {THIS_PYTHON: PythonEntry(requirements, [f"wheels/{wheel.name}"])}
    )
    for name, folder in (datasets or {}).items():
        (pack / "data" / name).mkdir(parents=True)
        for file in DATASETS[name].files:
            (pack / "data" / name / file).write_bytes((folder / file).read_bytes())
        manifest.datasets[name] = [f"data/{name}/{file}" for file in DATASETS[name].files]
    paths = [f"wheels/{wheel.name}", requirements, *sum(manifest.datasets.values(), [])]
    for relpath in paths:
        path = pack / relpath
        manifest.files[relpath] = FileEntry(path.stat().st_size, sha256_file(path))
    manifests.save(pack, manifest)
    return manifest


# ----------------------------------------------------------------------------- real reports


def main_py_report(**env: str) -> dict:
    """The report of a real `python main.py --json` in this environment (``env`` added)."""
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "main.py"), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
        timeout=300,
    )
    return json.loads(done.stdout)
