r"""An ordered label as steps of one latent score: :class:`OrderedProbit`.

A count, an age in whole years or a rating is a class label whose classes are *ordered*:
neighbouring values mean nearly the same, and the features move the label along one scale.
The nominal classifiers give every class its own weights (logistic regression: ``K d``), so a
label of 100 count values, many of them seen on a handful of rows, spends most of its
parameters on rare classes and learns the shift of the whole distribution only slowly. The
ordered probit has one score instead:

``q(y = k | x) = Phi((c_k - mu(x)) / sigma(x)) - Phi((c_{k-1} - mu(x)) / sigma(x))``,

with ``mu`` and ``log sigma`` linear in the standardised features and the cut points ``c_k``
fixed at the normal quantiles of the training labels' cumulative class frequencies (so
``mu = 0``, ``sigma = 1`` is exactly the class frequencies, where the fit starts): ``2 d + 2``
parameters whatever ``K``. A rare class gets the probability of the slice of the latent
normal between its cut points. It is offered only for labels of three or more *numeric*
values, whose codes are sorted as the values are (:func:`~mist_reg.estimation.classifiers.default_classifiers`),
and like every family it is kept only where its validation cross-entropy is the least.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(3000, 3, generator=g)
    >>> y = torch.poisson((1.0 + x[:, 0]).exp(), generator=g).long().clamp(max=29)  # counts
    >>> model = OrderedProbit()
    >>> ce = model.fit(x[:2000], y[:2000], 30, x[2000:], y[2000:])
    >>> model.name, model.log_probs(x[:2]).exp().sum(1).round(decimals=3).tolist()
    ('ordered', [1.0, 1.0])
"""

from __future__ import annotations

import torch
from torch import Tensor

from mist_reg.estimation.classifiers.base import class_log_frequencies
from mist_reg.estimation.classifiers.penalised import STRENGTHS, PenalisedFit
from mist_reg.estimation.preprocessing import Standardizer

__all__ = ["OrderedProbit", "offered"]

_EDGE = 1e3  # the outer cut points, far beyond any standardised score
_LOG_SIGMA = (-7.0, 3.0)  # bounds of the latent noise's log-scale


def offered(n_classes: int, ordered: bool) -> bool:
    r"""Whether the ordered probit is a candidate: a label of numeric codes (sorted as its
    values), with at least three classes (two classes are one step: logistic regression).

    Example:
        >>> offered(5, True), offered(2, True), offered(5, False)
        (True, False, False)
    """
    return ordered and n_classes >= 3


def _log_interval(lower: Tensor, upper: Tensor) -> Tensor:
    r"""``log(Phi(upper) - Phi(lower))`` for ``lower < upper``, from the tail where it is exact."""
    flip = lower > 0  # both in the upper tail: Phi(-lower) - Phi(-upper) keeps the digits
    low, high = torch.where(flip, -upper, lower), torch.where(flip, -lower, upper)
    log_high, log_low = torch.special.log_ndtr(high), torch.special.log_ndtr(low)
    return log_high + torch.log(-torch.expm1((log_low - log_high).clamp(max=-1e-300)))


class OrderedProbit(PenalisedFit):
    r"""The ordered probit of the module documentation, fitted full-batch by L-BFGS in float64
    with an L2 penalty ``strength * (|w|^2 + |v|^2) / 2`` on the weights of ``mu`` and ``log
    sigma``, its strength chosen on the validation rows as logistic regression chooses its own.

    Arguments:
        strengths: Candidate penalty strengths, tried in order with warm starts until one does
            worse on the validation rows than the one before.
        max_iter: The most L-BFGS iterations per fit.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(1)
        >>> x = torch.randn(1200, 2, generator=g)
        >>> y = (2 * x[:, 0] + torch.randn(1200, generator=g)).round().clamp(-3, 3).long() + 3  # 7 ordered levels
        >>> model = OrderedProbit(strengths=(0.01,))
        >>> _ = model.fit(x[:800], y[:800], 7, x[800:], y[800:])
        >>> [round(float(w), 1) for w in model.weight.detach()]  # the score follows the first column: 2 / sqrt(5)
        [0.9, 0.0]
    """

    name = "ordered"

    def __init__(self, strengths: tuple[float, ...] = STRENGTHS, max_iter: int = 50) -> None:
        super().__init__(strengths, max_iter)

    def _start(self, x: Tensor, y: Tensor) -> Tensor:
        self.standardise = Standardizer().fit(x.float())
        cumulative = class_log_frequencies(y, self.n_classes).exp().cumsum(0)[:-1].clamp(1e-12, 1 - 1e-12)
        inner = torch.special.ndtri(cumulative).to(x.device)
        edge = torch.tensor([_EDGE], dtype=torch.float64, device=x.device)
        self.cuts = torch.cat([-edge, inner, edge])  # [K + 1]
        d = x.shape[1]
        self.weight = torch.zeros(d, dtype=torch.float64, device=x.device, requires_grad=True)
        self.scale_weight = torch.zeros(d, dtype=torch.float64, device=x.device, requires_grad=True)
        self.offsets = torch.zeros(2, dtype=torch.float64, device=x.device, requires_grad=True)
        return self.standardise(x.float()).double()

    def _parameters(self) -> list[Tensor]:
        return [self.weight, self.scale_weight, self.offsets]

    def _location_scale(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return z @ self.weight + self.offsets[0], (z @ self.scale_weight + self.offsets[1]).clamp(*_LOG_SIGMA).exp()

    def _all_log_probs(self, z: Tensor) -> Tensor:
        mu, sigma = self._location_scale(z)
        scores = (self.cuts[None, :] - mu[:, None]) / sigma[:, None]  # [N, K + 1]
        return _log_interval(scores[:, :-1], scores[:, 1:])

    def _label_log_probs(self, z: Tensor, y: Tensor) -> Tensor:
        r"""``log q(y_i | x_i)`` of each row's own class only (two normal tails per row)."""
        mu, sigma = self._location_scale(z)
        return _log_interval((self.cuts[y] - mu) / sigma, (self.cuts[y + 1] - mu) / sigma)

    def _loss(self, z: Tensor, y: Tensor, strength: float) -> Tensor:
        penalty = self.weight.square().sum() + self.scale_weight.square().sum()
        return -self._label_log_probs(z, y).mean() + 0.5 * strength * penalty

    def _logits(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            return self._all_log_probs(self.standardise(x.float()).double())
