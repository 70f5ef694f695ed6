"""Printed digits 0-9, drawn with matplotlib's fonts: images that are not clothes, for lab 05's
anomaly detection, made on the spot without a download."""

from __future__ import annotations

import numpy as np


def synthetic_digits(n: int = 200, seed: int = 0) -> np.ndarray:
    """``n`` printed digits 0-9 (white on black, 28x28x1, values in [0, 1]), in 3 fonts and 2
    weights, shifted by up to 2 pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    style = {"color": "white", "fontsize": 66, "ha": "center", "va": "center"}
    templates = []
    for family in ("DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono"):
        for weight in ("normal", "bold"):
            for digit in range(10):
                fig = Figure(figsize=(1, 1), dpi=28, facecolor="black")  # 28x28 pixels
                fig.text(0.5, 0.5, str(digit), family=family, weight=weight, **style)
                canvas = FigureCanvasAgg(fig)
                canvas.draw()
                templates.append(np.asarray(canvas.buffer_rgba())[..., 0] / 255.0)
    rng = np.random.default_rng(seed)
    images = np.stack([templates[k] for k in rng.integers(len(templates), size=n)])
    for i in range(n):
        images[i] = np.roll(images[i], tuple(rng.integers(-2, 3, size=2)), axis=(0, 1))
    return images[..., None].astype("float32")
