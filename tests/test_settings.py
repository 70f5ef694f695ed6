"""Each setting of the kit has one home, labkit/settings.py: the LABKIT_* variables, and the
Python range, which pyproject.toml, main.py, the setup scripts and the doctor all agree on."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from packaging.specifiers import SpecifierSet
from test_doctor import healthy_report
from test_setup_scripts import _load_toml

from labkit import settings
from labkit.errors import LabkitError
from labkit.install import locks
from labkit.install.doctor import diagnose, exit_code, render

NAMES = {setting.name for setting in settings.SETTINGS}
LOW, HIGH = settings.python_versions()[0], settings.python_versions()[-1]


def minor(version: str) -> int:
    return int(version.split(".")[1])


def before(version: str) -> str:
    return f"3.{minor(version) - 1}"


def after(version: str) -> str:
    return f"3.{minor(version) + 1}"


def test_the_range_is_min_to_max() -> None:
    assert (LOW, HIGH) == (settings.PYTHON_MIN, settings.PYTHON_MAX)
    assert locks.PYTHONS == tuple(settings.python_versions())


def test_pyproject_requires_the_same_pythons() -> None:
    requires = SpecifierSet(_load_toml(REPO_ROOT / "pyproject.toml")["project"]["requires-python"])
    for version in settings.python_versions():
        assert requires.contains(f"{version}.0"), version
    assert not requires.contains(f"{before(LOW)}.18")
    assert not requires.contains(f"{after(HIGH)}.0")


def test_main_py_refuses_what_the_doctor_refuses() -> None:
    """main.py runs on any Python, so it cannot import labkit before its own version check:
    it keeps the oldest version, and names the range, as literals that this test holds."""
    text = (REPO_ROOT / "main.py").read_text(encoding="utf-8")
    assert f"sys.version_info < (3, {minor(LOW)})" in text
    assert f"Python {LOW}-{HIGH}" in text
    assert not set(re.findall(r"3\.\d+-3\.\d+", text)) - {f"{LOW}-{HIGH}"}


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        (f"{before(LOW)}.18", False),
        (f"{LOW}.0", True),
        (f"{HIGH}.1", True),
        (f"{after(HIGH)}.0", False),
    ],
)
def test_the_doctor_reads_the_range(version: str, ok: bool) -> None:
    report = healthy_report()
    report.versions["python"] = version
    findings = diagnose(report)
    assert exit_code(findings) == (0 if ok else 1)
    assert any(f"{LOW}-{HIGH}" in f.message for f in findings)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_environment_sh_reads_the_range() -> None:
    done = subprocess.run(
        ["bash", str(REPO_ROOT / "Scripts" / "environment.sh"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"({LOW}-{HIGH})" in done.stdout


def test_environment_sh_without_settings_says_so(tmp_path: Path) -> None:
    script = tmp_path / "Scripts" / "environment.sh"
    script.parent.mkdir()
    shutil.copy2(REPO_ROOT / "Scripts" / "environment.sh", script)
    done = subprocess.run(["bash", str(script), "--help"], capture_output=True, text=True)
    assert done.returncode == 1
    assert "settings.py is missing" in done.stderr and "complete clone" in done.stderr


@pytest.mark.parametrize("script", ["environment.sh", "environment.bat"])
def test_the_scripts_name_no_range_of_their_own(script: str) -> None:
    """Every supported version comes from settings.py: no version of the range in the scripts,
    but for 3.12 (recommended) and the tensorflow-metal exception (3.13 has no wheel)."""
    text = (REPO_ROOT / "Scripts" / script).read_text(encoding="utf-8")
    assert not re.findall(r"3\.\d+ ?-3\.\d+|\(3, \d+\)", text)
    assert not re.findall(r"for \S+ in \([\d. ]+\)", text)
    assert "PYTHON_MIN" in text and "PYTHON_MAX" in text


def test_the_bat_finds_the_lines_it_reads() -> None:
    """environment.bat takes the third word of the line that starts with "PYTHON_MIN = " (and
    MAX), its quotes removed: the same as the module's value."""
    lines = (REPO_ROOT / "labkit" / "settings.py").read_text(encoding="utf-8").splitlines()
    for name, value in (("PYTHON_MIN", settings.PYTHON_MIN), ("PYTHON_MAX", settings.PYTHON_MAX)):
        found = [line for line in lines if line.startswith(f"{name} = ")]
        assert len(found) == 1, name
        assert found[0].split()[2].strip('"') == value


def test_every_labkit_variable_in_the_code_is_declared() -> None:
    sources = [
        *REPO_ROOT.glob("labkit/**/*.py"),
        *REPO_ROOT.glob("benchmarks/*.py"),
        REPO_ROOT / "main.py",
        *REPO_ROOT.glob("Scripts/*"),
        REPO_ROOT / ".ci" / "run",
    ]
    named = {
        name
        for path in sources
        for name in re.findall(r"\bLABKIT_[A-Z_]+[A-Z]\b", path.read_text(encoding="utf-8"))
    }
    assert named <= NAMES, f"declare these in labkit/settings.py: {sorted(named - NAMES)}"
    assert all(setting.doc for setting in settings.SETTINGS)


def test_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    assert not settings.fast() and settings.seed() == 42 and settings.time_scale() == 1.0
    assert settings.in_use() == {}
    monkeypatch.setenv("LABKIT_TIME_SCALE", " 0.6 ")
    monkeypatch.setenv("LABKIT_FAST", "yes")
    assert settings.time_scale() == 0.6 and settings.fast()
    assert settings.in_use() == {"LABKIT_TIME_SCALE": " 0.6 ", "LABKIT_FAST": "yes"}


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "fast"])
def test_a_bad_time_scale_says_what_to_set(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("LABKIT_TIME_SCALE", value)
    with pytest.raises(LabkitError, match="LABKIT_TIME_SCALE=.* is not a positive number"):
        settings.time_scale()


def test_main_py_lists_the_settings_that_are_set() -> None:
    report = healthy_report()
    report.system["env"].update(LABKIT_FAST="1", LABKIT_SEED="43")
    text = render.format_human(report)
    section = text.split("== Settings ==")[1].split("==")[0]
    assert "LABKIT_FAST" in section and settings.FAST.doc in section
    assert "LABKIT_SEED" in section and "43" in section
    assert "LABKIT_TIME_SCALE" not in section
    assert "== Settings ==" not in render.format_human(healthy_report())
