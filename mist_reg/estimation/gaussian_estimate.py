r"""High MI for the sample size, reported from every row: :func:`gaussian_on_all_rows`.

Where the default's Donsker-Varadhan partition term is unresolved (many nats for the
number of rows: :mod:`mist_reg.estimation.reference_model_choice`), nothing is trained
and the Gaussian reference is the model. Its held-out mean log-ratio and the Gaussian MI
of the covariance of the (Gaussianised) columns estimate the same quantity: the expected
log-ratio of a Gaussian with the data's covariance is its Gaussian MI, whatever the data.
The held-out version spends 30% of the rows on testing and, on the 70% left, must choose
a rank and shrinkages whose errors do not cancel between the joint and the marginal fits
(figures in docs/choosing-an-estimator.md, step 7). The covariance's
log-determinants have an exactly known bias under Gaussianity
(:func:`~mist_reg.functional.gaussian.gaussian_mutual_information`), so with that bias
removed every row enters and no regulariser is chosen. Sides with discrete columns
(indicators are far from Gaussian, and their bias is not the Wishart one) and data with
fewer than :data:`ROWS_PER_COLUMN` rows per column keep the held-out reference model.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from mist_reg.estimation.combine import REFERENCE_MODEL_NAME
from mist_reg.estimation.preprocessing import ColumnPreprocessor, Preprocessing
from mist_reg.estimation.result import MIEstimate
from mist_reg.functional.gaussian import gaussian_mutual_information

__all__ = ["gaussian_on_all_rows", "gaussian_of_every_row", "GAUSSIAN_ALL_ROWS_NAME", "ROWS_PER_COLUMN"]

ROWS_PER_COLUMN = 2
"""The fewest rows per column of ``(x, y)`` for the all-rows estimate. The variance of an
unbiased log-determinant, ``sum_{i<d} trigamma((n - 1 - i) / 2)``, is about
``2 log(n / (n - d))`` and grows without bound as the rows ``n`` approach the columns ``d``;
from twice as many rows as columns the all-rows estimate was the more accurate of the two
wherever it was measured (docs/choosing-an-estimator.md, step 7)."""

GAUSSIAN_ALL_ROWS_NAME = "gaussian_unbiased"
"""The ``estimator_name`` of an estimate from :func:`gaussian_on_all_rows`."""


def gaussian_on_all_rows(
    result: MIEstimate, x: Tensor, y: Tensor, preprocessing: Preprocessing, continuous: tuple[int, int]
) -> MIEstimate:
    r"""``result`` itself, unless it reports the held-out reference model of continuous
    columns: then the unbiased Gaussian MI of every row of ``x`` and ``y`` (training and
    held-out) after ``preprocessing`` (see the module documentation).

    Example:
        >>> from mist_reg.tasks.structured import two_views
        >>> x, y = two_views(64, 8, 0.5).sample(3000, seed=0)  # 10.8 nats
        >>> held_out = MIEstimate(10.4, standard_error=0.1, estimator_name=REFERENCE_MODEL_NAME)
        >>> mi = gaussian_on_all_rows(held_out, x, y, "gaussianize", (64, 64))
        >>> mi.estimator_name, mi.n_test, abs(mi - 10.84) < 0.2
        ('gaussian_unbiased', 3000, True)
    """
    c_x, c_y = continuous
    if result.estimator_name != REFERENCE_MODEL_NAME or (c_x, c_y) != (x.shape[1], y.shape[1]):
        return result
    if x.shape[0] < ROWS_PER_COLUMN * (c_x + c_y):
        return result
    try:
        xg = ColumnPreprocessor(preprocessing, c_x).fit(x)(x)
        yg = ColumnPreprocessor(preprocessing, c_y).fit(y)(y)
    except ValueError:
        return result
    return gaussian_of_every_row(result, xg, yg)


def gaussian_of_every_row(result: MIEstimate, x: Tensor, y: Tensor, **attributes: Any) -> MIEstimate:
    r"""The unbiased Gaussian MI of the rows ``x, y`` (continuous columns, already mapped), named
    :data:`GAUSSIAN_ALL_ROWS_NAME`, with ``result``'s confidence and warnings and any other
    ``attributes``; ``result`` itself where the rows are too few for the columns or the
    columns are linearly dependent.

    Example:
        >>> import math, torch
        >>> x = torch.randn(1000, 2, dtype=torch.float64)
        >>> mi = gaussian_of_every_row(MIEstimate(0.5), x, x[:, :1] + torch.randn(1000, 1, dtype=torch.float64))
        >>> mi.estimator_name, mi.n_test, abs(mi - 0.5 * math.log(2)) < 0.1
        ('gaussian_unbiased', 1000, True)
    """
    try:
        value, error = gaussian_mutual_information(x, y)
    except ValueError:  # too few rows for the columns, or linearly dependent columns
        return result
    return MIEstimate(
        value,
        standard_error=error,
        confidence=result.confidence,
        n_test=x.shape[0],
        estimator_name=GAUSSIAN_ALL_ROWS_NAME,
        warnings=list(result.warnings),
        **attributes,
    )
