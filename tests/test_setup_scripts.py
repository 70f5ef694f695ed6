"""Checks of the setup scripts that run without network, conda or Windows.

Scripts/environment.sh is run only where it stops before installing anything (--help, a
refused Python). The .bat files cannot run here, so their text is checked for the usual
batch pitfalls. test_pins_agree keeps environment.yml in line with pyproject.toml.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
ENV_SH = ROOT / "Scripts" / "environment.sh"
TEST_SH = ROOT / "Scripts" / "test.sh"
ENV_BAT = ROOT / "Scripts" / "environment.bat"
TEST_BAT = ROOT / "Scripts" / "test.bat"
CI_RUN = ROOT / ".ci" / "run"
SHELL_SCRIPTS = [ENV_SH, TEST_SH, CI_RUN]

SH_FLAGS = ["--venv", "--python", "--cpu", "--gpu", "--metal", "--force", "--no-data", "--help"]
BAT_FLAGS = ["--venv", "--python", "--cpu", "--force", "--no-data", "--help"]

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
    """The files environment.sh needs before it installs anything, in a scratch 'repo'."""
    repo = tmp_path / "repo"
    (repo / "Scripts").mkdir(parents=True)
    for rel in ("Scripts/environment.sh", "Scripts/test.sh", "pyproject.toml", "environment.yml"):
        shutil.copy2(ROOT / rel, repo / rel)
    return repo


# ----------------------------------------------------------------------------- shell scripts


@needs_bash
@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_bash_syntax(script: Path) -> None:
    result = run(["bash", "-n", str(script)])
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_shellcheck(script: Path) -> None:
    result = run(["shellcheck", "--shell=bash", str(script)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="file modes")
@pytest.mark.parametrize("script", [ENV_SH, TEST_SH, CI_RUN], ids=lambda p: p.name)
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
        "pyproject.toml",
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
    for tool in ("bash", "uname", "dirname", "grep", "cut", "tr", "head", "tail", "cat"):
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
def test_test_sh_says_to_run_setup_first(tmp_path: Path) -> None:
    repo = copy_of_repo(tmp_path)
    result = run(["bash", str(repo / "Scripts" / "test.sh")])
    assert result.returncode == 2
    assert "Scripts/environment.sh" in result.stderr


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
    assert "ipykernel install --user --name %ENV_NAME%" in text
    assert "-m labkit data fetch" in text and "main.py" in text
    assert "env update" in text and "--prune" in text


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


# conda-forge names that differ from the PyPI name of the same package.
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib"}


def _conda_requirement(spec: str) -> Requirement:
    """A conda match spec as a PEP 508 requirement: ``python=3.12`` means ``==3.12.*``."""
    match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(.*)", spec)
    assert match, spec
    name, version = match.groups()
    version = version.replace(" ", "")
    if re.fullmatch(r"=[^=<>!,]+", version):
        version = "=" + version + ("" if version.endswith("*") else ".*")
    return Requirement(CONDA_TO_PYPI.get(name, name) + version)


def _pyproject_pins() -> tuple[dict[str, SpecifierSet], SpecifierSet]:
    project = _load_toml(ROOT / "pyproject.toml")["project"]
    pins: dict[str, SpecifierSet] = {}
    groups = [project["dependencies"], *project.get("optional-dependencies", {}).values()]
    for group in groups:
        for line in group:
            req = Requirement(line)
            name = canonicalize_name(req.name)
            if name == "labkit":
                continue
            assert pins.setdefault(name, req.specifier) == req.specifier, (
                f"pyproject.toml pins {name} twice, differently: {pins[name]} and {req.specifier}"
            )
    return pins, SpecifierSet(project["requires-python"])


def test_pins_agree() -> None:
    pins, requires_python = _pyproject_pins()
    env = _parse_environment_yml(ROOT / "environment.yml")
    assert env["name"] == "dl-workshop"
    assert env["channels"] and env["channels"][0] == "conda-forge"
    assert "defaults" not in env["channels"]
    assert "-e ." in env["pip"], (
        "environment.yml must install labkit with '-e .' in its pip section"
    )

    seen: dict[str, SpecifierSet] = {}
    python = None
    for spec in env["conda"] + [s for s in env["pip"] if not s.startswith("-e")]:
        req = _conda_requirement(spec) if spec in env["conda"] else Requirement(spec)
        name = canonicalize_name(req.name)
        if name == "python":
            python = req.specifier
            continue
        if name == "pip":
            continue
        assert name not in seen, f"environment.yml lists {name} twice"
        seen[name] = req.specifier
        assert name in pins, f"environment.yml has {name}, which pyproject.toml does not list"

    differing = {
        name: f"environment.yml {spec or '(any)'} != pyproject.toml {pins[name] or '(any)'}"
        for name, spec in seen.items()
        if spec != pins[name]
    }
    assert not differing, differing

    project = _load_toml(ROOT / "pyproject.toml")["project"]
    core = {canonicalize_name(Requirement(d).name) for d in project["dependencies"]}
    test_extra = {
        canonicalize_name(Requirement(d).name) for d in project["optional-dependencies"]["test"]
    }
    missing = sorted((core | test_extra) - set(seen))
    assert not missing, f"environment.yml lacks {missing}, which pyproject.toml needs"

    assert python is not None, "environment.yml does not pin python"
    chosen = [
        v for v in ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14") if python.contains(v + ".0")
    ]
    assert chosen and all(requires_python.contains(v + ".0") for v in chosen), (
        f"environment.yml python {python} is outside requires-python {requires_python}"
    )


def test_parse_environment_yml_handles_the_pip_section(tmp_path: Path) -> None:
    path = tmp_path / "environment.yml"
    path.write_text(
        "name: x\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.12\n"
        "  - pip\n  - pip:\n      - tensorflow>=2.21  # pinned\n      - -e .\n  - numpy\n"
    )
    env = _parse_environment_yml(path)
    assert env["conda"] == ["python=3.12", "pip", "numpy"]
    assert env["pip"] == ["tensorflow>=2.21", "-e ."]
    assert str(_conda_requirement("python=3.12").specifier) == "==3.12.*"
    assert _conda_requirement("matplotlib-base>=3.8").name == "matplotlib"
