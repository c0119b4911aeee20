r"""A closed-form reference critic for clustered dependence: a Gaussian mixture of ``(x, y)``.

The Gaussian reference (:class:`~mist_reg.nn.references.gaussian.GaussianLogRatio`) and the
Student-t copula (:class:`~mist_reg.nn.references.student_t.StudentTLogRatio`) are
unimodal: they describe dependence by one correlation matrix. When ``(x, y)`` falls into
clusters (regimes, cell types, the modes of a periodic or sharply bounded dependence),
Gaussianising each marginal leaves the joint density multimodal, and a trained
correction has to learn the clusters from scratch. A ``K``-component full-covariance
mixture of the joint,

``q(x, y) = sum_k pi_k N((x, y); mu_k, Sigma_k)``,

holds them in closed form, and so do its marginals, which are the mixtures of the
component marginals: ``q(x) = sum_k pi_k N(x; mu_k^x, Sigma_k^xx)``. The reference is

``r(x, y) = log q(x, y) - log q(x) - log q(y)``,

three log-sum-exps over components. For a pair ``(x_i, y_j)`` each component's joint
log-density is ``c_k + alpha_k(x_i) + beta_k(y_j) - (x_i - mu_k^x)^T Lambda_k^xy (y_j - mu_k^y)``
(``Lambda_k`` the component's precision), so the ``N x M`` scores of a batch cost ``K``
matrix products.

:meth:`MixtureLogRatio.fit_data` standardises ``(x, y)`` (the log-ratio is unchanged by
affine maps of each coordinate), fits the mixture by EM
(:func:`~mist_reg.nn.references.mixture_em.fit_gaussian_mixture`) for each candidate ``K``
and chooses ``K`` by the Donsker-Varadhan bound on held-out halves of the training data
(:mod:`~mist_reg.nn.references.held_out`, as the Student-t copula chooses its degrees of
freedom). ``K = 1`` is the Gaussian model. Candidates are capped by the sample size: fitting
``K p`` parameters (``p`` per full-covariance component,
:func:`~mist_reg.nn.references.mixture_em.mixture_parameters_per_component`) by maximum
likelihood costs about ``K p / (2 N)`` nats of held-out log-likelihood (the AIC penalty per
sample); ``K`` is kept where that is at most :data:`MAX_FIT_COST` nats. Full covariances
(``p`` of order ``(d_x + d_y)^2 / 2``) leave wide pairs few components or none, so beyond
that cap the components *share* one covariance (``p = 1 + d_x + d_y``: a weight and a
mean each, the shared covariance paid once, as by the Gaussian; capped at
:data:`MAX_SHARED_FIT_COST`): clusters of
representation-learning embeddings in tens of dimensions, which differ mainly in their
means, are then held in closed form where full covariances could not be fitted (the shared
covariance shrunk towards a multiple of the identity as the dimension nears the rows).
Clusters that also differ in shape get each component's own scatter pooled with the shared
covariance (:data:`POOLING_CANDIDATES`), where that wins on the held-out halves.

Example:
    >>> import torch
    >>> from mist_reg.tasks import get_task
    >>> task = get_task("clusters-1x1-c2-s2-e4")
    >>> x, y = task.sample(3000, seed=0)
    >>> reference = MixtureLogRatio(1, 1)
    >>> reference.fit_data(x, y)
    >>> reference.n_components > 1, abs(float(reference(x, y).mean()) - task.mutual_information) < 0.1
    (True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from mist_reg.nn.critic import Critic
from mist_reg.nn.references.held_out import best_in_order, shifted_dv_bound, two_fold_halves
from mist_reg.nn.references.mixture_em import (
    GaussianMixtureFit,
    fit_gaussian_mixture,
    mixture_parameters_per_component,
    pool_covariances,
)

__all__ = [
    "MixtureLogRatio",
    "COMPONENT_CANDIDATES",
    "MAX_FIT_COST",
    "MAX_SHARED_FIT_COST",
    "POOLING_CANDIDATES",
    "FINAL_RESTARTS",
    "max_components",
]

COMPONENT_CANDIDATES: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
r"""The numbers of components :class:`MixtureLogRatio` chooses among (``1``: the Gaussian),
those above :func:`max_components` dropped: the held-out bound and that cap choose ``K``, and
the list only spaces the candidates (a shared cluster label of 20 values in 2 + 2 dimensions
needs more than 16)."""

MAX_FIT_COST = 0.1
r"""The most held-out log-likelihood, in nats per sample, that estimating the mixture's
parameters may cost (``K p / (2 N)``): it caps ``K`` (see the module documentation)."""

MAX_SHARED_FIT_COST = 0.25
r"""The same cap for components that share one covariance: two rows per parameter of their
means. Every candidate is judged by its bound on held-out halves, so the cap only spares fits
that are not worth their time; a shared-covariance fit costs a fraction of a full one, and
wide clustered data need more components than 0.1 nats allows there (ten clusters in 64 + 64
columns: ``K <= 4``; docs/benchmarks.md, "Clusters in wide pairs")."""

POOLING_CANDIDATES: tuple[float, ...] = (0.75, 0.5, 0.25, 0.1)
r"""Beyond the full-covariance cap, the weights of the shared covariance in each component's
own tried at the best shared-covariance ``K``, in this order, by the same held-out bound
(:func:`~mist_reg.nn.references.mixture_em.pool_covariances`, one M-step from the shared
fit): clusters that differ in shape as well as in their means (and whose own covariances
couple ``x`` and ``y``) keep most of their own scatter; round clusters keep the shared one.
The ladder stops short of full covariances refitted by EM, whose final fits from several
starts are slow in tens of columns (docs/benchmarks.md, "Clusters of different shapes")."""

FINAL_RESTARTS = 4
r"""EM starts of the final fit of the chosen ``K``: EM stops at the nearest local maximum of
the likelihood, and one unlucky start in a few merges two clusters into one component
(docs/benchmarks.md, "mixtures from four starts"); keeping the most likely of four starts
costs three more fits of one ``K``, against the two fits per candidate of the search."""

_PAIR_CHUNK = 2**20  # gathered elements per chunk of rows in _paired (8 MiB in float64)
_MIN_SAMPLES = 40  # below this, two halves cannot compare candidates: the Gaussian


def max_components(dim: int, n_samples: int, max_cost: float = MAX_FIT_COST, tied: bool = False) -> int:
    r"""The largest ``K`` with ``K p / (2 N) <= max_cost`` for ``N = n_samples`` samples of
    ``dim`` joint coordinates (at least 1); ``p`` per full-covariance component, or with
    ``tied`` per component sharing one covariance.

    Example:
        >>> max_components(6, 3000), max_components(50, 3000), max_components(50, 3000, tied=True)
        (21, 1, 11)
    """
    return max(1, int(2 * max_cost * n_samples / mixture_parameters_per_component(dim, tied)))


def _parameters(fit: GaussianMixtureFit, x_dim: int) -> dict[str, Tensor]:
    r"""The scoring parameters of a fitted mixture (float64 in, same dtype out)."""
    covariances = fit.covariances
    precision = torch.linalg.inv(covariances)
    precision = (precision + precision.mT) / 2
    sxx, syy = covariances[:, :x_dim, :x_dim], covariances[:, x_dim:, x_dim:]
    return {
        "log_weights": fit.log_weights,
        "means_x": fit.means[:, :x_dim],
        "means_y": fit.means[:, x_dim:],
        # joint quadratic form: |a C_xx|^2 + 2 a^T L_xy b + |b C_yy|^2 with C C^T the precision blocks
        "joint_x": torch.linalg.cholesky(precision[:, :x_dim, :x_dim]),
        "joint_y": torch.linalg.cholesky(precision[:, x_dim:, x_dim:]),
        "cross": precision[:, :x_dim, x_dim:],
        "joint_log_det": torch.linalg.slogdet(covariances)[1],
        # marginal quadratic forms: |a W_x|^2 with W_x W_x^T = inverse of Sigma_xx
        "marginal_x": torch.linalg.cholesky(torch.linalg.inv(sxx)),
        "marginal_y": torch.linalg.cholesky(torch.linalg.inv(syy)),
        "marginal_log_det_x": torch.linalg.slogdet(sxx)[1],
        "marginal_log_det_y": torch.linalg.slogdet(syy)[1],
    }


def _squared_norm(v: Tensor, factor: Tensor) -> Tensor:
    r"""``|v W|^2`` per row, for ``v: [K, N, d]`` and ``W: [K, d, d]``: a quadratic form ``v^T W W^T v``."""
    return (v @ factor).square().sum(-1)


def _sides(x: Tensor, y: Tensor, p: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    r"""Per component: the joint terms of ``x`` ``[K, N]`` and of ``y`` ``[K, M]``, the
    cross features ``u = a^T L_xy`` ``[K, N, dy]`` and ``b`` ``[K, M, dy]``; and the mixture
    marginals ``log q(x)`` ``[N]``, ``log q(y)`` ``[M]`` (the ``2 pi`` constants cancel)."""
    a = x[None] - p["means_x"][:, None]  # [K, N, dx]
    b = y[None] - p["means_y"][:, None]  # [K, M, dy]
    weights = p["log_weights"][:, None]
    x_joint = weights - 0.5 * (p["joint_log_det"][:, None] + _squared_norm(a, p["joint_x"]))
    y_joint = -0.5 * _squared_norm(b, p["joint_y"])
    log_qx = weights - 0.5 * (p["marginal_log_det_x"][:, None] + _squared_norm(a, p["marginal_x"]))
    log_qy = weights - 0.5 * (p["marginal_log_det_y"][:, None] + _squared_norm(b, p["marginal_y"]))
    return x_joint, y_joint, a @ p["cross"], b, torch.logsumexp(log_qx, 0), torch.logsumexp(log_qy, 0)


def _paired(x: Tensor, y: Tensor, p: dict[str, Tensor], index: Tensor | None) -> Tensor:
    r"""Paired scores (``index=None``) or the ``[N, K']`` scores of ``(x_i, y_index[i, k])``."""
    x_joint, y_joint, u, b, log_qx, log_qy = _sides(x, y, p)
    if index is None:
        joint = x_joint + y_joint - (u * b).sum(-1)  # [K, N]
        return torch.logsumexp(joint, 0) - log_qx - log_qy
    scores = []
    step = max(1, _PAIR_CHUNK // (u.shape[0] * index.shape[1] * u.shape[2]))
    for start in range(0, len(index), step):  # rows in chunks: the gathered [K, n, K', dy] stays in cache
        rows, paired = slice(start, start + step), index[start : start + step]
        cross = torch.einsum("knd,knjd->knj", u[:, rows], b[:, paired])
        scores.append(torch.logsumexp(x_joint[:, rows, None] + y_joint[:, paired] - cross, 0))
    return torch.cat(scores) - log_qx[:, None] - log_qy[index]


def _matrix(x: Tensor, y: Tensor, p: dict[str, Tensor]) -> Tensor:
    r"""``[N, M]`` scores, accumulated one component at a time (memory ``O(N M)``)."""
    x_joint, y_joint, u, b, log_qx, log_qy = _sides(x, y, p)
    total = None
    for k in range(len(x_joint)):
        joint = x_joint[k][:, None] + y_joint[k][None, :] - u[k] @ b[k].T
        total = joint if total is None else torch.logaddexp(total, joint)
    return total - log_qx[:, None] - log_qy[None, :]


class MixtureLogRatio(Critic):
    r"""``log q(x, y) - log q(x) - log q(y)`` for the Gaussian mixture ``q`` fitted by
    :meth:`fit_data` (see the module documentation).

    Arguments:
        x_dim: The size of ``x``.
        y_dim: The size of ``y``.
        n_components: Fixes ``K``; ``None`` chooses it from ``candidates`` by the held-out
            DV bound, capped by :func:`max_components`.
        candidates: The candidates when ``n_components`` is ``None``.
        covariance_floor: Added to the diagonal of every component covariance, in units of
            the standardised coordinates (keeps collapsing components finite).
        restarts: EM starts of the final fit, the one of highest likelihood kept
            (:func:`~mist_reg.nn.references.mixture_em.fit_gaussian_mixture`); the
            candidates are compared from one start each.

    Raises:
        ValueError: For a non-positive ``n_components`` or candidate.
    """

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        n_components: int | None = None,
        candidates: Sequence[int] = COMPONENT_CANDIDATES,
        covariance_floor: float = 1e-3,
        restarts: int = FINAL_RESTARTS,
    ) -> None:
        super().__init__()
        if n_components is not None and not n_components >= 1:
            raise ValueError(f"n_components must be a positive integer (1: the Gaussian), got {n_components}")
        if n_components is None and (not candidates or any(not int(c) >= 1 for c in candidates)):
            raise ValueError(f"candidates must be positive integers, got {tuple(candidates)}")
        if not covariance_floor >= 0:
            raise ValueError(f"covariance_floor must be non-negative, got {covariance_floor}")
        if not (isinstance(restarts, int) and restarts >= 1):
            raise ValueError(f"restarts must be a positive integer, got {restarts}")
        self.restarts = restarts
        self.x_dim, self.y_dim, self.covariance_floor = x_dim, y_dim, covariance_floor
        self.fixed_components, self.candidates = n_components, tuple(sorted({int(c) for c in candidates}))
        self.n_components = 1  # chosen by fit_data()
        # the chosen components' covariances (fit_data): 0 their own, fitted by EM; 1 one shared;
        # in between the shared fit's components, their own scatter pooled with the shared one
        self.pooling = 0.0
        self.fixed_pooling: float | None = None  # kept by freeze_choice()
        self.held_out_bound: float | None = None  # the chosen K's two-fold DV bound (fit_data's search)
        self.register_buffer("mean", torch.zeros(x_dim + y_dim))
        self.register_buffer("std", torch.ones(x_dim + y_dim))
        for name, value in _parameters(self._standard_normal(), x_dim).items():
            self.register_buffer(name, value.float())

    def _standard_normal(self) -> GaussianMixtureFit:
        dim = self.x_dim + self.y_dim
        eye = torch.eye(dim, dtype=torch.float64)[None]
        return GaussianMixtureFit(
            torch.zeros(1, dtype=torch.float64), torch.zeros(1, dim, dtype=torch.float64), eye, 0.0
        )

    def _fit(self, z: Tensor, k: int, pooling: float, restarts: int = 1) -> dict[str, Tensor]:
        r"""The scoring parameters of ``K = k`` fitted to ``z``; pooled covariances from the
        shared-covariance fit of ``restarts`` starts."""
        fit = fit_gaussian_mixture(z, k, self.covariance_floor, restarts=restarts, tied=pooling > 0.0)
        if 0.0 < pooling < 1.0:
            fit = pool_covariances(fit, z, pooling, self.covariance_floor)
        return _parameters(fit, self.x_dim)

    def _held_out_bound(self, z: Tensor, k: int, folds: tuple[Tensor, Tensor], pooling: float) -> float:
        r"""The DV bound of ``K = k`` fitted on one half and scored on the other, averaged
        over both ways round."""
        total = 0.0
        for train, test in (folds, folds[::-1]):
            params = self._fit(z[train], k, pooling)
            held_out = z[test]
            scores = lambda a, b, index: _paired(a, b, params, index)  # noqa: E731
            total += shifted_dv_bound(scores, held_out[:, : self.x_dim], held_out[:, self.x_dim :])
        return total / 2

    def _choose(self, z: Tensor, candidates: tuple[int, ...]) -> tuple[int, float, float]:
        r"""The ``K`` and pooling with the best two-fold held-out DV bound. The candidates are
        tried in increasing order (:func:`~mist_reg.nn.references.held_out.best_in_order`: a
        larger ``K`` costs more and overfits more), each with its own covariances or, beyond
        the full-covariance cap, one shared; then, where the full covariances were best at
        their cap (or none could be fitted), at the best shared ``K`` (chosen or not) the
        :data:`POOLING_CANDIDATES` in turn. Returns ``K``, the pooling and their bound."""
        folds = two_fold_halves(len(z), z.device)
        bounds: dict[tuple[int, float], float] = {}

        def bound(k: int, pooling: float) -> float:
            if (k, pooling) not in bounds:
                bounds[k, pooling] = self._held_out_bound(z, k, folds, pooling)
            return bounds[k, pooling]

        best_in_order(candidates, lambda k: bound(k, self._pooling(k, len(z))))
        shared = [key for key in bounds if key[0] > 1 and key[1] == 1.0]
        full = {k: value for (k, pooling), value in bounds.items() if pooling == 0.0}
        at_cap = not full or max(full, key=full.__getitem__) == max(full)  # own covariances wanted more
        if shared and at_cap and self.fixed_pooling is None:
            k = max(shared, key=bounds.__getitem__)[0]
            best_in_order((1.0,) + POOLING_CANDIDATES, lambda a: bound(k, a))
        best = max(bounds, key=bounds.__getitem__)
        return best[0], best[1], bounds[best]

    def candidates_for(self, n_samples: int) -> tuple[int, ...]:
        r"""The candidate ``K`` for ``n_samples`` training samples, in the order searched (only
        ``1`` below 40 samples, or the fixed ``n_components``): those whose full covariances
        :func:`max_components` allows, then larger ones whose components share one covariance
        (:meth:`shares_covariance`), each at least twice the last, up to the cap of shared
        covariances. Along shared covariances the held-out bound is not unimodal below the
        number of clusters (the shared covariance absorbs the spread of the clusters not yet
        modelled, so a few components can fit worse than one), and doubling ``K`` reaches
        the clusters in fewer steps than the search's patience.

        Example:
            >>> MixtureLogRatio(3, 3).candidates_for(3000)
            (1, 2, 3, 4, 6, 8, 12, 16, 32)
            >>> MixtureLogRatio(25, 25).candidates_for(3000)
            (1, 2, 4, 8, 16)
        """
        if self.fixed_components is not None:
            return (self.fixed_components,)
        if n_samples < _MIN_SAMPLES:
            return (1,)
        dim = self.x_dim + self.y_dim
        full_cap = max_components(dim, n_samples)
        tied_cap = max_components(dim, n_samples, MAX_SHARED_FIT_COST, tied=True)
        order = [k for k in self.candidates if k <= full_cap] or [1]
        for k in self.candidates:
            if k > full_cap and k <= tied_cap and k >= 2 * order[-1]:
                order.append(k)
        return tuple(order)

    def shares_covariance(self, k: int, n_samples: int) -> bool:
        r"""Whether ``K = k`` components fitted on ``n_samples`` samples share one covariance:
        where full covariances of ``k`` components would cost more than :data:`MAX_FIT_COST`
        (:func:`max_components`), or as frozen by :meth:`freeze_choice`. Where they afford
        no second component, the single Gaussian is fitted the shared way too: the shared
        covariance is shrunk towards a multiple of the identity as the dimension nears the
        rows (:func:`~mist_reg.nn.references.mixture_em.fit_gaussian_mixture`), and the
        search then compares each ``K`` with a Gaussian shrunk alike.

        Example:
            >>> reference = MixtureLogRatio(3, 3)
            >>> [k for k in reference.candidates_for(3000) if reference.shares_covariance(k, 3000)]
            [32]
            >>> MixtureLogRatio(25, 25).shares_covariance(1, 3000), MixtureLogRatio(3, 3).shares_covariance(1, 3000)
            (True, False)
        """
        if self.fixed_pooling is not None and k == self.fixed_components:
            return self.fixed_pooling > 0.0
        cap = max_components(self.x_dim + self.y_dim, n_samples)
        return k > cap or cap == 1

    def _pooling(self, k: int, n_samples: int) -> float:
        r"""The pooling of ``K = k`` components' covariances before :data:`POOLING_CANDIDATES`
        are tried: ``1`` where they share one (:meth:`shares_covariance`), else ``0``, or as
        frozen."""
        if self.fixed_pooling is not None and k == self.fixed_components:
            return self.fixed_pooling
        return 1.0 if self.shares_covariance(k, n_samples) else 0.0

    @property
    def tied(self) -> bool:
        r"""Whether the fitted components share one covariance."""
        return self.pooling == 1.0

    @torch.no_grad()
    def fit_data(self, x: Tensor, y: Tensor) -> None:
        r"""Fits the mixture for every candidate ``K`` and keeps the one with the best
        held-out DV bound, then refits it on all samples (float64 maths)."""
        if x.shape[1] != self.x_dim or y.shape[1] != self.y_dim:
            raise ValueError(
                f"MixtureLogRatio was built for dims ({self.x_dim}, {self.y_dim}), got ({x.shape[1]}, {y.shape[1]})"
            )
        both = torch.cat([x, y], 1).double()
        mean, std = both.mean(0), both.std(0).clamp_min(1e-12)
        z = (both - mean) / std
        candidates = self.candidates_for(len(z))
        if len(candidates) == 1:
            chosen, pooling = candidates[0], self._pooling(candidates[0], len(z))
            frozen = self.fixed_components is not None and self.fixed_components == self.n_components
            if not frozen:  # a frozen choice keeps the bound of the search that made it
                self.held_out_bound = None
        else:
            chosen, pooling, self.held_out_bound = self._choose(z, candidates)
        self.n_components, self.pooling = chosen, pooling
        self.mean, self.std = mean.float().to(self.mean.device), std.float().to(self.std.device)
        for name, value in self._fit(z, chosen, pooling, self.restarts).items():
            setattr(self, name, value.float().to(self.mean.device))

    @torch.no_grad()
    def set_mixture(self, log_weights: Tensor, means: Tensor, covariances: Tensor) -> None:
        r"""Makes the reference the log-ratio of a given mixture of ``(x, y)`` (no fitting).

        Arguments:
            log_weights: ``[K]`` log-weights (normalised here).
            means: ``[K, x_dim + y_dim]`` component means.
            covariances: ``[K, x_dim + y_dim, x_dim + y_dim]`` component covariances.

        Example:
            >>> reference = MixtureLogRatio(1, 1)
            >>> reference.set_mixture(torch.zeros(1), torch.zeros(1, 2), torch.tensor([[[1.0, 0.6], [0.6, 1.0]]]))
            >>> round(float(reference(torch.zeros(1, 1), torch.zeros(1, 1))), 4)  # -log(1 - 0.36) / 2
            0.2231
        """
        dim = self.x_dim + self.y_dim
        if means.shape[-1] != dim or covariances.shape[-2:] != (dim, dim) or len(log_weights) != len(means):
            raise ValueError(
                f"a mixture of (x, y) needs log_weights [K], means [K, {dim}] and covariances [K, {dim}, {dim}], got "
                f"{tuple(log_weights.shape)}, {tuple(means.shape)} and {tuple(covariances.shape)}"
            )
        log_weights = log_weights.double() - torch.logsumexp(log_weights.double(), 0)
        fit = GaussianMixtureFit(log_weights, means.double(), covariances.double(), math.nan)
        self.n_components = self.fixed_components = len(log_weights)
        shared = len(log_weights) > 1 and bool((covariances == covariances[:1]).all())
        self.pooling = self.fixed_pooling = 1.0 if shared else 0.0
        self.mean, self.std = torch.zeros_like(self.mean), torch.ones_like(self.std)
        for name, value in _parameters(fit, self.x_dim).items():
            setattr(self, name, value.float().to(self.mean.device))

    @property
    def is_gaussian(self) -> bool:
        r"""Whether the fitted model is the Gaussian one (``K = 1``)."""
        return self.n_components == 1

    def freeze_choice(self) -> None:
        r"""Keeps the ``K`` chosen by the last :meth:`fit_data`, and the pooling of its
        components' covariances, for later fits."""
        self.fixed_components, self.fixed_pooling = self.n_components, self.pooling

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # K is chosen by fit_data(): take the shapes of the saved buffers
        for name in _parameters(self._standard_normal(), self.x_dim):
            saved = state_dict.get(prefix + name)
            if saved is not None and saved.shape != getattr(self, name).shape:
                setattr(self, name, torch.empty_like(saved, device=getattr(self, name).device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        weights = state_dict.get(prefix + "log_weights")
        if weights is not None:
            self.n_components = len(weights)

    def _fitted(self) -> dict[str, Tensor]:
        return {name: getattr(self, name) for name in _parameters(self._standard_normal(), self.x_dim)}

    def _standardised(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        dx = self.x_dim
        return (x.float() - self.mean[:dx]) / self.std[:dx], (y.float() - self.mean[dx:]) / self.std[dx:]

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return _paired(*self._standardised(x, y), self._fitted(), None)

    def score_matrix(self, x: Tensor, y: Tensor) -> Tensor:
        return _matrix(*self._standardised(x, y), self._fitted())

    def score_pairs(self, x: Tensor, y: Tensor, index: Tensor) -> Tensor:
        return _paired(*self._standardised(x, y), self._fitted(), index)

    def extra_repr(self) -> str:
        return f"x_dim={self.x_dim}, y_dim={self.y_dim}, n_components={self.n_components}, pooling={self.pooling:g}"
