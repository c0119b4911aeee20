r"""A closed-form reference critic for heavy-tailed dependence: the Student-t copula.

The Gaussian reference (:class:`mist_reg.nn.references.gaussian.GaussianLogRatio`) sees only
correlations. Dependence through a *shared scale*, where ``x`` and ``y`` are large together
(a multivariate Student-t, returns of assets hit by the same shock), has no correlation
at all, so the Gaussian model reports none of it, and a network correction trained on a
few thousand samples learns it only in part (BMI's ``student-identity-5-5-2``: 0.35 of
0.45 nats). The Student-t copula with ``df`` degrees of freedom expresses exactly this
dependence, and it is the Gaussian copula when ``df = inf``.

The model, for inputs with standard normal marginals (as after
:class:`mist_reg.estimation.preprocessing.MarginalGaussianizer`): each coordinate ``z`` is mapped to
the Student-t score ``s = T_df^{-1}(Phi(z))``, and ``s = (s_x, s_y)`` is a multivariate
Student-t with dispersion ``R``. The univariate factors of the copula density cancel in
the log-ratio, so

``r(x, y) = log t_{d}(s; R) - log t_{dx}(s_x; R_xx) - log t_{dy}(s_y; R_yy)``,

a function of three Mahalanobis norms ``Q = Q_x + Q_y + Delta`` (``Delta`` the canonical
terms of the cross-dispersion, at most ``rank`` of them), computed for all ``N x M``
pairs from one matrix product. :meth:`StudentTLogRatio.fit_data` fits ``R`` for each
candidate ``df`` by EM (the Student-t's iteratively reweighted covariance, whose weights
``(df + d) / (df + Q)`` shrink the pull of the tails), keeps the canonical rank and
shrinkage that the Gaussian reference chooses by cross-validation, and chooses ``df``
(``inf`` included) by the Donsker-Varadhan bound on held-out halves of the data, walking
from the Gaussian towards heavier tails and stopping after two candidates in a row that do
not improve (:func:`~mist_reg.nn.references.held_out.best_in_order`). A
critic's DV bound is below the MI whatever the model, so choosing among candidates by it
cannot invent dependence: on Gaussian-copula data ``df = inf`` wins and the reference is
the Gaussian one.

Example:
    >>> import torch
    >>> from mist_reg.estimation.preprocessing import MarginalGaussianizer
    >>> _ = torch.manual_seed(0)
    >>> scale = torch.distributions.Chi2(2.0).sample((5000, 1)).div(2).rsqrt()  # df = 2
    >>> xy = torch.randn(5000, 4) * scale  # I(x; y) = 0.193 nats, no correlation
    >>> z = MarginalGaussianizer().fit(xy)(xy)
    >>> reference = StudentTLogRatio(2, 2)
    >>> reference.fit_data(z[:, :2], z[:, 2:])
    >>> float(reference.df) < 5, round(float(reference(z[:, :2], z[:, 2:]).mean()), 1)
    (True, 0.2)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from mist_reg.nn.critic import Critic
from mist_reg.nn.references.gaussian import GaussianLogRatio
from mist_reg.nn.references.held_out import best_in_order, shifted_dv_bound, two_fold_halves

__all__ = ["StudentTLogRatio", "DF_CANDIDATES", "student_t_scores"]

DF_CANDIDATES: tuple[float, ...] = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0, 20.0, 50.0, math.inf)
r"""The degrees of freedom :class:`StudentTLogRatio` chooses among: from the Cauchy
(``df = 1``) to the Gaussian (``inf``), spaced so that neighbours differ in the tail
exponent by no more than about half."""

_TABLE_RANGE = 7.0  # standard normal scores beyond +-7 have probability < 1e-11
_TABLE_SIZE = 4097
_EM_ITERATIONS = 30


def student_t_scores(df: float, grid: Tensor) -> Tensor:
    r"""``T_df^{-1}(Phi(z))`` at the points ``grid`` (float64; scipy's quantile functions).

    Computed from the lower tail for ``z < 0`` and by symmetry for ``z > 0``, so that the
    far tails keep their precision.

    Example:
        >>> grid = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
        >>> [round(v, 4) for v in student_t_scores(1.0, grid).tolist()]  # Cauchy quantiles of 0.159, 0.5, 0.841
        [-1.8373, 0.0, 1.8373]
    """
    from scipy.special import ndtr, stdtrit

    z = grid.detach().cpu().double().numpy()
    lower = stdtrit(df, ndtr(-abs(z)))
    return torch.from_numpy(-lower * (z > 0) + lower * (z <= 0)).to(grid.device)


def _correlation(scatter: Tensor) -> Tensor:
    r"""``scatter`` scaled to a unit diagonal; a constant coordinate (zero scale) keeps a
    zero row and column."""
    scale = scatter.diagonal().clamp_min(1e-12).sqrt()
    varying = (scale > 1e-6).to(scatter.dtype)
    return scatter / scale[:, None] / scale[None, :] * varying[:, None] * varying[None, :]


def _log_t_normaliser(df: float, dim: int) -> float:
    return math.lgamma((df + dim) / 2) - math.lgamma(df / 2) - dim / 2 * math.log(df * math.pi)


class StudentTLogRatio(Critic):
    r"""``log q(x, y) - log q(x) - log q(y)`` for the Student-t copula ``q`` fitted by
    :meth:`fit_data`, its degrees of freedom chosen from :data:`DF_CANDIDATES`.

    With ``df = inf`` it is :class:`~mist_reg.nn.references.gaussian.GaussianLogRatio` exactly
    (the fitted Gaussian reference is kept as the submodule ``gaussian`` and used as is).

    Arguments:
        x_dim: The size of ``x``.
        y_dim: The size of ``y``.
        df: Fixes the degrees of freedom (``math.inf`` for the Gaussian); ``None`` chooses
            them from ``df_candidates`` by the held-out Donsker-Varadhan bound.
        df_candidates: The candidates when ``df`` is ``None``.
        ridge: Added to the diagonal of the dispersions of ``x`` and ``y``, as in
            :class:`~mist_reg.nn.references.gaussian.GaussianLogRatio`.
    """

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        df: float | None = None,
        df_candidates: Sequence[float] = DF_CANDIDATES,
        ridge: float = 1e-3,
    ) -> None:
        super().__init__()
        if df is not None and not df > 0:
            raise ValueError(f"df must be positive (math.inf for the Gaussian), got {df}")
        if df is None and (not df_candidates or any(not c > 0 for c in df_candidates)):
            raise ValueError(f"df_candidates must be positive numbers, got {tuple(df_candidates)}")
        self.x_dim, self.y_dim, self.ridge = x_dim, y_dim, ridge
        self.fixed_df, self.df_candidates = df, tuple(float(c) for c in df_candidates)
        self.gaussian = GaussianLogRatio(x_dim, y_dim, ridge=ridge)
        self.register_buffer("df", torch.tensor(math.inf))
        self.register_buffer("scores", torch.zeros(0))  # T_df^{-1}(Phi(z)) on a uniform grid
        self.register_buffer("white_x", torch.zeros(x_dim, x_dim))
        self.register_buffer("white_y", torch.zeros(y_dim, y_dim))
        self.register_buffer("proj_x", torch.zeros(x_dim, 0))
        self.register_buffer("proj_y", torch.zeros(y_dim, 0))
        self.register_buffer("rho", torch.zeros(0))
        self.register_buffer("mean", torch.zeros(x_dim + y_dim))
        self.register_buffer("std", torch.ones(x_dim + y_dim))
        self.df_value = math.inf  # float(self.df), kept off the device

    # -- fitting -------------------------------------------------------------------------

    @staticmethod
    def _grid(device: torch.device) -> Tensor:
        return torch.linspace(-_TABLE_RANGE, _TABLE_RANGE, _TABLE_SIZE, dtype=torch.float64, device=device)

    @staticmethod
    def _map(z: Tensor, scores: Tensor) -> Tensor:
        r"""Piecewise-linear interpolation of the score table (monotone, differentiable)."""
        step = 2 * _TABLE_RANGE / (len(scores) - 1)
        position = (z.clamp(-_TABLE_RANGE, _TABLE_RANGE) + _TABLE_RANGE) / step
        left = position.floor().clamp(0, len(scores) - 2)
        weight = position - left
        left = left.long()
        table = scores.to(z.dtype)
        return table[left] * (1 - weight) + table[left + 1] * weight

    @staticmethod
    def _dispersion(s: Tensor, df: float) -> Tensor:
        r"""The dispersion of ``s`` as a correlation matrix: the sample correlation for the
        Gaussian, the EM fixed point of the Student-t (location 0) otherwise, iterated from
        the sample correlation until it moves by less than 1e-5."""
        n, dim = s.shape
        eye = torch.eye(dim, dtype=s.dtype, device=s.device)
        scatter = _correlation(s.T @ s / n)
        for _ in range(0 if math.isinf(df) else _EM_ITERATIONS):
            q = (s @ torch.linalg.inv(scatter + 1e-9 * eye) * s).sum(1)  # invertible with a constant coordinate
            weights = (df + dim) / (df + q)
            previous, scatter = scatter, _correlation((weights[:, None] * s).T @ s / n)
            if float((scatter - previous).abs().max()) < 1e-5:
                break
        return scatter

    def _whitener(self, block: Tensor) -> Tensor:
        r"""``[d, k]``: whitens the ``k`` directions of ``block`` whose variance exceeds ten
        times the ridge. The others (constant or duplicated coordinates) are dropped: they
        add nothing to the Mahalanobis norms, and counting them in the dimension of the
        Student-t density would change its radial law."""
        eye = torch.eye(len(block), dtype=block.dtype, device=block.device)
        values, vectors = torch.linalg.eigh(block + self.ridge * eye)
        keep = values > 11 * self.ridge
        return vectors[:, keep] / values[keep].sqrt()

    def _parameters_for(self, s: Tensor, df: float, rank: int, shrinkage: float) -> dict[str, Tensor]:
        scatter = self._dispersion(s, df)
        dx = self.x_dim
        white_x, white_y = self._whitener(scatter[:dx, :dx]), self._whitener(scatter[dx:, dx:])
        cross = white_x.T @ scatter[:dx, dx:] @ white_y
        u, rho, vh = torch.linalg.svd(cross, full_matrices=False)
        rho = (rho * shrinkage).clamp(0, 1 - 1e-6)
        return {
            "white_x": white_x,
            "white_y": white_y,
            "proj_x": (white_x @ u)[:, :rank],
            "proj_y": (white_y @ vh.T)[:, :rank],
            "rho": rho[:rank],
        }

    def _held_out_bound(self, params: dict[str, Tensor], df: float, sx: Tensor, sy: Tensor) -> float:
        r"""The DV bound of the model on ``(sx, sy)``
        (:func:`~mist_reg.nn.references.held_out.shifted_dv_bound`)."""
        return shifted_dv_bound(lambda a, b, index: self._scores_of(a, b, params, df, index), sx, sy)

    @torch.no_grad()
    def fit_data(self, x: Tensor, y: Tensor) -> None:
        r"""Fits the Gaussian reference, then the Student-t copula for every candidate
        ``df`` and keeps the one with the best held-out DV bound (float64 maths)."""
        if x.shape[1] != self.x_dim or y.shape[1] != self.y_dim:
            raise ValueError(
                f"StudentTLogRatio was built for dims ({self.x_dim}, {self.y_dim}), got ({x.shape[1]}, {y.shape[1]})"
            )
        self.gaussian.fit_data(x, y)
        rank, shrinkage = len(self.gaussian.rho), self.gaussian.shrinkage
        both = torch.cat([x, y], 1).double()
        mean, std = both.mean(0), both.std(0).clamp_min(1e-12)
        z = (both - mean) / std
        grid = self._grid(z.device)
        candidates = self.df_candidates if self.fixed_df is None else (self.fixed_df,)
        if self.fixed_df is None and len(z) < 40:
            candidates = (math.inf,)
        tables = {df: grid if math.isinf(df) else student_t_scores(df, grid) for df in candidates}
        if len(candidates) == 1:
            chosen = candidates[0]
        else:
            folds = two_fold_halves(len(z), z.device)
            chosen = best_in_order(
                sorted(candidates, reverse=True),  # from the Gaussian towards heavier tails
                lambda df: self._two_fold_bound(self._map(z, tables[df]), df, rank, shrinkage, folds),
            )
        self.df, self.df_value = torch.tensor(chosen, device=self.df.device), float(chosen)
        if math.isinf(chosen):
            self.scores = torch.zeros(0, device=self.scores.device)
            return
        params = self._parameters_for(self._map(z, tables[chosen]), chosen, rank, shrinkage)
        self.scores = tables[chosen].float()
        for name, value in params.items():
            setattr(self, name, value.float())
        self.mean, self.std = mean.float(), std.float()

    @property
    def is_gaussian(self) -> bool:
        r"""Whether the fitted model is the Gaussian one (``df = inf``)."""
        return math.isinf(self.df_value)

    def freeze_choice(self) -> None:
        r"""Keeps the degrees of freedom chosen by the last :meth:`fit_data` for later fits."""
        self.fixed_df = self.df_value

    def _two_fold_bound(self, s: Tensor, df: float, rank: int, shrinkage: float, folds: tuple[Tensor, Tensor]) -> float:
        r"""The held-out DV bound of the model fitted on one fold and scored on the other,
        summed over both ways round."""
        total = 0.0
        for train, test in (folds, folds[::-1]):
            params = self._parameters_for(s[train], df, rank, shrinkage)
            total += self._held_out_bound(params, df, s[test, : self.x_dim], s[test, self.x_dim :])
        return total

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # df and the rank are chosen by fit_data(): take the shapes of the saved buffers
        for name in ("scores", "white_x", "white_y", "proj_x", "proj_y", "rho"):
            saved = state_dict.get(prefix + name)
            if saved is not None and saved.shape != getattr(self, name).shape:
                setattr(self, name, torch.empty_like(saved, device=getattr(self, name).device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if prefix + "df" in state_dict:
            self.df_value = float(state_dict[prefix + "df"])

    # -- scoring -------------------------------------------------------------------------

    @staticmethod
    def _x_side(sx: Tensor, params: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        r"""``Q_x``, the canonical variables scaled for the cross term of ``Delta`` and the
        squared terms of ``Delta`` that belong to ``x``."""
        rho = params["rho"]
        r2 = rho.square()
        a = sx @ params["proj_x"]
        q_x = (sx @ params["white_x"]).square().sum(-1)
        return q_x, a * (-2 * rho / (1 - r2)), (r2 / (1 - r2) * a.square()).sum(-1)

    @staticmethod
    def _y_side(sy: Tensor, params: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        r2 = params["rho"].square()
        b = sy @ params["proj_y"]
        q_y = (sy @ params["white_y"]).square().sum(-1)
        return q_y, b, (r2 / (1 - r2) * b.square()).sum(-1)

    @staticmethod
    def _log_ratio(q_x: Tensor, q_y: Tensor, delta: Tensor, params: dict[str, Tensor], df: float) -> Tensor:
        dx, dy = params["white_x"].shape[1], params["white_y"].shape[1]  # the non-degenerate dimensions
        log_det = -0.5 * torch.log1p(-params["rho"].square()).sum()
        if math.isinf(df):  # the Gaussian limit: Q_x and Q_y cancel
            return log_det - delta / 2
        constant = _log_t_normaliser(df, dx + dy) - _log_t_normaliser(df, dx) - _log_t_normaliser(df, dy) + log_det
        return (
            constant
            - (df + dx + dy) / 2 * torch.log1p((q_x + q_y + delta) / df)
            + (df + dx) / 2 * torch.log1p(q_x / df)
            + (df + dy) / 2 * torch.log1p(q_y / df)
        )

    def _scores_of(self, sx: Tensor, sy: Tensor, params: dict[str, Tensor], df: float, index: Tensor | None) -> Tensor:
        r"""Paired scores (``index=None``) or the ``[N, K]`` scores of ``(x_i, y_index[i, k])``."""
        q_x, a, a_delta = self._x_side(sx, params)
        q_y, b, b_delta = self._y_side(sy, params)
        if index is None:
            return self._log_ratio(q_x, q_y, (a * b).sum(-1) + a_delta + b_delta, params, df)
        cross = torch.einsum("nd,nkd->nk", a, b[index])
        delta = cross + a_delta[:, None] + b_delta[index]
        return self._log_ratio(q_x[:, None], q_y[index], delta, params, df)

    def _fitted(self) -> dict[str, Tensor]:
        return {name: getattr(self, name) for name in ("white_x", "white_y", "proj_x", "proj_y", "rho")}

    def _student_scores(self, v: Tensor, side: slice) -> Tensor:
        return self._map((v.float() - self.mean[side]) / self.std[side], self.scores)

    def _sides(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        return self._student_scores(x, slice(0, self.x_dim)), self._student_scores(y, slice(self.x_dim, None))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        if math.isinf(self.df_value):
            return self.gaussian(x, y)
        sx, sy = self._sides(x, y)
        return self._scores_of(sx, sy, self._fitted(), self.df_value, None)

    def score_matrix(self, x: Tensor, y: Tensor) -> Tensor:
        if math.isinf(self.df_value):
            return self.gaussian.score_matrix(x, y)
        sx, sy = self._sides(x, y)
        params = self._fitted()
        q_x, a, a_delta = self._x_side(sx, params)
        q_y, b, b_delta = self._y_side(sy, params)
        delta = a @ b.T + a_delta[:, None] + b_delta[None, :]
        return self._log_ratio(q_x[:, None], q_y[None, :], delta, params, self.df_value)

    def score_pairs(self, x: Tensor, y: Tensor, index: Tensor) -> Tensor:
        if math.isinf(self.df_value):
            return self.gaussian.score_pairs(x, y, index)
        sx, sy = self._sides(x, y)
        return self._scores_of(sx, sy, self._fitted(), self.df_value, index)
