"""The room kit end to end, as a room without internet lives it: `room pack` downloads the
wheels of this machine and of one other from PyPI (hashes checked) and packs the data and the
kit; a second run downloads nothing; then an attendee unzips the kit from the pack and runs
`Scripts/environment.sh --offline PACK` in a fresh virtual environment with the network blocked
for every Python process (a tripwire refuses and records any connection beyond 127.0.0.1; pip
gets an index and a proxy at a closed port of 127.0.0.1 besides). The setup must end READY.

Marked `offline_install`: it needs PyPI for the pack and takes minutes (CI runs it; deselect
with -m "not offline_install")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from conftest import REPO_ROOT, dataset_or_skip
from room_helpers import THIS_PYTHON, closed_port, tripwire

from labkit.install import locks
from labkit.room import kit

pytestmark = [
    pytest.mark.offline_install,
    pytest.mark.skipif(
        sys.platform == "win32" or shutil.which("bash") is None, reason="needs bash"
    ),
]


def pack_command(pack: Path, *platforms: str) -> list[str]:
    return [sys.executable, "-m", "labkit", "room", "pack", str(pack), "--platforms", *platforms]


def test_pack_then_install_without_network_ends_ready(
    tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    this = locks.this_platform()
    if this is None:
        pytest.skip("the locks serve no such machine")
    dataset_or_skip("atis")
    other = "macos-arm64" if this != "macos-arm64" else "linux-x86_64"
    pack = tmp_path / "pack"
    command = [*pack_command(pack, this, other), "--pythons", THIS_PYTHON]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}

    start = time.perf_counter()
    first = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    pack_s = time.perf_counter() - start
    assert first.returncode == 0, (first.stdout + first.stderr)[-5000:]
    assert f"{this} " in first.stdout and f"{other} " in first.stdout and "in all" in first.stdout

    # Again, with pip unable to reach anything: it must not need to.
    trip, attempts = tripwire(tmp_path / "tripwire")
    nowhere = f"http://127.0.0.1:{closed_port()}"
    blocked = {
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_INDEX_URL": f"{nowhere}/simple",
        "PIP_FIND_LINKS": "",
        "HTTP_PROXY": nowhere,
        "HTTPS_PROXY": nowhere,
        "ALL_PROXY": nowhere,
        "TRIPWIRE_LOG": str(attempts),
    }
    env_blocked = {**env, **blocked, "PYTHONPATH": f"{trip}{os.pathsep}{REPO_ROOT}"}
    second = subprocess.run(command, cwd=REPO_ROOT, env=env_blocked, capture_output=True, text=True)
    assert second.returncode == 0, (second.stdout + second.stderr)[-3000:]
    assert "This run downloaded nothing" in second.stdout
    assert not attempts.exists(), attempts.read_text()

    # The attendee: the kit from the pack, a fresh environment, no network at all.
    attendee = tmp_path / "attendee"
    with zipfile.ZipFile(pack / kit.ARCHIVE) as zf:
        zf.extractall(attendee)
    clone = attendee / kit.FOLDER
    home = tmp_path / "home"
    home.mkdir()
    setup_env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(trip),
        **{k: v for k, v in blocked.items() if k != "PIP_CONFIG_FILE"},
    }
    start = time.perf_counter()
    setup = subprocess.run(
        ["bash", "Scripts/environment.sh", "--offline", str(pack), "--python", sys.executable],
        cwd=clone,
        env=setup_env,
        capture_output=True,
        text=True,
    )
    setup_s = time.perf_counter() - start
    out = setup.stdout + setup.stderr
    log = (clone / ".labkit-setup.log").read_text()  # pip's and data fetch's whole output
    assert setup.returncode == 0, out[-3000:] + log[-3000:]
    assert "READY (setup took" in out and "NOT READY" not in out
    assert f"Looking in links: {(pack / 'wheels').as_uri()}" in log
    assert "Looking in indexes" not in log
    assert not attempts.exists(), attempts.read_text()
    assert "atis.train.query.csv: copied from" in log and (clone / "data" / "atis").is_dir()
    installed = subprocess.run(
        [
            str(clone / ".venv" / "bin" / "python"),
            "-c",
            "from labkit.install import locks; print(sorted(locks.installed_tensorflows()))",
        ],
        cwd=clone,
        capture_output=True,
        text=True,
    )
    assert installed.stdout.strip() == f"['{locks.tensorflow_of('cpu')}']", installed.stderr

    sizes = [line for line in first.stdout.splitlines() if " MB " in line]
    print(f"\npack ({this} + {other}, Python {THIS_PYTHON}) in {pack_s:.0f} s:", *sizes, sep="\n")
    print(f"offline setup in {setup_s:.0f} s")
    record_property("pack_seconds", round(pack_s))
    record_property("offline_setup_seconds", round(setup_s))
