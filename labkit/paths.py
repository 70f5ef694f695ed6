"""Where the kit lives on disk."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# labkit is installed in editable mode from the repository, so its parent is the repo root.
REPO_ROOT = PACKAGE_DIR.parent


def in_checkout() -> bool:
    """True when labkit runs from a clone of the workshop repository."""
    return (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "labkit").is_dir()


def default_data_dir() -> Path:
    """Where downloads go: the repo's ``data/``, or ``~/labkit-data`` outside a checkout."""
    return REPO_ROOT / "data" if in_checkout() else Path.home() / "labkit-data"
