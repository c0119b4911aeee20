r"""MINE over the mean of ``K`` critics trained as one network: :class:`AveragedMINE`.

Each member of an :class:`~mist_reg.nn.averaged_critic.AveragedCritic` ascends its own MINE
objective, with its own moving average of the partition term, on the same batches: the
loss is the sum of the members' losses, members share no parameter and Adam's update is
elementwise, so training them together is training each on its own. The estimate, on
validation and test data, is the Donsker-Varadhan bound of the members' mean, which is at
least the mean of the members' bounds (the bound is concave in the critic). Why and when
:func:`mist_reg.estimate_mi` uses it: ``docs/choosing-an-estimator.md``, step 9.

Example:
    >>> import torch
    >>> from mist_reg.nn.averaged_critic import AveragedCritic, separable_members
    >>> from mist_reg.nn.critic import separable_critic
    >>> critic = AveragedCritic(separable_members(separable_critic(1, 1, [16], marginal_terms=True), 3))
    >>> estimator = AveragedMINE(critic)
    >>> x = torch.randn(64, 1); y = x + torch.randn(64, 1)
    >>> estimator(x, y).backward()  # the sum of the three members' losses
    >>> estimator.log_ema.shape  # one moving average per member
    torch.Size([3])
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from mist_reg.estimators.base import autocast_disabled
from mist_reg.estimators.discriminative import MINE
from mist_reg.estimators.negatives import batch_scores
from mist_reg.nn.averaged_critic import AveragedCritic

__all__ = ["AveragedMINE"]


class AveragedMINE(MINE):
    r"""MINE whose critic is an :class:`~mist_reg.nn.averaged_critic.AveragedCritic`: trained
    member by member, evaluated on the members' mean (see the module documentation).

    Arguments:
        critic: The averaged critic.
        neg_samples: Negatives per row (as :class:`~mist_reg.estimators.discriminative.MINE`).
        gamma: The weight of each member's running average at each step.
    """

    reported_name: ClassVar[str] = "mine (averaged)"
    """The name :func:`mist_reg.estimate_mi` reports for it."""

    def __init__(self, critic: AveragedCritic, neg_samples: int = 0, gamma: float = 0.9) -> None:
        if not isinstance(critic, AveragedCritic):
            raise TypeError(f"AveragedMINE needs an AveragedCritic, got {type(critic).__name__}")
        super().__init__(critic, neg_samples, gamma)
        self.log_ema = torch.full((critic.n_members,), float("nan"))

    def member_scores(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        r"""Each member's positive ``[K, N]`` and negative ``[K, N, M]`` scores of a batch, in float32."""

        def positive(x: Tensor, y: Tensor) -> Tensor:
            return self.critic.member_score_pairs(x, y, torch.arange(x.shape[0], device=x.device).unsqueeze(1))[..., 0]

        self.check_inputs(x, y, min_samples=2)
        critic = self.critic
        return batch_scores(x, y, self.neg_samples, critic.member_score_matrix, critic.member_score_pairs, positive)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        r"""The sum over members of minus each one's MINE objective (see the module documentation)."""
        positive, negative = self.member_scores(x, y)
        with autocast_disabled(x.device):
            return -self.corrected_objective(positive, negative, self.log_ema).sum()

    def training_objective(self, positive: Tensor, negative: Tensor, x: Tensor, y: Tensor) -> Tensor:
        r"""The Donsker-Varadhan bound of the members' mean on these scores: the members
        are trained by :meth:`forward`, each with its own moving average, not by this."""
        return self.bound_terms(positive, negative, x, y).value()

    def loss_and_estimate(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        r"""The members' training loss (:meth:`forward`) and the bound of their mean."""
        return self.forward(x, y), self.terms(x, y).value()
