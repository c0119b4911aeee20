r"""Quantizers: maps from ``[N, d]`` samples to integer codes ``[N]`` in ``{0, ..., n_bins - 1}``.

Three kinds, all :class:`Quantizer` modules:

* :class:`ThresholdQuantizer`: fixed per-coordinate thresholds; the code is the index of
  the cell of the resulting grid. :class:`QuantileQuantizer` places the thresholds at the
  quantiles of the fitted samples (equal-frequency bins).
* :class:`KMeansQuantizer`: the nearest of ``n_bins`` centroids found by k-means (k-means++
  seeding, then Lloyd iterations), computed with torch on the samples' device.
* :class:`VectorQuantizer`: a codebook learned by gradient descent (VQ-VAE): a codebook
  loss pulls codes towards their inputs, a commitment loss the inputs towards their code,
  and :meth:`VectorQuantizer.quantize` passes gradients straight through the rounding.

Quantizers that depend on data are fitted by :meth:`Quantizer.fit`; the estimators that
own them call it from their ``fit_data(x, y)`` hook, which
:func:`mist_reg.train_mi_estimator` runs before training (see
:meth:`mist_reg.estimators.base.MIEstimator.initialize`).

Example:
    >>> import torch
    >>> quantizer = ThresholdQuantizer(torch.tensor([0.0]), dim=2)  # two bins per coordinate
    >>> quantizer(torch.tensor([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]]))
    tensor([0, 1, 2, 3])
    >>> quantizer.n_bins
    4
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = [
    "Quantizer",
    "ThresholdQuantizer",
    "QuantileQuantizer",
    "KMeansQuantizer",
    "VectorQuantizer",
    "kmeans",
    "kmeans_plus_plus",
    "inertia",
    "nearest",
]


def _check_samples(samples: Tensor, dim: int | None = None) -> None:
    if not isinstance(samples, Tensor) or samples.dim() != 2:
        raise ValueError(f"samples must be an [N, d] tensor, got {getattr(samples, 'shape', type(samples).__name__)}")
    if dim is not None and samples.shape[1] != dim:
        raise ValueError(f"samples must have {dim} features, got {samples.shape[1]}")


def nearest(samples: Tensor, centroids: Tensor) -> tuple[Tensor, Tensor]:
    r"""The nearest centroid of each sample.

    Arguments:
        samples: ``[N, d]`` samples.
        centroids: ``[k, d]`` centroids.

    Returns:
        The index ``[N]`` of each sample's nearest centroid and the squared distance ``[N]``.

    Example:
        >>> nearest(torch.tensor([[0.0], [3.0]]), torch.tensor([[1.0], [4.0]]))
        (tensor([0, 1]), tensor([1., 1.]))
    """
    distances = (
        samples.square().sum(1, keepdim=True) - 2 * samples @ centroids.T + centroids.square().sum(1)
    ).clamp_min(0)
    d2, index = distances.min(1)
    return index, d2


def inertia(samples: Tensor, centroids: Tensor) -> Tensor:
    r"""The mean squared distance of the samples to their nearest centroid (the k-means loss).

    Arguments:
        samples: ``[N, d]`` samples.
        centroids: ``[k, d]`` centroids.

    Returns:
        A scalar tensor.

    Example:
        >>> float(inertia(torch.tensor([[0.0], [2.0]]), torch.tensor([[1.0]])))
        1.0
    """
    return nearest(samples, centroids)[1].mean()


def kmeans_plus_plus(samples: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
    r"""k-means++ seeding (Arthur and Vassilvitskii, 2007): ``k`` samples, each drawn with
    probability proportional to its squared distance to the centroids drawn so far.

    Arguments:
        samples: ``[N, d]`` samples.
        k: The number of centroids.
        generator: The random generator (the global one when ``None``).

    Returns:
        ``[k, d]`` centroids, each one of the samples.

    Example:
        >>> x = torch.tensor([[0.0], [0.0], [10.0]])
        >>> kmeans_plus_plus(x, 2, torch.Generator().manual_seed(0)).sort(0).values.flatten()
        tensor([ 0., 10.])
    """
    n = samples.shape[0]
    first = torch.randint(n, (1,), generator=generator, device=samples.device)
    centroids = [samples[first]]
    d2 = (samples - samples[first]).square().sum(1)
    for _ in range(1, k):
        weights = d2 if bool(d2.sum() > 0) else torch.ones_like(d2)
        pick = torch.multinomial(weights, 1, generator=generator)
        centroids.append(samples[pick])
        d2 = torch.minimum(d2, (samples - samples[pick]).square().sum(1))
    return torch.cat(centroids)


@torch.no_grad()
def kmeans(
    samples: Tensor, k: int, n_iter: int = 50, generator: torch.Generator | None = None, tol: float = 1e-6
) -> Tensor:
    r"""The ``[k, d]`` centroids found by Lloyd's algorithm from a k-means++ seeding, on the
    device of ``samples``. Empty clusters are re-seeded at the worst-fitted samples.

    Arguments:
        samples: ``[N, d]`` finite samples.
        k: The number of centroids.
        n_iter: The most Lloyd iterations.
        generator: The random generator of the seeding (the global one when ``None``).
        tol: Stops when the loss falls by less than this fraction.

    Returns:
        ``[k, d]`` centroids.

    Example:
        >>> x = torch.cat([torch.randn(100, 2) - 5, torch.randn(100, 2) + 5])
        >>> centroids = kmeans(x, 2, generator=torch.Generator().manual_seed(0))
        >>> sorted(round(float(c)) for c in centroids[:, 0])
        [-5, 5]
    """
    _check_samples(samples)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    x = samples.detach().float()
    if x.shape[0] < k:
        raise ValueError(f"k-means with {k} centroids needs at least {k} samples, got {x.shape[0]}")
    if generator is not None and generator.device != x.device:
        generator = torch.Generator(device=x.device).manual_seed(int(generator.initial_seed()))
    centroids = kmeans_plus_plus(x, k, generator)
    previous = math.inf
    for _ in range(n_iter):
        index, d2 = nearest(x, centroids)
        counts = torch.bincount(index, minlength=k)
        sums = torch.zeros_like(centroids).index_add_(0, index, x)
        empty = counts == 0
        centroids = torch.where(empty.unsqueeze(1), centroids, sums / counts.clamp_min(1).unsqueeze(1).to(x.dtype))
        if bool(empty.any()):
            worst = d2.topk(int(empty.sum())).indices
            centroids[empty] = x[worst]
        current = float(d2.mean())
        if previous - current <= tol * max(current, 1e-12):
            break
        previous = current
    return centroids


class Quantizer(nn.Module):
    r"""Maps ``[N, d]`` samples to ``[N]`` integer codes in ``{0, ..., n_bins - 1}``.

    Subclasses implement :meth:`forward` and :attr:`n_bins`; data-dependent ones override
    :meth:`fit` and :attr:`fitted`, learned ones :meth:`loss`.
    """

    @property
    def n_bins(self) -> int:
        r"""The number of distinct codes."""
        raise NotImplementedError

    @property
    def fitted(self) -> bool:
        r"""Whether the quantizer can be used (data-dependent quantizers need :meth:`fit`)."""
        return True

    def fit(self, samples: Tensor) -> Quantizer:
        r"""Fits the quantizer to ``samples: [N, d]``; a no-op for fixed quantizers."""
        return self

    def loss(self, samples: Tensor) -> Tensor:
        r"""An auxiliary training loss (zero unless the quantizer is learned)."""
        return samples.new_zeros(())

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError(
                f"{type(self).__name__} must be fitted first: call .fit(samples), or train the estimator "
                "that owns it with mist_reg.train_mi_estimator, which calls its fit_data hook"
            )


class ThresholdQuantizer(Quantizer):
    r"""Per-coordinate thresholds; the code is the index of the cell in the grid.

    Coordinate ``k`` falls in bin ``b_k`` = the number of its thresholds strictly below the
    value; the code is the mixed-radix number ``sum_k b_k * prod_{l > k} (T_l + 1)``.

    Arguments:
        thresholds: ``[d, T]`` or a sequence of ``d`` sequences of increasing thresholds
            (their lengths may differ), or ``[T]`` thresholds shared by ``dim`` coordinates.
        dim: The number of coordinates when ``thresholds`` is shared (by default 1).

    Example:
        >>> quantizer = ThresholdQuantizer([[0.0], [-1.0, 1.0]])  # 2 x 3 cells
        >>> quantizer(torch.tensor([[-0.5, 0.0], [0.5, 2.0]])), quantizer.n_bins
        (tensor([1, 5]), 6)
    """

    def __init__(
        self, thresholds: Tensor | Sequence[Sequence[float]] | Sequence[float], dim: int | None = None
    ) -> None:
        super().__init__()
        self.register_buffer("thresholds", torch.zeros(0, 0))
        self.register_buffer("n_thresholds", torch.zeros(0, dtype=torch.long))
        self._set(thresholds, dim)

    def _set(self, thresholds, dim: int | None = None) -> None:
        shared = (isinstance(thresholds, Tensor) and thresholds.dim() <= 1) or (
            not isinstance(thresholds, Tensor)
            and len(thresholds) > 0
            and not isinstance(thresholds[0], (Sequence, Tensor))
        )
        if shared:
            row = torch.as_tensor(thresholds, dtype=torch.float32).flatten()
            rows = [row] * (1 if dim is None else dim)
        else:
            rows = [torch.as_tensor(t, dtype=torch.float32).flatten() for t in thresholds]
            if dim is not None and dim != len(rows):
                raise ValueError(f"got thresholds for {len(rows)} coordinates but dim={dim}")
        if not rows:
            raise ValueError("thresholds must not be empty")
        for row in rows:
            if row.numel() and not bool((row[1:] > row[:-1]).all()):
                raise ValueError(f"thresholds must be strictly increasing, got {row.tolist()}")
        width = max(r.numel() for r in rows)
        padded = torch.full((len(rows), width), math.inf)
        for k, row in enumerate(rows):
            padded[k, : row.numel()] = row
        device = self.thresholds.device
        self.thresholds = padded.to(device)
        self.n_thresholds = torch.tensor([r.numel() for r in rows], dtype=torch.long, device=device)

    @property
    def dim(self) -> int:
        r"""The number of coordinates."""
        return self.thresholds.shape[0]

    @property
    def n_bins(self) -> int:
        return int((self.n_thresholds + 1).prod())

    def _strides(self) -> Tensor:
        sizes = self.n_thresholds + 1
        strides = torch.ones_like(sizes)
        if sizes.numel() > 1:
            strides[:-1] = torch.flip(torch.cumprod(torch.flip(sizes[1:], (0,)), 0), (0,))
        return strides

    def forward(self, samples: Tensor) -> Tensor:
        self._require_fitted()
        _check_samples(samples, self.dim)
        bins = (samples.detach().unsqueeze(-1) > self.thresholds.to(samples.dtype)).sum(-1)
        return (bins * self._strides()).sum(1)


class QuantileQuantizer(ThresholdQuantizer):
    r"""Equal-frequency bins: ``bins_per_dim - 1`` thresholds per coordinate at the quantiles
    of the samples given to :meth:`fit`.

    Arguments:
        dim: The number of coordinates.
        bins_per_dim: The number of bins of each coordinate (``bins_per_dim ** dim`` codes).

    Example:
        >>> quantizer = QuantileQuantizer(dim=1, bins_per_dim=4).fit(torch.arange(100.0).unsqueeze(1))
        >>> torch.bincount(quantizer(torch.arange(100.0).unsqueeze(1))).tolist()
        [25, 25, 25, 25]
    """

    def __init__(self, dim: int, bins_per_dim: int) -> None:
        if not isinstance(bins_per_dim, int) or bins_per_dim < 2:
            raise ValueError(f"bins_per_dim must be an integer >= 2, got {bins_per_dim!r}")
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        self.bins_per_dim = bins_per_dim
        super().__init__(torch.arange(bins_per_dim - 1.0), dim)
        self.register_buffer("_fitted", torch.tensor(False))

    @property
    def fitted(self) -> bool:
        return bool(self._fitted)

    @torch.no_grad()
    def fit(self, samples: Tensor) -> QuantileQuantizer:
        _check_samples(samples, self.dim)
        levels = torch.linspace(0, 1, self.bins_per_dim + 1, device=samples.device, dtype=torch.float64)[1:-1]
        thresholds = torch.quantile(samples.detach().double(), levels, dim=0).T  # [d, T]
        rows = [torch.unique(t) for t in thresholds.float()]  # ties collapse into fewer bins
        self._set([r.cpu() for r in rows])
        self._fitted.fill_(True)
        return self

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # fitted thresholds may have collapsed ties, so adopt the stored shapes
        for name in ("thresholds", "n_thresholds"):
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name], device=getattr(self, name).device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class KMeansQuantizer(Quantizer):
    r"""The index of the nearest of ``n_bins`` centroids fitted by :func:`kmeans`.

    Arguments:
        dim: The number of features.
        n_bins: The number of centroids (codes).
        n_iter: The maximum number of Lloyd iterations.
        seed: Seeds the k-means++ seeding (``None``: torch's global generator).

    Example:
        >>> x = torch.cat([torch.randn(50, 2) - 4, torch.randn(50, 2) + 4])
        >>> quantizer = KMeansQuantizer(dim=2, n_bins=2, seed=0).fit(x)
        >>> codes = quantizer(x)
        >>> bool((codes[:50] == codes[0]).all() and (codes[50:] != codes[0]).all())
        True
    """

    def __init__(self, dim: int, n_bins: int, n_iter: int = 50, seed: int | None = 0) -> None:
        super().__init__()
        if not isinstance(n_bins, int) or n_bins < 2:
            raise ValueError(f"n_bins must be an integer >= 2, got {n_bins!r}")
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        self.dim, self._n_bins, self.n_iter, self.seed = dim, n_bins, n_iter, seed
        self.register_buffer("centroids", torch.zeros(n_bins, dim))
        self.register_buffer("_fitted", torch.tensor(False))

    @property
    def n_bins(self) -> int:
        return self._n_bins

    @property
    def fitted(self) -> bool:
        return bool(self._fitted)

    @torch.no_grad()
    def fit(self, samples: Tensor) -> KMeansQuantizer:
        _check_samples(samples, self.dim)
        generator = None
        if self.seed is not None:
            generator = torch.Generator(device=samples.device).manual_seed(self.seed)
        self.centroids.copy_(kmeans(samples, self.n_bins, self.n_iter, generator))
        self._fitted.fill_(True)
        return self

    def forward(self, samples: Tensor) -> Tensor:
        self._require_fitted()
        _check_samples(samples, self.dim)
        return nearest(samples.detach().float(), self.centroids)[0]

    def extra_repr(self) -> str:
        return f"dim={self.dim}, n_bins={self.n_bins}"


class VectorQuantizer(Quantizer):
    r"""A learned codebook (van den Oord et al., 2017): the code is the nearest codebook row.

    Training adds :meth:`loss`, ``||sg(v) - e||^2 + beta * ||v - sg(e)||^2`` (codebook and
    commitment terms, ``sg`` = stop-gradient, ``e`` the selected code vector), so the
    codebook follows the data like online k-means. :meth:`quantize` returns the code vectors
    with the straight-through gradient ``v + sg(e - v)``, for models that consume them.

    Arguments:
        dim: The number of features.
        n_bins: The codebook size.
        beta: The weight of the commitment term.

    Example:
        >>> vq = VectorQuantizer(dim=3, n_bins=8)
        >>> v = torch.randn(10, 3, requires_grad=True)
        >>> codes, quantized = vq.quantize(v)
        >>> codes.shape, quantized.shape, bool(((codes >= 0) & (codes < 8)).all())
        (torch.Size([10]), torch.Size([10, 3]), True)
    """

    def __init__(self, dim: int, n_bins: int, beta: float = 0.25) -> None:
        super().__init__()
        if not isinstance(n_bins, int) or n_bins < 2:
            raise ValueError(f"n_bins must be an integer >= 2, got {n_bins!r}")
        if beta < 0:
            raise ValueError(f"beta must be non-negative, got {beta}")
        self.dim, self._n_bins, self.beta = dim, n_bins, beta
        self.codebook = nn.Parameter(torch.randn(n_bins, dim))

    @property
    def n_bins(self) -> int:
        return self._n_bins

    @torch.no_grad()
    def fit(self, samples: Tensor) -> VectorQuantizer:
        r"""Initialises the codebook with a k-means++ seeding of ``samples``."""
        _check_samples(samples, self.dim)
        k = min(self.n_bins, samples.shape[0])
        self.codebook[:k].copy_(kmeans_plus_plus(samples.detach().float(), k))
        return self

    def forward(self, samples: Tensor) -> Tensor:
        _check_samples(samples, self.dim)
        return nearest(samples.detach().float(), self.codebook.detach())[0]

    def quantize(self, samples: Tensor) -> tuple[Tensor, Tensor]:
        r"""The codes ``[N]`` and the code vectors ``[N, dim]`` with straight-through gradients."""
        codes = self(samples)
        chosen = self.codebook[codes]
        return codes, samples + (chosen - samples).detach()

    def loss(self, samples: Tensor) -> Tensor:
        codes = self(samples)
        chosen = self.codebook[codes]
        codebook = (samples.detach() - chosen).square().sum(1).mean()
        commitment = (samples - chosen.detach()).square().sum(1).mean()
        return codebook + self.beta * commitment

    def extra_repr(self) -> str:
        return f"dim={self.dim}, n_bins={self.n_bins}, beta={self.beta}"
