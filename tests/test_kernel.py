"""The workshop kernel: registered in the environment and for the user, and a second clone never
takes the user-level name from a first one that still exists."""

from __future__ import annotations

import json
import os
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


def write_named_kernel(folder: Path, python: str, display: str) -> None:
    write_kernel(folder, python)
    spec = json.loads((folder / "kernel.json").read_text())
    (folder / "kernel.json").write_text(json.dumps({**spec, "display_name": display}))


def test_clones_in_folders_of_the_same_name_get_names_of_their_own(
    tmp_path: Path, user_kernels: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Three clones, each in a folder named `kit`: three names in the picker, and the name the
    setup says (`kernel --which`) is the one both registrations show."""
    pythons = []
    for clone in ("a", "b"):
        python = tmp_path / clone / "kit" / ".venv" / "bin" / "python"
        python.parent.mkdir(parents=True)
        python.write_text("")
        pythons.append(str(python))
    write_named_kernel(user_kernels / "dl-workshop", pythons[0], "Python (dl-workshop)")
    write_named_kernel(
        user_kernels / "dl-workshop-0b0b0b0b", pythons[1], "Python (dl-workshop, kit)"
    )
    monkeypatch.setattr(kernel, "REPO_ROOT", tmp_path / "c" / "kit")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "c" / "kit" / ".venv"))
    reg = kernel.register()
    names = {
        json.loads((k / "kernel.json").read_text())["display_name"] for k in user_kernels.iterdir()
    }
    assert len(names) == 3 and reg.display_name in names
    assert reg.display_name.startswith("Python (dl-workshop, kit ") and reg.user_name[-8:-2] in (
        reg.display_name
    )
    assert json.loads((reg.env_kernel / "kernel.json").read_text())["display_name"] == (
        reg.display_name
    )
    assert kernel.which() == reg.display_name
    assert main(["kernel", "--which"]) == 0
    assert capsys.readouterr().out == reg.display_name + "\n"
    # Registering again keeps the same name.
    assert kernel.register().display_name == reg.display_name


def test_list_and_remove_the_kits_kernels(
    tmp_path: Path, user_kernels: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "env"))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "env" / "share" / "jupyter"))
    alive = tmp_path / "other" / ".venv" / "bin" / "python"
    alive.parent.mkdir(parents=True)
    alive.write_text("")
    write_named_kernel(user_kernels / "dl-workshop", str(alive), "Python (dl-workshop)")
    gone = str(tmp_path / "deleted" / ".venv" / "bin" / "python")
    write_named_kernel(user_kernels / "dl-workshop-1234abcd", gone, "Python (dl-workshop, old)")
    write_named_kernel(user_kernels / "python3-other", gone, "Not the kit's")
    reg = kernel.register()
    assert main(["kernel", "--list"]) == 0
    out = capsys.readouterr().out
    assert f'dl-workshop: "Python (dl-workshop)", {alive} (another environment)' in out
    assert f'dl-workshop-1234abcd: "Python (dl-workshop, old)", {gone} (its Python is gone)' in out
    assert f'{reg.user_name}: "{reg.display_name}", {sys.executable} (this environment)' in out
    assert "python3-other" not in out
    # Without a name: the registrations of deleted clones go, nothing else.
    assert main(["kernel", "--remove"]) == 0
    assert "Removed dl-workshop-1234abcd" in capsys.readouterr().out
    assert sorted(p.name for p in user_kernels.iterdir()) == sorted(
        ["dl-workshop", reg.user_name, "python3-other"]
    )
    assert main(["kernel", "--remove"]) == 0
    assert "Nothing to remove" in capsys.readouterr().out
    # By name; an unknown name is refused.
    assert main(["kernel", "--remove", "dl-workshop-nope"]) == 1
    assert "see --list" in capsys.readouterr().err
    assert main(["kernel", "--remove", "dl-workshop"]) == 0
    assert (
        not (user_kernels / "dl-workshop").exists() and (reg.env_kernel / "kernel.json").is_file()
    )


def test_registering_turns_off_jupyterlabs_news_prompt(tmp_path: Path, user_kernels: Path) -> None:
    settings = tmp_path / "env" / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "dark"}}))
    kernel.register(prefix=tmp_path / "env")
    written = json.loads(settings.read_text())
    assert written["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    assert written["@jupyterlab/apputils-extension:themes"] == {"theme": "dark"}  # kept


def lab_default(settings_dir: Path, home: Path, plugin: str, key: str) -> object:
    """The default a real JupyterLab server gives ``plugin``'s ``key``, with ``settings_dir``
    as its application settings folder (where the environment's overrides.json lives)."""
    import socket
    import subprocess
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / "config")}
    env["JUPYTER_DATA_DIR"] = str(home / "data")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root"]
        + [f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=t"]
        + [f"--LabApp.app_settings_dir={settings_dir}", f"--ServerApp.root_dir={home}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(home / "lab.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}/lab/api/settings/{plugin}?token=t"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    return json.load(response)["schema"]["properties"][key].get("default")
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError((home / "lab.log").read_text()) from None
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_jupyterlab_started_from_the_environment_does_not_ask_about_news(
    tmp_path: Path, user_kernels: Path
) -> None:
    pytest.importorskip("jupyterlab")
    plugin = "@jupyterlab/apputils-extension:notification"
    before = tmp_path / "bare" / "settings"
    before.mkdir(parents=True)
    assert lab_default(before, tmp_path / "home", plugin, "fetchNews") == "none"  # it asks
    kernel.register(prefix=tmp_path / "env")
    settings = tmp_path / "env" / "share" / "jupyter" / "lab" / "settings"
    assert lab_default(settings, tmp_path / "home", plugin, "fetchNews") == "false"
