"""`python -m labkit room serve` on 127.0.0.1, started as an instructor starts it: reports
arrive from many attendees at once and survive a restart, hostile requests are refused, files
outside the pack are never served, pip installs from it, the datasets download from it, and
`room report` prints the stored reports offline. The hostile clients of a shared network are in
tests/test_room_hostile.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import REPO_ROOT, dataset_or_skip
from room_helpers import (
    GOOD,
    THIS_PYTHON,
    board,
    closed_port,
    post_report,
    request,
    running,
    start_server,
    stop_server,
    tiny_pack,
)

from labkit.datasets import DATASETS
from labkit.room.reports import MAX_BODY

# A minimal report, as main.py --json sends it when it stops early (no TensorFlow needed).
EARLY = {
    "ok": False,
    "exit_code": 1,
    "diagnosis": [{"level": "FAIL", "message": "Python 3.9.18 is too old", "fix": "install 3.12"}],
    "versions": {"python": "3.9.18"},
}


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    folder = tmp_path / "pack"
    tiny_pack(folder)
    return folder


def stored(pack: Path) -> list[Path]:
    return sorted((pack / "reports").glob("*.json"))


def test_100_concurrent_reports_are_all_stored(pack: Path) -> None:
    names = [f"Attendee {i:03d}" for i in range(100)]
    with running(pack, "--names-per-address", "100") as server:  # all from 127.0.0.1
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=100) as pool:
            answers = list(
                pool.map(
                    lambda n: post_report(server, n, GOOD if n[-1] in "02468" else EARLY), names
                )
            )
        seconds = time.perf_counter() - start
        assert [status for status, _ in answers] == [201] * 100, answers
        shown = board(server)
    print(f"\n100 concurrent reports stored in {seconds:.2f} s ({100 / seconds:.0f}/s)")
    assert shown["attendees"] == 100 and shown["ready"] == 50 and shown["not_ready"] == 50
    assert sorted(row["name"] for row in shown["rows"]) == names
    assert [row["ready"] for row in shown["rows"]] == [False] * 50 + [True] * 50  # problems first
    assert len(stored(pack)) == 100
    assert not list((pack / "reports").glob(".*"))  # no temporary file left behind


def test_one_report_per_attendee_the_last_one_wins(pack: Path) -> None:
    with running(pack) as server:
        assert post_report(server, "Ada Lovelace", EARLY)[0] == 201
        assert post_report(server, "  ada   LOVELACE ", GOOD)[0] == 201  # same person, same kit
        rows = board(server)["rows"]
    assert [(r["name"], r["ready"]) for r in rows] == [("ada LOVELACE", True)]
    assert len(stored(pack)) == 1


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "..",
        "a/b",
        "a\\b",
        "x" * 65,
        "",
        "   ",
        "nul\x00byte",
        "line\nbreak",
        "<script>alert(1)</script>",
        42,
        None,
    ],
    ids=repr,
)
def test_hostile_names_are_refused(pack: Path, tmp_path: Path, name: object) -> None:
    before = set(tmp_path.rglob("*"))
    with running(pack) as server:
        status, answer = post_report(server, name, GOOD)
    assert status == 400 and "name" in answer["error"]
    assert set(tmp_path.rglob("*")) - before == {pack / "reports", pack / "room.json"}


def test_a_name_stays_in_the_folder_whatever_it_spells(pack: Path) -> None:
    with running(pack) as server:
        for name in ("CON", "..Ada..", "José Müller", "王小明", "o'brien (laptop)"):
            assert post_report(server, name, GOOD)[0] == 201
    files = stored(pack)
    assert len(files) == 5
    assert all(p.parent == pack / "reports" and p.name.endswith(".json") for p in files)
    assert {json.loads(p.read_text())["name"] for p in files} >= {"王小明", "José Müller"}


def test_oversized_malformed_and_wrong_bodies_are_refused(pack: Path) -> None:
    as_json = {"Content-Type": "application/json"}
    with running(pack) as server:
        report = server.at("report")
        huge = json.dumps({"name": "big", "report": {**GOOD, "pad": "x" * MAX_BODY}}).encode()
        status, answer = request(server, "POST", report, huge, as_json)
        assert status == 413 and f"at most {MAX_BODY}" in json.loads(answer)["error"]
        status, answer = request(server, "POST", report, b'{"name": "x", "report": ', as_json)
        assert status == 400 and "not valid JSON" in json.loads(answer)["error"]
        status, answer = request(server, "POST", report, b"\xff\xfe garbage", as_json)
        assert status == 400 and "not valid JSON" in json.loads(answer)["error"]
        kit = "k" * 20
        for body in ([1, 2], {"name": "x"}, {"name": "x", "kit": kit, "report": {"ok": "yes"}}):
            status, answer = request(server, "POST", report, json.dumps(body).encode(), as_json)
            assert status == 400, body
        assert request(server, "GET", report)[0] == 405
    assert stored(pack) == []


@pytest.mark.parametrize(
    "path",
    [
        "/CODE/../../../../etc/passwd",
        "/CODE/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/CODE/wheels/../../../etc/passwd",
        "/CODE/wheels/..%2f..%2f..%2fetc/passwd",
        "/CODE//etc/passwd",
        "/CODE/etc/passwd",
        "/CODE/reports/",
        "/CODE/room.json",
        "/CODE/manifest.json/../../outside.txt",
        "/CODE/wheels/not-in-the-manifest.whl",
        "/wheels/roomtiny-1.0-py3-none-any.whl",
        "/manifest.json",
        "//etc/passwd",
        "/../room.json",
    ],
)
def test_only_the_packs_files_are_served(pack: Path, path: str) -> None:
    (pack.parent / "outside.txt").write_text("SECRET outside the pack")
    (pack / "wheels" / "not-in-the-manifest.whl").write_text("SECRET not in the manifest")
    with running(pack) as server:
        post_report(server, "Ada", GOOD)  # a report in PACK/reports, never served as a file
        status, body = request(server, "GET", path.replace("CODE", server.code))
        listed, _ = request(server, "GET", server.at(stored(pack)[0].relative_to(pack).as_posix()))
    assert status in (400, 403, 404), (status, body[:200])
    assert b"SECRET" not in body and b"root:" not in body and server.code.encode() not in body
    assert listed == 404


def test_the_packs_files_and_the_wheel_index_are_served(pack: Path) -> None:
    manifest = json.loads((pack / "manifest.json").read_text())
    with running(pack) as server:
        for relpath, entry in manifest["files"].items():
            status, body = request(server, "GET", server.at(relpath))
            assert status == 200 and len(body) == entry["bytes"], relpath
        status, index = request(server, "GET", server.at("wheels/"))
        assert status == 200 and b'href="roomtiny-1.0-py3-none-any.whl#sha256=' in index
        assert request(server, "GET", server.at("manifest.json"))[0] == 200
        assert request(server, "GET", server.at("SHA256SUMS"))[0] == 200


def test_a_restart_keeps_every_report(pack: Path) -> None:
    server = start_server(pack)
    try:
        for i in range(20):
            assert post_report(server, f"Attendee {i}", GOOD if i % 2 else EARLY)[0] == 201
        before = board(server)
    finally:
        out = stop_server(server)
    assert "Stopped" in out and "room report" in out
    with running(pack) as again:
        after = board(again)
        page = request(again, "GET", again.board())[1].decode()
        assert post_report(again, "Attendee 3", EARLY)[0] == 201  # still that kit's name
    assert (again.code, again.board()) == (server.code, server.board())  # as given out
    assert after["attendees"] == 20 and after["rows"] == before["rows"]
    assert all(f"Attendee {i}" in page for i in range(20))


def test_room_report_prints_the_stored_reports_offline(pack: Path) -> None:
    with running(pack) as server:
        post_report(server, "Grace", GOOD)
        post_report(server, "Alan", EARLY)
    done = subprocess.run(
        [sys.executable, "-m", "labkit", "room", "report", str(pack)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["ATTENDEE", "STATUS", "OS"]
    assert lines[1].startswith("Alan") and "NOT READY" in lines[1]  # problems first
    assert "FAIL  Python 3.9.18 is too old" in lines[2] and "fix: install 3.12" in lines[3]
    assert lines[4].startswith("Grace") and "READY" in lines[4] and "Windows 11" in lines[4]
    assert lines[-1] == "2 attendees: 1 NOT READY, 1 READY"
    as_json = subprocess.run(
        [sys.executable, "-m", "labkit", "room", "report", str(pack), "--json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert json.loads(as_json.stdout)["not_ready"] == 1


# The labkit CLI with the repository's data/ replaced by the folder given first.
FRESH_KIT_CLI = """import sys
from pathlib import Path
from labkit.datasets import store
store.default_data_dir = lambda: Path(sys.argv[1])
from labkit.__main__ import main
sys.exit(main(sys.argv[2:]))
"""


def test_pip_installs_from_the_server_and_the_data_downloads_from_it(
    tmp_path: Path,
) -> None:
    """What `environment.sh --from URL` runs: labkit.install.offline picks this machine's requirements,
    pip installs them from the server with no index and no configuration, `data fetch --from`
    downloads the datasets from it."""
    pack = tmp_path / "pack"
    tiny_pack(pack, {"atis": dataset_or_skip("atis")})
    requirements, target = tmp_path / "requirements.txt", tmp_path / "site"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PIP_CONFIG_FILE": os.devnull}
    with running(pack) as server:
        chosen = subprocess.run(
            [
                sys.executable,
                "-m",
                "labkit.install.offline",
                "requirements",
                server.url,
                "cpu",
                str(requirements),
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            env=env,
        )
        assert chosen.returncode == 0, chosen.stderr
        assert f"Python {THIS_PYTHON}: 1 wheels" in chosen.stdout
        installed = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--isolated", "--no-index"]
            + ["--require-hashes", "-r", str(requirements), "--target", str(target)],
            capture_output=True,
            text=True,
            env=env,
        )
        assert installed.returncode == 0, installed.stdout + installed.stderr
        # As on an attendee's new copy of the kit: no dataset in the repository's data/ (the
        # one of this checkout may hold ATIS already, which fetch would copy instead).
        fetched = subprocess.run(
            [sys.executable, "-c", FRESH_KIT_CLI, str(tmp_path / "empty"), "data", "fetch"]
            + ["atis", "--from", f"{server.url}/data", "--data-dir", str(tmp_path / "data")],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            env={**env, "LABKIT_DATA_DIR": ""},
        )
        assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert f"Looking in links: {server.url}/wheels/" in installed.stdout
    assert "Looking in indexes" not in installed.stdout
    assert (target / "roomtiny" / "__init__.py").read_text().startswith("GREETING")
    assert f"downloading {server.url}/data/atis/" in fetched.stdout
    assert sorted(p.name for p in (tmp_path / "data" / "atis").iterdir()) == sorted(
        DATASETS["atis"].files
    )


def test_main_py_sends_its_report(pack: Path, real_reports: dict, kit_key: Path) -> None:
    """The real main.py --send, and its early exit (a Python too old) too; a failed send is one
    line, adds 2 to the exit status, and with --json is recorded in the one JSON document."""
    with running(pack) as server:
        done = subprocess.run(
            [sys.executable, str(REPO_ROOT / "main.py"), "--send", server.url, "--name", "Real"],
            capture_output=True,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            timeout=300,
        )
        early = subprocess.run(
            [
                sys.executable,
                "-c",
                "import runpy, sys; sys.version_info = (3, 9, 18, 'final', 0); "
                f"sys.argv = ['main.py', '--send', {server.url!r}, '--name=Old Python']; "
                f"runpy.run_path({str(REPO_ROOT / 'main.py')!r}, run_name='__main__')",
            ],
            capture_output=True,
            text=True,
        )
        rows = {r["name"]: r for r in board(server)["rows"]}
        unreachable = subprocess.run(
            [sys.executable, str(REPO_ROOT / "main.py"), "--json"]
            + ["--send", f"http://127.0.0.1:{closed_port()}/code"],
            capture_output=True,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            timeout=300,
        )
    assert f"Report sent to {server.url} as 'Real'" in done.stderr
    assert done.returncode == (0 if real_reports["plain"]["ok"] else 1)
    assert rows["Real"]["ready"] == real_reports["plain"]["ok"]
    assert rows["Real"]["python"] == real_reports["plain"]["versions"]["python"]
    assert early.returncode == 1 and "Report sent" in early.stderr
    assert rows["Old Python"]["python"] == "3.9.18" and not rows["Old Python"]["ready"]
    assert kit_key.read_text().strip()  # the key this clone sends with, never committed:
    ignored = subprocess.run(["git", "check-ignore", "-q", str(kit_key)], cwd=REPO_ROOT)
    assert ignored.returncode == 0
    failed = [line for line in unreachable.stderr.splitlines() if "Could not send" in line]
    assert len(failed) == 1 and "Traceback" not in unreachable.stderr
    assert unreachable.returncode == done.returncode + 2  # the verdict, and the failed send
    document = json.loads(unreachable.stdout)  # exactly one JSON document
    assert document["send"]["sent"] is False and "cannot reach" in document["send"]["message"]
    assert document["ok"] == real_reports["plain"]["ok"]


def test_serve_refuses_a_port_in_use_and_a_missing_folder(pack: Path, tmp_path: Path) -> None:
    with running(pack) as server:
        busy = subprocess.run(
            [sys.executable, "-m", "labkit", "room", "serve", str(pack)]
            + ["--host", "127.0.0.1", "--port", str(server.port)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert busy.returncode == 1 and "is in use" in busy.stderr and "--port" in busy.stderr
    assert "Traceback" not in busy.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "labkit", "room", "serve", str(tmp_path / "nope")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1 and "is not a folder" in missing.stderr


def test_without_a_pack_it_serves_the_readiness_page_only(tmp_path: Path) -> None:
    with running(tmp_path) as server:
        assert post_report(server, "Ada", GOOD)[0] == 201
        assert request(server, "GET", server.board())[0] == 200
        assert request(server, "GET", server.at("manifest.json"))[0] == 404
    assert "serving the readiness page only" in server.started
    assert "environment.sh --from" not in server.started  # no pack: nothing to install from
