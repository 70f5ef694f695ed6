"""labkit.install.offline, the attendee's side of a pack: it picks this machine's requirements, writes
the options that keep pip off every index, refuses a damaged file, and, for a pack without this
machine, names the machine and the command that adds it. It must run before anything is
installed: standard library only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from room_helpers import THIS_PYTHON, tiny_pack

from labkit.install import locks, offline

TARGET = offline.target_name(locks.this_platform() or "linux-x86_64", "cpu")


def run_offline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labkit.install.offline", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )


def test_requirements_for_this_machine_with_pip_kept_off_any_index(tmp_path: Path) -> None:
    pack = tmp_path / "my pack"  # a space, as on "USB STICK"
    tiny_pack(pack)
    out = tmp_path / "req.txt"
    done = run_offline("requirements", str(pack), "cpu", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(f"{TARGET}, Python {THIS_PYTHON}: 1 wheels")
    lines = out.read_text().splitlines()
    assert "--no-index" in lines
    assert f"--find-links {(pack / 'wheels').resolve().as_uri()}" in lines  # %20, no backslash
    assert [line for line in lines if line.startswith("roomtiny==1.0 --hash=sha256:")]
    # pip reads it as the setup scripts run it: no configuration, no index.
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--isolated", "--no-index", "--require-hashes"]
        + ["-r", str(out), "--target", str(tmp_path / "site")],
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert (tmp_path / "site" / "roomtiny" / "__init__.py").is_file()


def test_a_url_gets_find_links_and_trusted_host() -> None:
    assert offline.pip_options("http://192.168.1.10:8765/") == [
        "--no-index",
        "--find-links http://192.168.1.10:8765/wheels/",
        "--trusted-host 192.168.1.10:8765",
    ]
    assert "--trusted-host" not in " ".join(offline.pip_options("https://room.example"))


def test_a_pack_without_this_machine_names_it_and_the_command_that_adds_it() -> None:
    manifest = {"targets": {"windows-amd64": {"pythons": {"3.12": {}}}}, "files": {}}
    with pytest.raises(offline.PackError) as caught:
        offline.choose(manifest, "cpu", "macos-arm64", "3.13")
    message = str(caught.value)
    assert "macos-arm64 with Python 3.13" in message
    assert "It holds: windows-amd64 (Python 3.12)" in message
    assert (
        "python -m labkit room pack PACK_FOLDER --platforms macos-arm64 --pythons 3.13" in message
    )
    assert "--python" in message
    with pytest.raises(offline.PackError, match="linux-x86_64-gpu with Python 3.12"):
        offline.choose(manifest, "gpu", "linux-x86_64", "3.12")
    with pytest.raises(offline.PackError, match="this computer is"):
        offline.choose(manifest, "cpu", None, "3.12")


def test_the_command_fails_clearly(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    manifest = tiny_pack(pack)
    other = "3.10" if THIS_PYTHON != "3.10" else "3.11"
    data = json.loads((pack / "manifest.json").read_text())
    data["targets"][TARGET]["pythons"] = {other: data["targets"][TARGET]["pythons"][THIS_PYTHON]}
    (pack / "manifest.json").write_text(json.dumps(data))
    done = run_offline("requirements", str(pack), "cpu", str(tmp_path / "r.txt"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{TARGET} with Python {THIS_PYTHON}" in done.stderr
    assert run_offline("has", str(pack), "cpu").returncode == 1
    # A damaged requirements file is refused.
    tiny_pack(pack2 := tmp_path / "pack2")
    relpath = next(iter(manifest.targets[TARGET].pythons.values())).requirements
    with (pack2 / relpath).open("a") as f:
        f.write("evil==6.6.6\n")
    damaged = run_offline("requirements", str(pack2), "cpu", str(tmp_path / "r2.txt"))
    assert damaged.returncode == 1 and "does not match its SHA-256" in damaged.stderr
    assert not (tmp_path / "r2.txt").exists()
    assert run_offline("has", str(pack2), "cpu").returncode == 0
    not_a_pack = run_offline("requirements", str(tmp_path), "cpu", str(tmp_path / "r3.txt"))
    assert not_a_pack.returncode == 1 and "manifest.json" in not_a_pack.stderr
    unreachable = run_offline("requirements", "http://127.0.0.1:9", "cpu", str(tmp_path / "r4"))
    assert unreachable.returncode == 1 and "Cannot reach the room's server" in unreachable.stderr
    assert run_offline("nonsense").returncode == 2


def test_it_imports_only_the_standard_library() -> None:
    code = (
        "import sys, labkit.install.offline; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('numpy', 'packaging', 'tensorflow', 'keras', 'tornado')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert done.stdout.strip() == "[]", done.stderr
