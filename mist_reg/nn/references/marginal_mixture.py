r"""A Gaussian mixture of one variable's columns, against the Gaussian of the same columns:
:class:`MarginalMixture`.

A Gaussian reference's log-ratio is ``log q(y | x) - log q(y)``, and its mean over held-out
rows carries ``-E[log q(y)]``, the cross-entropy of the Gaussian marginal of ``y``: the
entropy of ``y`` plus ``KL(p(y) || q(y))``. Where ``y`` is a mixture over the codes of ``x``
(mixed columns: ``y`` linear-Gaussian given the codes), that divergence is the reference's
overstatement of the MI, whatever its conditional. :meth:`MarginalMixture.log_ratio_to_gaussian`
is ``log m(y) - log g(y)``, ``m`` a mixture of ``y`` with its number of components chosen by
the held-out log-likelihood on two halves of the fitted rows (``1``: the Gaussian ``g``, and
a ratio of zero), so subtracting it replaces the Gaussian's cross-entropy by the mixture's.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> codes = torch.randint(0, 3, (3000,), generator=g)
    >>> y = 4.0 * codes[:, None] + torch.randn(3000, 2, generator=g)  # three modes
    >>> marginal = MarginalMixture(2)
    >>> marginal.fit(y)
    >>> marginal.n_components, float(marginal.log_ratio_to_gaussian(y).mean()) > 0.3
    (3, True)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mist_reg.nn.references.held_out import best_in_order, two_fold_halves
from mist_reg.nn.references.mixture import COMPONENT_CANDIDATES, FINAL_RESTARTS, max_components
from mist_reg.nn.references.mixture_em import GaussianMixtureFit, fit_gaussian_mixture, mixture_log_density

__all__ = ["MarginalMixture"]


def _parts(fit: GaussianMixtureFit) -> tuple[Tensor, Tensor, Tensor]:
    return fit.log_weights, fit.means, fit.covariances


_FITTED = ("center", "scale") + tuple(
    f"{model}_{part}" for model in ("gaussian", "mixture") for part in ("log_weights", "means", "covariances")
)


class MarginalMixture(nn.Module):
    r"""A Gaussian mixture of ``dim`` columns and the Gaussian of the same columns (see the
    module documentation), fitted in standardised units by :meth:`fit`.

    What :meth:`fit` chose and fitted is held in float64 buffers (the standardisation, and
    both models' weights, means and covariances), so it travels in the ``state_dict``: a
    module built with the same ``dim`` takes the saved number of components on loading.

    Arguments:
        dim: The number of columns.
        covariance_floor: Added to the diagonal of every component covariance (standardised units).

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> y = torch.cat([torch.randn(500, 1, generator=g) - 4, torch.randn(500, 1, generator=g) + 4])
        >>> fitted = MarginalMixture(1)
        >>> fitted.fit(y)
        >>> restored = MarginalMixture(1)
        >>> _ = restored.load_state_dict(fitted.state_dict())
        >>> restored.n_components, torch.equal(restored.log_ratio_to_gaussian(y), fitted.log_ratio_to_gaussian(y))
        (2, True)
    """

    def __init__(self, dim: int, covariance_floor: float = 1e-3) -> None:
        super().__init__()
        self.dim, self.covariance_floor = dim, covariance_floor
        for name in _FITTED:
            self.register_buffer(name, torch.zeros(0, dtype=torch.float64))

    @property
    def n_components(self) -> int:
        r"""The number of mixture components chosen by :meth:`fit` (``1`` before it)."""
        return max(len(self.mixture_log_weights), 1)

    @torch.no_grad()
    def fit(self, z: Tensor) -> None:
        r"""Fits the Gaussian and chooses and fits the mixture on rows ``z: [N, dim]`` (float64 maths).

        Example:
            >>> import torch
            >>> marginal = MarginalMixture(2)
            >>> marginal.fit(torch.randn(1000, 2, generator=torch.Generator().manual_seed(0)))
            >>> marginal.n_components  # one Gaussian: nothing to correct
            1
        """
        if z.dim() != 2 or z.shape[1] != self.dim:
            raise ValueError(f"MarginalMixture was built for {self.dim} columns, got shape {tuple(z.shape)}")
        z = z.detach().cpu().double()
        center, scale = z.mean(0), z.std(0).clamp_min(1e-12)
        z = (z - center) / scale
        gaussian = fit_gaussian_mixture(z, 1, self.covariance_floor)
        cap = max_components(self.dim, len(z) // 2)
        candidates = tuple(k for k in COMPONENT_CANDIDATES if k <= cap)
        folds = two_fold_halves(len(z))

        def held_out(k: int) -> float:  # the mean held-out log-likelihood, both halves
            return sum(
                float(mixture_log_density(*_parts(fit_gaussian_mixture(z[a], k, self.covariance_floor)), z[b]).mean())
                for a, b in (folds, folds[::-1])
            )

        components = best_in_order(candidates, held_out) if len(candidates) > 1 and len(z) >= 40 else 1
        mixture = (
            gaussian
            if components == 1
            else fit_gaussian_mixture(z, components, self.covariance_floor, restarts=FINAL_RESTARTS)
        )
        self.center, self.scale = center, scale
        for model, fit in (("gaussian", gaussian), ("mixture", mixture)):
            for part in ("log_weights", "means", "covariances"):
                setattr(self, f"{model}_{part}", getattr(fit, part).double().cpu())

    def log_ratio_to_gaussian(self, z: Tensor) -> Tensor:
        r"""``log m(z) - log g(z)`` per row (zero where one component was chosen)."""
        if len(self.gaussian_log_weights) == 0:
            raise RuntimeError("MarginalMixture.fit must be called first")
        if self.n_components == 1:
            return torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
        standard = (z.detach().double().to(self.center.device) - self.center) / self.scale
        ratio = mixture_log_density(*self._model("mixture"), standard) - mixture_log_density(
            *self._model("gaussian"), standard
        )
        return ratio.to(device=z.device, dtype=z.dtype)

    def _model(self, name: str) -> tuple[Tensor, Tensor, Tensor]:
        return tuple(getattr(self, f"{name}_{part}") for part in ("log_weights", "means", "covariances"))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # the number of components is chosen by fit(): take the shapes of the saved buffers
        for name in _FITTED:
            saved = state_dict.get(prefix + name)
            if saved is not None and saved.shape != getattr(self, name).shape:
                setattr(self, name, torch.empty_like(saved, device=getattr(self, name).device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, n_components={self.n_components}"
