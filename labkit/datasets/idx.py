"""The IDX file format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/).

A big-endian header: two zero bytes, a type code, the number of dimensions, then
one 32-bit size per dimension, then the values.
"""

from __future__ import annotations

import os
import struct

import numpy as np

from labkit.datasets import store
from labkit.datasets.store import Dataset
from labkit.errors import DataError

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(content: bytes, source: str = "IDX data") -> np.ndarray:
    """Decode IDX bytes into an array (uint8 images are returned as ``uint8``)."""
    if len(content) < 4 or content[:2] != b"\x00\x00" or content[2] not in _DTYPES:
        raise DataError(
            f"{source} is not an IDX file (bad header). Run `python -m labkit data fetch` to replace it."
        )
    dtype = np.dtype(_DTYPES[content[2]])
    ndim = content[3]
    header = 4 + 4 * ndim
    if len(content) < header:
        raise DataError(
            f"{source} is truncated (incomplete header). Run `python -m labkit data fetch` to replace it."
        )
    shape = struct.unpack(f">{ndim}I", content[4:header])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(content) != expected:
        raise DataError(
            f"{source} has {len(content)} bytes but its header announces {expected}: the file "
            "is truncated or corrupt. Run `python -m labkit data fetch` to replace it."
        )
    array = np.frombuffer(content, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # native byte order, writable copy


def load_idx_dataset(
    dataset: Dataset, data_dir: str | os.PathLike | None = None, download: bool = True
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(x_train, y_train), (x_test, y_test)`` from the four standard IDX files, verified."""
    folder = store.obtain(dataset, data_dir, download)
    arrays = {}
    for name in dataset.files:
        content = store.read_file(dataset, folder, name)
        arrays[name.split("-idx")[0]] = parse_idx(content, source=str(folder / name))
    splits = []
    for split in ("train", "t10k"):
        images, labels = arrays[f"{split}-images"], arrays[f"{split}-labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(
                f"{folder}: {split} images {images.shape} do not match labels {labels.shape}. "
                "The files are mixed up: fetch them again."
            )
        splits.append((images, labels))
    return splits[0], splits[1]
