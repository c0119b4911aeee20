r"""A closed-form reference critic: the log density ratio of a jointly Gaussian model.

Fitted to the first two moments of the training samples,

``r(x, y) = log q(y | x) - log q(y)``, with ``q`` the Gaussian of the same means and
covariances, is the optimal critic when ``(x, y)`` is jointly Gaussian, and a strong start
otherwise (after :class:`mist_reg.preprocessing.MarginalGaussianizer` every marginal is
Gaussian already). :class:`ResidualCritic` adds a neural correction, initialised at zero,
so that training only has to learn what the Gaussian model misses. This is the
"generative proposal corrected by a critic" hybrid of Federici, Ruhe and Forré (2023) in
its simplest form.

All ``N x M`` scores come from matrix products:
``r(x_i, y_j) = a(x_i) + b(y_j) + u_i^T C v_j + c`` with ``u = x - mean_x``, ``v = y - mean_y``.

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

import torch
from torch import Tensor, nn

from mist_reg.critic import Critic

__all__ = ["GaussianLogRatio", "ResidualCritic"]


class GaussianLogRatio(Critic):
    r"""``log q(y | x) - log q(y)`` for the Gaussian ``q`` fitted by :meth:`fit_data`.

    Arguments:
        x_dim, y_dim: The feature sizes.
        shrinkage: Ridge added to the diagonal of the standardised covariance, which keeps
            the fit well-conditioned for small samples or collinear features.
    """

    def __init__(self, x_dim: int, y_dim: int, shrinkage: float = 1e-3) -> None:
        super().__init__()
        self.x_dim, self.y_dim, self.shrinkage = x_dim, y_dim, shrinkage
        self.register_buffer("mean_x", torch.zeros(x_dim))
        self.register_buffer("mean_y", torch.zeros(y_dim))
        self.register_buffer("cross", torch.zeros(x_dim, y_dim))  # C
        self.register_buffer("quad_x", torch.zeros(x_dim, x_dim))  # a(x) = -u^T A u / 2
        self.register_buffer("quad_y", torch.zeros(y_dim, y_dim))  # b(y) = -v^T B v / 2
        self.register_buffer("offset", torch.zeros(()))

    @torch.no_grad()
    def fit_data(self, x: Tensor, y: Tensor) -> None:
        r"""Fits the Gaussian model to samples ``x: [N, x_dim]``, ``y: [N, y_dim]`` (float64 maths)."""
        if x.shape[1] != self.x_dim or y.shape[1] != self.y_dim:
            raise ValueError(
                f"GaussianLogRatio was built for dims ({self.x_dim}, {self.y_dim}), got ({x.shape[1]}, {y.shape[1]})"
            )
        z = torch.cat([x, y], dim=1).double()
        mean = z.mean(0)
        cov = torch.cov(z.T).reshape(z.shape[1], z.shape[1])
        scale = cov.diagonal().clamp_min(1e-12).sqrt()
        corr = cov / scale[:, None] / scale[None, :]
        corr = (corr + self.shrinkage * torch.eye(len(corr), dtype=corr.dtype, device=corr.device)) / (1 + self.shrinkage)
        cov = corr * scale[:, None] * scale[None, :]
        dx = self.x_dim
        sxx, sxy, syy = cov[:dx, :dx], cov[:dx, dx:], cov[dx:, dx:]
        b = torch.linalg.solve(sxx, sxy).T  # [dy, dx]: E[v | u] = B u
        s_cond = syy - b @ sxy  # Cov[y | x]
        p_cond = torch.linalg.inv(s_cond)
        p_y = torch.linalg.inv(syy)
        self.mean_x.copy_(mean[:dx])
        self.mean_y.copy_(mean[dx:])
        self.cross.copy_(b.T @ p_cond)
        self.quad_x.copy_(b.T @ p_cond @ b)
        self.quad_y.copy_(p_cond - p_y)
        self.offset.copy_(0.5 * (torch.logdet(syy) - torch.logdet(s_cond)))

    def _parts(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        u, v = x.float() - self.mean_x, y.float() - self.mean_y
        a = -0.5 * ((u @ self.quad_x) * u).sum(-1)
        b = -0.5 * ((v @ self.quad_y) * v).sum(-1)
        return u @ self.cross, v, a, b

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        uc, v, a, b = self._parts(x, y)
        return (uc * v).sum(-1) + a + b + self.offset

    def score_matrix(self, x: Tensor, y: Tensor) -> Tensor:
        uc, v, a, b = self._parts(x, y)
        return uc @ v.T + a[:, None] + b[None, :] + self.offset

    def score_pairs(self, x: Tensor, y: Tensor, index: Tensor) -> Tensor:
        uc, v, a, b = self._parts(x, y)
        return torch.einsum("nd,nkd->nk", uc, v[index]) + a[:, None] + b[index] + self.offset


class ResidualCritic(Critic):
    r"""``f(x, y) = reference(x, y) + correction(x, y)``, the correction starting at zero.

    Arguments:
        reference: A fixed or learnable critic (e.g. :class:`GaussianLogRatio`).
        correction: A learnable critic; the last linear layer found in it is zeroed so that
            training starts from the reference.

    Example:
        >>> from mist_reg.critic import joint_critic
        >>> critic = ResidualCritic(GaussianLogRatio(2, 2), joint_critic(2, 2, [16]))
        >>> float(critic(torch.zeros(3, 2), torch.zeros(3, 2)).detach().abs().sum())
        0.0
    """

    def __init__(self, reference: Critic, correction: Critic) -> None:
        super().__init__()
        self.reference, self.correction = reference, correction
        last = [m for m in correction.modules() if isinstance(m, nn.Linear)]
        if last:
            nn.init.zeros_(last[-1].weight)
            nn.init.zeros_(last[-1].bias)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.reference(x, y) + self.correction(x, y)

    def score_matrix(self, x: Tensor, y: Tensor) -> Tensor:
        return self.reference.score_matrix(x, y) + self.correction.score_matrix(x, y)

    def score_pairs(self, x: Tensor, y: Tensor, index: Tensor) -> Tensor:
        return self.reference.score_pairs(x, y, index) + self.correction.score_pairs(x, y, index)
