r"""Lower-case factories of the generative, quantized and hybrid estimators, registered by
name (``"ba"``, ``"doe"``, ``"gm"``, ``"l1out"``, ``"club"``, ``"binned"``, ``"pq"``,
``"pq_hybrid"``, ``"gaussian_hybrid"``, ``"gaussian"``) so that :func:`mist_reg.estimate_mi` can build them.

Densities are chosen by name: ``q="gaussian"`` (with ``covariance="diagonal"`` or
``"full"``), ``"categorical"`` (discrete ``y``, with ``n_classes``), ``"flow"`` (zuko,
with ``transforms`` and ``flow="maf"`` or ``"nsf"``) or ``"batch_gaussian"`` (refitted in
closed form on every batch; what :class:`mist_reg.MILoss` uses when it minimises). Quantizers likewise:
``quantization="kmeans"``, ``"quantile"`` or ``"vq"`` (or a :class:`~mist_reg.nn.quantization.Quantizer`).

Example:
    >>> estimator = club(x_dim=3, y_dim=2, hidden_dims=[16], neg_samples=8)
    >>> type(estimator).__name__, estimator.bound, estimator.neg_samples
    ('CLUB', 'upper', 8)
    >>> pq(3, 2, quantization="lattice")
    Traceback (most recent call last):
    ...
    ValueError: unknown quantization 'lattice'; valid values: kmeans, quantile, vq
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from mist_reg.distributions.batch_kernel import DEFAULT_BANDWIDTHS
from mist_reg.distributions.conditional_categorical import ConditionalCategorical
from mist_reg.distributions.conditional_gaussian import Covariance
from mist_reg.distributions.factory import conditional_density, marginal_density
from mist_reg.distributions.flows import FlowKind
from mist_reg.distributions.log_density import DEFAULT_MAX_PAIRS
from mist_reg.estimators.factories import DEFAULT_HIDDEN_DIMS, ESTIMATION_CRITIC_DEFAULTS, make_critic
from mist_reg.estimators.gaussian_model import GaussianMI
from mist_reg.estimators.generative import BA, CLUB, GM, L1OUT, DoE
from mist_reg.estimators.hybrid import DensityRatioCritic, GenerativeHybrid, PQHybrid
from mist_reg.estimators.kernel import KernelMI
from mist_reg.estimators.quantized import PQ, Binned
from mist_reg.estimators.registry import register_estimator
from mist_reg.nn.critic import Critic
from mist_reg.nn.quantization import KMeansQuantizer, QuantileQuantizer, Quantizer, VectorQuantizer
from mist_reg.nn.references.gaussian import GaussianLogRatio

__all__ = [
    "QUANTIZATIONS",
    "PROPOSALS",
    "ESTIMATION_HYBRID_DEFAULTS",
    "make_quantizer",
    "ba",
    "doe",
    "gm",
    "l1out",
    "club",
    "binned",
    "pq",
    "pq_hybrid",
    "gaussian_hybrid",
    "gaussian",
    "kernel",
]

QUANTIZATIONS: tuple[str, ...] = ("kmeans", "quantile", "vq")
PROPOSALS: tuple[str, ...] = ("closed_form", "learned")

ESTIMATION_HYBRID_DEFAULTS: dict[str, Any] = {"hidden_dims": (128, 128, 128), "projection_dim": 32}
r"""What :func:`mist_reg.estimate_mi` gives ``gaussian_hybrid`` unless told otherwise (the
``estimate_defaults`` of its registry entry): the correction network of
:data:`~mist_reg.estimators.factories.ESTIMATION_CRITIC_DEFAULTS`. Its closed-form
Gaussian proposal is the reference those defaults add to the critic estimators, so
``"gaussian_hybrid"`` with ``discriminative="mine"`` is the default estimator written out."""

ConditionalKind = Literal["gaussian", "categorical", "flow", "batch_gaussian", "batch_kernel", "batch"]


def _hidden(hidden_dims: Sequence[int] | None) -> Sequence[int]:
    return DEFAULT_HIDDEN_DIMS if hidden_dims is None else hidden_dims


def make_quantizer(quantization: str | Quantizer, dim: int, n_bins: int) -> Quantizer:
    r"""A quantizer of ``dim`` features by name: ``"kmeans"`` (``n_bins`` centroids),
    ``"quantile"`` (``n_bins`` equal-frequency bins *per coordinate*, ``n_bins ** dim``
    codes) or ``"vq"`` (a learned codebook of ``n_bins`` vectors); a quantizer is returned
    unchanged."""
    if isinstance(quantization, Quantizer):
        return quantization
    if quantization == "kmeans":
        return KMeansQuantizer(dim, n_bins)
    if quantization == "quantile":
        return QuantileQuantizer(dim, n_bins)
    if quantization == "vq":
        return VectorQuantizer(dim, n_bins)
    raise ValueError(f"unknown quantization {quantization!r}; valid values: {', '.join(QUANTIZATIONS)}")


def _conditional(q, x_dim, y_dim, hidden_dims, covariance, n_classes, transforms, flow):
    return conditional_density(q, x_dim, y_dim, _hidden(hidden_dims), covariance, n_classes, transforms, flow)


@register_estimator("ba", BA)
def ba(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    entropy_y: float | None = None,
    q: ConditionalKind = "gaussian",
    covariance: Covariance = "diagonal",
    n_classes: int | None = None,
    transforms: int = 3,
    flow: FlowKind = "maf",
) -> BA:
    r"""A :class:`~mist_reg.estimators.BA` lower bound; ``entropy_y`` (``H(Y)`` in nats) is required.

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the densities (``(256, 256)`` by default).
        entropy_y: ``H(Y)`` in nats, required: the bound is ``H(Y) - E[-log q(y | x)]``.
        q: The kind of ``q(y | x)``: ``"gaussian"`` (the default), ``"categorical"`` (class
            indices ``y``, with ``n_classes``) or ``"flow"`` (a conditional normalising flow,
            needs zuko).
        covariance: The covariance of Gaussian densities: ``"diagonal"`` or ``"full"`` (default
            ``"diagonal"``).
        n_classes: The number of classes of a categorical ``q`` (``y`` then holds class
            indices).
        transforms: The number of flow transforms (3).
        flow: The flow: ``"maf"`` (the default) or ``"nsf"``.

    Example:
        >>> ba(2, 2, hidden_dims=[8], entropy_y=2.84).bound
        'lower'
    """
    return BA(_conditional(q, x_dim, y_dim, hidden_dims, covariance, n_classes, transforms, flow), entropy_y)


@register_estimator("doe", DoE)
def doe(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    q: Literal["gaussian", "flow"] = "gaussian",
    covariance: Covariance = "diagonal",
    marginal_covariance: Covariance = "full",
    transforms: int = 3,
    flow: FlowKind = "maf",
) -> DoE:
    r"""A :class:`~mist_reg.estimators.DoE` estimator: ``q(y | x)`` and ``q(y)`` of kind ``q``
    (the Gaussian marginal with ``marginal_covariance``).

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the densities (``(256, 256)`` by default).
        q: The kind of ``q(y | x)`` and ``q(y)``: ``"gaussian"`` (the default) or ``"flow"``
            (normalising flows, need zuko).
        covariance: The covariance of Gaussian densities: ``"diagonal"`` or ``"full"`` (default
            ``"diagonal"``).
        marginal_covariance: The covariance of the Gaussian ``q(y)`` (``"full"`` by default).
        transforms: The number of flow transforms (3).
        flow: The flow: ``"maf"`` (the default) or ``"nsf"``.
    """
    if q not in ("gaussian", "flow"):
        raise ValueError(f"unknown density {q!r} for DoE; valid values: gaussian, flow")
    conditional = _conditional(q, x_dim, y_dim, hidden_dims, covariance, None, transforms, flow)
    marginal = marginal_density(q, y_dim, _hidden(hidden_dims), marginal_covariance, transforms, flow)
    return DoE(conditional, marginal)


@register_estimator("gm", GM)
def gm(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    density: Literal["gaussian", "flow"] = "gaussian",
    covariance: Covariance = "full",
    transforms: int = 3,
    flow: FlowKind = "maf",
) -> GM:
    r"""A :class:`~mist_reg.estimators.GM` estimator: ``q(x, y)``, ``q(x)`` and ``q(y)`` of kind
    ``density`` (learned Gaussians with ``covariance``, ``"full"`` by default, or flows).

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the densities (``(256, 256)`` by default).
        density: The kind of the three densities: ``"gaussian"`` (the default) or ``"flow"``.
        covariance: The covariance of Gaussian densities: ``"diagonal"`` or ``"full"`` (default
            ``"full"``).
        transforms: The number of flow transforms (3).
        flow: The flow: ``"maf"`` (the default) or ``"nsf"``.
    """
    hidden = _hidden(hidden_dims)

    def make(dim: int):
        return marginal_density(density, dim, hidden, covariance, transforms, flow)

    return GM(make(x_dim + y_dim), make(x_dim), make(y_dim))


@register_estimator("l1out", L1OUT)
def l1out(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    q: ConditionalKind = "gaussian",
    covariance: Covariance = "diagonal",
    n_classes: int | None = None,
    transforms: int = 3,
    flow: FlowKind = "maf",
    max_pairs: int = DEFAULT_MAX_PAIRS,
) -> L1OUT:
    r"""An :class:`~mist_reg.estimators.L1OUT` upper bound with ``q(y | x)`` of kind ``q``.

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the densities (``(256, 256)`` by default).
        q: The kind of ``q(y | x)``: ``"gaussian"`` (the default), ``"categorical"`` (class
            indices ``y``, with ``n_classes``) or ``"flow"`` (a conditional normalising flow,
            needs zuko).
        covariance: The covariance of Gaussian densities: ``"diagonal"`` or ``"full"`` (default
            ``"diagonal"``).
        n_classes: The number of classes of a categorical ``q`` (``y`` then holds class
            indices).
        transforms: The number of flow transforms (3).
        flow: The flow: ``"maf"`` (the default) or ``"nsf"``.
        max_pairs: The number of pairs ``(x_i, y_j)`` whose ``log q(y_j | x_i)`` is evaluated
            at once, to bound memory (65,536).
    """
    return L1OUT(_conditional(q, x_dim, y_dim, hidden_dims, covariance, n_classes, transforms, flow), max_pairs)


@register_estimator("club", CLUB)
def club(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    neg_samples: int = 0,
    q: ConditionalKind = "gaussian",
    n_classes: int | None = None,
    covariance: Covariance = "diagonal",
    transforms: int = 3,
    flow: FlowKind = "maf",
    max_pairs: int = DEFAULT_MAX_PAIRS,
) -> CLUB:
    r"""A :class:`~mist_reg.estimators.CLUB` upper bound with ``q(y | x)`` of kind ``q``
    (``"categorical"`` with ``n_classes`` for class-index ``y``).

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the densities (``(256, 256)`` by default).
        neg_samples: Negatives per sample: ``M > 0`` uses ``M``, ``0`` (the default) the other
            ``N - 1`` samples of the batch, ``-k`` uses ``N - k``.
        q: The kind of ``q(y | x)``: ``"gaussian"`` (the default), ``"categorical"`` (class
            indices ``y``, with ``n_classes``) or ``"flow"`` (a conditional normalising flow,
            needs zuko).
        n_classes: The number of classes of a categorical ``q`` (``y`` then holds class
            indices).
        covariance: The covariance of Gaussian densities: ``"diagonal"`` or ``"full"`` (default
            ``"diagonal"``).
        transforms: The number of flow transforms (3).
        flow: The flow: ``"maf"`` (the default) or ``"nsf"``.
        max_pairs: The number of pairs ``(x_i, y_j)`` whose ``log q(y_j | x_i)`` is evaluated
            at once, to bound memory (65,536).
    """
    conditional = _conditional(q, x_dim, y_dim, hidden_dims, covariance, n_classes, transforms, flow)
    return CLUB(conditional, neg_samples, max_pairs)


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
    """
    quantizer = make_quantizer(quantization, y_dim, n_bins)
    return PQ(quantizer, ConditionalCategorical(x_dim, quantizer.n_bins, _hidden(hidden_dims)))


@register_estimator("pq_hybrid", PQHybrid, has_critic=True, estimate_defaults=ESTIMATION_CRITIC_DEFAULTS)
def pq_hybrid(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    quantization: str | Quantizer = "kmeans",
    n_bins: int = 16,
    neg_samples: int = 0,
    critic_type: Literal["joint", "separable"] = "separable",
    marginal_terms: bool = True,
    batch_weight: float = 1.0,
    **critic_kwargs: Any,
) -> PQHybrid:
    r"""A :class:`~mist_reg.estimators.PQHybrid`: PQ plus an in-bin InfoNCE bound with an MLP
    critic (``critic_type``, ``projection_dim``, ... as for :func:`make_critic`).

    The critic is separable by default: training scores every pair of a batch (the
    full-batch objective, see :class:`~mist_reg.estimators.PQHybrid`), which a separable
    critic does with one product of two feature matrices, where a joint critic evaluates
    its MLP on each of the ``N^2`` pairs.

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the critic (``(256, 256)`` by default).
        quantization: How samples become bins: as for :func:`pq`.
        n_bins: The number of bins of ``Q(y)`` (16).
        neg_samples: Negatives per sample: ``M > 0`` uses ``M``, ``0`` (the default) the other
            ``N - 1`` samples of the batch, ``-k`` uses ``N - k``.
        critic_type: The critic of the in-bin bound: ``"separable"`` (the default) or
            ``"joint"``.
        marginal_terms: Whether a separable critic adds marginal terms ``u(x) + w(y)``
            (``True``).
        batch_weight: The weight of the in-bin bound's full-batch objective in training (1.0).
        critic_kwargs: Arguments of :func:`make_critic`: ``critic_type`` (``"joint"``, the
            default, or ``"separable"``), ``projection_dim``, ``normalize``, ``temperature``,
            ``marginal_terms``, ``reference`` (``"gaussian"`` for a correction of the
            closed-form Gaussian log-ratio) and ``reference_offset``.
    """
    if critic_type == "separable":
        critic_kwargs["marginal_terms"] = marginal_terms
    critic = make_critic(x_dim, y_dim, hidden_dims, critic_type, **critic_kwargs)
    return PQHybrid(pq(x_dim, y_dim, hidden_dims, quantization, n_bins), critic, neg_samples, batch_weight)


@register_estimator("gaussian_hybrid", GenerativeHybrid, estimate_defaults=ESTIMATION_HYBRID_DEFAULTS)
def gaussian_hybrid(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    proposal: Literal["closed_form", "learned"] | Critic = "closed_form",
    discriminative: str = "infonce",
    neg_samples: int = 0,
    covariance: Covariance = "full",
    critic_type: Literal["joint", "separable"] = "separable",
    marginal_terms: bool = True,
    projection_dim: int | None = None,
    **bound_kwargs: Any,
) -> GenerativeHybrid:
    r"""A :class:`~mist_reg.estimators.GenerativeHybrid` with a Gaussian proposal corrected by
    an MLP critic.

    Arguments:
        proposal: ``"closed_form"`` (:class:`~mist_reg.nn.references.gaussian.GaussianLogRatio`,
            moments of the training data), ``"learned"`` (a conditional Gaussian with
            ``covariance`` and a learned full Gaussian ``q(y)``, fitted by maximum
            likelihood while the critic trains) or any critic.
        discriminative: The bound: ``"infonce"`` (by default, never above ``log(N)``: see
            :class:`~mist_reg.estimators.GenerativeHybrid`), ``"smile"``, ``"js"``, ``"nwj"``
            or ``"mine"``.
        critic_type: The correction's critic, ``"separable"`` by default (one matrix product
            scores a batch's pairs) or ``"joint"`` (an MLP on every pair).
        marginal_terms: Whether a separable correction has marginal terms ``u(x) + w(y)``
            (see :func:`~mist_reg.nn.critic.separable_critic`).
        projection_dim: The feature size of a separable correction (by default the last
            hidden width).
        bound_kwargs: ``tau`` for SMILE, ``gamma`` for MINE.

    Example:
        >>> gaussian_hybrid(2, 2, hidden_dims=[8], proposal="exact")
        Traceback (most recent call last):
        ...
        ValueError: unknown proposal 'exact'; valid values: closed_form, learned
    """
    hidden = _hidden(hidden_dims)
    if isinstance(proposal, Critic):
        reference = proposal
    elif proposal == "closed_form":
        reference = GaussianLogRatio(x_dim, y_dim)
    elif proposal == "learned":
        reference = DensityRatioCritic(
            conditional_density("gaussian", x_dim, y_dim, hidden, covariance),
            marginal_density("gaussian", y_dim, covariance="full"),
        )
    else:
        raise ValueError(f"unknown proposal {proposal!r}; valid values: {', '.join(PROPOSALS)}")
    separable = (
        {"marginal_terms": marginal_terms, "projection_dim": projection_dim} if critic_type == "separable" else {}
    )
    correction = make_critic(x_dim, y_dim, hidden, critic_type, **separable)
    return GenerativeHybrid(reference, correction, discriminative, neg_samples, **bound_kwargs)


@register_estimator("gaussian", GaussianMI)
def gaussian(x_dim: int, y_dim: int, ridge: float = 1e-3, pooling: float | None = None) -> GaussianMI:
    r"""A :class:`~mist_reg.estimators.GaussianMI`: the closed-form mutual information of
    the Gaussian model of the data (class-conditional Gaussians for class-index ``y``).
    ``x_dim`` and ``y_dim`` are accepted like every factory's; the model has no parameters.

    Example:
        >>> import torch
        >>> estimator = gaussian(x_dim=3, y_dim=1)
        >>> z, s = torch.randn(256, 3), torch.randint(0, 2, (256,))
        >>> bool(estimator.mutual_information(z, s).abs() < 0.1)
        True
    """
    return GaussianMI(ridge, pooling)


@register_estimator("kernel", KernelMI)
def kernel(
    x_dim: int,
    y_dim: int,
    bandwidths: Sequence[float] = DEFAULT_BANDWIDTHS,
    smoothing: float = 1.0,
    ridge: float = 1e-3,
    whiten: bool | None = None,
) -> KernelMI:
    r"""A :class:`~mist_reg.estimators.KernelMI`: the leave-one-out kernel estimate of the
    mutual information of each batch (class-index ``y`` as an integer tensor). ``x_dim``
    and ``y_dim`` are accepted like every factory's; the estimator has no parameters.

    Example:
        >>> import torch
        >>> estimator = kernel(x_dim=3, y_dim=1)
        >>> z, s = torch.randn(256, 3), torch.randint(0, 2, (256,))
        >>> bool(estimator.mutual_information(z, s).abs() < 0.1)
        True
    """
    return KernelMI(bandwidths, smoothing, ridge, whiten)
