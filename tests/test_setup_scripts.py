"""Checks of the setup scripts that run without network, conda or Windows.

Scripts/environment.sh is run where it stops before installing anything (--help, a refused
Python), and with a stand-in Python that records the commands instead of running pip (the
--cpu / --gpu / --unlocked paths, switching between them). The .bat files cannot run here, so
their text is checked for the usual batch pitfalls. environment.yml must install the lock.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from labkit.install import locks

ROOT = Path(__file__).resolve().parents[1]
ENV_SH = ROOT / "Scripts" / "environment.sh"
TEST_SH = ROOT / "Scripts" / "test.sh"
ENV_BAT = ROOT / "Scripts" / "environment.bat"
TEST_BAT = ROOT / "Scripts" / "test.bat"
CI_RUN = ROOT / ".ci" / "run"
LOCK_SH = ROOT / "requirements" / "lock.sh"
SHELL_SCRIPTS = [ENV_SH, TEST_SH, CI_RUN, LOCK_SH]

SH_FLAGS = (
    "--venv --python --cpu --gpu --metal --unlocked --force --no-data --offline --from --help"
).split()
BAT_FLAGS = "--venv --python --cpu --unlocked --force --no-data --offline --from --help".split()

# On Windows "bash" may be WSL's launcher, which cannot run these paths: skip there.
needs_bash = pytest.mark.skipif(
    sys.platform == "win32" or shutil.which("bash") is None, reason="needs bash on Linux or macOS"
)


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kwargs)


def fake_python(folder: Path, name: str, version: str) -> Path:
    """An executable that answers any command line like a Python of ``version`` would."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f'#!/bin/sh\necho "{version}"\n')
    path.chmod(0o755)
    return path


def copy_of_repo(tmp_path: Path) -> Path:
    """The files environment.sh reads, in a scratch 'repo'."""
    repo = tmp_path / "repo"
    files = ("Scripts/environment.sh", "Scripts/test.sh", "pyproject.toml", "environment.yml")
    for rel in (*files, "labkit/settings.py"):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, repo / rel)
    shutil.copytree(ROOT / "requirements", repo / "requirements")
    # labkit/install/steps.py runs the setup's long commands (standard library only, from the
    # repository's folder, as settings.py is read)
    shutil.copytree(
        ROOT / "labkit",
        repo / "labkit",
        ignore=shutil.ignore_patterns("__pycache__"),
        dirs_exist_ok=True,
    )
    return repo


# A Python that records its command lines in $FAKE_LOG instead of creating environments and
# running pip; the rest (the setup's small Python snippets, labkit/install/steps.py) runs in the
# real Python, $REAL_PY. `labkit.install.locks conflicts` answers $FAKE_CONFLICTS; a requirements
# file given to pip (-r) is copied to $FAKE_LOG.reqs, and pip's PIP_CONFIG_FILE and
# PYTHONWARNINGS are logged. `labkit.install.offline has` answers $FAKE_PACK_HAS (1: the pack
# lacks it); `labkit.install.offline requirements` writes a stand-in file; `labkit kernel
# --which` answers $FAKE_KERNEL.
# pip and venv talk as much as the real ones (500 lines); `pip install -r` fails after that
# when $FAKE_PIP_FAILS is set. With $FAKE_SLOW_IN=pip (or venv), `pip install -r` (or venv,
# once its folder exists) creates $FAKE_SLOW.started, then waits as a long download does.
STAND_IN_PYTHON = r"""#!/usr/bin/env bash
printf '%s\n' "$*" >>"$FAKE_LOG"
talk() { for i in $(seq 500); do echo "Collecting package-$i (from -r requirements (line $i))"; done; }
slow() { : >"$FAKE_SLOW.started"; for _ in $(seq 600); do sleep 0.1; done; }
case "$1 ${2:-}" in
    "-m venv")
        talk
        if [ "${FAKE_SLOW_IN:-}" = venv ]; then mkdir -p "$3/bin"; slow; fi
        mkdir -p "$3/bin" && ln -sf "$(readlink -f "$0")" "$3/bin/python"; exit ;;
    "-m labkit.install.locks") echo "${FAKE_CONFLICTS:-}"; exit ;;
    "-m labkit.install.offline")
        [ "$3" = has ] && exit "${FAKE_PACK_HAS:-0}"
        echo "--no-index" >"$6"; echo "a-machine, Python 3.12: 1 wheels, 1 MB"; exit ;;
    "-m labkit")
        [ "${3:-} ${4:-}" != "kernel --which" ] || echo "${FAKE_KERNEL:-}"
        exit 0 ;;
    "main.py ") printf 'labkit doctor report\n\n== Diagnosis ==\n  PASS  it works\n'; exit 0 ;;
    "-m pip")
        printf 'PIP_CONFIG_FILE=%s\n' "${PIP_CONFIG_FILE:-}" >>"$FAKE_LOG"
        printf 'PYTHONWARNINGS=%s\n' "${PYTHONWARNINGS:-}" >>"$FAKE_LOG"
        prev=""
        for arg in "$@"; do [ "$prev" != -r ] || cp "$arg" "$FAKE_LOG.reqs"; prev="$arg"; done
        [ "${3:-}" != show ] || exit 1  # nothing installed, tensorflow-metal neither
        talk
        case " $* " in *" -r "*)
            [ "${FAKE_SLOW_IN:-}" != pip ] || slow
            if [ -n "${FAKE_PIP_FAILS:-}" ]; then
                echo "ERROR: No matching distribution found for tensorflow-cpu==2.21.0"; exit 1
            fi ;;
        esac
        exit 0 ;;
esac
exec "$REAL_PY" "$@"
"""


def setup_command(
    tmp_path: Path, *flags: str, conflicts: str = "", env: dict[str, str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """environment.sh in a scratch repo with the stand-in Python: (command line, environment)."""
    repo = tmp_path / "repo"
    if not repo.exists():
        copy_of_repo(tmp_path)
        (repo / "main.py").write_text("")
    python = tmp_path / "bin" / "python3.12"
    python.parent.mkdir(exist_ok=True)
    python.write_text(STAND_IN_PYTHON)
    python.chmod(0o755)
    log = tmp_path / "commands.log"
    log.unlink(missing_ok=True)
    env = {
        **os.environ,
        "FAKE_LOG": str(log),
        "FAKE_CONFLICTS": conflicts,
        "REAL_PY": sys.executable,
        "CI": "true",
        **(env or {}),
    }
    args = ["bash", str(repo / "Scripts" / "environment.sh"), "--python", str(python), "--no-data"]
    return [*args, *flags], env


def setup_run(
    tmp_path: Path,
    *flags: str,
    conflicts: str = "",
    env: dict[str, str] | None = None,
    status: int = 0,
) -> tuple[list[str], str]:
    """Run environment.sh in a scratch repo with the stand-in Python: (its commands, output)."""
    args, env = setup_command(tmp_path, *flags, conflicts=conflicts, env=env)
    result = run(args, env=env, cwd=tmp_path / "repo")
    assert result.returncode == status, result.stdout + result.stderr
    log = tmp_path / "commands.log"
    commands = log.read_text().splitlines() if log.exists() else []
    kept = [
        c
        for c in commands
        if c.startswith(("-m pip", "-m labkit", "main.py"))
        and not c.startswith("-m labkit.install.steps")
    ]
    return kept, result.stdout + result.stderr


# ----------------------------------------------------------------------------- shell scripts


@needs_bash
@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_bash_syntax(script: Path) -> None:
    result = run(["bash", "-n", str(script)])
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_shellcheck(script: Path) -> None:
    if shutil.which("shellcheck") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("shellcheck is missing: .ci/run installs it")
        pytest.skip("shellcheck is not installed (apt install shellcheck)")
    result = run(["shellcheck", "--shell=bash", str(script)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="file modes")
@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_scripts_executable_and_strict(script: Path) -> None:
    assert os.access(script, os.X_OK), f"{script.name} is not executable (chmod +x)"
    assert "set -euo pipefail" in script.read_text(encoding="utf-8")


@needs_bash
def test_help_mentions_every_flag() -> None:
    result = run(["bash", str(ENV_SH), "--help"])
    assert result.returncode == 0, result.stderr
    for flag in SH_FLAGS:
        assert flag in result.stdout, f"--help does not mention {flag}"
    # Every option the parser accepts is documented.
    parser = (
        ENV_SH.read_text(encoding="utf-8").split("while [ $# -gt 0 ]", 1)[1].split("done", 1)[0]
    )
    patterns = re.findall(r"(?m)^\s*(-[^)\s][^)]*)\)", parser)
    parsed = {flag for pattern in patterns for flag in re.findall(r"--[a-z-]+", pattern)}
    assert parsed, "could not find the option parser"
    assert {flag for flag in parsed if flag not in result.stdout} == set()


@needs_bash
def test_unknown_flag_is_a_usage_error(tmp_path: Path) -> None:
    repo = copy_of_repo(tmp_path)
    result = run(["bash", str(repo / "Scripts" / "environment.sh"), "--frobnicate"])
    assert result.returncode == 2
    assert "--frobnicate" in result.stderr and "--help" in result.stderr
    assert sorted(p.name for p in repo.iterdir()) == [
        "Scripts",
        "environment.yml",
        "labkit",
        "pyproject.toml",
        "requirements",
    ]


@needs_bash
def test_refuses_python_39_before_creating_anything(tmp_path: Path) -> None:
    repo = copy_of_repo(tmp_path)
    before = sorted(p.relative_to(repo) for p in repo.rglob("*"))
    old = fake_python(tmp_path / "bin", "python3.9", "3.9.18")
    result = run(["bash", str(repo / "Scripts" / "environment.sh"), "--python", str(old)])
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "3.10-3.13" in out and "3.9.18" in out
    for hint in ("python.org", "brew", "apt", "pyenv"):
        assert hint in out, f"the refusal does not mention {hint}"
    assert sorted(p.relative_to(repo) for p in repo.rglob("*")) == before
    assert not (repo / ".venv").exists() and not (repo / ".labkit-python").exists()


@needs_bash
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX PATH")
def test_refuses_when_no_supported_python_on_path(tmp_path: Path) -> None:
    repo = copy_of_repo(tmp_path)
    bin_dir = tmp_path / "bin"
    fake_python(bin_dir, "python3", "3.9.18")
    for tool in ("bash", "uname", "dirname", "grep", "sed", "cut", "tr", "head", "tail", "cat"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    result = run(
        [str(bin_dir / "bash"), str(repo / "Scripts" / "environment.sh")],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "3.10-3.13" in out and "python3=3.9.18" in out
    assert not (repo / ".venv").exists()


@needs_bash
@pytest.mark.skipif(sys.platform != "linux", reason="--gpu is for Linux")
def test_setup_installs_the_lock_and_switches_builds_cleanly(tmp_path: Path) -> None:
    """--gpu, then --cpu, then --gpu again: each removes what the other build installed before
    installing its own lock with hashes checked, then labkit without its dependencies."""
    labkit_and_after = [
        "-m pip install --no-deps --no-build-isolation -e .",
        "-m labkit kernel",
        "-m labkit kernel --which",
        "main.py",
    ]
    commands, out = setup_run(tmp_path, "--gpu", conflicts="tensorflow-cpu")
    assert commands == [
        "-m pip install --upgrade pip",
        "-m labkit.install.locks conflicts gpu",
        "-m pip uninstall -y tensorflow-cpu",
        "-m pip install --require-hashes -r requirements/gpu.txt",
        *labkit_and_after,
    ]
    if shutil.which("nvidia-smi") is None:
        assert "--gpu given but nvidia-smi does not list a GPU" in out

    commands, _ = setup_run(tmp_path, "--cpu", conflicts="nvidia-cudnn-cu12 tensorflow")
    assert commands[1:4] == [
        "-m labkit.install.locks conflicts cpu",
        "-m pip uninstall -y nvidia-cudnn-cu12 tensorflow",
        "-m pip install --require-hashes -r requirements/cpu.txt",
    ]
    assert commands[4:] == labkit_and_after

    # Nothing to remove: no uninstall at all.
    commands, _ = setup_run(tmp_path, "--gpu", conflicts="")
    assert not [c for c in commands if "uninstall" in c]
    assert "-m pip install --require-hashes -r requirements/gpu.txt" in commands


@needs_bash
def test_setup_output_is_short_stepwise_and_names_the_whole_log(tmp_path: Path) -> None:
    """pip and venv say 500 lines each: the terminal gets the steps, the log gets everything."""
    made = "Python (dl-workshop, kit 3fa2c1)"  # what `labkit kernel --which` says was made
    commands, out = setup_run(tmp_path, "--cpu", env={"FAKE_KERNEL": made})
    lines = out.splitlines()
    assert len(lines) < 40, out
    assert f'Kernel "{made}"' in out and f'open a lab with the kernel "{made}"' in out
    assert "Python (dl-workshop)" not in out  # the name said is the name made
    assert [line.split("]")[0].strip() for line in lines if line.startswith("==> [")] == [
        f"==> [{n}/6" for n in range(1, 7)
    ]
    assert "Collecting package-" not in out and "PASS  it works" in out
    assert "READY" in out and f"{tmp_path / 'repo' / '.labkit-setup.log'}" in out
    log = (tmp_path / "repo" / ".labkit-setup.log").read_text()
    assert log.count("Collecting package-500 ") == 4  # venv, pip upgrade, the lock, labkit
    assert "== Diagnosis ==" in log and "labkit doctor report" in log and "[3/6]" in log
    # No setuptools "Editable installation" box: filtered for labkit's editable install only.
    calls = (tmp_path / "commands.log").read_text().splitlines()
    warnings = {
        calls[i - 2]: line.split("=", 1)[1]
        for i, line in enumerate(calls)
        if line.startswith("PYTHONWARNINGS=")
    }
    assert warnings["-m pip install --no-deps --no-build-isolation -e ."] == (
        "ignore:Editable installation:UserWarning"
    )
    assert warnings["-m pip install --require-hashes -r requirements/cpu.txt"] == ""


@needs_bash
def test_a_failing_step_shows_the_tail_of_its_log(tmp_path: Path) -> None:
    _, out = setup_run(tmp_path, "--cpu", env={"FAKE_PIP_FAILS": "1"}, status=1)
    assert "No matching distribution found for tensorflow-cpu" in out
    assert "Collecting package-500 " in out and "Collecting package-400 " not in out
    assert "The whole log: " + str(tmp_path / "repo" / ".labkit-setup.log") in out
    assert "Installing the locked packages of requirements/cpu.txt failed" in out
    assert len(out.splitlines()) < 60


def interrupt_setup(tmp_path: Path, where: str) -> subprocess.CompletedProcess[str]:
    """Run the setup until the stand-in pip (or venv) is busy, then press Ctrl-C: SIGINT to
    the whole foreground process group, as a terminal does."""
    started = tmp_path / "slow.started"
    args, env = setup_command(tmp_path, "--cpu", env={"FAKE_SLOW_IN": where})
    env["FAKE_SLOW"] = str(tmp_path / "slow")
    proc = subprocess.Popen(
        args,
        env=env,
        cwd=tmp_path / "repo",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, which the "terminal" interrupts
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), "the stand-in never got busy"
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    started.unlink()
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


@needs_bash
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(
    ("where", "step"), [("pip", "3 (Installing packages)"), ("venv", "2 (Creating")]
)
def test_ctrl_c_says_one_line_and_the_same_command_continues(
    tmp_path: Path, where: str, step: str
) -> None:
    result = interrupt_setup(tmp_path, where)
    out = result.stdout + result.stderr
    assert result.returncode == 130, out
    said = [line for line in out.splitlines() if "nterrupted" in line]
    assert len(said) == 1 and said[0].startswith(f"Interrupted at step {step}"), out
    assert said[0].endswith("run the same command again to continue.")
    for noise in ("Traceback", "KeyboardInterrupt", "ERROR", "failed", "hash mismatch", "internet"):
        assert noise not in out, out
    assert out.strip().splitlines()[-1] == said[0]
    assert "Interrupted at step" in (tmp_path / "repo" / ".labkit-setup.log").read_text()
    if where == "venv":  # the half-made .venv is gone: the rerun makes it again
        assert not (tmp_path / "repo" / ".venv").exists()
    commands, out = setup_run(tmp_path, "--cpu")
    assert "READY" in out
    assert "-m pip install --require-hashes -r requirements/cpu.txt" in commands
    if where == "pip":  # the .venv made before the interrupt is reused
        assert "Reusing .venv" in out


@needs_bash
@pytest.mark.skipif(sys.platform != "linux", reason="--gpu is for Linux")
def test_setup_unlocked_installs_the_ranges_of_pyproject(tmp_path: Path) -> None:
    commands, _ = setup_run(tmp_path, "--gpu", "--unlocked")
    install = [c for c in commands if c.startswith("-m pip install --upgrade --upgrade-strategy")]
    assert len(install) == 1 and "--require-hashes" not in install[0]
    requirements = (tmp_path / "commands.log.reqs").read_text().splitlines()
    assert (
        "tensorflow[and-cuda]>=2.21,<2.22; sys_platform == 'linux' and platform_machine == 'x86_64'"
        in requirements
    )
    assert not [r for r in requirements if r.startswith("tensorflow-cpu")]
    assert "tensorboard>=2.21,<2.22" in requirements and "pytest-timeout>=2.3" in requirements
    assert commands[-4:] == [
        "-m pip install --no-deps --no-build-isolation -e .",
        "-m labkit kernel",
        "-m labkit kernel --which",
        "main.py",
    ]

    setup_run(tmp_path, "--cpu", "--unlocked")
    requirements = (tmp_path / "commands.log.reqs").read_text().splitlines()
    assert [r for r in requirements if r.startswith("tensorflow-cpu>=2.21")]
    assert not [r for r in requirements if "and-cuda" in r]


@needs_bash
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX PATH")
def test_conda_environment_of_another_clone_is_not_taken_over(tmp_path: Path) -> None:
    """`dl-workshop` exists and its labkit comes from another clone (here: the one running
    these tests): the setup stops before updating it, and says what to do."""
    if run([sys.executable, "-I", "-c", "import labkit"]).returncode != 0:
        pytest.skip("labkit is not installed in this Python: it stands for the other clone")
    repo = copy_of_repo(tmp_path)
    (repo / "main.py").write_text("")
    python = tmp_path / "bin" / "python3.12"
    python.parent.mkdir()
    python.write_text(STAND_IN_PYTHON)
    python.chmod(0o755)
    mamba = tmp_path / "bin" / "mamba"  # `mamba run -n dl-workshop python ...` names the python
    mamba.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >>"$FAKE_LOG"\necho "{python}"\n')
    mamba.chmod(0o755)
    log = tmp_path / "commands.log"
    env = {**os.environ, "FAKE_LOG": str(log), "REAL_PY": sys.executable, "CI": "true"}
    env["PATH"] = f"{python.parent}{os.pathsep}{env['PATH']}"
    result = run(["bash", str(repo / "Scripts" / "environment.sh"), "--cpu"], env=env, cwd=repo)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "belongs to the clone in" in out and "--venv" in out and "conda env remove" in out
    assert not [c for c in log.read_text().splitlines() if "env update" in c or "-m pip" in c]


@needs_bash
def test_setup_offline_installs_from_the_pack_only(tmp_path: Path) -> None:
    """--offline DIR: no pip upgrade, this machine's requirements from the pack, pip with no
    configuration file, no PIP_* variable and no index, the data from the pack."""
    pack = tmp_path / "the pack"
    pack.mkdir()
    commands, out = setup_run(tmp_path, "--offline", str(pack))
    requirements = commands[1].split()[-1]
    assert commands == [
        "-m labkit.install.locks conflicts cpu",
        f"-m labkit.install.offline requirements {pack} cpu {requirements}",
        f"-m pip install --isolated --no-index --require-hashes -r {requirements}",
        "-m pip install --isolated --no-index --no-deps --no-build-isolation -e .",
        "-m labkit kernel",
        "-m labkit kernel --which",
        "main.py",
    ]
    log = (tmp_path / "commands.log").read_text().splitlines()
    assert log.count("PIP_CONFIG_FILE=/dev/null") == 2
    assert "From the pack: a-machine, Python 3.12" in out and "no index, no internet" in out
    assert not Path(requirements).exists()  # the temporary file is removed

    # With the data step, and from a relative path: the data comes from the pack, made absolute.
    repo = tmp_path / "repo"
    python = tmp_path / "bin" / "python3.12"
    env = {**os.environ, "FAKE_LOG": str(tmp_path / "data.log"), "REAL_PY": sys.executable}
    result = run(
        ["bash", str(repo / "Scripts" / "environment.sh"), "--python", str(python)]
        + ["--offline", "the pack"],
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"-m labkit data fetch --from {pack}/data" in (tmp_path / "data.log").read_text()


@needs_bash
def test_setup_from_the_room_server_sends_the_report(tmp_path: Path) -> None:
    commands, _ = setup_run(tmp_path, "--from", "http://127.0.0.1:9/")
    assert "-m labkit.install.offline requirements http://127.0.0.1:9 cpu" in commands[1]
    assert commands[-1] == "main.py --send http://127.0.0.1:9"


@needs_bash
def test_setup_is_ready_when_only_the_report_could_not_be_sent(tmp_path: Path) -> None:
    """main.py adds 2 to its exit status when --send failed: the install is READY all the
    same, with a warning that says how to send the report again."""
    copy_of_repo(tmp_path)
    (tmp_path / "repo" / "main.py").write_text("raise SystemExit(2)\n")
    _, out = setup_run(tmp_path, "--from", "http://127.0.0.1:9/code")
    assert "READY (setup took" in out and "NOT READY" not in out
    assert "did not reach the instructor's page" in out
    assert "main.py --send http://127.0.0.1:9/code" in out


@needs_bash
@pytest.mark.skipif(sys.platform != "linux", reason="the GPU build is for Linux")
def test_setup_offline_on_a_gpu_machine_takes_the_cpu_build_the_pack_has(tmp_path: Path) -> None:
    smi = tmp_path / "fakebin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text('#!/bin/sh\necho "GPU 0: NVIDIA Test (UUID: GPU-0)"\n')
    smi.chmod(0o755)
    path = f"{smi.parent}{os.pathsep}{os.environ['PATH']}"
    pack = tmp_path / "pack"
    pack.mkdir()
    commands, out = setup_run(
        tmp_path, "--offline", str(pack), env={"PATH": path, "FAKE_PACK_HAS": "1"}
    )
    assert "The pack has no GPU build for this computer" in out
    assert commands[0] == f"-m labkit.install.offline has {pack} gpu"
    assert [
        c for c in commands if c.startswith(f"-m labkit.install.offline requirements {pack} cpu ")
    ]
    commands, out = setup_run(
        tmp_path, "--offline", str(pack), env={"PATH": path, "FAKE_PACK_HAS": "0"}
    )
    assert [
        c for c in commands if c.startswith(f"-m labkit.install.offline requirements {pack} gpu ")
    ]


@needs_bash
@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--offline", "/no/such/folder"], "no such folder"),
        (["--offline"], "needs a value"),
        (["--from", "192.168.1.10:8765"], "needs the server's address"),
        (["--offline", ".", "--from", "http://h:1"], "choose one of --offline and --from"),
        (["--unlocked", "--offline", "."], "--unlocked downloads from the internet"),
    ],
)
def test_setup_refuses_a_wrong_pack_option(tmp_path: Path, flags: list[str], says: str) -> None:
    repo = copy_of_repo(tmp_path)
    result = run(["bash", str(repo / "Scripts" / "environment.sh"), *flags], cwd=tmp_path)
    assert result.returncode == 2 and says in result.stderr
    assert not (repo / ".venv").exists()


@needs_bash
def test_test_sh_says_to_run_setup_first(tmp_path: Path) -> None:
    repo = copy_of_repo(tmp_path)
    result = run(["bash", str(repo / "Scripts" / "test.sh")])
    assert result.returncode == 2
    assert "Scripts/environment.sh" in result.stderr


@needs_bash
def test_test_sh_quick_runs_the_quick_marker_and_the_whole_suite_two_workers(
    tmp_path: Path,
) -> None:
    repo = copy_of_repo(tmp_path)
    log = tmp_path / "argv.log"
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\n')
    python.chmod(0o755)
    (repo / ".labkit-python").write_text(f"{python}\n")
    for args in (["--quick", "-x"], ["-x"], []):
        assert run(["bash", str(repo / "Scripts" / "test.sh"), *args]).returncode == 0
    runs = [line for line in log.read_text().splitlines() if line.startswith("-m pytest")]
    assert runs == ["-m pytest -m quick -x", "-m pytest -x", "-m pytest -n 2 --dist loadgroup"]
    usage = run(["bash", str(repo / "Scripts" / "test.sh"), "--help"]).stdout
    assert "--quick" in usage and "pytest -m quick" in usage
    bat = TEST_BAT.read_text(encoding="utf-8")
    assert '"%PY%" -m pytest -m quick %QUICK_ARGS%' in bat
    assert '"%PY%" -m pytest -n 2 --dist loadgroup' in bat


def test_ci_runs_the_readme_commands() -> None:
    text = CI_RUN.read_text(encoding="utf-8")
    assert "bash Scripts/environment.sh\n" in text and "bash Scripts/test.sh\n" in text
    assert "LABKIT_DATA_DIR" in text and "../shared/datasets" in text
    assert "dataset-fashion-mnist" in text


# ----------------------------------------------------------------------------- batch files

# Where a command starts: line start, after & | ( (not the "in (" of a for), do, else.
_CALLER = r"(?:^|[&|]|(?<!\bin )\(|\bdo\b|\belse\b)\s*"
_CONDA = r'(?:"?%CONDA_TOOL%"?|conda|mamba)(?:\.bat|\.exe)?(?=\s|$)'
_PYTHON = r'(?:"%PY%"|%PY%|%BASE_PY%|"%PYTHON_ARG%"|py\s+-|python(?:\.exe)?\s)'


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the lines that are not blank, comments or echo."""
    lines = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        low = text.lower()
        if not text or low.startswith(("rem ", "::", "echo", "@echo")) or low == "rem":
            continue
        lines.append((number, text))
    return lines


def _errorlevel_follows(lines: list[tuple[int, str]], index: int) -> bool:
    return index + 1 < len(lines) and "errorlevel" in lines[index + 1][1].lower()


@pytest.mark.parametrize("bat", [ENV_BAT, TEST_BAT], ids=lambda p: p.name)
def test_bat_has_setlocal_and_crlf(bat: Path) -> None:
    data = bat.read_bytes()
    assert b"\r\n" in data and data.count(b"\n") == data.count(b"\r\n"), (
        f"{bat.name} must use CRLF line endings throughout"
    )
    assert re.search(r"(?im)^setlocal\b", data.decode()), f"{bat.name} has no setlocal"
    attributes = (ROOT / ".gitattributes").read_text(encoding="utf-8")
    assert re.search(r"(?m)^\*\.bat\s+text\s+eol=crlf\s*$", attributes)


def test_bat_calls_conda_with_call() -> None:
    lines = _code_lines(ENV_BAT)
    invocations = 0
    for index, (number, text) in enumerate(lines):
        if re.search(_CALLER + _CONDA, text, re.IGNORECASE):
            pytest.fail(f"environment.bat:{number}: conda/mamba without 'call': {text}")
        if re.search(r"(?i)\bcall\s+" + _CONDA, text):
            invocations += 1
            assert _errorlevel_follows(lines, index), (
                f"environment.bat:{number}: no errorlevel check after: {text}"
            )
    assert invocations >= 3  # run, env create, env update


@pytest.mark.parametrize("bat", [ENV_BAT, TEST_BAT], ids=lambda p: p.name)
def test_bat_checks_errorlevel_after_python(bat: Path) -> None:
    lines = _code_lines(bat)
    steps = 0
    for index, (number, text) in enumerate(lines):
        if re.search(_CALLER + _PYTHON, text, re.IGNORECASE):
            steps += 1
            assert _errorlevel_follows(lines, index), (
                f"{bat.name}:{number}: no errorlevel check after: {text}"
            )
    assert steps >= 1


def test_bat_documents_flags_and_cpu_only() -> None:
    text = ENV_BAT.read_text(encoding="utf-8")
    for flag in BAT_FLAGS:
        assert flag in text
    assert "WSL2" in text and "CPU only" in text and "2.11" in text
    assert '"%PY%" -m labkit kernel' in text
    # The same lock, hash-checked, for venv and conda; one TensorFlow; labkit without deps.
    assert '"%PY%" -m labkit.install.locks conflicts cpu' in text
    assert '"%PY%" -m pip install --require-hashes -r requirements\\cpu.txt' in text
    assert '"%PY%" -m pip install --no-deps --no-build-isolation -e .' in text
    assert "requirements/cpu.txt" in text  # in the stamp
    assert "-m labkit data fetch" in text and "main.py" in text
    assert "env update" in text and "--prune" in text
    # --offline DIR / --from URL: as environment.sh, from the pack only.
    assert '"%PY%" -m labkit.install.offline requirements "%SOURCE%" cpu' in text
    assert '"%PY%" -m pip install --isolated --no-index --require-hashes -r' in text
    assert '"%PY%" -m pip install --isolated --no-index --no-deps --no-build-isolation -e .' in text
    assert 'set "PIP_CONFIG_FILE=nul"' in text
    assert '"%PY%" -m labkit data fetch %DATA_ARGS%' in text and 'data""' in text
    assert '"%PY%" main.py %SEND_ARGS%' in text and '--send "%SOURCE%"' in text


# ----------------------------------------------------------------------------- pins


def _load_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            from pip._vendor import tomli as tomllib
    with path.open("rb") as f:
        return tomllib.load(f)


def _parse_environment_yml(path: Path) -> dict:
    """The few keys of our environment.yml, read without PyYAML.

    Returns name, channels, conda (list of specs) and pip (list of specs).
    """
    result: dict = {"name": None, "channels": [], "conda": [], "pip": []}
    section = None
    pip_indent = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        text = line.strip()
        if indent == 0:
            key, _, value = text.partition(":")
            section = key
            if key == "name":
                result["name"] = value.strip()
            continue
        if not text.startswith("- "):
            raise AssertionError(f"unexpected line in environment.yml: {raw!r}")
        item = text[2:].strip()
        if section == "channels":
            result["channels"].append(item)
        elif section == "dependencies":
            if item == "pip:":
                pip_indent = indent
            elif pip_indent is not None and indent > pip_indent:
                result["pip"].append(item)
            else:
                pip_indent = None
                result["conda"].append(item)
    return result


def test_environment_yml_installs_the_lock() -> None:
    """conda provides Python and pip; every package comes from the same lock as in a venv."""
    env = _parse_environment_yml(ROOT / "environment.yml")
    assert env["name"] == "dl-workshop"
    assert env["channels"] and env["channels"][0] == "conda-forge"
    assert "defaults" not in env["channels"]
    assert env["pip"] == ["-r requirements/cpu.txt"]
    assert (ROOT / "requirements" / "cpu.txt").is_file()
    python = [spec for spec in env["conda"] if spec.startswith("python")]
    assert sorted(env["conda"]) == sorted(["pip", *python]) and len(python) == 1
    version = python[0].removeprefix("python=")
    requires_python = SpecifierSet(
        _load_toml(ROOT / "pyproject.toml")["project"]["requires-python"]
    )
    assert version in locks.PYTHONS and requires_python.contains(version + ".0")


def test_parse_environment_yml_handles_the_pip_section(tmp_path: Path) -> None:
    path = tmp_path / "environment.yml"
    path.write_text(
        "name: x\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.12\n"
        "  - pip\n  - pip:\n      - tensorflow>=2.21  # pinned\n      - -e .\n  - numpy\n"
    )
    env = _parse_environment_yml(path)
    assert env["conda"] == ["python=3.12", "pip", "numpy"]
    assert env["pip"] == ["tensorflow>=2.21", "-e ."]


def test_bat_runs_long_commands_through_the_log_and_stops_in_one_line_on_ctrl_c() -> None:
    """As environment.sh: labkit\\steps.py runs each long command (the whole output into
    .labkit-setup.log), exit 130 (Ctrl-C) goes to one 'Interrupted at step N' line, and the
    editable install runs without setuptools' notice."""
    text = ENV_BAT.read_text(encoding="utf-8")
    lines = [line for _, line in _code_lines(ENV_BAT)]
    runs = [
        i
        for i, line in enumerate(lines)
        if ("%RUN%" in line or "-m labkit.install.steps" in line)
        and not line.startswith('set "RUN=')
    ]
    assert len(runs) >= 9  # venv, pip x7 (lock, pack, unlocked, labkit), kernel, data, main.py
    for i in runs:
        following = " ".join(lines[i + 1 : i + 3])
        assert '=="130" goto :interrupted' in following, lines[i]
    assert 'set "LOG=%REPO%\\.labkit-setup.log"' in text
    assert "run the same command again to continue" in text
    assert '--show-from "== Diagnosis ==" -- "%PY%" main.py' in text
    assert 'set "EDITABLE_QUIET=ignore:Editable installation:UserWarning"' in text
    for line in [line for line in lines if " -e ." in line or '-e ".[test]"' in line]:
        if line.startswith("%RUN%"):
            before = lines[lines.index(line) - 1]
            assert before == 'set "PYTHONWARNINGS=%EDITABLE_QUIET%"', line
    assert '"%PY%" -m labkit kernel --which' in text and "%KERNEL_DISPLAY%" in text
    assert 'Python (dl-workshop)" Run' not in text
