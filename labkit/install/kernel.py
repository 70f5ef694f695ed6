"""The workshop's Jupyter kernel: the notebooks ask for ``dl-workshop``; ``register`` makes that
name start this environment's Python (the setup scripts run ``python -m labkit kernel``).

It writes the kernel twice:

- into the environment (``<env>/share/jupyter/kernels``). Jupyter started from a virtual
  environment, or from an activated conda environment, looks there before the user's folder
  (jupyter_core's default), so JupyterLab started from this environment opens the labs on it,
  whatever another clone registered;
- for the user (``jupyter --data-dir``), so that another Jupyter, or VS Code, lists it. When the
  name already belongs to another environment that still exists (a second clone), this one is
  registered as ``dl-workshop-<8 hex>`` instead of taking the name over silently, shown as
  "Python (dl-workshop, <folder>)", with the same hex when another clone's folder has the same
  name: every clone has a name of its own in the kernel picker. Both registrations show the
  same name, the one the setup says (``kernel --which``).

``kernel --list`` lists the kit's kernels of every Jupyter folder, ``kernel --remove`` removes
those whose Python is gone (deleted clones), or the ones named.

``register`` also turns off JupyterLab's "get notified about official Jupyter news?" prompt for
this environment (``overrides.json`` in its JupyterLab settings), so that a room of attendees
does not each meet it on first opening.

The kernel also names this environment's ``tensorboard`` program (TENSORBOARD_BINARY): the
labs' ``%tensorboard`` cell otherwise looks for it on PATH, where it is missing when Jupyter
was started without activating the environment (``.venv/bin/python -m jupyter lab``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from labkit.paths import REPO_ROOT

KERNEL_NAME = "dl-workshop"
DISPLAY_NAME = "Python (dl-workshop)"
# JupyterLab settings every attendee would otherwise answer (<env>/share/jupyter/lab/settings).
LAB_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}
}


@dataclass(frozen=True)
class Registration:
    """Where ``register`` put the kernel, and why the user-level name is what it is."""

    env_kernel: Path
    user_kernel: Path
    display_name: str
    taken_by: str | None = None  # the Python that keeps the name dl-workshop, when not this one
    replaced: str | None = None  # the Python whose user-level registration this one replaced

    @property
    def user_name(self) -> str:
        return self.user_kernel.name

    def report(self) -> str:
        """What to tell the person who ran the setup."""
        lines = [
            f'Kernel "{self.display_name}" ({self.user_name}) for {sys.executable}:',
            f"  in the environment: {self.env_kernel}",
            f"  for your user:      {self.user_kernel}",
        ]
        if self.replaced:
            gone = "" if Path(self.replaced).exists() else ", which no longer exists"
            lines.append(f"  It replaces the registration of {self.replaced}{gone}.")
        if self.taken_by:
            lines += [
                f"The name {KERNEL_NAME} belongs to another environment that still exists",
                f"  ({self.taken_by}, another clone?) and stays with it. JupyterLab started",
                "  from this environment opens the labs on this one all the same; in another",
                f'  Jupyter or in VS Code pick "{self.display_name}". To give this environment',
                f"  the name instead: {sys.executable} -m labkit kernel --take-over",
            ]
        return "\n".join(lines)


def _interpreter(kernel_dir: Path) -> str | None:
    """The Python a kernelspec starts (its argv[0]), or None when there is no readable one."""
    try:
        argv = json.loads((kernel_dir / "kernel.json").read_text(encoding="utf-8"))["argv"]
        return str(argv[0])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


def _is_this_python(path: str) -> bool:
    """The same interpreter path as ours. Symlinks are not followed: the pythons of two virtual
    environments usually link to the same base Python."""
    ours = os.path.normcase(os.path.abspath(sys.executable))
    return os.path.normcase(os.path.abspath(path)) == ours


def _held_by_another(owner: str | None) -> bool:
    """True when ``owner`` is a live interpreter other than ours (then we leave its name)."""
    if owner is None or not os.path.isabs(owner) or _is_this_python(owner):
        return False
    return Path(owner).exists()


def kernel_environment() -> dict[str, str]:
    """Variables the kernel starts with: where this environment's ``tensorboard`` is."""
    scripts = Path(sysconfig.get_path("scripts"))
    found = [p for p in (scripts / "tensorboard", scripts / "tensorboard.exe") if p.is_file()]
    return {"TENSORBOARD_BINARY": str(found[0])} if found else {}


def _display_name(folder: Path) -> str | None:
    try:
        return str(json.loads((folder / "kernel.json").read_text(encoding="utf-8"))["display_name"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _names_of_others(user_kernels: Path) -> set[str]:
    """The display names of the kit's user-level kernels that start another Python."""
    return {
        display
        for folder in user_kernels.glob(f"{KERNEL_NAME}*")
        if (python := _interpreter(folder)) and not _is_this_python(python)
        if (display := _display_name(folder))
    }


def register(prefix: str | os.PathLike | None = None, take_over: bool = False) -> Registration:
    """Register ``dl-workshop`` for this Python, in the environment at ``prefix`` (default:
    ``sys.prefix``) and for the user (``jupyter --data-dir``, or ``JUPYTER_DATA_DIR``), both
    under one display name; turn off JupyterLab's news prompt in that environment."""
    from ipykernel.kernelspec import install
    from jupyter_core.paths import jupyter_data_dir

    env = kernel_environment()
    prefix = os.path.abspath(prefix or sys.prefix)
    user_kernels = Path(jupyter_data_dir()) / "kernels"
    owner = _interpreter(user_kernels / KERNEL_NAME)
    if take_over or not _held_by_another(owner):
        name, display, taken_by = KERNEL_NAME, DISPLAY_NAME, None
        replaced = owner if owner and os.path.isabs(owner) and not _is_this_python(owner) else None
        # A fallback name registered while another clone held the name is no longer needed.
        for old in user_kernels.glob(f"{KERNEL_NAME}-*"):
            if (python := _interpreter(old)) and _is_this_python(python):
                shutil.rmtree(old, ignore_errors=True)
    else:
        digest = hashlib.sha256(os.path.normcase(prefix).encode("utf-8")).hexdigest()[:8]
        name, display = f"{KERNEL_NAME}-{digest}", f"Python (dl-workshop, {REPO_ROOT.name})"
        if display in _names_of_others(user_kernels):  # clones in folders of the same name
            display = f"Python (dl-workshop, {REPO_ROOT.name} {digest[:6]})"
        taken_by, replaced = owner, None
    env_kernel = Path(
        install(kernel_name=KERNEL_NAME, display_name=display, prefix=prefix, env=dict(env))
    )
    user_kernel = Path(install(user=True, kernel_name=name, display_name=display, env=dict(env)))
    quiet_jupyterlab(prefix)
    return Registration(env_kernel, user_kernel, display, taken_by, replaced)


def quiet_jupyterlab(prefix: str | os.PathLike) -> Path:
    """Write LAB_OVERRIDES into the JupyterLab settings of the environment at ``prefix``
    (``share/jupyter/lab/settings/overrides.json``), keeping any other setting there."""
    path = Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(settings, dict):
            settings = {}
    except (OSError, ValueError):
        settings = {}
    for plugin, values in LAB_OVERRIDES.items():
        settings[plugin] = {**(settings.get(plugin) or {}), **values}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def which(prefix: str | os.PathLike | None = None) -> str:
    """The display name of this environment's kernel (what the setup registered), or
    DISPLAY_NAME when it is not registered there."""
    folder = Path(prefix or sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME
    return _display_name(folder) or DISPLAY_NAME


@dataclass(frozen=True)
class KitKernel:
    """One of the kit's kernel registrations (``dl-workshop`` or ``dl-workshop-<hex>``)."""

    folder: Path
    display_name: str
    python: str | None

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def state(self) -> str:
        if self.python and _is_this_python(self.python):
            return "this environment"
        if self.python is None or not Path(self.python).exists():
            return "its Python is gone"
        return "another environment"


def kit_kernels() -> list[KitKernel]:
    """The kit's kernels in every folder Jupyter reads kernels from (the first of each name
    first: that is the one Jupyter uses)."""
    from jupyter_core.paths import jupyter_path

    found = []
    for root in jupyter_path("kernels"):
        for folder in sorted(Path(root).glob(f"{KERNEL_NAME}*")):
            if folder.is_dir() and (
                folder.name == KERNEL_NAME or folder.name[len(KERNEL_NAME)] == "-"
            ):
                found.append(KitKernel(folder, _display_name(folder) or "?", _interpreter(folder)))
    return found


def remove(names: list[str]) -> list[KitKernel]:
    """Remove the kit's user-level kernels named (every one whose Python is gone, when
    ``names`` is empty); returns those removed. This environment's own stays."""
    from jupyter_core.paths import jupyter_data_dir

    user_kernels = Path(jupyter_data_dir()) / "kernels"
    removed = []
    for kit in kit_kernels():
        if kit.folder.parent != user_kernels:
            continue
        if (kit.name in names) if names else kit.state == "its Python is gone":
            shutil.rmtree(kit.folder)
            removed.append(kit)
    return removed
