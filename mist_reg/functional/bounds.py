r"""Variational bounds on mutual information, as pure functions of critic scores.

Every function here is stateless and takes the critic's scores in the same layout:

* ``positive``: ``[N]``, the score ``f(x_i, y_i)`` of each sample of the joint ``p(x, y)``;
* ``negative``: ``[N, M]``, the scores ``f(x_i, y_j)`` of ``M`` pairs drawn from the
  product of marginals ``p(x)p(y)`` for each row ``i`` (``j != i``).

A bound is returned as :class:`BoundTerms`: the mean of per-sample values minus, for the
Donsker-Varadhan family, a log-mean-exp partition term. Keeping the two apart lets
:func:`mist_reg.evaluate_mi` accumulate them over a whole data set (sums and a streaming
log-sum-exp) instead of averaging per-batch estimates, which is biased upwards for the
log-mean-exp.  ``BoundTerms.value()`` gives the scalar for one batch.

Example:
    >>> import torch
    >>> positive, negative = torch.zeros(4), torch.zeros(4, 3)
    >>> float(infonce(positive, negative).value())  # a constant critic carries no information
    0.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "BoundTerms",
    "logmeanexp",
    "straight_through",
    "infonce",
    "nwj",
    "donsker_varadhan",
    "tuba",
    "alpha_tuba",
    "smile",
    "flo",
    "js_divergence",
    "mine_surrogate",
    "RunningBound",
]


@dataclass
class BoundTerms:
    r"""A bound written as ``mean(per_sample) - logmeanexp(log_partition)``.

    Arguments:
        per_sample: ``[N]`` values whose mean is the bound (or its first part).
        log_partition: Optional scores whose log-mean-exp over all elements is subtracted.

    Example:
        >>> float(BoundTerms(torch.tensor([1.0, 3.0]), torch.zeros(2, 2)).value())  # 2 - log(1)
        2.0
    """

    per_sample: Tensor
    log_partition: Tensor | None = None

    def value(self) -> Tensor:
        """The bound on this batch, a differentiable scalar."""
        result = self.per_sample.mean()
        if self.log_partition is not None:
            result = result - logmeanexp(self.log_partition)
        return result


def logmeanexp(scores: Tensor, dim: int | None = None) -> Tensor:
    r"""``log(mean(exp(scores)))`` over ``dim`` (all elements when ``None``), computed stably.

    Arguments:
        scores: Any tensor.
        dim: The dimension to reduce, or ``None`` for all elements.

    Returns:
        The reduced tensor (a scalar when ``dim`` is ``None``).

    Example:
        >>> float(logmeanexp(torch.tensor([0.0, 0.0])))
        0.0
    """
    if dim is None:
        return torch.logsumexp(scores.reshape(-1), 0) - math.log(scores.numel())
    return torch.logsumexp(scores, dim) - math.log(scores.shape[dim])


def straight_through(value: Tensor, surrogate: Tensor) -> Tensor:
    r"""``value`` in the forward pass with the gradient of ``surrogate``.

    Arguments:
        value: What the result equals.
        surrogate: What the result's gradient is taken from (same shape).

    Returns:
        ``value.detach() + surrogate - surrogate.detach()``.

    Example:
        >>> w = torch.tensor(2.0, requires_grad=True)
        >>> out = straight_through(torch.tensor(5.0), 3 * w)
        >>> out.backward(); float(out.detach()), float(w.grad)
        (5.0, 3.0)
    """
    return value.detach() + (surrogate - surrogate.detach())


def infonce(positive: Tensor, negative: Tensor) -> BoundTerms:
    r"""InfoNCE (van den Oord et al., 2018), a lower bound capped at ``log(M + 1)``:
    ``I >= E[f(x_i, y_i) - log((exp f(x_i, y_i) + sum_j exp f(x_i, y_j)) / (M + 1))]``.

    Arguments:
        positive: ``[N]`` critic scores ``f(x_i, y_i)`` of the joint pairs.
        negative: ``[N, M]`` scores ``f(x_i, y_j)`` of ``M`` shuffled pairs per row.

    Returns:
        The bound's per-sample terms.

    Example:
        >>> scores = torch.full((4,), 50.0), torch.zeros(4, 7)  # perfectly separated pairs
        >>> round(float(infonce(*scores).value()), 4), round(math.log(8), 4)
        (2.0794, 2.0794)
    """
    logits = torch.cat([positive.unsqueeze(1), negative], dim=1)
    return BoundTerms(positive - logmeanexp(logits, dim=1))


def nwj(positive: Tensor, negative: Tensor) -> BoundTerms:
    r"""The NWJ / f-divergence lower bound (Nguyen, Wainwright and Jordan, 2010):
    ``I >= E_p[f] - E_{p(x)p(y)}[exp(f - 1)]``.

    Arguments:
        positive: ``[N]`` critic scores ``f(x_i, y_i)`` of the joint pairs.
        negative: ``[N, M]`` scores ``f(x_i, y_j)`` of ``M`` shuffled pairs per row.

    Returns:
        The bound's per-sample terms.

    Example:
        >>> float(nwj(torch.ones(3), torch.ones(3, 5)).value())  # 1 - exp(0)
        0.0
    """
    return BoundTerms(positive - torch.exp(negative - 1).mean(dim=1))


def donsker_varadhan(positive: Tensor, negative: Tensor) -> BoundTerms:
    r"""The Donsker-Varadhan lower bound, the estimate MINE reports:
    ``I >= E_p[f] - log E_{p(x)p(y)}[exp f]``.

    Arguments:
        positive: ``[N]`` critic scores ``f(x_i, y_i)`` of the joint pairs.
        negative: ``[N, M]`` scores ``f(x_i, y_j)`` of ``M`` shuffled pairs per row.

    Returns:
        The per-sample terms ``positive`` and the partition scores ``negative``.

    Example:
        >>> float(donsker_varadhan(torch.full((2,), 2.0), torch.zeros(2, 4)).value())
        2.0
    """
    return BoundTerms(positive, negative)


def tuba(positive: Tensor, negative: Tensor, log_baseline: Tensor) -> BoundTerms:
    r"""The tractable unnormalised Barber-Agakov lower bound (Poole et al., 2019):
    ``I >= 1 + E_p[f - a(x)] - E_{p(x)p(y)}[exp(f - a(x))]``.

    Arguments:
        positive: ``[N]`` critic scores ``f(x_i, y_i)`` of the joint pairs.
        negative: ``[N, M]`` scores ``f(x_i, y_j)`` of ``M`` shuffled pairs per row.
        log_baseline: ``[N]`` values of the baseline ``a(x_i)``.

    Returns:
        The bound's per-sample terms.

    Example:
        >>> float(tuba(torch.ones(2), torch.ones(2, 3), torch.ones(2)).value())  # 1 + 0 - exp(0)
        0.0
    """
    a = log_baseline
    return BoundTerms(1 + positive - a - torch.exp(negative - a.unsqueeze(1)).mean(dim=1))


def alpha_tuba(positive: Tensor, negative: Tensor, log_baseline: Tensor, alpha: float) -> BoundTerms:
    r"""The interpolated bound of Poole et al. (2019) between InfoNCE and TUBA.

    ``alpha`` is the weight of the baseline, as in the torch_mist 0.1.5 table: ``alpha=0`` is InfoNCE
    and ``alpha=1`` is TUBA (Poole et al. write ``1 - alpha``). The normaliser of row ``i``
    mixes a multi-sample estimate ``m`` with the baseline,
    ``log((1 - alpha) * m + alpha * exp(a(x_i)))``; for the positive term ``m`` is the mean
    of ``exp f`` over the positive and the negatives, for the negative term it is the mean
    over the negatives alone (pairs of the product of marginals only), which keeps the
    result a lower bound and makes both ends exact.

    Arguments:
        positive: ``[N]`` critic scores ``f(x_i, y_i)`` of the joint pairs.
        negative: ``[N, M]`` scores ``f(x_i, y_j)`` of ``M`` shuffled pairs per row.
        log_baseline: ``[N]`` values of the baseline ``a(x_i)``.
        alpha: The weight of the baseline, in ``[0, 1]``.

    Returns:
        The bound's per-sample terms.

    Raises:
        ValueError: When ``alpha`` lies outside ``[0, 1]``.

    Example:
        >>> positive, negative, a = torch.randn(4), torch.randn(4, 6), torch.randn(4)
        >>> bool(torch.allclose(alpha_tuba(positive, negative, a, 1.0).value(), tuba(positive, negative, a).value()))
        True
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    logits = torch.cat([positive.unsqueeze(1), negative], dim=1)

    def log_normaliser(multi_sample: Tensor) -> Tensor:
        parts = []
        if alpha < 1:
            parts.append(multi_sample + math.log1p(-alpha))
        if alpha > 0:
            parts.append(log_baseline + math.log(alpha))
        return torch.logsumexp(torch.stack(parts), dim=0)

    log_norm_positive = log_normaliser(logmeanexp(logits, dim=1))
    log_norm_negative = log_normaliser(logmeanexp(negative, dim=1))
    return BoundTerms(
        1 + positive - log_norm_positive - torch.exp(negative - log_norm_negative.unsqueeze(1)).mean(dim=1)
    )


def smile(positive: Tensor, negative: Tensor, tau: float) -> BoundTerms:
    r"""SMILE (Song and Ermon, 2020): Donsker-Varadhan with the partition scores clipped
    to ``[-tau, tau]``, trading a little bias for much lower variance.

    Arguments:
        positive: ``[N]`` critic scores ``f(x_i, y_i)`` of the joint pairs.
        negative: ``[N, M]`` scores ``f(x_i, y_j)`` of ``M`` shuffled pairs per row.
        tau: The clipping threshold, positive.

    Returns:
        The Donsker-Varadhan terms with clipped partition scores.

    Raises:
        ValueError: When ``tau`` is not positive.

    Example:
        >>> float(smile(torch.zeros(2), torch.full((2, 3), 100.0), tau=5.0).value())  # 0 - 5
        -5.0
    """
    if tau <= 0:
        raise ValueError(f"tau must be positive, got {tau}")
    return donsker_varadhan(positive, negative.clamp(-tau, tau))


def flo(positive: Tensor, negative: Tensor, u: Tensor) -> BoundTerms:
    r"""FLO, the Fenchel-Legendre optimisation bound (Guo et al., 2022).

    ``I >= 1 - E_p[u(x, y) + exp(-u(x, y)) * E_{p(y')}[exp(f(x, y') - f(x, y))]]`` where
    ``u``, ``[N]``, is the joint baseline evaluated on the positive pairs.

    Arguments:
        positive: ``[N]`` critic scores ``f(x_i, y_i)`` of the joint pairs.
        negative: ``[N, M]`` scores ``f(x_i, y_j)`` of ``M`` shuffled pairs per row.
        u: ``[N]`` values of the joint baseline on the positive pairs.

    Returns:
        The bound's per-sample terms.

    Example:
        >>> float(flo(torch.zeros(2), torch.zeros(2, 3), torch.zeros(2)).value())  # 1 - 0 - 1
        0.0
    """
    partition = torch.exp(negative - positive.unsqueeze(1)).mean(dim=1)
    return BoundTerms(1 - u - torch.exp(-u) * partition)


def js_divergence(positive: Tensor, negative: Tensor) -> Tensor:
    r"""The Jensen-Shannon objective of f-GAN (a scaled, shifted JS divergence).

    Maximised by the log density ratio ``f = log p(x, y) / (p(x)p(y))``; used to train
    critics whose value is then reported through another bound (JS, SMILE).

    Arguments:
        positive: ``[N]`` critic scores ``f(x_i, y_i)`` of the joint pairs.
        negative: ``[N, M]`` scores ``f(x_i, y_j)`` of ``M`` shuffled pairs per row.

    Returns:
        The objective, a scalar to maximise.

    Example:
        >>> round(float(js_divergence(torch.zeros(2), torch.zeros(2, 3))), 4)  # -2 log 2
        -1.3863
    """
    return -F.softplus(-positive).mean() - F.softplus(negative).mean()


def mine_surrogate(positive: Tensor, negative: Tensor, log_ema: Tensor) -> Tensor:
    r"""MINE's bias-corrected objective (Belghazi et al., 2018).

    Its value is the Donsker-Varadhan bound of the batch, and its gradient replaces the
    batch partition ``E[exp f]`` in the denominator of the DV gradient by a moving average
    ``exp(log_ema)``, which removes the bias of the minibatch gradient.

    Arguments:
        positive: ``[..., N]`` critic scores ``f(x_i, y_i)`` of the joint pairs.
        negative: ``[..., N, M]`` scores ``f(x_i, y_j)`` of ``M`` shuffled pairs per row.
        log_ema: ``[...]``, the log of the moving average of ``E[exp f]`` (no gradient flows into it).

    Returns:
        ``[...]``: the Donsker-Varadhan bound with the corrected gradient, one per leading
        index (several critics scored at once), a scalar without leading dimensions.

    Example:
        >>> positive, negative = torch.zeros(2), torch.zeros(2, 3)
        >>> float(mine_surrogate(positive, negative, torch.tensor(0.0)))
        0.0
        >>> mine_surrogate(torch.zeros(4, 2), torch.zeros(4, 2, 3), torch.zeros(4)).shape  # four critics
        torch.Size([4])
    """
    pairs = negative.flatten(-2)
    value = positive.mean(-1) - logmeanexp(pairs, dim=-1)
    surrogate = positive.mean(-1) - torch.exp(pairs - log_ema.detach().unsqueeze(-1)).mean(-1)
    return straight_through(value, surrogate)


class RunningBound:
    r"""Accumulates :class:`BoundTerms` over many batches into one estimate.

    The per-sample part is averaged over samples (not over batch means) and the partition
    part is a streaming log-sum-exp over every partition score seen, so evaluating in
    batches gives the same number as evaluating the whole data set with the same pairs.

    Example:
        >>> running = RunningBound()
        >>> running.add(donsker_varadhan(torch.ones(2), torch.zeros(2, 3)))
        >>> running.add(donsker_varadhan(torch.ones(6), torch.zeros(6, 3)))
        >>> round(running.value(), 6), running.n_samples
        (1.0, 8)
    """

    def __init__(self) -> None:
        self._sum: Tensor | None = None
        self._sum_sq: Tensor | None = None
        self._lse: Tensor | None = None
        self._lse_sq: Tensor | None = None  # log sum exp(2 * score): the weights' second moment
        self.n_samples = 0
        self.n_partition = 0

    def add(self, terms: BoundTerms) -> None:
        per_sample = terms.per_sample.detach().double()
        self._sum = per_sample.sum() + (0 if self._sum is None else self._sum)
        self._sum_sq = per_sample.square().sum() + (0 if self._sum_sq is None else self._sum_sq)
        self.n_samples += per_sample.numel()
        if terms.log_partition is not None:
            scores = terms.log_partition.detach().double().reshape(-1)
            lse, lse_sq = torch.logsumexp(scores, 0), torch.logsumexp(2 * scores, 0)
            self._lse = lse if self._lse is None else torch.logaddexp(self._lse, lse)
            self._lse_sq = lse_sq if self._lse_sq is None else torch.logaddexp(self._lse_sq, lse_sq)
            self.n_partition += terms.log_partition.numel()

    def value(self) -> float:
        r"""The estimate over everything added so far."""
        if self.n_samples == 0:
            raise RuntimeError("no batch was added, so there is nothing to estimate")
        result = float(self._sum) / self.n_samples
        if self._lse is not None:
            result -= float(self._lse) - math.log(self.n_partition)
        return result

    def effective_pairs(self) -> float:
        r"""The effective number of negative pairs behind the log-partition term,
        ``(sum_j w_j)^2 / sum_j w_j^2`` with ``w_j = exp(score_j)`` (``inf`` without one).

        The partition term is a Monte Carlo mean of the weights ``w_j``; when a few pairs
        carry most of the weight (a critic with a large range: high MI, few samples) this
        number is small and the term is as uncertain as a mean of that many values.

        Example:
            >>> running = RunningBound()
            >>> running.add(donsker_varadhan(torch.zeros(2), torch.tensor([[0.0, 0.0], [0.0, 50.0]])))
            >>> round(running.effective_pairs(), 3)
            1.0
        """
        if self._lse is None:
            return math.inf
        return math.exp(float(2 * self._lse - self._lse_sq))

    def partition_standard_error(self) -> float:
        r"""The Monte Carlo standard error of the log-partition term (0 without one).

        By the delta method, ``log mean_j w_j`` has the variance of ``mean_j w_j`` divided
        by its square: ``1 / effective_pairs - 1 / n_partition`` for independent pairs.
        Pairs sharing a sample are not independent and the weights' second moment is
        itself estimated, so this is a floor on the term's uncertainty, not a ceiling.
        """
        if self._lse is None:
            return 0.0
        return math.sqrt(max(1.0 / self.effective_pairs() - 1.0 / self.n_partition, 0.0))

    def sample_standard_error(self) -> float:
        r"""The standard error of the per-sample mean alone."""
        n = self.n_samples
        if n < 2:
            return float("nan")
        mean = float(self._sum) / n
        variance = max(float(self._sum_sq) / n - mean * mean, 0.0) * n / (n - 1)
        return math.sqrt(variance / n)

    def standard_error(self) -> float:
        r"""The standard error of :meth:`value`: that of the per-sample mean and the Monte
        Carlo error of the log-partition term (:meth:`partition_standard_error`), added in
        quadrature. At a near-optimal critic the second is negligible (the weights are
        nearly constant); with a heavy-tailed partition term it dominates."""
        return math.sqrt(self.sample_standard_error() ** 2 + self.partition_standard_error() ** 2)
