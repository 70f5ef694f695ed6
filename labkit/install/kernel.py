"""The workshop's Jupyter kernel: the notebooks ask for ``dl-workshop``; ``register`` makes that
name start this environment's Python (the setup scripts run ``python -m labkit kernel``).

It writes the kernel twice:

- into the environment (``<env>/share/jupyter/kernels``). Jupyter started from a virtual
  environment, or from an activated conda environment, looks there before the user's folder
  (jupyter_core's default), so JupyterLab started from this environment opens the labs on it,
  whatever another clone registered;
- for the user (``jupyter --data-dir``), so that another Jupyter, or VS Code, lists it. When the
  name already belongs to another environment that still exists (a second clone), this one is
  registered as ``dl-workshop-<8 hex>`` instead of taking the name over silently.

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


def register(prefix: str | os.PathLike | None = None, take_over: bool = False) -> Registration:
    """Register ``dl-workshop`` for this Python, in the environment at ``prefix`` (default:
    ``sys.prefix``) and for the user (``jupyter --data-dir``, or ``JUPYTER_DATA_DIR``)."""
    from ipykernel.kernelspec import install
    from jupyter_core.paths import jupyter_data_dir

    env = kernel_environment()
    prefix = os.path.abspath(prefix or sys.prefix)
    env_kernel = Path(
        install(kernel_name=KERNEL_NAME, display_name=DISPLAY_NAME, prefix=prefix, env=dict(env))
    )

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
        taken_by, replaced = owner, None
    user_kernel = Path(install(user=True, kernel_name=name, display_name=display, env=dict(env)))
    return Registration(env_kernel, user_kernel, display, taken_by, replaced)
