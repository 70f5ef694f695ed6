"""Fast mode: ``LABKIT_FAST=1`` runs every notebook on a subset with few epochs.

The same notebook then runs in seconds under test and trains to its target otherwise:

>>> EPOCHS = choose(full=12, fast=1)
"""

from __future__ import annotations

from typing import TypeVar

from labkit import settings

T = TypeVar("T")


def is_fast() -> bool:
    """True when ``LABKIT_FAST`` is set to 1/true/yes/on."""
    return settings.fast()


def choose(full: T, fast: T) -> T:
    """``fast`` in fast mode, ``full`` otherwise."""
    return fast if is_fast() else full
