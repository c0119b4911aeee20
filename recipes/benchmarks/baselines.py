r"""The simplest hand-written estimate for each kind of data, as a yardstick for the families
benchmark (``python -m recipes.benchmarks.families``).

* both sides discrete: plug-in ``H(X) + H(Y) - H(X, Y)`` of the counts with the Miller-Madow
  correction ``(m - 1) / 2n`` on each entropy (``m`` the number of observed values);
* a class-label y: ``H(Y)`` of the training labels minus the held-out cross-entropy of a
  multinomial logistic regression (scikit-learn, its L2 strength chosen on a validation part
  of the training rows; discrete x columns one-hot);
* otherwise: the held-out mean of ``log p(x, y) - log p(x) - log p(y)`` under a Gaussian
  fitted on the training split after rank-Gaussianising every continuous column.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(0, 4, (5000, 1)); y = (x + rng.integers(0, 2, (5000, 1))) % 4
    >>> name, value = baseline_mi(x, y, discrete_x=(0,), discrete_y=(0,), n_train=3500)
    >>> name, round(value, 1)   # truth log 4 - log 2 = 0.69
    ('plug-in (Miller-Madow)', 0.7)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import ndtri

__all__ = ["baseline_mi", "plugin_mi", "logistic_mi", "gaussian_mi"]


def _codes(columns: np.ndarray) -> np.ndarray:
    return np.unique(columns, axis=0, return_inverse=True)[1].reshape(-1)


def _entropy(codes: np.ndarray) -> float:
    counts = np.bincount(codes)
    counts = counts[counts > 0]
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum() + (len(counts) - 1) / (2 * counts.sum()))


def plugin_mi(x: np.ndarray, y: np.ndarray) -> float:
    r"""Miller-Madow corrected plug-in MI of two discrete samples (rows are values), all samples."""
    cx, cy = _codes(x), _codes(y)
    return _entropy(cx) + _entropy(cy) - _entropy(cx * (cy.max() + 1) + cy)


def _one_hot(x: np.ndarray, discrete: Sequence[int], n_train: int) -> np.ndarray:
    continuous = [j for j in range(x.shape[1]) if j not in discrete]
    parts = [x[:, continuous].astype(np.float64)]
    for j in discrete:
        values = np.unique(x[:n_train, j])
        parts.append((x[:, j : j + 1] == values[None, :]).astype(np.float64))
    return np.concatenate(parts, axis=1)


def _held_out_log_probs(model, x: np.ndarray, n_classes: int) -> np.ndarray:
    log_probs = np.full((len(x), n_classes), np.log(1e-12))
    log_probs[:, model.classes_] = np.maximum(model.predict_log_proba(x), np.log(1e-12))
    return log_probs


def logistic_mi(
    x: np.ndarray, labels: np.ndarray, n_train: int, strengths: Sequence[float] = (0.01, 0.1, 1.0)
) -> float:
    r"""``H(Y)`` of the training labels minus the held-out cross-entropy of a logistic regression
    whose inverse L2 strength ``C`` is chosen on the last 20% of the training rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    labels = labels.reshape(-1)
    n_classes = int(labels.max()) + 1
    features = StandardScaler().fit(x[:n_train]).transform(x)
    n_fit = int(0.8 * n_train)

    def cross_entropy(c: float, fit: slice, test: slice) -> float:
        model = LogisticRegression(C=c, max_iter=1000).fit(features[fit], labels[fit])
        log_probs = _held_out_log_probs(model, features[test], n_classes)
        return float(-log_probs[np.arange(len(log_probs)), labels[test]].mean())

    best = min(strengths, key=lambda c: cross_entropy(c, slice(0, n_fit), slice(n_fit, n_train)))
    counts = np.bincount(labels[:n_train])
    p = counts[counts > 0] / n_train
    return float(-(p * np.log(p)).sum() - cross_entropy(best, slice(0, n_train), slice(n_train, None)))


def _rank_gaussian(column: np.ndarray, n_train: int) -> np.ndarray:
    train = np.sort(column[:n_train])
    ranks = (np.searchsorted(train, column, side="left") + np.searchsorted(train, column, side="right")) / 2
    return ndtri((ranks + 0.5) / (n_train + 1))


def gaussian_mi(x: np.ndarray, y: np.ndarray, n_train: int) -> float:
    r"""Held-out Gaussian information density, the Gaussian fitted on the first ``n_train`` rows."""
    z = np.concatenate([x, y], axis=1).astype(np.float64)
    dx = x.shape[1]
    mean = z[:n_train].mean(0)
    cov = np.cov(z[:n_train], rowvar=False) + 1e-6 * np.eye(z.shape[1])
    centred = z[n_train:] - mean

    def log_density(block: slice) -> np.ndarray:
        c = cov[block, block]
        solved = np.linalg.solve(c, centred[:, block].T).T
        return -0.5 * (centred[:, block] * solved).sum(1) - 0.5 * np.linalg.slogdet(c)[1]

    everything, xs, ys = slice(None), slice(0, dx), slice(dx, None)
    return float((log_density(everything) - log_density(xs) - log_density(ys)).mean())


def baseline_mi(
    x: np.ndarray,
    y: np.ndarray,
    discrete_x: Sequence[int] = (),
    discrete_y: Sequence[int] = (),
    n_train: int | None = None,
) -> tuple[str, float]:
    r"""The simplest fitting estimate for the column types: plug-in, logistic regression or Gaussian.

    Arguments:
        x: Samples of x, shape [n, dx].
        y: Samples of y, shape [n, dy].
        discrete_x: Indices of the discrete columns of x.
        discrete_y: Indices of the discrete columns of y (all of them, or none).
        n_train: Rows that fit the model (the rest are held out); default 70%.

    Returns:
        The baseline's name and its estimate in nats.
    """
    n_train = int(0.7 * len(x)) if n_train is None else n_train
    if len(discrete_y) == y.shape[1] and len(discrete_x) == x.shape[1]:
        return "plug-in (Miller-Madow)", plugin_mi(x, y)
    if len(discrete_y) == y.shape[1] == 1:
        return "logistic regression", logistic_mi(_one_hot(x, discrete_x, n_train), y.astype(np.int64), n_train)
    gauss_x = [_rank_gaussian(x[:, j], n_train)[:, None] for j in range(x.shape[1]) if j not in discrete_x]
    x_features = np.concatenate([*gauss_x, _one_hot(x, discrete_x, n_train)[:, len(gauss_x) :]], axis=1)
    y_features = np.stack([_rank_gaussian(y[:, j], n_train) for j in range(y.shape[1])], axis=1)
    return "Gaussian (rank-Gaussianised)", gaussian_mi(x_features, y_features, n_train)
