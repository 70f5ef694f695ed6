"""`room pack` without network: pip is replaced by a fake PyPI of three packages (a pure wheel,
a compiled one with a Linux and a macOS wheel, one published as source only) and the locks by
pins of those. What lands in the pack, what a second run downloads (nothing), what an
interrupted or altered download leaves behind (nothing that looks complete), and the kit's
archive (from a scratch git repository)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from conftest import REPO_ROOT, dataset_or_skip

from labkit.__main__ import main as labkit_main
from labkit.install import locks
from labkit.room import kit, wheels
from labkit.room import manifest as manifests
from labkit.room.pack import pack
from labkit.room.wheels import PackError

# The fake PyPI: file name -> content.
FILES = {
    "alpha-1.0-py3-none-any.whl": b"alpha, pure Python",
    "beta-2.0-cp311-cp311-manylinux_2_17_x86_64.whl": b"beta for Linux",
    "beta-2.0-cp311-cp311-macosx_11_0_arm64.whl": b"beta for macOS",
    "gamma-0.5.tar.gz": b"gamma's source",
}
BUILT = ("gamma-0.5-py3-none-any.whl", b"gamma, built from its source")


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


PINS = [
    locks.Pin("alpha", "1.0", (sha(FILES["alpha-1.0-py3-none-any.whl"]),)),
    locks.Pin(
        "beta",
        "2.0",
        tuple(sha(data) for name, data in FILES.items() if name.startswith("beta")),
    ),
    locks.Pin("gamma", "0.5", (sha(FILES["gamma-0.5.tar.gz"]),)),
]


class FakePip:
    """Stands for `python -m pip download|wheel`: writes the fake PyPI's files, records calls."""

    def __init__(self) -> None:
        self.downloads: list[list[str]] = []  # the packages each download asked for
        self.builds = 0
        self.tamper: bytes | None = None  # content to write instead of the real one
        self.interrupt = False  # stop half-way, like Ctrl-C
        self.built = BUILT

    def __call__(self, args: list[str]) -> None:
        if args[0] == "wheel":
            self.builds += 1
            out = Path(args[args.index("-w") + 1])
            out.mkdir(parents=True, exist_ok=True)
            (out / self.built[0]).write_bytes(self.built[1])
            return
        requirements = Path(args[args.index("-r") + 1]).read_text().splitlines()
        wanted = [line.split("==")[0] for line in requirements]
        self.downloads.append(wanted)
        dest = Path(args[args.index("-d") + 1])
        dest.mkdir(parents=True, exist_ok=True)
        mac = any("macosx" in a for a in args)
        for name in wanted:
            files = [f for f in FILES if f.startswith(name + "-")]
            file = next(f for f in files if len(files) == 1 or ("macosx" in f) == mac)
            data = self.tamper if self.tamper is not None else FILES[file]
            if self.interrupt:
                (dest / file).write_bytes(data[: len(data) // 2])
                raise KeyboardInterrupt
            (dest / file).write_bytes(data)


@pytest.fixture
def fake_pip(monkeypatch: pytest.MonkeyPatch) -> FakePip:
    fake = FakePip()
    monkeypatch.setattr(wheels, "run_pip", fake)
    monkeypatch.setattr(locks, "pins", lambda lock, platform, python: PINS)
    return fake


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A scratch clone: a few files, one executable, one ignored, one new but not ignored."""
    repo = tmp_path / "repo"
    (repo / "Scripts").mkdir(parents=True)
    (repo / "Scripts" / "environment.sh").write_text("#!/usr/bin/env bash\necho setup\n")
    (repo / "Scripts" / "environment.sh").chmod(0o755)
    (repo / "README.md").write_text("the kit\n")
    (repo / ".gitignore").write_text(".venv/\ndata/*\n")
    (repo / "data").mkdir()
    (repo / "data" / "big.gz").write_bytes(b"dataset")
    (repo / ".venv").mkdir()
    (repo / ".venv" / "python").write_text("env")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "kit"], check=True)
    (repo / "new_notebook.ipynb").write_text("{}")  # new, not committed: still in the kit
    return repo


def make(out: Path, repo: Path, targets=("linux-x86_64",), pythons=("3.11",), datasets=()):
    return pack(out, list(targets), list(pythons), list(datasets), say=lambda line: None, repo=repo)


def test_a_pack_holds_the_wheels_of_each_machine_checked_and_listed(
    fake_pip: FakePip, repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pack"
    outcome = make(out, repo, targets=("linux-x86_64", "macos-arm64"))
    m = outcome.manifest
    assert sorted(p.name for p in (out / "wheels").iterdir()) == sorted(
        [*[f for f in FILES if f.endswith(".whl")], BUILT[0]]
    )
    linux = m.targets["linux-x86_64"].pythons["3.11"]
    assert linux.wheels == sorted(
        [
            "wheels/alpha-1.0-py3-none-any.whl",
            "wheels/beta-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",
            f"wheels/{BUILT[0]}",
        ]
    )
    assert "wheels/beta-2.0-cp311-cp311-macosx_11_0_arm64.whl" in (
        m.targets["macos-arm64"].pythons["3.11"].wheels
    )
    # Each machine's requirements name the hash of the very file the pack holds.
    requirements = (out / linux.requirements).read_text()
    assert f"beta==2.0 --hash={sha(FILES['beta-2.0-cp311-cp311-manylinux_2_17_x86_64.whl'])}" in (
        requirements
    )
    assert f"gamma==0.5 --hash={sha(BUILT[1])}" in requirements  # the wheel built here
    assert f"from gamma-0.5.tar.gz ({sha(FILES['gamma-0.5.tar.gz'])}" in requirements
    assert m.built[BUILT[0]].source_sha256 == sha(FILES["gamma-0.5.tar.gz"])[7:]
    assert not (out / "wheels" / "gamma-0.5.tar.gz").exists()  # only what installs
    # The manifest and SHA256SUMS list every file with its true size and hash.
    on_disk = {
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and p.name not in ("manifest.json", "SHA256SUMS")
    }
    assert set(m.files) == on_disk
    for relpath, entry in m.files.items():
        data = (out / relpath).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry.bytes, entry.sha256)
    sums = (out / "SHA256SUMS").read_text().splitlines()
    assert len(sums) == len(m.files) and f"{m.files['README.txt'].sha256}  README.txt" in sums
    assert manifests.load(out) == m
    readme = (out / "README.txt").read_text()
    assert "--offline" in readme and "environment.bat" in readme and "Python 3.11" in readme
    assert outcome.new_files == sorted([*[f for f in FILES if f.endswith(".whl")], BUILT[0]])
    # Files a stick's other readers can read.
    assert all((out / p).stat().st_mode & 0o044 == 0o044 for p in m.files)


def test_a_second_run_downloads_nothing_and_a_new_machine_only_its_own_files(
    fake_pip: FakePip, repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pack"
    make(out, repo)
    assert fake_pip.downloads == [["alpha", "beta", "gamma"]] and fake_pip.builds == 1
    again = make(out, repo)
    assert fake_pip.downloads == [["alpha", "beta", "gamma"]] and fake_pip.builds == 1
    assert again.new_files == []
    # macOS needs only its own beta: alpha and the built gamma serve every machine.
    more = make(out, repo, targets=("macos-arm64",))
    assert fake_pip.downloads[1:] == [["beta"]] and fake_pip.builds == 1
    assert more.new_files == ["beta-2.0-cp311-cp311-macosx_11_0_arm64.whl"]
    assert set(more.manifest.targets) == {"linux-x86_64", "macos-arm64"}  # the first one stays


def test_an_interrupted_download_leaves_nothing_that_looks_complete(
    fake_pip: FakePip, repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pack"
    fake_pip.interrupt = True
    with pytest.raises(KeyboardInterrupt):
        make(out, repo)
    assert list((out / "wheels").iterdir()) == []
    assert not (out / "manifest.json").exists()
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # staging removed
    fake_pip.interrupt = False
    outcome = make(out, repo)  # the same command finishes the job
    assert len(outcome.manifest.targets["linux-x86_64"].pythons["3.11"].wheels) == 3


def test_an_altered_download_is_refused(fake_pip: FakePip, repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "pack"
    fake_pip.tamper = b"what a broken proxy sends"
    with pytest.raises(PackError, match="its SHA-256 differs"):
        make(out, repo)
    assert list((out / "wheels").iterdir()) == [] and not (out / "manifest.json").exists()


def test_a_wheel_altered_in_the_pack_is_downloaded_again(
    fake_pip: FakePip, repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pack"
    make(out, repo)
    (out / "wheels" / "alpha-1.0-py3-none-any.whl").write_bytes(b"bit rot")
    make(out, repo)
    assert fake_pip.downloads[1] == ["alpha"]
    assert (out / "wheels" / "alpha-1.0-py3-none-any.whl").read_bytes() == FILES[
        "alpha-1.0-py3-none-any.whl"
    ]


def test_a_source_that_builds_a_binary_wheel_is_refused(
    fake_pip: FakePip, repo: Path, tmp_path: Path
) -> None:
    fake_pip.built = ("gamma-0.5-cp311-cp311-linux_x86_64.whl", b"compiled")
    with pytest.raises(PackError, match="not pure Python"):
        make(tmp_path / "pack", repo)


def test_files_no_machine_needs_any_more_are_removed(
    fake_pip: FakePip, repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pack"
    make(out, repo)
    (out / "wheels" / "alpha-0.9-py3-none-any.whl").write_bytes(b"an older lock's")
    (out / "requirements" / "linux-x86_64-py3.9.txt").write_text("old")
    make(out, repo)
    assert not (out / "wheels" / "alpha-0.9-py3-none-any.whl").exists()
    assert not (out / "requirements" / "linux-x86_64-py3.9.txt").exists()


def test_the_pack_copies_the_datasets_verified(
    fake_pip: FakePip, repo: Path, tmp_path: Path
) -> None:
    dataset_or_skip("atis")
    out = tmp_path / "pack"
    m = make(out, repo, datasets=["atis"]).manifest
    assert m.datasets["atis"][0].startswith("data/atis/")
    from labkit.datasets import verify

    assert verify("atis", out / "data") == out / "data" / "atis"


def test_the_kit_is_the_clones_files_without_data_venv_or_the_pack(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "pack").mkdir()  # a pack made inside the clone is not part of the kit
    (repo / "pack" / "x.whl").write_text("wheel")
    name, count = kit.write(repo, repo / "pack")
    with zipfile.ZipFile(repo / "pack" / name) as zf:
        names = zf.namelist()
        mode = zf.getinfo(f"{kit.FOLDER}/Scripts/environment.sh").external_attr >> 16
    assert sorted(names) == [
        f"{kit.FOLDER}/{n}"
        for n in (".gitignore", "README.md", "Scripts/environment.sh", "new_notebook.ipynb")
    ]
    assert count == 4 and mode & 0o111  # executable stays executable
    first = (repo / "pack" / name).read_bytes()
    (repo / "pack" / name).touch()
    kit.write(repo, repo / "pack")
    assert (repo / "pack" / name).read_bytes() == first  # the same files, the same bytes


def test_the_kit_needs_a_git_clone(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="git clone"):
        kit.files(tmp_path)


def test_the_real_kit_has_what_an_attendee_runs(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git clone")
    names = kit.files(REPO_ROOT, exclude=tmp_path)
    for needed in (
        "Scripts/environment.sh",
        "Scripts/environment.bat",
        "main.py",
        "pyproject.toml",
        "requirements/cpu.txt",
        "labkit/install/offline.py",
    ):
        assert needed in names
    assert not [n for n in names if n.startswith((".venv/", "data/")) and n != "data/README.md"]


def test_the_command_reports_sizes_and_a_failed_download_clearly(
    fake_pip: FakePip,
    repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("labkit.room.pack.REPO_ROOT", repo)
    monkeypatch.setattr("labkit.room.cli.DATASETS", {})  # no data: a wheels-only pack
    out = tmp_path / "pack"
    args = ["room", "pack", str(out), "--platforms", "linux-x86_64", "--pythons", "3.11"]
    assert labkit_main(args) == 0
    printed = capsys.readouterr().out
    assert "linux-x86_64" in printed and "in all" in printed and "MB" in printed
    assert "downloaded or built 3 wheels" in printed
    assert labkit_main(args) == 0
    assert "This run downloaded nothing" in capsys.readouterr().out

    def offline(args: list[str]) -> None:
        raise PackError("`pip download` failed (see its messages above).")

    monkeypatch.setattr(wheels, "run_pip", offline)
    args[4] = "macos-arm64"
    assert labkit_main(args) == 1
    err = capsys.readouterr().err
    assert "macos-arm64 with Python 3.11 failed" in err and "Traceback" not in err
    assert json.loads((out / "manifest.json").read_text())["targets"].keys() == {"linux-x86_64"}


@pytest.mark.parametrize(
    ("platform", "accepts", "refuses"),
    [
        ("linux-x86_64", "cp311-cp311-manylinux_2_28_x86_64", "cp311-cp311-win_amd64"),
        ("macos-arm64", "cp311-cp311-macosx_11_0_arm64", "cp311-cp311-macosx_15_0_arm64"),
        ("windows-amd64", "cp311-abi3-win_amd64", "cp312-cp312-win_amd64"),
    ],
)
def test_wheel_tags_of_each_platform(platform: str, accepts: str, refuses: str) -> None:
    from packaging.tags import parse_tag

    order = locks.PLATFORMS[platform].wheel_tags("3.11")
    tags = set(order)
    assert parse_tag(accepts) <= tags and not parse_tag(refuses) & tags
    assert parse_tag("py3-none-any") <= tags
    assert order.index(next(iter(parse_tag("py3-none-any")))) > order.index(
        next(iter(parse_tag(accepts)))
    )  # pip prefers the specific wheel to the generic one


def test_of_two_wheels_that_serve_a_machine_the_one_pip_prefers_is_chosen(tmp_path: Path) -> None:
    generic, specific = b"generic build", b"manylinux build"
    (tmp_path / "delta-1.0-py3-none-any.whl").write_bytes(generic)
    (tmp_path / "delta-1.0-cp311-cp311-manylinux_2_17_x86_64.whl").write_bytes(specific)
    (tmp_path / "delta-1.0-cp311-cp311-win_amd64.whl").write_bytes(b"windows build")
    inventory = wheels.Inventory(tmp_path, {})
    pin = locks.Pin("delta", "1.0", (sha(generic), sha(specific), sha(b"windows build")))
    for platform, expected in (
        ("linux-x86_64", "delta-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
        ("windows-amd64", "delta-1.0-cp311-cp311-win_amd64.whl"),
        ("macos-arm64", "delta-1.0-py3-none-any.whl"),
    ):
        order = locks.PLATFORMS[platform].wheel_tags("3.11")
        accepted = {tag: rank for rank, tag in reversed(list(enumerate(order)))}
        assert wheels.find(pin, accepted, inventory) == expected
    other = locks.Pin("delta", "1.0", (sha(b"another release's file"),))
    assert wheels.find(other, accepted, inventory) is None  # right name, wrong content
