r"""The learning curve of the one-column bound: where
:func:`~mist_reg.estimation.single_column.with_single_column_challenger` keeps the bound,
:func:`along_learning_curve` fits its ``q`` again on a quarter and a half of the training
rows, from the weights the full fit started from (so that the curve's steps measure rows,
not initialisations), and extrapolates the held-out value to infinitely many rows.

The bound falls short of the MI by ``q``'s excess risk, ``E KL(p(z | x) || q_m(z | x))``,
which shrinks as the training rows ``m`` grow: with ``y = f(x) + noise`` over several
columns and a few thousand rows, the network is still learning ``f``, and the held-out
value still rises at each doubling of the rows. This is the situation of
:mod:`~mist_reg.estimation.label_curve` (the same bound, ``H(Z) - CE(q)``, with a class
label), and its hyperbola ``I(m) = I_inf - a / (m + c)`` through the three held-out values
gives ``I_inf``; the reported value is the mean over the test rows of
``(1 + w) v(m3) - w v(m2)``, with its standard error. It is an estimate, not a bound
(``bound=None``, reported as ``"ba (extrapolated)"``).

A regression network's fit varies from one training to the next (its initialisation, the
step at which early stopping keeps it) by more than the test rows' noise, so the curve is
read only where it shows a learning curve's shape, and the bound is kept as it is otherwise:

* the first step must rise by more than :data:`~mist_reg.estimation.label_curve.STEP_Z`
  standard errors: a curve flat or falling at its first doubling shows the fits' variation,
  not a rate, and extrapolating its last step would extrapolate that variation;
* the hyperbola must pass through the three points: with doubling sizes its steps shrink,
  at most by the ratio ``2 (m1 + c) / (m3 + c) < 2`` for the second step over the first; a
  curve still steepening (``c`` clamped by :func:`~mist_reg.estimation.label_curve.curve_weight`)
  has not reached the regime whose asymptote three points can read;
* the last step must rise by more than ``STEP_Z`` standard errors (as for labels): nothing
  left to learn that the test rows can show.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import Tensor

from mist_reg.estimation.coordinates import FoldModel
from mist_reg.estimation.fit_settings import FitSettings
from mist_reg.estimation.fitting import fit_estimator
from mist_reg.estimation.label_curve import CURVE_FRACTIONS, STEP_Z, curve_weight, extrapolate_values
from mist_reg.estimation.label_splits import nested_subsets
from mist_reg.estimation.single_column import SingleColumnBA
from mist_reg.estimators.base import MIEstimator
from mist_reg.functional.bounds import BoundTerms

__all__ = ["ExtrapolatedBound", "along_learning_curve", "regression_curve_weight", "MIN_VALIDATION_ROWS"]

MIN_VALIDATION_ROWS = 20
"""The fewest validation rows of the smallest fit of the curve (its share of a quarter of the
training rows): early stopping follows the validation estimate, and on fewer rows that
estimate says little about the step to stop at. Below it the bound stands unread."""


class ExtrapolatedBound(MIEstimator):
    r"""``(1 + w) v_larger - w v_smaller`` per sample, ``v`` the per-sample values of two
    fitted bounds without a log-partition term (:class:`SingleColumnBA` fitted on ``m3`` and
    ``m2`` rows): the learning curve's extrapolation (see the module documentation).

    Example:
        >>> from mist_reg.estimation.single_column import one_column_density
        >>> x = torch.randn(500, 2); z = x[:, :1] + torch.randn(500, 1)
        >>> larger, smaller = (SingleColumnBA(one_column_density(2), "y") for _ in range(2))
        >>> combined = ExtrapolatedBound(larger, smaller, weight=1.0)
        >>> v3, v2 = larger.terms(x, z).per_sample, smaller.terms(x, z).per_sample
        >>> bool(torch.allclose(combined.terms(x, z).per_sample, 2 * v3 - v2)), combined.reported_name
        (True, 'ba (extrapolated)')
    """

    bound = None

    def __init__(self, larger: SingleColumnBA, smaller: SingleColumnBA, weight: float) -> None:
        super().__init__()
        self.larger, self.smaller, self.weight = larger, smaller, float(weight)
        self.reported_name = f"{larger.reported_name} (extrapolated)"

    def terms(self, x: Tensor, y: Tensor) -> BoundTerms:
        values = [model.terms(x, y) for model in (self.smaller, self.larger)]
        if any(v.log_partition is not None for v in values):
            raise ValueError("ExtrapolatedBound combines per-sample bounds only (no log-partition term)")
        return BoundTerms(extrapolate_values(values[0].per_sample, values[1].per_sample, self.weight))

    def extra_repr(self) -> str:
        return f"weight={self.weight:.3f}"


def regression_curve_weight(sizes: Sequence[float], values: Sequence[float], step_errors: Sequence[float]) -> float:
    r"""The weight ``w`` of the last step, or ``0`` where the curve does not show a learning
    curve's shape (the module documentation's three conditions).

    Example:
        >>> regression_curve_weight([800, 1600, 3200], [0.70, 0.80, 0.85], [0.01, 0.01])  # c = 0: Richardson's step
        1.0
        >>> regression_curve_weight([800, 1600, 3200], [0.80, 0.78, 0.85], [0.01, 0.01])  # falls first
        0.0
        >>> regression_curve_weight([800, 1600, 3200], [0.10, 0.20, 0.60], [0.01, 0.01])  # still steepening
        0.0
    """
    if not values[1] - values[0] > STEP_Z * step_errors[0]:
        return 0.0
    weight, _, clamped = curve_weight(sizes, values, step_errors)
    return 0.0 if clamped else weight


def along_learning_curve(
    fitted: FoldModel, settings: FitSettings, x: Tensor, y: Tensor, x_test: Tensor, y_test: Tensor
) -> FoldModel:
    r"""``fitted``, or where it is the one-column bound and its learning curve qualifies, an
    :class:`ExtrapolatedBound` of it and of the bound fitted on half its training rows. The
    smaller fits are copies of the bound reset to ``fitted.initial_state``; a fit without
    one is returned as it is.

    Arguments:
        fitted: The fold's kept model (its maps apply to every row given here).
        settings: The fold's fitting settings (the smaller fits use them, seed included).
        x: Training rows of the fold, before the maps.
        y: Paired with ``x``.
        x_test: The fold's test rows, before the maps.
        y_test: Paired with ``x_test``.

    Example:
        >>> from mist_reg.estimation.preprocessing import ColumnPreprocessor
        >>> from mist_reg.estimation.single_column import one_column_density
        >>> x, y = torch.randn(400, 3), torch.randn(400, 1)
        >>> maps = ColumnPreprocessor("none", 3).fit(x), ColumnPreprocessor("gaussianize", 1).fit(y)
        >>> bound = SingleColumnBA(one_column_density(3), "y")
        >>> fitted = FoldModel(bound, None, *maps, initial_state=bound.state_dict())
        >>> along_learning_curve(fitted, FitSettings(), x, y, x[:50], y[:50]) is fitted  # 400 rows: too few for a curve
        True
    """
    bound = fitted.estimator
    if not isinstance(bound, SingleColumnBA) or fitted.initial_state is None:
        return fitted
    xg, yg = fitted.x_map(x), fitted.y_map(y)
    x_held, y_held = fitted.x_map(x_test), fitted.y_map(y_test)
    n = xg.shape[0]
    valid_share = settings.resolved().valid_percentage
    if CURVE_FRACTIONS[0] * n * valid_share < MIN_VALIDATION_ROWS:
        return fitted
    models: list[SingleColumnBA] = []
    sizes: list[float] = []
    for rows in nested_subsets(torch.zeros(n, dtype=torch.long), CURVE_FRACTIONS[:-1], settings.seed):
        model = copy.deepcopy(bound)
        model.load_state_dict(fitted.initial_state)  # the full fit's start: the steps measure rows, not starts
        fit_estimator(model, settings, xg[rows.to(xg.device)], yg[rows.to(yg.device)])
        models.append(model)
        sizes.append(float(len(rows)))
    models.append(bound)
    sizes.append(float(n))
    values = [_per_sample(model, x_held, y_held) for model in models]
    means = [float(v.mean()) for v in values]
    step_errors = [float((b - a).std() / len(a) ** 0.5) for a, b in zip(values, values[1:])]
    weight = regression_curve_weight(sizes, means, step_errors)
    if weight == 0.0:
        return fitted
    return FoldModel(ExtrapolatedBound(bound, models[1], weight), fitted.log, fitted.x_map, fitted.y_map)


@torch.no_grad()
def _per_sample(model: SingleColumnBA, x: Tensor, y: Tensor, chunk: int = 4096) -> Tensor:
    """The model's per-sample values on ``x, y``, on the model's device, in chunks of rows."""
    device = next(model.parameters()).device
    parts = [
        model.terms(x[i : i + chunk].to(device), y[i : i + chunk].to(device)).per_sample.double().cpu()
        for i in range(0, x.shape[0], chunk)
    ]
    return torch.cat(parts)
