r"""A side that is one continuous column: the Barber-Agakov bound with that column's exact
entropy, as a challenger of the trained critic.

:func:`mist_reg.estimate_mi` maps every continuous column through its empirical CDF to a
normal marginal, and the MI does not change. A *single* column ``z`` mapped so is
``N(0, 1)`` (up to the resolution of its empirical CDF), so its entropy is known exactly,
``H(Z) = log(2 pi e) / 2``, and for any conditional density ``q`` (Barber and Agakov)

.. math:: I(X; Y) = I(X; Z) \ge H(Z) - \mathbb{E}[-\log q(z \mid x)].

Fitting ``q`` by maximum likelihood is a regression with an error model: its objective
and its estimate are plain means over rows, with no log-partition term, so their variance
does not grow like ``e^I`` as the Donsker-Varadhan bound's does, and the bound is tight
where ``q`` is the data's conditional. The default critic must learn the same log-ratio
through a partition term estimated from negative pairs, which is where smooth
regression-like dependence (``y = f(x) + noise`` with ``x`` of several columns) is lost.
Neither wins everywhere (a conditional Gaussian misses a multimodal or sharply bounded
``z | x``), and both are lower bounds on the same MI, so
:func:`with_single_column_challenger` fits ``q`` on the training rows (the mixture of
:data:`ENSEMBLE_SIZE` Gaussians whose means and log-variances an MLP plus a sum of
one-column networks read from the other side: :func:`one_column_density`) and keeps it
where its estimate on the validation rows is the higher, the rule by which every challenger of the default is kept
(:mod:`~mist_reg.estimation.reference_choice`); the test rows enter neither fit nor
choice. Where ``x`` is the single column, the roles swap (``q(x | y)``); where both are,
``y`` is modelled.

A column with a value repeated on more than :data:`~mist_reg.estimation.knn_estimate.DEFAULT_K`
rows is left alone: its mapped values have atoms, whose entropy is not that of ``N(0, 1)``.
"""

from __future__ import annotations

import copy
import math
from typing import Any, ClassVar, Literal

from torch import Tensor

from mist_reg.distributions import ConditionalEnsemble, ConditionalGaussian
from mist_reg.estimation.coordinates import FoldModel
from mist_reg.estimation.diagnostics import is_continuous, largest_tie
from mist_reg.estimation.evaluation import evaluate_mi
from mist_reg.estimation.fit_settings import FitSettings
from mist_reg.estimation.fitting import fit_estimator, sample_loaders
from mist_reg.estimation.knn_estimate import DEFAULT_K
from mist_reg.estimation.model_spec import ModelSpec
from mist_reg.estimation.preprocessing import ColumnPreprocessor, Preprocessing
from mist_reg.estimators.generative import BA
from mist_reg.functional.bounds import BoundTerms

__all__ = [
    "SingleColumnBA",
    "single_column_side",
    "one_column_density",
    "with_single_column_challenger",
    "NORMAL_ENTROPY",
    "HIDDEN_DIMS",
    "ENSEMBLE_SIZE",
    "COLUMN_HIDDEN",
    "COLUMN_WIDTH",
]

NORMAL_ENTROPY = 0.5 * math.log(2 * math.pi * math.e)
"""The entropy of ``N(0, 1)`` in nats: that of a single Gaussianised column."""

HIDDEN_DIMS = (64, 64)
"""Hidden widths of the MLP of each member of ``q``. The one-column networks beside it carry
every effect of a single column, so the MLP carries only what is left (interactions), and
on a few thousand rows a smaller one overfits that less (``docs/benchmarks.md``)."""

COLUMN_HIDDEN = 16
"""Hidden units of each member's network per column of the other side, whose outputs add
to the MLP's (:class:`~mist_reg.nn.ensemble_mlp.EnsembleColumnwise`), up to
:data:`COLUMN_WIDTH` units in all. A regression on a few thousand rows is often a sum of
one-column effects in good part (a linear function is one); an MLP spreads such a sum over
all its units and learns it slowly, a network per column learns each effect from its own
column, and the MLP beside them learns the rest."""

COLUMN_WIDTH = 512
"""The most hidden units of one member's column networks together: :data:`COLUMN_HIDDEN`
per column up to 32 columns, fewer per column beyond (``512 // columns``, at least 2). Their
features grow as the columns times the units per row; held at this width they cost about
the MLP's step (``recipes/benchmarks/ensemble_step.py``). On a wide side the MLP's first
layer alone has more weights than a few thousand rows can fit, so the column networks,
which hold every linear function, matter there the most."""

ENSEMBLE_SIZE = 4
"""Members of ``q``, the equal-weight mixture of conditional Gaussians fitted from as many
initialisations (:class:`~mist_reg.distributions.ConditionalEnsemble`): on a few thousand
rows each member overfits in its own way, and the mixture averages those errors. The
members run as one batched network (:mod:`mist_reg.nn.ensemble_mlp`)."""


class SingleColumnBA(BA):
    r"""The Barber-Agakov bound ``H(Z) + E[log q(z | other side)]`` on a Gaussianised
    single column ``z``, which is ``y`` (``target="y"``) or ``x`` (``target="x"``).

    Example:
        >>> import torch
        >>> from mist_reg import train_mi_estimator
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(4000, 3, generator=g); z = x[:, :1] + 0.5 * torch.randn(4000, 1, generator=g)
        >>> z = z / 1.25**0.5  # standard normal, as a Gaussianised column is; I = log(5) / 2 = 0.80
        >>> model = SingleColumnBA(ConditionalGaussian(3, 1, [16]), target="y")
        >>> log = train_mi_estimator(model, x=x, y=z, batch_size=128, lr=1e-2, max_iterations=300, seed=0)
        >>> 0.72 < float(model.mutual_information(x, z).detach()) < 0.85, model.bound
        (True, 'lower')
    """

    reported_name: ClassVar[str] = "ba"
    """The name :func:`mist_reg.estimate_mi` reports for it."""

    def __init__(self, q: ConditionalGaussian | ConditionalEnsemble, target: Literal["x", "y"]) -> None:
        super().__init__(q, NORMAL_ENTROPY)
        if target not in ("x", "y"):
            raise ValueError(f"target must be 'x' or 'y', got {target!r}")
        self.target = target

    def _ordered(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        return (y, x) if self.target == "x" else (x, y)

    def fitting_loss(self, x: Tensor, y: Tensor) -> Tensor:
        return super().fitting_loss(*self._ordered(x, y))

    def estimate_terms(self, x: Tensor, y: Tensor) -> BoundTerms:
        return super().estimate_terms(*self._ordered(x, y))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, target={self.target!r}"


def single_column_side(x: Tensor, y: Tensor, n_continuous: tuple[int, int]) -> Literal["x", "y"] | None:
    r"""The side that is one continuous column without large ties (``"y"`` first), or ``None``.

    Example:
        >>> import torch
        >>> single_column_side(torch.randn(100, 3), torch.randn(100, 1), (3, 1))
        'y'
        >>> single_column_side(torch.randn(100, 3), torch.randn(100, 2), (3, 2)) is None
        True
    """
    for name, side, columns in (("y", y, n_continuous[1]), ("x", x, n_continuous[0])):
        if columns == 1 and side.shape[1] == 1 and side.is_floating_point():
            column = side[:, 0]
            if is_continuous(column) and largest_tie(column) <= DEFAULT_K:
                return name
    return None


def one_column_density(given_dim: int) -> ConditionalEnsemble:
    r"""The untrained ``q`` of the bound for a single column given ``given_dim`` columns:
    :data:`ENSEMBLE_SIZE` members, each an MLP of :data:`HIDDEN_DIMS` plus a network per
    column of :data:`COLUMN_HIDDEN` units, fewer on a side wider than :data:`COLUMN_WIDTH`
    allows. The members are fitted each on its own loss, from their own initialisations,
    as one batched network stopped where the mixture's validation estimate is best.

    Example:
        >>> [one_column_density(d).columns.hidden for d in (5, 32, 64, 256, 1000)]
        [16, 16, 8, 2, 2]
    """
    column_hidden = max(2, min(COLUMN_HIDDEN, COLUMN_WIDTH // given_dim))
    return ConditionalEnsemble(given_dim, 1, HIDDEN_DIMS, members=ENSEMBLE_SIZE, column_hidden=column_hidden)


def with_single_column_challenger(
    fitted: FoldModel,
    model: ModelSpec,
    preprocessing: Preprocessing,
    n_continuous: tuple[int, int],
    x: Any,
    y: Any,
    settings: FitSettings,
) -> FoldModel:
    r"""``fitted``, or the :class:`SingleColumnBA` fitted on the same training rows where
    the default has a single-column side and the bound beats it on the validation rows
    (see the module documentation)."""
    if not (model.by_default and preprocessing == "gaussianize"):
        return fitted
    target = single_column_side(x, y, n_continuous)
    to_beat = _validation_estimate(fitted, x, y, settings) if target is not None else None
    if to_beat is None:
        return fitted
    x_map = ColumnPreprocessor(preprocessing, n_continuous[0]).fit(x)
    y_map = ColumnPreprocessor(preprocessing, n_continuous[1]).fit(y)
    xg, yg = x_map(x), y_map(y)
    given_dim = yg.shape[1] if target == "x" else xg.shape[1]
    challenger = SingleColumnBA(one_column_density(given_dim), target)
    initial = copy.deepcopy(challenger.state_dict())
    challenger_fit = FoldModel(challenger, fit_estimator(challenger, settings, xg, yg), x_map, y_map, initial)
    value = _validation_estimate(challenger_fit, x, y, settings)
    if value is None or not value > to_beat:
        return fitted
    return challenger_fit


def _validation_estimate(fitted: FoldModel, x: Tensor, y: Tensor, settings: FitSettings) -> float | None:
    """The fit's estimate on the validation rows: the one training kept, or its mean there
    (a closed-form model kept untrained); ``None`` without validation rows."""
    if fitted.log.best_valid_mi is not None:
        return fitted.log.best_valid_mi
    settings = settings.resolved()
    _, valid = sample_loaders(fitted.x_map(x), fitted.y_map(y), settings)
    if valid is None:
        return None
    return evaluate_mi(fitted.estimator, data_loader=valid, device=settings.device)
