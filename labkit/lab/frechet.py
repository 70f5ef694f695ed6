"""The squared Frechet distance between two sets of feature vectors: the measure behind FID.

Fit a Gaussian to each set (its mean and covariance) and take the squared Frechet
(2-Wasserstein) distance between the two Gaussians:

    d^2 = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)

The matrix square roots come from symmetric eigendecompositions (``numpy.linalg.eigh``), which
stay real and stable where a general ``sqrtm`` of the non-symmetric product ``S_a S_b`` can
return complex noise. FID is this squared distance (its name leaves "squared" out) on the
features of an Inception network; a lab uses the features of its own classifier instead, so
compare its values only with reference points computed the same way (two real samples of the
same size, an untrained generator).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """The square root of a symmetric positive semi-definite matrix (round-off negatives -> 0)."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def squared_frechet_distance(features_a: Any, features_b: Any) -> float:
    """The squared Frechet distance between Gaussians fitted to two sets of feature vectors
    (arrays of shape ``(samples, features)``, at least two samples each)."""
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(
            "squared_frechet_distance needs two arrays of shape (samples, features) with the same "
            f"number of features and at least two samples each; got {a.shape} and {b.shape}."
        )
    mean_diff = a.mean(axis=0) - b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrt_psd(cov_a)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0.0, None)).sum()
    distance = mean_diff @ mean_diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * cross
    return float(max(distance, 0.0))
