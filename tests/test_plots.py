"""The pictures: a confusion matrix drawn by scikit-learn, row by row."""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("agg")

from labkit.lab import plots  # noqa: E402


def test_confusion_matrix_rows_are_the_true_classes() -> None:
    fig = plots.confusion_matrix([0, 0, 1, 2], [0, 1, 1, 1], ["a", "b", "c"])
    (ax,) = fig.axes
    texts = [text.get_text() for text in ax.texts]
    # rows: a is right half the time, b always, c never (taken for b)
    assert texts == ["0.50", "0.50", "0.00", "0.00", "1.00", "0.00", "0.00", "1.00", "0.00"]
    assert [label.get_text() for label in ax.get_yticklabels()] == ["a", "b", "c"]
    counts = plots.confusion_matrix([0, 0, 1, 2], [0, 1, 1, 1], ["a", "b", "c"], normalize=False)
    assert [text.get_text() for text in counts.axes[0].texts][:3] == ["1", "1", "0"]
