"""EpochGrids: one grid of generated images per epoch, kept, saved as PNG and shown."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from matplotlib import image

from labkit.lab.epoch_grids import EpochGrids, tile


def test_tile_lays_images_out_row_by_row_scaled_to_0_1() -> None:
    images = np.stack([np.full((2, 3, 1), value) for value in (-1.0, 0.0, 1.0, 0.5)])
    grid = tile(images, nrows=2)
    assert grid.shape == (2 * 2 + 1, 2 * 3 + 1)
    np.testing.assert_allclose(grid[:2, :3], 0.0)  # -1 -> 0
    np.testing.assert_allclose(grid[:2, 4:], 0.5)
    np.testing.assert_allclose(grid[3:, :3], 1.0)
    np.testing.assert_allclose(grid[3:, 4:], 0.75)
    assert (grid[2] == 0).all() and (grid[:, 3] == 0).all()  # gaps: white in gray_r
    assert (tile(images, nrows=2, gap=1.0)[2] == 1).all()
    with pytest.raises(ValueError, match="multiple of nrows"):
        tile(images[:3], nrows=2)


def _train(callback: EpochGrids, epochs: int) -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 2), "float32"), np.zeros((8, 1), "float32")
    model.fit(x, y, epochs=epochs, batch_size=4, callbacks=[callback], verbose=0)


def test_one_grid_per_epoch_kept_and_saved(tmp_path) -> None:
    generator = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(16, activation="tanh"),
            keras.layers.Reshape((4, 4, 1)),
        ]
    )
    noise = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    grids = EpochGrids(generator, noise, nrows=2, folder=tmp_path / "progress")
    _train(grids, epochs=3)
    assert len(grids.grids) == 3 and grids.grids[0].shape == (2 * 5 - 1, 3 * 5 - 1)
    assert [p.name for p in grids.paths] == ["epoch_001.png", "epoch_002.png", "epoch_003.png"]
    saved = image.imread(grids.paths[0])
    assert saved.shape[:2] == grids.grids[0].shape
    # gray_r: 0 is white, 1 black
    np.testing.assert_allclose(saved[..., 0], 1 - grids.grids[0], atol=2 / 255)
    assert sorted(p.name for p in (tmp_path / "progress").iterdir()) == [
        p.name for p in grids.paths
    ]
    figure = grids.show(epochs=[1, 3])
    assert [ax.get_title() for ax in figure.axes if ax.get_title()] == ["epoch 1", "epoch 3"]


def test_no_folder_keeps_the_grids_only_and_show_needs_one(tmp_path) -> None:
    generator = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(4), keras.layers.Reshape((2, 2))]
    )
    grids = EpochGrids(generator, np.ones((2, 1), "float32"), nrows=1, folder=None)
    with pytest.raises(ValueError, match="no grid yet"):
        grids.show()
    _train(grids, epochs=1)
    assert len(grids.grids) == 1 and grids.paths == []
