"""What the room is told: the pack's contents and sizes, the stick's README, and the commands
that ``room serve`` prints and its page shows."""

from __future__ import annotations

from labkit.install.offline import DATA
from labkit.room.kit import ARCHIVE, FOLDER
from labkit.room.manifest import Manifest

TITLES = {
    "linux-x86_64": "Linux x86_64 (and WSL2), CPU",
    "linux-x86_64-gpu": "Linux x86_64 with an NVIDIA GPU",
    "linux-aarch64": "Linux aarch64",
    "macos-arm64": "macOS on Apple silicon",
    "macos-arm64-metal": "macOS on Apple silicon, Metal",
    "windows-amd64": "Windows amd64",
}


def megabytes(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def contents(manifest: Manifest, total: bool = True) -> list[str]:
    """One line per machine (its size for each Python), then the data, the kit and the
    total."""
    lines = []
    for target in sorted(manifest.targets):
        pythons = sorted(manifest.targets[target].pythons)
        each = ", ".join(
            f"{py}: {megabytes(manifest.bytes_of(manifest.wheels_of(target, py)))}"
            for py in pythons
        )
        both = megabytes(manifest.bytes_of(manifest.wheels_of(target)))
        lines.append(f"{target:<18} {both:>9}  (Python {each})")
    data = [p for paths in manifest.datasets.values() for p in paths]
    if data:
        names = ", ".join(sorted(manifest.datasets))
        lines.append(f"{'datasets':<18} {megabytes(manifest.bytes_of(data)):>9}  ({names})")
    if manifest.kit:
        lines.append(f"{'kit':<18} {megabytes(manifest.files[manifest.kit].bytes):>9}  ({ARCHIVE})")
    if total:
        files = f"{len(manifest.files)} files"
        lines.append(f"{'in all':<18} {megabytes(manifest.total_bytes):>9}  ({files})")
    return lines


def setup_commands(source: str, windows_source: str | None = None) -> list[str]:
    """The setup command on each system, from the pack at ``source`` (a folder or a URL)."""
    option = "--from" if source.startswith("http") else "--offline"
    windows = windows_source or source
    return [
        f"Linux, macOS:  bash Scripts/environment.sh {option} {source}",
        f"Windows:       Scripts\\environment.bat {option} {windows}",
    ]


def stick_readme(manifest: Manifest) -> str:
    """README.txt at the top of the pack: what an attendee does with the stick."""
    machines = "\n".join(
        f"  - {TITLES.get(t, t)}: Python {', '.join(sorted(e.pythons))}"
        for t, e in sorted(manifest.targets.items())
    )
    commands = "\n".join(
        "     " + line for line in setup_commands('"/media/you/USB STICK/pack"', '"E:\\pack"')
    )
    lines = [
        "Deep-learning workshop: the installation pack",
        "=============================================",
        "",
        "This folder installs the workshop on a computer without internet. It holds the",
        "packages for these computers:",
        machines,
        "Your computer needs nothing but one of these Pythons.",
        "",
        f"1. Copy {ARCHIVE} from this folder to your computer and unzip it (double-click",
        f"   it on Windows and macOS; `unzip {ARCHIVE}` on Linux). It holds the folder",
        f"   {FOLDER}. Open a terminal (Windows: Command Prompt) in that folder.",
        "2. Run the setup with the path of THIS folder (quoted when it has spaces):",
        commands,
        "   It installs every package from this folder only (each file checked against its",
        "   SHA-256), copies the datasets, and ends with READY, or with what to fix.",
        "3. Start JupyterLab with the command its last line prints, and open labs/.",
        "",
        "Already have the kit (a clone of the repository)? Skip step 1. The datasets alone:",
        f"python -m labkit data fetch --from <this folder>/{DATA}",
        "",
        "Made by `python -m labkit room pack` on " + manifest.created + ". Contents:",
        *("  " + line for line in contents(manifest, total=False)),
        "",
        "To check a copy of this folder: sha256sum -c SHA256SUMS (Linux, WSL2),",
        "shasum -a 256 -c SHA256SUMS (macOS).",
    ]
    return "\n".join(lines) + "\n"


def room_instructions(url: str, has_pack: bool) -> list[str]:
    """What the instructor gives the room when serving at ``url``."""
    send = f'python main.py --send {url} --name "Your Name"'
    if not has_pack:
        return [f"When your setup ends, send your report: {send}"]
    return [
        f"1. Download the kit: {url}/{ARCHIVE} (in a browser), unzip it, and open a terminal",
        f"   in its folder {FOLDER} (Windows: Command Prompt).",
        "2. Install from this server (no internet needed):",
        *("     " + line for line in setup_commands(url)),
        "   The setup ends by sending its report here. To send it again, with your name:",
        f"     {send}",
    ]
