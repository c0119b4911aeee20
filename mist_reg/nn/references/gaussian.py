r"""A closed-form reference critic: the log density ratio of a jointly Gaussian model.

Fitted to the first two moments of the training samples,

``r(x, y) = log q(y | x) - log q(y)``, with ``q`` the Gaussian of the same means and
covariances, is the optimal critic when ``(x, y)`` is jointly Gaussian, and a strong start
otherwise (after :class:`mist_reg.estimation.preprocessing.MarginalGaussianizer` every marginal is
Gaussian already). :class:`ResidualCritic` adds a neural correction, initialised at zero,
so that training only has to learn what the Gaussian model misses. This is the
"generative proposal corrected by a critic" hybrid of Federici, Ruhe and Forré (2023) in
its simplest form.

All ``N x M`` scores come from one matrix product of canonical variables.

Example:
    >>> import torch
    >>> from mist_reg.tasks import get_task
    >>> task = get_task("gaussian-5x5")
    >>> x, y = task.sample(20000, seed=0)
    >>> reference = GaussianLogRatio(5, 5)
    >>> reference.fit_data(x, y)
    >>> round(float(reference(x, y).mean()), 1)  # E_p[r] is the Gaussian MI
    1.0
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from contextvars import ContextVar

import torch
from torch import Tensor

from mist_reg.nn.critic import Critic

__all__ = ["GaussianLogRatio", "ResidualCritic", "COVARIANCE_SHRINKAGES", "shared_regularisation"]

_CHOICES: ContextVar[dict | None] = ContextVar("gaussian_regularisation_choices", default=None)


@contextlib.contextmanager
def shared_regularisation() -> Iterator[None]:
    r"""Within the block, a :class:`GaussianLogRatio` fitted to samples that an earlier one in
    the block was fitted to (same values, same ``ridge``) reuses the rank and shrinkages that
    the earlier one chose, instead of choosing them again by cross-validation. The choice is a
    function of the samples, so nothing changes but the time: :mod:`mist_reg.estimate_mi`'s
    reference choice fits the Gaussian model of one training set up to three times (the check
    of the partition term, the Gaussian start, the Student-t challenger).

    Example:
        >>> x = torch.randn(500, 3); y = x + torch.randn(500, 3)
        >>> with shared_regularisation():
        ...     first, second = GaussianLogRatio(3, 3), GaussianLogRatio(3, 3)
        ...     first.fit_data(x, y); second.fit_data(x.clone(), y.clone())
        >>> bool(torch.equal(first.rho, second.rho))
        True
    """
    token = _CHOICES.set({})
    try:
        yield
    finally:
        _CHOICES.reset(token)


def _digest(t: Tensor) -> bytes:
    """A digest of a tensor's dtype, shape and values."""
    values = t.detach().cpu().contiguous()
    head = f"{values.dtype}{tuple(values.shape)}".encode()
    return hashlib.blake2b(head + values.view(torch.uint8).numpy().tobytes(), digest_size=16).digest()


COVARIANCE_SHRINKAGES: tuple[float, ...] = (0.0, 0.01, 0.03, 0.1, 0.2, 0.35, 0.5)


class GaussianLogRatio(Critic):
    r"""``log q(y | x) - log q(y)`` for the Gaussian ``q`` fitted by :meth:`fit_data`.

    The fit is written in canonical coordinates: with ``a = W_x^T (x - mean_x)`` and
    ``b = W_y^T (y - mean_y)`` the whitened canonical variables and ``rho_k`` the canonical
    correlations, the Gaussian log-ratio is a sum of independent two-dimensional terms

    ``r(x, y) = sum_k [-log(1 - rho_k^2) / 2 - rho_k^2 (a_k^2 + b_k^2) / (2 (1 - rho_k^2)) + rho_k a_k b_k / (1 - rho_k^2)]``.

    Keeping only the ``rank`` strongest components is the regularisation that matters
    when ``x_dim * y_dim`` is large against the sample size: a full fit pays about
    ``x_dim * y_dim / (2 N)`` nats on held-out data for estimating every cross-covariance.
    With ``rank=None`` the rank is chosen by two-fold cross-validation of the held-out
    log-ratio, together with a common shrinkage factor of the canonical correlations
    (estimated directions correlate less on fresh data than on the data they were fitted to).

    Arguments:
        x_dim: The size of ``x``.
        y_dim: The size of ``y``.
        rank: The number of canonical components kept; ``None`` chooses it from the data.
        ridge: Added to the diagonal of the standardised covariances of ``x`` and ``y``,
            which keeps the fit well-conditioned for small samples or collinear features.
    """

    def __init__(self, x_dim: int, y_dim: int, rank: int | None = None, ridge: float = 1e-3) -> None:
        super().__init__()
        max_rank = min(x_dim, y_dim)
        if rank is not None and not 0 <= rank <= max_rank:
            raise ValueError(f"rank must lie in [0, {max_rank}], got {rank}")
        self.x_dim, self.y_dim, self.rank, self.ridge = x_dim, y_dim, rank, ridge
        self.register_buffer("mean_x", torch.zeros(x_dim))
        self.register_buffer("mean_y", torch.zeros(y_dim))
        self.register_buffer("proj_x", torch.zeros(x_dim, 0))
        self.register_buffer("proj_y", torch.zeros(y_dim, 0))
        self.register_buffer("rho", torch.zeros(0))
        self.shrinkage = 1.0  # the factor of the canonical correlations chosen by fit_data()
        self.covariance_shrinkage = 0.0  # the shrinkage of the correlations toward the identity

    @staticmethod
    def _correlation(z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The mean, the standard deviation and the correlation matrix of the columns of ``z``."""
        mean = z.mean(0)
        cov = torch.cov(z.T).reshape(z.shape[1], z.shape[1])
        scale = cov.diagonal().clamp_min(1e-12).sqrt()
        return mean, scale, cov / scale[:, None] / scale[None, :]

    @classmethod
    def _whitener(cls, z: Tensor, ridge: float, shrink_to_identity: float = 0.0) -> tuple[Tensor, Tensor]:
        mean, scale, corr = cls._correlation(z)
        eye = torch.eye(len(corr), dtype=z.dtype, device=z.device)
        corr = (1 - shrink_to_identity) * corr + (shrink_to_identity + ridge) * eye
        values, vectors = torch.linalg.eigh(corr)
        return mean, (vectors / values.clamp_min(1e-12).sqrt()) / scale[:, None]

    def _canonical(
        self, x: Tensor, y: Tensor, shrink_to_identity: float = 0.0
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        mean_x, white_x = self._whitener(x, self.ridge, shrink_to_identity)
        mean_y, white_y = self._whitener(y, self.ridge, shrink_to_identity)
        a, b = (x - mean_x) @ white_x, (y - mean_y) @ white_y
        u, rho, vh = torch.linalg.svd(a.T @ b / (x.shape[0] - 1), full_matrices=False)
        return mean_x, mean_y, white_x @ u, white_y @ vh.T, rho.clamp(0, 1 - 1e-6)

    @staticmethod
    def _mean_log_ratio_terms(squares: Tensor, products: Tensor, rho: Tensor) -> Tensor:
        """The mean over rows of each component's term of the log-ratio (the class
        docstring's sum), from the means of ``a^2 + b^2`` and of ``a b`` per component."""
        r2 = rho.square()
        return -0.5 * torch.log1p(-r2) - r2 * squares / (2 * (1 - r2)) + rho * products / (1 - r2)

    def _choose_regularisation(self, x: Tensor, y: Tensor) -> tuple[int, float, float]:
        """The rank, the factor of the canonical correlations and the shrinkage of the
        within-side correlations toward the identity with the best two-fold held-out log-ratio."""
        n = x.shape[0]
        max_rank = min(x.shape[1], y.shape[1])
        if n < 20:
            return max_rank, 1.0, 0.0
        order = torch.randperm(n, generator=torch.Generator().manual_seed(0)).to(x.device)
        folds = order[: n // 2], order[n // 2 :]
        shrinkages = torch.linspace(0.5, 1.0, 11, dtype=x.dtype, device=x.device)
        to_identity = COVARIANCE_SHRINKAGES if max(x.shape[1], y.shape[1]) > 1 else (0.0,)
        scores = torch.zeros(len(to_identity), len(shrinkages), max_rank + 1, dtype=x.dtype, device=x.device)
        for train, test in (folds, folds[::-1]):
            # ((1 - lam) R + (lam + ridge) I) has the eigenvectors of the correlation R for every
            # lam, and eigenvalues (1 - lam) e + lam + ridge: one decomposition per side and fold
            (train_x, test_x, values_x), (train_y, test_y, values_y) = (
                self._rotated(z[train], z[test]) for z in (x, y)
            )
            cross = train_x.T @ train_y / (len(train) - 1)
            for j, lam in enumerate(to_identity):
                root_x = ((1 - lam) * values_x + lam + self.ridge).clamp_min(1e-12).sqrt()
                root_y = ((1 - lam) * values_y + lam + self.ridge).clamp_min(1e-12).sqrt()
                u, rho, vh = torch.linalg.svd(cross / root_x[:, None] / root_y[None, :], full_matrices=False)
                a, b = (test_x / root_x) @ u, (test_y / root_y) @ vh.T
                rho = rho.clamp(0, 1 - 1e-6)
                # the mean log-ratio is linear in the test rows' second moments of (a, b):
                # every shrinkage is scored from three vectors, not from the rows again
                moments = (a.square() + b.square()).mean(0), (a * b).mean(0)
                terms = self._mean_log_ratio_terms(*moments, rho * shrinkages[:, None])  # [shrinkages, max_rank]
                scores[j, :, 1:] += terms.cumsum(1)
        j, i, rank = (int(v) for v in torch.unravel_index(scores.argmax(), scores.shape))
        return rank, float(shrinkages[i]), float(to_identity[j])

    @classmethod
    def _rotated(cls, train: Tensor, test: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Both parts standardised by the training part and rotated onto the eigenvectors of
        its correlation matrix, with their eigenvalues."""
        mean, scale, corr = cls._correlation(train)
        values, vectors = torch.linalg.eigh(corr)
        rotate = vectors / scale[:, None]
        return (train - mean) @ rotate, (test - mean) @ rotate, values

    @torch.no_grad()
    def fit_data(self, x: Tensor, y: Tensor) -> None:
        r"""Fits the Gaussian model to samples ``x: [N, x_dim]``, ``y: [N, y_dim]`` (float64 maths)."""
        if x.shape[1] != self.x_dim or y.shape[1] != self.y_dim:
            raise ValueError(
                f"GaussianLogRatio was built for dims ({self.x_dim}, {self.y_dim}), got ({x.shape[1]}, {y.shape[1]})"
            )
        memo = _CHOICES.get() if self.rank is None else None
        key = (_digest(x), _digest(y), self.ridge) if memo is not None else None
        x, y = x.double(), y.double()
        if self.rank is not None:
            rank, shrinkage, to_identity = self.rank, 1.0, 0.0
        elif key in (memo or {}):
            rank, shrinkage, to_identity = memo[key]
        else:
            rank, shrinkage, to_identity = self._choose_regularisation(x, y)
            if memo is not None:
                memo[key] = (rank, shrinkage, to_identity)
        mean_x, mean_y, proj_x, proj_y, rho = self._canonical(x, y, to_identity)
        rho = rho * shrinkage
        self.shrinkage, self.covariance_shrinkage = shrinkage, to_identity
        self.mean_x, self.mean_y = mean_x.float(), mean_y.float()
        self.proj_x, self.proj_y = proj_x[:, :rank].float(), proj_y[:, :rank].float()
        self.rho = rho[:rank].float()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # the rank is chosen by fit_data(): take the shapes of the saved projections
        for name in ("proj_x", "proj_y", "rho"):
            saved = state_dict.get(prefix + name)
            if saved is not None and saved.shape != getattr(self, name).shape:
                setattr(self, name, torch.empty_like(saved, device=getattr(self, name).device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _parts(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        a = (x.float() - self.mean_x) @ self.proj_x
        b = (y.float() - self.mean_y) @ self.proj_y
        r2 = self.rho.square()
        constant = -0.5 * torch.log1p(-r2).sum()
        a_term = -(r2 / (2 * (1 - r2)) * a.square()).sum(-1) + constant
        b_term = -(r2 / (2 * (1 - r2)) * b.square()).sum(-1)
        return a * (self.rho / (1 - r2)), b, a_term, b_term

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        a, b, a_term, b_term = self._parts(x, y)
        return (a * b).sum(-1) + a_term + b_term

    def score_matrix(self, x: Tensor, y: Tensor) -> Tensor:
        a, b, a_term, b_term = self._parts(x, y)
        return a @ b.T + a_term[:, None] + b_term[None, :]

    def score_pairs(self, x: Tensor, y: Tensor, index: Tensor) -> Tensor:
        a, b, a_term, b_term = self._parts(x, y)
        return torch.einsum("nd,nkd->nk", a, b[index]) + a_term[:, None] + b_term[index]


class ResidualCritic(Critic):
    r"""``f(x, y) = reference(x, y) + correction(x, y)``, the correction starting at zero
    (through :meth:`mist_reg.nn.critic.Critic.zero_output_`), so that training starts exactly
    from the reference and only learns what it misses.

    Arguments:
        reference: A fixed or learnable critic (e.g. :class:`GaussianLogRatio`).
        correction: A learnable critic.
        offset: A constant added to the reference, for bounds whose optimal critic is the
            log density ratio plus a constant (NWJ: ``1``).

    Example:
        >>> from mist_reg.nn.critic import joint_critic
        >>> critic = ResidualCritic(GaussianLogRatio(2, 2), joint_critic(2, 2, [16]))
        >>> float(critic(torch.randn(3, 2), torch.randn(3, 2)).detach().abs().sum())
        0.0
    """

    def __init__(self, reference: Critic, correction: Critic, offset: float = 0.0) -> None:
        super().__init__()
        self.reference, self.correction, self.offset = reference, correction, offset
        correction.zero_output_()

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.reference(x, y) + self.correction(x, y) + self.offset

    def score_matrix(self, x: Tensor, y: Tensor) -> Tensor:
        return self.reference.score_matrix(x, y) + self.correction.score_matrix(x, y) + self.offset

    def score_pairs(self, x: Tensor, y: Tensor, index: Tensor) -> Tensor:
        return self.reference.score_pairs(x, y, index) + self.correction.score_pairs(x, y, index) + self.offset
