"""Datasets for the labs: found locally or downloaded, always verified by checksum.

>>> from labkit.datasets import load_fashion_mnist
>>> (x_train, y_train), (x_test, y_test) = load_fashion_mnist()

Where files are looked for, in order: the ``data_dir`` argument, the repository's ``data/``
(where ``fetch`` puts a verified copy), ``LABKIT_DATA_DIR``, then system folders (see
``labkit.datasets.store``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from labkit.datasets import atis, fashion_mnist, mnist, store
from labkit.datasets.atis import Atis, AtisSplit, load_atis
from labkit.datasets.fashion_mnist import CLASS_NAMES as FASHION_MNIST_CLASSES
from labkit.datasets.fashion_mnist import load_fashion_mnist
from labkit.datasets.mnist import load_mnist
from labkit.datasets.store import Dataset
from labkit.errors import DataError

DATASETS: dict[str, Dataset] = {
    d.name: d for d in (fashion_mnist.DATASET, atis.DATASET, mnist.DATASET)
}

__all__ = [
    "DATASETS",
    "FASHION_MNIST_CLASSES",
    "Atis",
    "AtisSplit",
    "DataError",
    "Dataset",
    "fetch",
    "find",
    "load_atis",
    "load_fashion_mnist",
    "load_mnist",
    "verify",
]


def _dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(f"Unknown dataset {name!r}; choose from {', '.join(DATASETS)}.") from None


def find(name: str, data_dir: str | os.PathLike | None = None) -> Path | None:
    """The folder that holds all of the dataset's files, or None (existence only, no hashing)."""
    return store.find(_dataset(name), data_dir)


def verify(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The dataset's folder after checking every file's checksum; DataError otherwise."""
    return store.verify(_dataset(name), data_dir)


def fetch(
    name: str,
    data_dir: str | os.PathLike | None = None,
    sources: Sequence[str | os.PathLike] = (),
) -> Path:
    """Make the dataset available, verified; returns its folder: a copy in the repository's
    ``data/`` (or ``data_dir``), copied from ``sources`` or another folder that holds one,
    else downloaded. A verified copy in a system folder is used where it is."""
    return store.fetch(_dataset(name), data_dir, sources)
