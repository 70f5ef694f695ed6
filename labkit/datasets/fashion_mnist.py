"""Fashion-MNIST: 70,000 grey-scale 28x28 images of clothes in 10 classes (Zalando Research)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from labkit.datasets.idx import load_idx_dataset
from labkit.datasets.store import Dataset

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

DATASET = Dataset(
    name="fashion-mnist",
    title="Fashion-MNIST",
    files={  # SHA-256 of the decompressed IDX files
        "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    mirrors=(
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets",
    ),
    system_dirs=(
        # Debian/Ubuntu: sudo apt install dataset-fashion-mnist
        Path("/usr/share/datasets/fashion-mnist"),
        # left by keras.datasets.fashion_mnist.load_data()
        Path("~/.keras/datasets/fashion-mnist"),
    ),
)


def load_fashion_mnist(
    data_dir: str | os.PathLike | None = None, download: bool = True
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load Fashion-MNIST, verified against its checksums (downloaded first
    when it is not on this machine and ``download`` is true).

    Returns ``(x_train, y_train), (x_test, y_test)``: images as ``uint8`` arrays of shape
    ``(60000, 28, 28)`` and ``(10000, 28, 28)`` with values 0-255, labels as ``uint8``
    arrays of shape ``(60000,)`` and ``(10000,)`` with values 0-9 (see ``CLASS_NAMES``).
    """
    return load_idx_dataset(DATASET, data_dir, download)
