r"""Estimators on quantized variables: :class:`Binned` and :class:`PQ`.

Quantizing loses information, ``I(Q(X); Q(Y)) <= I(X; Q(Y)) <= I(X; Y)`` (data
processing), in exchange for quantities that are easy to estimate: counting tables for
:class:`Binned`, a classifier for :class:`PQ`. Quantizers (:mod:`mist_reg.nn.quantization`)
are fitted in the ``fit_data(x, y)`` hook that :func:`mist_reg.train_mi_estimator` calls
before training; an estimator used without it fits them on the first batch it sees.

Example:
    >>> import torch
    >>> a = torch.tensor([0, 0, 1, 1]); b = torch.tensor([1, 1, 0, 0])
    >>> round(float(plugin_mutual_information(a, b)), 4)  # one bit
    0.6931
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from mist_reg.distributions.conditional_categorical import ConditionalCategorical
from mist_reg.distributions.log_density import ConditionalDensity, log_prob
from mist_reg.estimators.base import MIEstimator
from mist_reg.estimators.factories import hidden_or_default
from mist_reg.estimators.generative import GenerativeEstimator, check_generative_inputs
from mist_reg.estimators.registry import register_estimator
from mist_reg.functional.bounds import BoundTerms
from mist_reg.nn.quantization import KMeansQuantizer, QuantileQuantizer, Quantizer, VectorQuantizer

__all__ = [
    "Binned",
    "PQ",
    "plugin_mutual_information",
    "joint_counts",
    "QUANTIZATIONS",
    "make_quantizer",
    "binned",
    "pq",
]

MAX_CELLS = 1 << 24


def joint_counts(codes_x: Tensor, codes_y: Tensor, n_x: int, n_y: int) -> Tensor:
    r"""The ``[n_x, n_y]`` table of how often each pair of codes occurs (float64)."""
    if n_x * n_y > MAX_CELLS:
        raise ValueError(
            f"a {n_x} x {n_y} table has more than {MAX_CELLS} cells; use fewer bins (the plug-in estimate would be meaningless anyway)"
        )
    flat = codes_x.long() * n_y + codes_y.long()
    return torch.bincount(flat, minlength=n_x * n_y).reshape(n_x, n_y).double()


def _log_ratio_table(counts: Tensor, pseudo_count: float) -> Tensor:
    joint = counts + pseudo_count
    joint = joint / joint.sum()
    return joint.log() - joint.sum(1, keepdim=True).log() - joint.sum(0, keepdim=True).log()


def plugin_mutual_information(
    codes_x: Tensor, codes_y: Tensor, n_x: int | None = None, n_y: int | None = None
) -> Tensor:
    r"""The plug-in mutual information (nats) of two code vectors ``[N]``: that of their
    empirical joint distribution, ``sum_ab p(a, b) log p(a, b) / (p(a) p(b))``."""
    n_x = int(codes_x.max()) + 1 if n_x is None else n_x
    n_y = int(codes_y.max()) + 1 if n_y is None else n_y
    counts = joint_counts(codes_x, codes_y, n_x, n_y)
    p = counts / counts.sum()
    px, py = p.sum(1, keepdim=True), p.sum(0, keepdim=True)
    ratio = torch.where(p > 0, p.log() - px.clamp_min(1e-300).log() - py.clamp_min(1e-300).log(), torch.zeros_like(p))
    return (p * ratio).sum()


class Binned(MIEstimator):
    r"""Plug-in mutual information of quantized codes, ``I(Q(X); Q(Y))`` (no bound).

    :meth:`fit_data` fits both quantizers and counts the joint table of codes on the
    training samples; the estimate on a batch is the mean over its samples of
    ``log p(a, b) / (p(a) p(b))`` under the smoothed table (each cell gets
    ``pseudo_count`` extra counts, so unseen pairs stay finite). Evaluated on the fitting
    samples with ``pseudo_count = 0`` this is exactly :func:`plugin_mutual_information`;
    evaluated on held-out samples it avoids the plug-in's upward bias of about
    ``(cells - 1) / (2 N)``.

    The estimator has no trainable parameter; it holds an empty one so that optimisers
    built on ``estimator.parameters()`` accept it, and its training loss is a constant 0.

    Arguments:
        quantizer_x: The quantizer of ``x``.
        quantizer_y: The quantizer of ``y``.
        pseudo_count: The additive smoothing of every cell of the table.

    Example:
        >>> from mist_reg.nn.quantization import ThresholdQuantizer
        >>> estimator = Binned(ThresholdQuantizer([0.0]), ThresholdQuantizer([0.0]), pseudo_count=0.0)
        >>> x = torch.linspace(-1, 1, 1000).unsqueeze(1)  # half of the samples are positive
        >>> estimator.fit_data(x, x)
        >>> round(float(estimator.mutual_information(x, x)), 4)  # one bit, as x > 0 tells y > 0
        0.6931
    """

    bound = None
    shares_objective = False  # nothing to train: the table is counted by fit_data

    def __init__(self, quantizer_x: Quantizer, quantizer_y: Quantizer, pseudo_count: float = 0.5) -> None:
        super().__init__()
        if pseudo_count < 0:
            raise ValueError(f"pseudo_count must be non-negative, got {pseudo_count}")
        self.quantizer_x, self.quantizer_y = quantizer_x, quantizer_y
        self.pseudo_count = pseudo_count
        self.register_buffer("log_ratio", torch.zeros(0, 0, dtype=torch.float64))
        self.placeholder = nn.Parameter(torch.zeros(0))

    @property
    def fitted(self) -> bool:
        r"""Whether the table of codes has been counted."""
        return self.log_ratio.numel() > 0

    @torch.no_grad()
    def fit_data(self, x: Tensor, y: Tensor) -> None:
        r"""Fits the quantizers and counts the table of codes on ``x, y`` (the training samples)."""
        x, y = check_generative_inputs(x, y)
        y = y.float()
        self.quantizer_x.fit(x)
        self.quantizer_y.fit(y)
        counts = joint_counts(
            self.quantizer_x(x), self.quantizer_y(y), self.quantizer_x.n_bins, self.quantizer_y.n_bins
        )
        self.log_ratio = _log_ratio_table(counts, self.pseudo_count)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + "log_ratio"
        if key in state_dict:
            self.log_ratio = torch.empty_like(state_dict[key], device=self.log_ratio.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        if not self.fitted:
            self.fit_data(x, y)
        return self.placeholder.sum()

    def terms(self, x: Tensor, y: Tensor) -> BoundTerms:
        if not self.fitted:
            self.fit_data(x, y)
        x, y = check_generative_inputs(x, y)
        a, b = self.quantizer_x(x), self.quantizer_y(y.float())
        return BoundTerms(self.log_ratio[a, b].float())

    def extra_repr(self) -> str:
        shape = tuple(self.log_ratio.shape) if self.fitted else "unfitted"
        return f"bound={self.bound!r}, pseudo_count={self.pseudo_count}, table={shape}"


class PQ(GenerativeEstimator):
    r"""Predictive quantization (Federici, Ruhe and Forré, 2023):
    ``I(X; Y) >= I(X; Q(Y)) >= H(Q(Y)) - E_p[-log q(Q(y) | x)]``.

    A classifier ``q(c | x)`` predicts the code ``c = Q(y)``; ``H(Q(Y))`` is the
    cross-entropy of a learned categorical ``q(c)``, started at the code frequencies of
    the training samples. The estimate on a batch is the mean of
    ``log q(c_i | x_i) - log q(c_i)``; it is a lower bound on ``I(X; Q(Y))`` up to the
    (small, for a few dozen codes) error of ``q(c)``, and differentiable w.r.t. ``x``.

    ``forward`` fits ``q(c | x)`` and ``q(c)`` by maximum likelihood on detached inputs,
    plus the quantizer's own loss (that of a learned :class:`~mist_reg.nn.quantization.VectorQuantizer`).

    Arguments:
        quantizer: The quantizer ``Q`` of ``y``.
        q_code_given_x: A conditional density over ``{0, ..., quantizer.n_bins - 1}``, e.g.
            :class:`~mist_reg.distributions.ConditionalCategorical`.

    Example:
        >>> from mist_reg.distributions import ConditionalCategorical
        >>> from mist_reg.nn.quantization import KMeansQuantizer
        >>> estimator = PQ(KMeansQuantizer(dim=2, n_bins=4), ConditionalCategorical(3, 4, [16]))
        >>> x, y = torch.randn(100, 3), torch.randn(100, 2)
        >>> estimator.fit_data(x, y)
        >>> estimator.mutual_information(x, y).shape
        torch.Size([])
    """

    bound = "lower"

    def __init__(self, quantizer: Quantizer, q_code_given_x: ConditionalDensity) -> None:
        super().__init__()
        self.quantizer, self.q_code_given_x = quantizer, q_code_given_x
        self.marginal_logits = nn.Parameter(torch.zeros(quantizer.n_bins))

    @torch.no_grad()
    def fit_data(self, x: Tensor, y: Tensor) -> None:
        r"""Fits the quantizer on the training ``y`` and starts ``q(c)`` at the code frequencies."""
        y = check_generative_inputs(x, y)[1].float()
        self.quantizer.fit(y)
        codes = self.quantizer(y)
        counts = torch.bincount(codes, minlength=self.marginal_logits.numel()).to(self.marginal_logits)
        self.marginal_logits.copy_((counts + 0.5).log())

    def codes(self, y: Tensor) -> Tensor:
        r"""The codes ``Q(y)``: ``[N]`` (the quantizer is fitted on ``y`` if it never was)."""
        y = y.float()
        if not self.quantizer.fitted:
            self.quantizer.fit(y.detach())
        return self.quantizer(y)

    def per_sample(self, x: Tensor, codes: Tensor) -> Tensor:
        r"""``log q(c_i | x_i) - log q(c_i)``: ``[N]``."""
        log_marginal = torch.log_softmax(self.marginal_logits.float(), 0)[codes]
        return log_prob(self.q_code_given_x, x, codes) - log_marginal

    def fitting_loss(self, x, y):
        codes = self.codes(y)
        conditional = log_prob(self.q_code_given_x, x, codes)
        marginal = torch.log_softmax(self.marginal_logits.float(), 0)[codes]
        return -(conditional.mean() + marginal.mean()) + self.quantizer.loss(y.float())

    def estimate_terms(self, x, y):
        return BoundTerms(self.per_sample(x, self.codes(y)))


QUANTIZATIONS: tuple[str, ...] = ("kmeans", "quantile", "vq")


def make_quantizer(quantization: str | Quantizer, dim: int, n_bins: int) -> Quantizer:
    r"""A quantizer of ``dim`` features by name: ``"kmeans"`` (``n_bins`` centroids),
    ``"quantile"`` (``n_bins`` equal-frequency bins *per coordinate*, ``n_bins ** dim``
    codes) or ``"vq"`` (a learned codebook of ``n_bins`` vectors); a quantizer is returned
    unchanged.

    Arguments:
        quantization: A name of :data:`QUANTIZATIONS` or a :class:`~mist_reg.nn.quantization.Quantizer`.
        dim: The number of features quantized.
        n_bins: The number of centroids, bins per coordinate or codebook vectors.

    Returns:
        The quantizer (not yet fitted).

    Raises:
        ValueError: For an unknown name.

    Example:
        >>> make_quantizer("quantile", dim=2, n_bins=4).n_bins
        16
        >>> make_quantizer("lattice", 3, 8)
        Traceback (most recent call last):
        ...
        ValueError: unknown quantization 'lattice'; valid values: kmeans, quantile, vq
    """
    if isinstance(quantization, Quantizer):
        return quantization
    if quantization == "kmeans":
        return KMeansQuantizer(dim, n_bins)
    if quantization == "quantile":
        return QuantileQuantizer(dim, n_bins)
    if quantization == "vq":
        return VectorQuantizer(dim, n_bins)
    raise ValueError(f"unknown quantization {quantization!r}; valid values: {', '.join(QUANTIZATIONS)}")


@register_estimator("binned", Binned)
def binned(
    x_dim: int,
    y_dim: int,
    bins: int = 16,
    quantization: Literal["kmeans", "quantile"] | tuple[Quantizer, Quantizer] = "kmeans",
    pseudo_count: float = 0.5,
) -> Binned:
    r"""A :class:`~mist_reg.estimators.Binned` plug-in estimate with the same kind of
    quantizer on both sides: ``bins`` k-means centroids, or ``bins`` quantile bins per
    coordinate (``bins ** dim`` cells; for low dimensions only).

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        bins: The number of bins: k-means centroids, or quantile bins per coordinate (16).
        quantization: How samples become bins: ``"kmeans"`` (the default), ``"quantile"`` or a
            pair of fitted quantizers.
        pseudo_count: Added to every cell of the joint histogram before normalising (0.5).

    Example:
        >>> binned(2, 1, bins=4, quantization="quantile").bound is None
        True
    """
    if isinstance(quantization, tuple):
        return Binned(*quantization, pseudo_count=pseudo_count)
    if quantization not in ("kmeans", "quantile"):
        raise ValueError(f"unknown quantization {quantization!r} for binned; valid values: kmeans, quantile")
    return Binned(make_quantizer(quantization, x_dim, bins), make_quantizer(quantization, y_dim, bins), pseudo_count)


@register_estimator("pq", PQ)
def pq(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    quantization: str | Quantizer = "kmeans",
    n_bins: int = 16,
) -> PQ:
    r"""A :class:`~mist_reg.estimators.PQ` lower bound: ``Q(y)`` by ``quantization`` (see
    :func:`make_quantizer`) and a categorical ``q(Q(y) | x)`` MLP.

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the densities (``(256, 256)`` by default).
        quantization: How samples become bins: ``"kmeans"`` (the default), ``"quantile"``,
            ``"vq"`` or a :class:`~mist_reg.nn.quantization.Quantizer` (see
            :func:`make_quantizer`).
        n_bins: The number of bins of ``Q(y)`` (16).

    Example:
        >>> pq(3, 2, hidden_dims=[8], n_bins=8).bound
        'lower'
    """
    quantizer = make_quantizer(quantization, y_dim, n_bins)
    return PQ(quantizer, ConditionalCategorical(x_dim, quantizer.n_bins, hidden_or_default(hidden_dims)))
