"""The README tells a new user what CI really runs, and lists every lab."""

from __future__ import annotations

import re

from conftest import REPO_ROOT

from labkit.notebooks import build, solutions

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def code_block_after(heading: str, language: str) -> list[str]:
    section = README.split(heading, 1)[1]
    block = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert block, f"no ```{language} block after {heading!r}"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_is_two_commands_and_ci_runs_them() -> None:
    unix = code_block_after("**Linux, macOS, WSL2**", "bash")
    windows = code_block_after("**Windows**", "bat")
    assert unix == ["bash Scripts/environment.sh", "bash Scripts/test.sh"]
    assert windows == [r"Scripts\environment.bat", r"Scripts\test.bat"]
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for command in unix:
        # (the tests' step may run under `timeout`, which bounds CI's time and changes nothing else)
        run = rf"run_step \"[^\"]+\" (timeout [-=\w ]+ )?{re.escape(command)}\n"
        assert re.search(run, ci), f".ci/run does not run {command}"


def test_every_lab_has_a_row_with_its_notebooks_and_colab_link() -> None:
    for lab in solutions.lab_names():
        row = next(
            (line for line in README.splitlines() if line.startswith(f"| {lab[:2]} |")), None
        )
        assert row, f"README's lab table has no row for {lab}"
        assert f"labs/{lab}/{lab}.ipynb" in row and f"solutions/{lab}/{lab}.ipynb" in row
        assert build.colab_url(build.exercise_path(lab)) in row


def test_troubleshooting_covers_the_fetch_command_and_gpu_failure() -> None:
    assert "python -m labkit data fetch" in README
    assert "tensorflow[and-cuda]" in README and "LD_LIBRARY_PATH" in README
