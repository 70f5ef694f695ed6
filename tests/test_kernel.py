"""The workshop kernel: registered in the environment and for the user, and a second clone never
takes the user-level name from a first one that still exists."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from labkit.__main__ import main
from labkit.install import kernel


@pytest.fixture
def user_kernels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's kernel folder, in a scratch JUPYTER_DATA_DIR."""
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "user"))
    return tmp_path / "user" / "kernels"


def write_kernel(folder: Path, python: str) -> None:
    folder.mkdir(parents=True)
    spec = {"argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]}
    (folder / "kernel.json").write_text(json.dumps({**spec, "display_name": "x"}))


def argv0(folder: Path) -> str:
    return json.loads((folder / "kernel.json").read_text())["argv"][0]


def test_registers_in_the_environment_and_for_the_user(tmp_path: Path, user_kernels: Path) -> None:
    reg = kernel.register(prefix=tmp_path / "env")
    env_kernel = tmp_path / "env" / "share" / "jupyter" / "kernels" / "dl-workshop"
    assert reg.env_kernel == env_kernel and argv0(env_kernel) == sys.executable
    assert reg.user_kernel == user_kernels / "dl-workshop"
    assert argv0(reg.user_kernel) == sys.executable
    spec = json.loads((reg.user_kernel / "kernel.json").read_text())
    assert spec["display_name"] == "Python (dl-workshop)" and spec["language"] == "python"
    # %tensorboard finds this environment's TensorBoard even when Jupyter's PATH lacks it.
    assert Path(spec["env"]["TENSORBOARD_BINARY"]).name.startswith("tensorboard")
    assert Path(spec["env"]["TENSORBOARD_BINARY"]).is_file()
    assert reg.taken_by is None and "take-over" not in reg.report()
    # Running it again changes nothing.
    assert kernel.register(prefix=tmp_path / "env") == reg


def test_a_second_clone_does_not_take_the_name(tmp_path: Path, user_kernels: Path) -> None:
    other = tmp_path / "clone-a" / ".venv" / "bin" / "python"
    other.parent.mkdir(parents=True)
    other.write_text("")  # another clone's Python, still on disk
    write_kernel(user_kernels / "dl-workshop", str(other))

    reg = kernel.register(prefix=tmp_path / "env")
    assert argv0(user_kernels / "dl-workshop") == str(other), "the first clone lost its kernel"
    assert (
        reg.user_name.startswith("dl-workshop-") and len(reg.user_name) == len("dl-workshop-") + 8
    )
    assert argv0(reg.user_kernel) == sys.executable
    assert reg.taken_by == str(other)
    report = reg.report()
    assert str(other) in report and reg.display_name in report and "--take-over" in report
    # In its own environment the kernel keeps the name the notebooks ask for.
    assert argv0(reg.env_kernel) == sys.executable and reg.env_kernel.name == "dl-workshop"

    # --take-over: this clone gets the name, and its fallback registration goes away.
    taken = kernel.register(prefix=tmp_path / "env", take_over=True)
    assert (
        taken.user_name == "dl-workshop" and argv0(user_kernels / "dl-workshop") == sys.executable
    )
    assert taken.replaced == str(other) and "no longer exists" not in taken.report()
    assert not reg.user_kernel.exists()


def test_a_registration_whose_python_is_gone_is_replaced(
    tmp_path: Path, user_kernels: Path
) -> None:
    gone = str(tmp_path / "deleted-clone" / ".venv" / "bin" / "python")
    write_kernel(user_kernels / "dl-workshop", gone)
    reg = kernel.register(prefix=tmp_path / "env")
    assert reg.user_name == "dl-workshop" and argv0(reg.user_kernel) == sys.executable
    assert reg.replaced == gone and f"{gone}, which no longer exists" in reg.report()


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_two_virtual_environments_of_one_python_are_two_owners(
    tmp_path: Path, user_kernels: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A venv's python is a symlink to the base Python: comparing resolved paths would make
    every clone look like the owner."""
    link = tmp_path / "clone-a" / "python"
    link.parent.mkdir()
    link.symlink_to(sys.executable)
    write_kernel(user_kernels / "dl-workshop", str(link))
    assert kernel.register(prefix=tmp_path / "env").taken_by == str(link)


def test_cli_prints_the_report(
    tmp_path: Path, user_kernels: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "env"))
    assert main(["kernel"]) == 0
    out = capsys.readouterr().out
    assert 'Kernel "Python (dl-workshop)" (dl-workshop)' in out and str(user_kernels) in out
