"""labkit/install/steps.py, which runs the setup scripts' long commands: their whole output into the
log, one progress line on a terminal (pip's raw progress as a percentage), the log's tail when
a command fails, the status of the command (130 when interrupted)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labkit.install import steps

ROOT = Path(__file__).resolve().parents[1]

TALKER = """
import sys, time
print("Collecting tensorflow-cpu==2.21.0", flush=True)
print("Downloading tensorflow_cpu-2.21.0.whl (250.1 MB)", flush=True)
for done in (25, 50, 100):
    print(f"Progress {done} of 100", flush=True)
    time.sleep(0.3)
for i in range(300):
    print(f"line {i}")
print("== Diagnosis ==")
print("  PASS  it works")
sys.exit(int(sys.argv[1]))
"""


def run_talker(tmp_path: Path, status: int, show_from: str | None = None) -> tuple[int, str, str]:
    log = tmp_path / "setup.log"
    out = io.StringIO()
    with log.open("a", encoding="utf-8") as f:
        code = steps.run([sys.executable, "-c", TALKER, str(status)], f, show_from, out)
    return code, out.getvalue(), log.read_text()


def test_the_whole_output_goes_to_the_log_and_nothing_to_a_pipe(tmp_path: Path) -> None:
    code, out, log = run_talker(tmp_path, 0)
    assert code == 0 and out == ""
    assert "line 299" in log and "Downloading tensorflow_cpu" in log
    assert (
        "Progress 25 of 100" not in log
    )  # pip's raw progress lines are for the progress line only


def test_a_failure_shows_the_tail_of_the_log(tmp_path: Path) -> None:
    code, out, _ = run_talker(tmp_path, 3)
    assert code == 3
    shown = out.splitlines()
    assert shown[0].startswith("    The last lines of the log")
    assert len(shown) == 1 + steps.TAIL_LINES and shown[-1] == "    |   PASS  it works"


def test_show_from_prints_the_output_from_that_line_on(tmp_path: Path) -> None:
    code, out, log = run_talker(tmp_path, 1, show_from="== Diagnosis ==")
    assert code == 1
    assert out.splitlines() == ["    == Diagnosis ==", "      PASS  it works"]  # no tail
    assert "line 0" in log


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal")
def test_on_a_terminal_one_line_shows_what_runs_and_the_download_percentage(
    tmp_path: Path,
) -> None:
    import pty

    leader, follower = pty.openpty()
    command = [
        sys.executable,
        "-m",
        "labkit.install.steps",
        "--log",
        str(tmp_path / "setup.log"),
        "--",
    ]
    command += [sys.executable, "-c", TALKER, "0"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(command, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    assert proc.wait(timeout=30) == 0
    text = screen.decode()
    assert "\r      Downloading tensorflow_cpu-2.21.0.whl (250.1 MB) 50%" in text
    assert "\n" not in text.replace("\r\n", "")  # one line, redrawn in place
    assert text.endswith("\r")  # and cleared at the end


def test_pip_is_asked_for_its_raw_progress_bar() -> None:
    env = steps.child_environment([sys.executable, "-m", "pip", "install", "x"])
    if steps.pip_has_raw_progress():
        assert env["PIP_PROGRESS_BAR"] == "raw"
    assert "PIP_PROGRESS_BAR" not in steps.child_environment(["conda", "env", "create"])
    os.environ["PIP_PROGRESS_BAR"] = "off"  # CI turns it off: that stays
    try:
        assert steps.child_environment(["python", "-m", "pip"])["PIP_PROGRESS_BAR"] == "off"
    finally:
        del os.environ["PIP_PROGRESS_BAR"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_ends_with_status_130_and_the_commands_last_words_in_the_log(
    tmp_path: Path,
) -> None:
    log = tmp_path / "setup.log"
    started = tmp_path / "started"
    child = (
        "import pathlib, sys, time\n"
        "try:\n"
        f"    pathlib.Path({str(started)!r}).touch(); time.sleep(60)\n"
        "except KeyboardInterrupt:\n"
        "    print('ERROR: Operation cancelled by user'); sys.exit(1)\n"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "labkit.install.steps",
            "--log",
            str(log),
            "--",
            sys.executable,
            "-c",
            child,
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert out == "" and err == ""
    assert "ERROR: Operation cancelled by user\n(interrupted)" in log.read_text()
