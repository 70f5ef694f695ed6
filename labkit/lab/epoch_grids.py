"""Watch a generator learn: a grid of its images after every epoch, saved and shown.

``EpochGrids`` is a Keras callback: after each epoch it asks a generator for images from the
same fixed inputs (so that the grids differ only because the generator changed), keeps them and
writes them as one PNG per epoch (``epoch_001.png``, ...) into a folder. ``show()`` draws the
kept grids side by side: the training's progress in one figure. Like ``plots.show_images``, it
draws the lowest pixel value white and the highest black (``gray_r``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
from matplotlib.figure import Figure

from labkit.files import write_atomic


def tile(
    images: Any, nrows: int, value_range: tuple[float, float] = (-1.0, 1.0), gap: float = 0.0
) -> np.ndarray:
    """Images of shape ``(n, height, width[, 1])`` as one grey image of ``nrows`` rows (row by
    row), scaled from ``value_range`` to [0, 1], with 1-pixel gaps of the value ``gap``."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or len(images) % nrows:
        raise ValueError(
            f"tile needs (n, height, width) images with n a multiple of nrows={nrows}; "
            f"got shape {images.shape}."
        )
    low, high = value_range
    images = np.clip((images - low) / (high - low), 0.0, 1.0)
    n, height, width = images.shape
    ncols = n // nrows
    grid = np.full((nrows * (height + 1) - 1, ncols * (width + 1) - 1), gap, dtype=np.float32)
    for k, image in enumerate(images):
        top, left = (k // ncols) * (height + 1), (k % ncols) * (width + 1)
        grid[top : top + height, left : left + width] = image
    return grid


def save_png(grid: np.ndarray, path: Path, cmap: str = "gray_r") -> None:
    """Save a tiled grid (values in [0, 1]) as a PNG in the colour map ``cmap``, atomically."""
    from matplotlib import image

    buffer = io.BytesIO()
    image.imsave(buffer, grid, cmap=cmap, vmin=0.0, vmax=1.0, format="png")
    write_atomic(path, buffer.getvalue())


class EpochGrids(keras.callbacks.Callback):
    """After every epoch: ``generator(inputs)`` tiled into ``nrows`` rows, kept in ``grids``
    and saved as ``folder/epoch_NNN.png`` (no file when ``folder`` is None)."""

    def __init__(
        self,
        generator: Any,
        inputs: Any,
        nrows: int,
        folder: str | Path | None = "gan_progress",
        value_range: tuple[float, float] = (-1.0, 1.0),
        cmap: str = "gray_r",
    ) -> None:
        super().__init__()
        self.generator, self.inputs, self.nrows = generator, inputs, nrows
        self.folder = Path(folder) if folder is not None else None
        self.value_range, self.cmap = value_range, cmap
        self.grids: list[np.ndarray] = []
        self.paths: list[Path] = []

    def on_train_begin(self, logs=None) -> None:
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        images = self.generator(self.inputs, training=False)
        grid = tile(keras.ops.convert_to_numpy(images), self.nrows, self.value_range)
        self.grids.append(grid)
        if self.folder is not None:
            path = self.folder / f"epoch_{len(self.grids):03d}.png"
            save_png(grid, path, self.cmap)
            self.paths.append(path)

    def show(self, epochs: Sequence[int] | None = None, ncols: int = 3) -> Figure:
        """The grids of the given epochs (counted from 1; default: all), in one figure."""
        import matplotlib.pyplot as plt

        epochs = list(epochs or range(1, len(self.grids) + 1))
        if not epochs:
            raise ValueError("no grid yet: train for at least one epoch with this callback.")
        ncols = max(1, min(ncols, len(epochs)))
        nrows = -(-len(epochs) // ncols)
        height, width = self.grids[0].shape
        scale = 4.5 / width  # inches per pixel: each grid 4.5 inches wide
        size = (ncols * width * scale, nrows * (height * scale + 0.3))
        fig, axes = plt.subplots(nrows, ncols, squeeze=False, figsize=size)
        for ax in axes.flat:
            ax.axis("off")
        for ax, epoch in zip(axes.flat, epochs, strict=False):
            ax.imshow(self.grids[epoch - 1], cmap=self.cmap, vmin=0.0, vmax=1.0)
            ax.set_title(f"epoch {epoch}", fontsize=9)
        fig.tight_layout()
        return fig
