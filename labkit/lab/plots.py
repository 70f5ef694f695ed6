"""Pictures the labs show: image grids, training curves, confusion matrices, weights, feature maps.

Each function draws one matplotlib figure and returns it; in Jupyter it appears below the cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def _grid(n: int, ncols: int, cell: float = 1.4) -> tuple[Figure, np.ndarray]:
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(cell * ncols, cell * nrows + 0.3), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes


def show_images(
    images: Any,
    labels: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    predictions: Sequence[int] | None = None,
    ncols: int = 8,
    title: str | None = None,
    cmap: str = "gray_r",
) -> Figure:
    """A grid of images, each titled with its label; with ``predictions``, mistakes are red."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    fig, axes = _grid(len(images), ncols)
    for i, (ax, image) in enumerate(zip(axes.flat, images, strict=False)):
        ax.imshow(image, cmap=cmap)
        name = lambda k: class_names[int(k)] if class_names is not None else str(int(k))  # noqa: E731
        if labels is not None and predictions is not None:
            right = int(predictions[i]) == int(labels[i])
            shown = name(predictions[i]) + ("" if right else f"\n(true: {name(labels[i])})")
            ax.set_title(shown, fontsize=8, color="black" if right else "red")
        elif labels is not None:
            ax.set_title(name(labels[i]), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_history(
    history: Any, metrics: Sequence[str] = ("loss", "accuracy"), title: str | None = None
) -> Figure:
    """Training curves from a Keras ``History`` (or its ``.history`` dict): train and validation."""
    logs: Mapping[str, Sequence[float]] = getattr(history, "history", history)
    metrics = [m for m in metrics if m in logs]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes.flat, metrics, strict=True):
        epochs = np.arange(1, len(logs[metric]) + 1)
        ax.plot(epochs, logs[metric], "o-", label="train")
        if f"val_{metric}" in logs:
            ax.plot(epochs, logs[f"val_{metric}"], "o-", label="validation")
        ax.set(xlabel="epoch", ylabel=metric, title=metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def compare_histories(histories: Mapping[str, Any], metric: str = "val_accuracy") -> Figure:
    """One curve per model (e.g. per activation function) for the same metric."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, history in histories.items():
        values = getattr(history, "history", history)[metric]
        ax.plot(np.arange(1, len(values) + 1), values, "o-", label=name)
    ax.set(xlabel="epoch", ylabel=metric)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def confusion_matrix(
    y_true: Any, y_pred: Any, class_names: Sequence[str], normalize: bool = True
) -> Figure:
    """Which classes get mistaken for which: rows are the true class, columns the prediction
    (drawn by scikit-learn's ``ConfusionMatrixDisplay``); ``normalize`` divides each row by the
    number of its examples."""
    from sklearn.metrics import ConfusionMatrixDisplay

    n = len(class_names)
    fig, ax = plt.subplots(figsize=(0.6 * n + 2, 0.6 * n + 1.5))
    ConfusionMatrixDisplay.from_predictions(
        np.asarray(y_true).astype(int),
        np.asarray(y_pred).astype(int),
        labels=list(range(n)),
        display_labels=list(class_names),
        normalize="true" if normalize else None,
        values_format=".2f" if normalize else "d",
        cmap="Blues",
        colorbar=False,
        text_kw={"fontsize": 7},
        ax=ax,
    )
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    title = "Confusion matrix" + (" (row-normalised)" if normalize else "")
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.tight_layout()
    return fig


def show_weights(
    weights: Any, class_names: Sequence[str], image_shape: tuple[int, int] = (28, 28)
) -> Figure:
    """One image per class of a linear layer's weights (shape ``(pixels, classes)``): red pushes
    towards the class, blue away from it."""
    weights = np.asarray(weights)
    fig, axes = _grid(weights.shape[1], ncols=5, cell=1.8)
    limit = np.abs(weights).max()
    for k, ax in zip(range(weights.shape[1]), axes.flat, strict=False):
        ax.imshow(weights[:, k].reshape(image_shape), cmap="seismic", vmin=-limit, vmax=limit)
        ax.set_title(class_names[k], fontsize=9)
    fig.tight_layout()
    return fig


def show_matrix(
    values: Any, title: str = "", decimals: int = 2, cmap: str = "RdBu_r", ax: Any = None
) -> Figure:
    """A small matrix as a coloured table with its numbers written in."""
    values = np.asarray(values, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.45 * values.shape[1] + 1, 0.45 * values.shape[0] + 0.8))
    limit = max(np.abs(values).max(), 1e-9)
    ax.imshow(values, cmap=cmap, vmin=-limit, vmax=limit)
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, f"{v:.{decimals}f}", ha="center", va="center", fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    return ax.figure


def show_feature_maps(maps: Any, ncols: int = 8, title: str | None = None) -> Figure:
    """The channels of one feature map (shape ``(height, width, channels)``) side by side."""
    maps = np.asarray(maps)
    fig, axes = _grid(maps.shape[-1], ncols)
    for k, ax in zip(range(maps.shape[-1]), axes.flat, strict=False):
        ax.imshow(maps[..., k], cmap="viridis")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_reconstructions(
    originals: Any, reconstructions: Any, n: int = 8, title: str = ""
) -> Figure:
    """A figure: ``n`` originals in the top row, their reconstructions below (lab 05)."""
    originals, reconstructions = np.asarray(originals[:n]), np.asarray(reconstructions[:n])
    caption = "top: inputs, bottom: reconstructions"
    title = f"{title}\n{caption}" if title else caption
    return show_images(np.concatenate([originals, reconstructions]), ncols=n, title=title)


def data_parallelism(replicas: int = 4, global_batch: int = 128) -> Figure:
    """One step of data-parallel training: the global batch split between the replicas, each
    replica's gradient, their all-reduce, and the same update applied to every copy."""
    per = global_batch // replicas
    colours = plt.get_cmap("tab10").colors
    fig, ax = plt.subplots(figsize=(2.4 * replicas + 1.6, 5.4))
    ax.set(xlim=(0, replicas), ylim=(0, 5.2))
    ax.axis("off")
    rows = [  # (bottom, height, shade, the text of replica r's box)
        (4.4, 0.45, 0.35, lambda r: f"examples {r * per + 1}-{(r + 1) * per}"),
        (3.0, 0.95, 0.15, lambda r: f"replica {r}\n(device {r})\na copy of the model"),
        (1.85, 0.7, 0.35, lambda r: f"gradient of its {per}\nlosses' sum / {global_batch}"),
    ]
    for r in range(replicas):
        for bottom, height, shade, text in rows:
            _box(ax, r + 0.1, bottom, 0.8, height, text(r), colours[r % 10], shade)
            _arrow_down(ax, r + 0.5, bottom, bottom - 0.45)
    all_reduce = (
        "all-reduce: add up the replicas' gradients\n"
        f"= the gradient of the mean loss over all {global_batch} examples"
    )
    _box(ax, 0.1, 0.55, replicas - 0.2, 0.8, all_reduce, "lightgrey", 0.6)
    ax.text(replicas / 2, 5.05, f"the global batch: {global_batch} examples", ha="center")
    last = "every replica applies the same update, so the copies stay identical"
    ax.text(replicas / 2, 0.2, last, ha="center")
    fig.tight_layout()
    return fig


def _box(ax: Any, x: float, y: float, w: float, h: float, text: str, colour: Any, shade: float):
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((x, y), w, h, facecolor=colour, alpha=shade, edgecolor="black"))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=9)


def _arrow_down(ax: Any, x: float, top: float, bottom: float) -> None:
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(FancyArrowPatch((x, top), (x, bottom), arrowstyle="-|>", mutation_scale=12))
