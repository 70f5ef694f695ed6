"""Where the kit lives: on disk (``REPO_ROOT``), and where it is published (``REPOSITORY_URL``);
where its data goes (``default_data_dir``, filled by ``FETCH_CMD``), and whether a source is a
folder or an address (``is_url``)."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# labkit is installed in editable mode from the repository, so its parent is the repo root.
REPO_ROOT = PACKAGE_DIR.parent

# Where the kit is published: the one place that names it is this data file (a placeholder until
# the kit is published). The notebook build writes it into every notebook's setup cell (which
# clones the kit on Colab and Kaggle), their "Open in Colab" links and the README's. A fork
# sets its own, once, with `python -m labkit notebooks build --repository-url URL`
# (https://github.com/OWNER/NAME), which writes this file and all of those.
REPOSITORY_URL_FILE = PACKAGE_DIR / "repository-url.txt"
REPOSITORY_URL = REPOSITORY_URL_FILE.read_text(encoding="utf-8").strip()


def in_checkout() -> bool:
    """True when labkit runs from a clone of the workshop repository."""
    return (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "labkit").is_dir()


FETCH_CMD = "python -m labkit data fetch"  # the command that fills default_data_dir()


def is_url(source: str) -> bool:
    """True for an http(s) address, as opposed to a folder."""
    return source.startswith(("http://", "https://"))


def default_data_dir() -> Path:
    """Where downloads go: the repo's ``data/``, or ``~/labkit-data`` outside a checkout."""
    return REPO_ROOT / "data" if in_checkout() else Path.home() / "labkit-data"
