"""MNIST: 70,000 grey-scale 28x28 images of handwritten digits (LeCun, Cortes and Burges)."""

from __future__ import annotations

import os

import numpy as np

from labkit.datasets.idx import load_idx_dataset
from labkit.datasets.store import Dataset

CLASS_NAMES = tuple(str(d) for d in range(10))

DATASET = Dataset(
    name="mnist",
    title="MNIST",
    files={  # SHA-256 of the decompressed IDX files
        "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    mirrors=(
        "https://storage.googleapis.com/cvdf-datasets/mnist",
        "https://ossci-datasets.s3.amazonaws.com/mnist",
    ),
    required=False,  # no lab needs it; an alternative to Fashion-MNIST
)


def load_mnist(
    data_dir: str | os.PathLike | None = None, download: bool = True
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST, verified against its checksums (downloaded first
    when it is not on this machine and ``download`` is true).

    Returns ``(x_train, y_train), (x_test, y_test)`` with the same shapes and dtypes as
    ``load_fashion_mnist``: ``uint8`` images ``(N, 28, 28)``, ``uint8`` labels 0-9.
    """
    return load_idx_dataset(DATASET, data_dir, download)
