r"""Splitting continuous samples into independent blocks: if the columns of ``(x, y)`` fall into
groups ``(x_c, y_c)`` that are independent of one another, then exactly

    I(X; Y) = sum over c of I(X_c; Y_c),

and every term is estimated on its own few columns (:func:`independent_blocks`,
:func:`estimate_by_blocks`).

**Why.** Every estimator loses accuracy with the dimension it has to resolve. A 5x5 pair
whose coordinates depend one on one (``y_i = sin(w x_i) + noise``, ``y_i = x_i + u_i``
with sharp uniform noise) is, to a critic trained on the ten columns together, a
ten-dimensional density with five sharp ridges; it is also five one-dimensional pairs,
each of which KSG resolves at the spacing of the samples. Columns independent of
everything else (noise features, outlier components) are left out entirely.

**How the groups are found.** On normal scores of the columns (ranks, so monotone maps do
not matter), at most :data:`SCREEN_ROWS` rows:

1. every pair of columns is tested for correlation (Fisher's z); correlated columns are
   joined (this alone joins every column of a dense Gaussian or of two views of a latent,
   so wide data costs one ``D x D`` correlation matrix);
2. columns still apart are tested pairwise for any dependence by a G-test on
   ``B x B`` equal-count bins (``B`` up to 8), which sees non-monotone and scale
   dependence (a periodic link, a shared Student-t scale); for at most
   :data:`MAX_BINNED_COLUMNS` columns;
3. the groups so found are confirmed jointly: every two of them (the two-sided groups, the
   columns of ``x`` in none of them, those of ``y`` likewise) are tested against each
   other by Bartlett's test of no canonical correlation, which adds up correlations each
   too weak for the pairwise test (a dense Gaussian with small correlations), and by
   HSIC (Gaussian kernels, gamma approximation of the null, on at most
   :data:`HSIC_ROWS` rows), which sees dependence no pair of columns shows (``y`` the
   sign of ``x_1 x_2``). Where either finds dependence, nothing is split.

Each stage holds its family-wise false-alarm rate at :data:`ALPHA` (Bonferroni). The two
errors cost differently: a dependence the tests miss is left out of the sum, and a
dependence too weak to be found at the sample size carries little information (many weak
ones together are Bartlett's to find); a false alarm joins two groups and gives back, for
them, the joint estimate the split exists to avoid. Hence a small rate (what each error
cost when measured: ``docs/choosing-an-estimator.md``, step 5).
Where no two groups remain, or no group has columns of both ``x`` and ``y``,
nothing is split.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(2000, 3, generator=g)
    >>> y = torch.sin(3 * x) + 0.3 * torch.randn(2000, 3, generator=g)
    >>> [(b.x_columns, b.y_columns) for b in independent_blocks(x, y)]
    [((0,), (0,)), ((1,), (1,)), ((2,), (2,))]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from mist_reg.checks import as_samples, check_pair
from mist_reg.estimation.result import MIEstimate

__all__ = [
    "Block",
    "independent_blocks",
    "estimate_by_blocks",
    "SCREEN_ROWS",
    "WIDE_SCREEN_ROWS",
    "HSIC_ROWS",
    "HSIC_WIDTH",
    "MAX_BINNED_COLUMNS",
    "ALPHA",
    "MIN_ROWS",
]

SCREEN_ROWS = 5000
"""Rows (drawn at random) on which the pairwise tests run; more change nothing that this many
cannot already detect at a useful strength."""

WIDE_SCREEN_ROWS = 2000
"""Rows for the correlation test alone, on data wider than :data:`MAX_BINNED_COLUMNS`
(where ranking the columns would cost more than the test gains): a correlation of 0.1 is
still found there with near certainty."""

HSIC_ROWS = 2000
"""Rows on which the joint (HSIC) confirmation runs: its cost grows with their square."""

HSIC_WIDTH = 0.25
"""The squared kernel width of the HSIC tests, per column, in units of the columns' variance.
Narrower than the usual median distance (about 2 per column): what the pairwise tests
cannot see is interaction (a column that changes how others relate, as where the angle
of BMI's spiral depends on the norm of every coordinate), which shows at short range."""

MAX_BINNED_COLUMNS = 512
"""The most columns for the pairwise binned test (its cost grows as ``(columns * B)^2``; at
this width it still costs less than a critic trained on all the columns, which a split into
a few small groups saves: docs/benchmarks.md, "A sparse signal among hundreds of columns");
wider data is split only where correlations alone join every column into one group."""

ALPHA = 0.001
"""The family-wise false-alarm rate of each stage of tests."""

MIN_ROWS = 200
"""Fewer rows than this are never split: the tests would miss too much."""


@dataclass(frozen=True)
class Block:
    """The columns of ``x`` and of ``y`` of one independent group."""

    x_columns: tuple[int, ...]
    y_columns: tuple[int, ...]


def independent_blocks(x: Tensor, y: Tensor, generator: torch.Generator | None = None) -> list[Block] | None:
    r"""The independent groups of the columns of continuous samples ``x [N, dx]`` and
    ``y [N, dy]`` that hold columns of both, or ``None`` where the columns do not split (see
    the module documentation); ``generator`` draws the rows the tests read.

    Raises:
        ValueError: When ``x`` or ``y`` is not numeric, empty or non-finite (naming which), or
            their numbers of samples differ.
    """
    x, y = as_samples(x, "x", dtype=torch.float64), as_samples(y, "y", dtype=torch.float64)
    check_pair(x, y)
    n, dx = x.shape
    d = dx + y.shape[1]
    if d < 3 or n < MIN_ROWS:
        return None
    z = torch.cat([x, y], dim=1).detach().to("cpu", torch.float64)
    rows = SCREEN_ROWS if d <= MAX_BINNED_COLUMNS else WIDE_SCREEN_ROWS
    z = z[torch.randperm(n, generator=generator)[:rows]]  # in random order: HSIC reads the first rows
    ranks = _mid_ranks(z)
    scores = torch.special.ndtri((ranks + 0.5) / z.shape[0])
    linked = _correlated(scores)
    labels = _components(linked)
    if bool((labels != 0).any()):
        if d > MAX_BINNED_COLUMNS:
            return None
        labels = _components(linked | _binned_dependent(ranks, labels))
    groups = [torch.nonzero(labels == c).flatten().tolist() for c in labels.unique().tolist()]
    two_sided = [g for g in groups if min(g) < dx <= max(g)]
    if len(groups) == 1 or not two_sided:
        return None
    paired = {j for group in two_sided for j in group}
    one_sided = [[j for j in side if j not in paired] for side in (range(dx), range(dx, d))]
    if not _jointly_independent(scores, two_sided, [group for group in one_sided if group]):
        return None
    return [Block(tuple(j for j in g if j < dx), tuple(j - dx for j in g if j >= dx)) for g in two_sided]


def estimate_by_blocks(
    x: Tensor, y: Tensor, blocks: list[Block], estimate: Callable[[Tensor, Tensor], MIEstimate], confidence: float
) -> MIEstimate:
    r"""The sum of ``estimate`` over the blocks, with the blocks' standard errors added in
    quadrature (their samples are independent groups of columns); the parts are kept in
    ``parts``, and the result is a lower bound only where every part is one.

    Example:
        >>> x, y = torch.zeros(10, 2), torch.zeros(10, 2)
        >>> parts = [Block((0,), (0,)), Block((1,), (1,))]
        >>> part = MIEstimate(0.5, standard_error=0.03, estimator_name="ksg")  # what each group gives
        >>> mi = estimate_by_blocks(x, y, parts, lambda a, b: part, confidence=0.95)
        >>> float(mi), round(mi.standard_error, 4), mi.bound, mi.estimator_name
        (1.0, 0.0424, None, 'blocks(ksg, ksg)')
    """
    parts = [(block, estimate(x[:, list(block.x_columns)], y[:, list(block.y_columns)])) for block in blocks]
    bounds = {part.bound for _, part in parts}
    names = ", ".join(f"{part.estimator_name}" for _, part in parts)
    return MIEstimate(
        sum(float(part) for _, part in parts),
        standard_error=math.sqrt(sum(part.standard_error**2 for _, part in parts)),
        confidence=confidence,
        bound=bounds.pop() if len(bounds) == 1 else None,
        n_test=min(part.n_test for _, part in parts),
        estimator_name=f"blocks({names})",
        warnings=[message for _, part in parts for message in part.warnings],
        parts=[(block.x_columns, block.y_columns, part) for block, part in parts],
    )


def _components(linked: Tensor) -> Tensor:
    """The connected components of a symmetric boolean adjacency matrix, each column labelled
    by the smallest index in its component."""
    d = linked.shape[0]
    labels = torch.arange(d)
    reach = linked | torch.eye(d, dtype=torch.bool)
    while True:
        spread = torch.where(reach, labels[None, :], d).min(dim=1).values
        if torch.equal(spread, labels):
            return labels
        labels = spread


def _mid_ranks(z: Tensor) -> Tensor:
    """Column-wise ranks from 0, tied values sharing their mean rank (so that ties do not
    order two columns alike)."""
    values, order = z.T.sort(dim=1)
    n = values.shape[1]
    position = torch.arange(n).expand_as(values)
    change = values[:, 1:] != values[:, :-1]
    edge = torch.ones_like(change[:, :1])
    first = torch.where(torch.cat([edge, change], dim=1), position, 0).cummax(dim=1).values
    last = torch.where(torch.cat([change, edge], dim=1), position, n).flip(1).cummin(dim=1).values.flip(1)
    ranks = torch.empty_like(values)
    ranks.scatter_(1, order, (first + last).to(torch.float64) / 2)
    return ranks.T


def _correlated(scores: Tensor) -> Tensor:
    """Which pairs of columns Fisher's z test finds correlated."""
    m, d = scores.shape
    centred = scores - scores.mean(dim=0)
    normed = centred / centred.norm(dim=0).clamp_min(1e-12)
    r = (normed.T @ normed).clamp(-0.999999, 0.999999)
    n_pairs = d * (d - 1) / 2
    threshold = float(torch.special.ndtri(torch.tensor(1 - ALPHA / (2 * n_pairs), dtype=torch.float64)))
    strength = torch.atanh(r.abs()) * math.sqrt(max(m - 3, 1))
    return (strength > threshold).fill_diagonal_(False)


def _binned_dependent(ranks: Tensor, labels: Tensor) -> Tensor:
    """Which pairs of columns in different components the binned G-test finds dependent."""
    m, d = ranks.shape
    bins = max(2, min(8, int(math.sqrt(m / 20))))
    index = (ranks * bins / m).long().clamp_max(bins - 1)
    one_hot = torch.nn.functional.one_hot(index, bins).reshape(m, d * bins).to(torch.float32)
    joint = (one_hot.T @ one_hot).to(torch.float64).reshape(d, bins, d, bins) / m
    marginal = joint.diagonal(dim1=0, dim2=2).sum(dim=1).T  # [d, bins]
    entropy = -torch.special.xlogy(marginal, marginal).sum(dim=1)
    plug_in = torch.special.xlogy(joint, joint).sum(dim=(1, 3)) + entropy[:, None] + entropy[None, :]
    occupied = (marginal > 0).sum(dim=1).to(torch.float64) - 1
    dof = (occupied[:, None] * occupied[None, :]).clamp_min(1)
    p_values = torch.special.gammaincc(dof / 2, m * plug_in.clamp_min(0))
    apart = labels[:, None] != labels[None, :]
    n_tests = int(apart.sum()) // 2
    return apart & (p_values < ALPHA / max(n_tests, 1))


def _jointly_independent(scores: Tensor, two_sided: list[list[int]], one_sided: list[list[int]]) -> bool:
    """Whether every two of the groups (the two-sided ones, and the columns of ``x`` and of
    ``y`` in none of them) pass both Bartlett's test of no correlation (on every row) and
    HSIC (on the first :data:`HSIC_ROWS`; the rows are in random order)."""
    groups = two_sided + one_sided
    kernels = [_CentredKernel(scores[:HSIC_ROWS, group]) for group in groups]
    pairs = [(i, j) for i in range(len(groups)) for j in range(i + 1, len(groups))]
    level = ALPHA / (2 * len(pairs))
    correlation = torch.corrcoef(scores.T).nan_to_num(0.0).fill_diagonal_(1.0)  # constant columns: no correlation
    return all(
        _canonical_p_value(correlation, groups[i], groups[j], scores.shape[0]) >= level
        and _hsic_p_value(kernels[i], kernels[j]) >= level
        for i, j in pairs
    )


def _canonical_p_value(correlation: Tensor, a: list[int], b: list[int], m: int) -> float:
    r"""The p-value of Bartlett's test of no correlation between the columns ``a`` and ``b``:
    ``-(m - 1 - (p + q + 1) / 2) log det(R) / (det(R_aa) det(R_bb))`` is chi-square with
    ``p q`` degrees of freedom. Many correlations each too weak for the pairwise test add up
    here (it is ``2 m`` times the Gaussian MI between the groups)."""

    def logdet(columns: list[int]) -> float:
        return float(torch.linalg.slogdet(correlation[columns][:, columns])[1])

    ratio = logdet(a + b) - logdet(a) - logdet(b)
    statistic = -(m - 1 - (len(a) + len(b) + 1) / 2) * ratio
    dof = torch.tensor(len(a) * len(b) / 2, dtype=torch.float64)
    return float(torch.special.gammaincc(dof, torch.tensor(max(statistic, 0.0) / 2, dtype=torch.float64)))


class _CentredKernel:
    """A Gaussian kernel matrix on normal scores of some columns, of squared width
    :data:`HSIC_WIDTH` per column, doubly centred, with the mean of its raw off-diagonal
    entries."""

    def __init__(self, columns: Tensor) -> None:
        m, width = columns.shape
        columns = columns.to(torch.float32)  # a kernel within its float32 rounding is as good a test
        squared = torch.cdist(columns, columns).pow_(2)
        kernel = squared.div_(-2 * HSIC_WIDTH * width).exp_()
        self.off_diagonal_mean = (float(kernel.sum()) - m) / (m * (m - 1))
        row = kernel.mean(dim=0)
        self.centred = kernel.sub_(row).sub_(row[:, None]).add_(row.mean())


def _hsic_p_value(k: _CentredKernel, kl: _CentredKernel) -> float:
    r"""The p-value of HSIC's independence test with kernels ``k`` and ``kl`` under the gamma
    approximation of its null distribution (Gretton et al., "A kernel statistical test of
    independence", NIPS 2007)."""
    m = k.centred.shape[0]
    product = k.centred * kl.centred
    statistic = float(product.sum()) / m
    pairs = m * (m - 1)
    flat = product.view(-1)
    squares = (float(torch.dot(flat, flat)) - float(product.diagonal().square().sum())) / pairs
    variance = 2 * (m - 4) * (m - 5) / (m * (m - 1) * (m - 2) * (m - 3)) * squares
    mu_k, mu_l = k.off_diagonal_mean, kl.off_diagonal_mean
    mean = (1 + mu_k * mu_l - mu_k - mu_l) / m
    if variance <= 0 or mean <= 0:
        return 1.0
    shape, scale = mean**2 / variance, m * variance / mean
    return float(
        torch.special.gammaincc(
            torch.tensor(shape, dtype=torch.float64), torch.tensor(statistic / scale, dtype=torch.float64)
        )
    )
