"""Install from an instructor's pack (``python -m labkit room pack``) instead of the internet:
from a USB stick or a folder (``Scripts/environment.sh --offline DIR``), or from the room's
server (``--from http://HOST:PORT``, ``python -m labkit room serve``).

A pack holds ``manifest.json`` (every file with its SHA-256, and which wheels serve which
machine), ``wheels/``, ``requirements/<target>-py<X.Y>.txt`` (one hash-checked file per machine
and Python), ``data/`` and a copy of the kit. The setup scripts run

    python -m labkit.install.offline requirements SOURCE LOCK OUT

before anything is installed (so this module imports the standard library only): it picks the
requirements file of this machine, checks its SHA-256 against the manifest and writes it to OUT
with the options that make pip take every file from the pack and nothing from an index. A pack
without this machine's wheels is an error that names the machine and the command that adds them.
"""

from __future__ import annotations

import json
import platform
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from hashlib import sha256
from pathlib import Path
from typing import Any

from labkit.errors import LabkitError, first_line
from labkit.install import locks
from labkit.paths import is_url

MANIFEST = "manifest.json"
WHEELS = "wheels"
DATA = "data"
REQUIREMENTS = "requirements"
PACK_COMMAND = "python -m labkit room pack"
MAX_READ = 16 * 1024 * 1024  # a manifest or a requirements file is far smaller
TIMEOUT_S = 30.0


class PackError(LabkitError):
    """The pack cannot serve this machine, or cannot be read."""


def target_name(machine: str, lock: str) -> str:
    """The pack's name for what one machine installs: its platform (a key of
    ``locks.PLATFORMS``, e.g. ``linux-x86_64``), plus the lock when it is not the default one
    (``linux-x86_64-gpu``, ``macos-arm64-metal``)."""
    return machine if lock == "cpu" else f"{machine}-{lock}"


def requirements_path(target: str, python: str) -> str:
    """Where the pack keeps the hash-checked requirements of one machine and Python."""
    return f"{REQUIREMENTS}/{target}-py{python}.txt"


def read(source: str, relpath: str) -> bytes:
    """The bytes of ``relpath`` in the pack at ``source`` (a folder or an http(s) URL)."""
    if not is_url(source):
        path = Path(source).expanduser() / relpath
        try:
            with path.open("rb") as f:
                return f.read(MAX_READ)
        except OSError as exc:
            raise PackError(
                f"Cannot read {path} ({exc.strerror or first_line(exc)}). Is {source} the pack "
                f"folder (the one with {MANIFEST})? Made by `{PACK_COMMAND} DIR`."
            ) from None
    url = f"{source.rstrip('/')}/{relpath}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return response.read(MAX_READ)
    except urllib.error.HTTPError as exc:
        raise PackError(f"{url}: HTTP {exc.code} {exc.reason}.") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PackError(
            f"Cannot reach the room's server at {source} ({first_line(str(reason))}). Check the "
            "address the instructor gave, and that this computer is on the room's network."
        ) from None


def load_manifest(source: str) -> dict[str, Any]:
    """The pack's manifest."""
    try:
        manifest = json.loads(read(source, MANIFEST))
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or not all(
        isinstance(manifest.get(key), dict) for key in ("targets", "files")
    ):
        raise PackError(
            f"{source}/{MANIFEST} is not a pack's manifest: make the pack again with "
            f"`{PACK_COMMAND} DIR`."
        )
    return manifest


def _offer(manifest: dict[str, Any]) -> str:
    """What the pack holds, e.g. "linux-x86_64 (Python 3.11, 3.12), windows-amd64 (3.12)"."""
    parts = [
        f"{target} (Python {', '.join(sorted(entry['pythons']))})"
        for target, entry in sorted(manifest["targets"].items())
    ]
    return ", ".join(parts) or "no wheels at all"


def choose(manifest: dict[str, Any], lock: str, machine: str | None, python: str) -> str:
    """The requirements file in the pack for ``machine`` (a key of ``locks.PLATFORMS``, None
    for a machine the locks do not serve) and ``python``; PackError when there is none."""
    if machine is None:
        raise PackError(
            f"The workshop's packages exist for Linux x86_64 and aarch64, macOS on Apple "
            f"silicon and Windows amd64; this computer is {platform.system()} "
            f"{platform.machine()}. Use Colab, or another computer."
        )
    target = target_name(machine, lock)
    entry = manifest["targets"].get(target, {}).get("pythons", {}).get(python)
    if entry is None:
        raise PackError(
            f"This pack has no wheels for this computer: {target} with Python {python}.\n"
            f"It holds: {_offer(manifest)}.\n"
            "Either make the environment with a Python the pack has (--python PATH), or add "
            "this one to the pack, on a computer with internet:\n"
            f"  {PACK_COMMAND} PACK_FOLDER --platforms {target} --pythons {python}"
        )
    return entry["requirements"]


def has(source: str, lock: str, python: str | None = None) -> bool:
    """True when the pack serves ``lock`` on this machine (this Python by default)."""
    manifest = load_manifest(source)
    target = target_name(locks.this_platform() or "", lock)
    pythons = manifest["targets"].get(target, {}).get("pythons", {})
    return (python or _this_python()) in pythons


def _this_python() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def pip_options(source: str) -> list[str]:
    """The lines that make pip install from the pack's wheels only, never from an index.
    A folder becomes a file:// URL: pip splits option lines like a POSIX shell, which would
    eat the backslashes of a Windows path."""
    if is_url(source):
        base = source.rstrip("/")
        options = ["--no-index", f"--find-links {base}/{WHEELS}/"]
        netloc = urllib.parse.urlsplit(base).netloc
        if base.startswith("http://"):  # pip ignores a plain-http location it does not trust
            options.append(f"--trusted-host {netloc}")
        return options
    wheels = (Path(source).expanduser().resolve() / WHEELS).as_uri()
    return ["--no-index", f"--find-links {wheels}"]


def write_requirements(source: str, lock: str, out: Path) -> str:
    """Write to ``out`` this machine's requirements from the pack, checked against the
    manifest, with the options of ``pip_options``; returns a one-line summary."""
    manifest = load_manifest(source)
    python = _this_python()
    relpath = choose(manifest, lock, locks.this_platform(), python)
    content = read(source, relpath)
    expected = manifest["files"].get(relpath, {}).get("sha256")
    if sha256(content).hexdigest() != expected:
        raise PackError(
            f"{relpath} in the pack does not match its SHA-256 in {MANIFEST}: the copy is "
            f"damaged. Copy the pack again, or make it again with `{PACK_COMMAND} DIR`."
        )
    header = [f"# {relpath} from the pack at {source}", *pip_options(source)]
    out.write_text("\n".join(header) + "\n" + content.decode("utf-8"), encoding="utf-8")
    target = target_name(locks.this_platform() or "", lock)
    entry = manifest["targets"][target]["pythons"][python]
    size = sum(manifest["files"][w]["bytes"] for w in entry["wheels"])
    return f"{target}, Python {python}: {len(entry['wheels'])} wheels, {size / 1e6:,.0f} MB"


USAGE = f"""usage: python -m labkit.install.offline requirements SOURCE LOCK OUT
       python -m labkit.install.offline has SOURCE LOCK

SOURCE: a pack folder (a USB stick) or the room server's URL; LOCK: one of {", ".join(locks.LOCKS)}.
requirements: write this machine's hash-checked requirements from the pack to OUT, with the
              options that make pip install from the pack only.
has:          exit 0 when the pack serves LOCK on this machine and Python, 1 otherwise."""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    shapes = {"requirements": 4, "has": 3}
    if not args or shapes.get(args[0]) != len(args) or args[2] not in locks.LOCKS:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        if args[0] == "has":
            return 0 if has(args[1], args[2]) else 1
        print(write_requirements(args[1], args[2], Path(args[3])))
    except PackError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
