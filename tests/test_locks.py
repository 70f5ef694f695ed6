"""The locks (requirements/*.txt) give every supported machine one TensorFlow and TensorBoard,
agree with pyproject.toml's ranges (a range changed without `bash requirements/lock.sh` fails
here), and agree with each other."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from test_setup_scripts import _load_toml

from labkit.install import locks

ROOT = Path(__file__).resolve().parents[1]
MACHINES = [
    (platform, lock, python)
    for platform, spec in locks.PLATFORMS.items()
    for lock, python in itertools.product(spec.locks, locks.PYTHONS)
]
IDS = [f"{platform}-{lock}-py{python}" for platform, lock, python in MACHINES]


@pytest.mark.parametrize(("platform", "lock", "python"), MACHINES, ids=IDS)
def test_one_tensorflow_and_tensorboard_everywhere(platform: str, lock: str, python: str) -> None:
    pinned = {pin.name: pin for pin in locks.pins(lock, platform, python)}
    tensorflows = sorted(set(pinned) & locks.TENSORFLOW_DISTRIBUTIONS)
    spec = locks.PLATFORMS[platform]
    assert tensorflows == [locks.tensorflow_of(lock, spec.sys_platform, spec.platform_machine)]
    assert tensorflows == [
        "tensorflow-cpu" if platform == "linux-x86_64" and lock == "cpu" else "tensorflow"
    ]
    assert pinned[tensorflows[0]].version.startswith("2.21.")
    assert "tensorboard" in pinned and "pytest-timeout" in pinned
    assert ("nvidia-cudnn-cu12" in pinned) == (lock == "gpu")
    assert ("tensorflow-metal" in pinned) == (lock == "metal" and python != "3.13")
    for pin in pinned.values():
        assert pin.hashes and all(h.startswith("sha256:") for h in pin.hashes), pin.name


def _project_requirements(lock: str) -> list[Requirement]:
    """What pyproject.toml asks for in the setup of ``lock``: the packages and the test extra,
    the metal extra for metal.txt, and requirements/gpu.in instead of tensorflow-cpu for gpu.txt."""
    project = _load_toml(ROOT / "pyproject.toml")["project"]
    extras = project["optional-dependencies"]
    lines = project["dependencies"] + extras["test"] + (extras["metal"] if lock == "metal" else [])
    requirements = [Requirement(line) for line in lines]
    if lock == "gpu":
        requirements = [r for r in requirements if r.name != "tensorflow-cpu"]
        gpu_in = (locks.LOCK_DIR / "gpu.in").read_text(encoding="utf-8").splitlines()
        requirements += [Requirement(line) for line in gpu_in if line and not line.startswith("#")]
    return requirements


@pytest.mark.parametrize(("platform", "lock", "python"), MACHINES, ids=IDS)
def test_locks_satisfy_pyproject(platform: str, lock: str, python: str) -> None:
    environment = locks.PLATFORMS[platform].marker_environment(python)
    pinned = {pin.name: pin.version for pin in locks.pins(lock, platform, python)}
    stale = []
    for requirement in _project_requirements(lock):
        if requirement.marker and not requirement.marker.evaluate(environment):
            continue
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            stale.append(f"{requirement} (locked: {version})")
    assert not stale, f"run `bash requirements/lock.sh`: {lock}.txt does not satisfy {stale}"


@pytest.mark.parametrize("lock", ["gpu", "metal"])
def test_locks_differ_from_cpu_only_by_what_they_add(lock: str) -> None:
    for platform, python in itertools.product(locks.PLATFORMS, locks.PYTHONS):
        cpu = {pin.name: pin.version for pin in locks.pins("cpu", platform, python)}
        other = {pin.name: pin.version for pin in locks.pins(lock, platform, python)}
        shared = set(cpu) & set(other)
        assert {name: cpu[name] for name in shared} == {name: other[name] for name in shared}


def test_the_browser_lock_has_the_group_and_keeps_the_versions_of_cpu() -> None:
    """requirements/browser.txt (Selenium, for CI's test of the room kit's page) satisfies the
    dependency group `browser` and installs on top of cpu.txt without moving a version."""
    group = _load_toml(ROOT / "pyproject.toml")["dependency-groups"]["browser"]
    for platform, python in itertools.product(locks.PLATFORMS, locks.PYTHONS):
        browser = {pin.name: pin.version for pin in locks.pins("browser", platform, python)}
        cpu = {pin.name: pin.version for pin in locks.pins("cpu", platform, python)}
        for line in group:
            requirement = Requirement(line)
            assert requirement.specifier.contains(browser[canonicalize_name(requirement.name)])
        shared = set(browser) & set(cpu)
        assert {n: browser[n] for n in shared} == {n: cpu[n] for n in shared}
        assert not set(browser) & locks.TENSORFLOW_DISTRIBUTIONS
    assert "browser" not in locks.LOCKS  # never installed by the setup scripts


@pytest.mark.parametrize("lock", ["cpu", "gpu", "metal", "browser"])
def test_lock_says_how_it_was_made(lock: str) -> None:
    head = locks.lock_path(lock).read_text(encoding="utf-8").splitlines()[:2]
    assert head == [
        "# This file was autogenerated by uv via the following command:",
        "#    bash requirements/lock.sh",
    ]


def test_read_and_requirements_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locks, "LOCK_DIR", tmp_path)
    (tmp_path / "x.txt").write_text(
        "# header\n"
        "numpy==2.2.6 ; python_full_version < '3.11' \\\n"
        "    --hash=sha256:aa \\\n    --hash=sha256:bb\n    # via x\n"
        "numpy==2.4.6 ; python_full_version >= '3.11' \\\n    --hash=sha256:cc\n"
        "pywinpty==3.0.2 ; os_name == 'nt' \\\n    --hash=sha256:dd\n"
    )
    assert locks.requirements_for("x", "linux-x86_64", "3.10") == (
        "numpy==2.2.6 --hash=sha256:aa --hash=sha256:bb\n"
    )
    assert [p.name for p in locks.pins("x", "windows-amd64", "3.12")] == ["numpy", "pywinpty"]
    (tmp_path / "y.txt").write_text("numpy>=2\n")
    with pytest.raises(ValueError, match="not pinned"):
        locks.pins("y", "linux-x86_64", "3.12")


def test_pip_download_args_name_every_compatible_wheel_tag() -> None:
    args = locks.PLATFORMS["linux-x86_64"].pip_download_args("3.12")
    assert "--platform=manylinux_2_27_x86_64" in args  # TensorFlow's wheels
    assert "--platform=manylinux2014_x86_64" in args and "--platform=manylinux2010_x86_64" in args
    assert "--python-version=3.12" in args and "--implementation=cp" in args
    assert "--platform=win_amd64" in locks.PLATFORMS["windows-amd64"].pip_download_args("3.12")


def fake_site(tmp_path: Path, *dists: tuple[str, list[str]]) -> list[str]:
    """A folder of installed distributions: (name, files it installed)."""
    site = tmp_path / "site"
    for name, files in dists:
        info = site / f"{name.replace('-', '_')}-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))
    return [str(site)]


TF_FILES = ["tensorflow/__init__.py", "tensorflow/python/x.py"]


@pytest.mark.parametrize(
    ("installed", "lock", "expected"),
    [
        # --cpu after --gpu on Linux x86_64: TensorFlow and the CUDA wheels go.
        (
            [("tensorflow", TF_FILES), ("nvidia-cudnn-cu12", ["nvidia/x"])],
            "cpu",
            ["nvidia-cudnn-cu12", "tensorflow"],
        ),
        # --gpu after --cpu: tensorflow-cpu goes, gpu.txt brings tensorflow.
        (
            [("tensorflow-cpu", TF_FILES), ("numpy", ["numpy/__init__.py"])],
            "gpu",
            ["tensorflow-cpu"],
        ),
        # Two builds at once (one overwrote the other): both go, the lock's is installed whole.
        (
            [("tensorflow-cpu", TF_FILES), ("tensorflow", TF_FILES)],
            "gpu",
            ["tensorflow", "tensorflow-cpu"],
        ),
        # A TensorFlow under a name we never heard of is found by its files.
        ([("tf-custom-build", TF_FILES)], "gpu", ["tf-custom-build"]),
        # --cpu after --metal: the plugin goes (TensorFlow would load it).
        ([("tensorflow-metal", ["tensorflow-plugins/x.so"])], "cpu", ["tensorflow-metal"]),
        # Nothing to do: the lock's own TensorFlow alone, or nothing installed yet.
        ([("tensorflow", TF_FILES), ("nvidia-cudnn-cu12", ["nvidia/x"])], "gpu", []),
        ([], "cpu", []),
    ],
)
def test_conflicts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, installed: list, lock: str, expected: list
) -> None:
    monkeypatch.setattr(locks.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(locks.sys, "platform", "linux")
    assert locks.conflicts(lock, path=fake_site(tmp_path, *installed)) == expected


def test_conflicts_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert locks.main(["conflicts", "nope"]) == 2
    assert (
        "usage: python -m labkit.install.locks conflicts {cpu,gpu,metal}" in capsys.readouterr().err
    )
