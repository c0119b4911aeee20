r"""The closed-form reference as an estimate of its own: :class:`ReferenceModelMI`.

A closed-form reference critic (:class:`~mist_reg.nn.references.gaussian.GaussianLogRatio`,
:class:`~mist_reg.nn.references.student_t.StudentTLogRatio`) is the log density ratio
``r(x, y) = log q(x, y) - log q(x) - log q(y)`` of a normalised model ``q`` fitted to
training samples. Its mean over held-out pairs,

``R = mean_i r(x_i, y_i)``,

is the mutual information of the model scored on fresh data. A trained critic ``f`` is
reported through the Donsker-Varadhan form ``mean_i f(x_i, y_i) - log mean_{i != j}
exp f(x_i, y_j)``, whose partition term is a Monte Carlo mean over negative pairs; ``R`` has
no such term, because ``q`` is normalised in closed form. That is what it is for: at an MI
of many nats a few thousand samples hold no negative pair where ``exp f`` is large, the
Monte Carlo partition is decided by one or two pairs, and the Donsker-Varadhan value is off
by nats either way, while ``R`` stays within its sampling error
(:mod:`mist_reg.estimation.reference_model_choice` decides when).

``R`` is a held-out quantity, not a bound in general: it is the Donsker-Varadhan bound of
``r`` with the partition term at its closed-form value 0, which is exact only when the
marginals of ``q`` are those of the data. Its ``bound`` is therefore ``None``. With
``marginal_side``, that side's Gaussian marginal in ``r = log q(y | x) - log q(y)`` is replaced
by a Gaussian mixture of its columns where one fits them better on held-out halves
(:class:`~mist_reg.nn.references.marginal_mixture.MarginalMixture`): a Gaussian marginal
overstates the MI by its divergence from the data's (mixed columns, where ``y`` is a mixture
over the codes of ``x``).

Example:
    >>> import torch
    >>> from mist_reg.nn.references.gaussian import GaussianLogRatio
    >>> from mist_reg.tasks import get_task
    >>> task = get_task("gaussian-5x5")
    >>> x, y = task.sample(4000, seed=0)
    >>> estimator = ReferenceModelMI(GaussianLogRatio(5, 5))
    >>> estimator.initialize(x[:3000], y[:3000])
    >>> value = float(estimator.mutual_information(x[3000:], y[3000:]))
    >>> abs(value - task.mutual_information) < 0.1
    True
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from torch import Tensor

from mist_reg.estimators.base import BoundDirection, MIEstimator
from mist_reg.functional.bounds import BoundTerms
from mist_reg.nn.critic import Critic
from mist_reg.nn.references.marginal_mixture import MarginalMixture

__all__ = ["ReferenceModelMI"]


class ReferenceModelMI(MIEstimator):
    r"""The mean held-out log-ratio of a closed-form reference (see the module documentation).

    Nothing is trained: :meth:`initialize` fits the reference (its ``fit_data``) and
    :meth:`terms` returns ``r(x_i, y_i)`` per sample, with no partition term.

    Arguments:
        reference: A critic with a ``fit_data(x, y)`` method that makes it the log density
            ratio of a normalised model (a Gaussian or Student-t copula reference).
        marginal_side: ``"x"`` or ``"y"``: the side (of continuous columns only) whose
            marginal a mixture may model (see the module documentation); ``None``: none.
    """

    bound: ClassVar[BoundDirection] = None

    def __init__(self, reference: Critic, marginal_side: Literal["x", "y"] | None = None) -> None:
        super().__init__()
        if not callable(getattr(reference, "fit_data", None)):
            raise TypeError(
                f"reference must be a closed-form reference with a fit_data method, got {type(reference).__name__}"
            )
        if marginal_side not in (None, "x", "y"):
            raise ValueError(f"marginal_side must be 'x', 'y' or None, got {marginal_side!r}")
        self.reference, self.marginal_side = reference, marginal_side
        self.marginal: MarginalMixture | None = None

    @torch.no_grad()
    def fit_data(self, x: Tensor, y: Tensor) -> None:
        r"""Fits the mixture of the ``marginal_side`` (the reference fits itself).

        Example:
            >>> from mist_reg.nn.references.gaussian import GaussianLogRatio
            >>> g = torch.Generator().manual_seed(0)
            >>> codes = torch.randint(0, 3, (2000,), generator=g)
            >>> x = torch.nn.functional.one_hot(codes, 3).float()
            >>> y = 4.0 * codes[:, None].float() + torch.randn(2000, 2, generator=g)  # a mixture over the codes
            >>> model = ReferenceModelMI(GaussianLogRatio(3, 2), marginal_side="y")
            >>> model.fit_data(x, y)
            >>> model.marginal.n_components > 1
            True
        """
        if self.marginal_side is not None:
            side = x if self.marginal_side == "x" else y
            self.marginal = MarginalMixture(side.shape[1])
            self.marginal.fit(side)

    def terms(self, x: Tensor, y: Tensor) -> BoundTerms:
        r"""``r(x_i, y_i)`` for every pair, less the marginal's log-ratio of mixture to
        Gaussian where a mixture was fitted: their mean is the estimate."""
        values = self.reference(x, y)
        if self.marginal is not None:
            side = x if self.marginal_side == "x" else y
            values = values - self.marginal.log_ratio_to_gaussian(side).to(values.dtype)
        return BoundTerms(values)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # the marginal mixture is built by fit_data(): build it where the saved state holds one
        center = state_dict.get(prefix + "marginal.center")
        if center is not None and self.marginal is None:
            self.marginal = MarginalMixture(center.shape[0])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"bound=None, reference={type(self.reference).__name__}, marginal_side={self.marginal_side}"
