"""The squared Frechet distance between feature sets: closed forms, symmetry, errors."""

from __future__ import annotations

import numpy as np
import pytest

from labkit.lab.frechet import squared_frechet_distance


def _sample(mean, cov, n, seed):
    return np.random.default_rng(seed).multivariate_normal(mean, cov, size=n)


def test_matches_the_closed_form_of_diagonal_gaussians() -> None:
    """For diagonal covariances d^2 = |mu_a - mu_b|^2 + sum (sqrt(s_a) - sqrt(s_b))^2; with many
    samples the estimate gets close to it."""
    mean_a, mean_b = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.0])
    var_a, var_b = np.array([1.0, 4.0, 0.25]), np.array([2.25, 1.0, 0.25])
    a = _sample(mean_a, np.diag(var_a), 200_000, seed=0)
    b = _sample(mean_b, np.diag(var_b), 200_000, seed=1)
    want = np.sum((mean_a - mean_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    assert squared_frechet_distance(a, b) == pytest.approx(want, rel=0.01)


def test_uses_the_sample_mean_and_covariance_exactly() -> None:
    """Against the formula with scipy's general matrix square root, on correlated features."""
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(2)
    a = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6)) + 0.5
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b).real
    want = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a + cov_b - 2 * root)
    assert squared_frechet_distance(a, b) == pytest.approx(want, rel=1e-6)


def test_is_symmetric_zero_for_the_same_set_and_never_negative() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(300, 4)), rng.normal(size=(300, 4)) * 2
    assert squared_frechet_distance(a, b) == pytest.approx(squared_frechet_distance(b, a), rel=1e-9)
    assert squared_frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    # fewer samples than features: singular covariances, still a number >= 0
    assert squared_frechet_distance(a[:3], a[3:6]) >= 0.0


@pytest.mark.parametrize(
    ("a", "b"),
    [(np.zeros((5, 3)), np.zeros((5, 4))), (np.zeros(5), np.zeros(5)), (np.zeros((1, 3)),) * 2],
)
def test_shapes_it_cannot_compare_are_refused(a, b) -> None:
    with pytest.raises(ValueError, match="samples, features"):
        squared_frechet_distance(a, b)
