r"""The mean of ``K`` critics trained independently: :class:`AveragedCritic`, and
:func:`separable_members`, ``K`` copies of a separable critic's shape run as one network.

A critic trained on a few thousand samples lands on one of many fits, and two trainings
from two initialisations miss the log density ratio in different places. The
Donsker-Varadhan bound ``E_p[f] - log E_{p(x)p(y)}[exp f]`` is concave in ``f`` (a mean minus
a log-sum-exp, which is convex), so the bound of the members' mean is at least the mean of
their bounds on the same samples, and it gains further where their errors differ. The
members are trained each on its own objective (:class:`~mist_reg.estimators.averaged.AveragedMINE`)
and averaged only when scored.

:class:`AveragedCritic` adds a shared part ``base`` (a closed-form reference log-ratio,
:mod:`mist_reg.nn.references`) to the mean of the members' scores. Its members are one
:class:`~mist_reg.nn.critic.Critic` whose scores carry a leading member dimension ``[K, ...]``,
such as a :class:`~mist_reg.nn.critic.SeparableCritic` on heads made by
:func:`~mist_reg.nn.ensemble_mlp.ensemble_mlp`.

Example:
    >>> import torch
    >>> from mist_reg.nn.critic import separable_critic
    >>> members = separable_members(separable_critic(2, 3, [16], marginal_terms=True), 4)
    >>> critic = AveragedCritic(members)
    >>> x, y = torch.randn(5, 2), torch.randn(6, 3)
    >>> critic.member_score_matrix(x, y).shape, critic.score_matrix(x, y).shape
    (torch.Size([4, 5, 6]), torch.Size([5, 6]))
    >>> float(critic.score_matrix(x, y).detach().abs().max())  # the members start at zero
    0.0
"""

from __future__ import annotations

from torch import Tensor, nn

from mist_reg.nn.critic import Critic, SeparableCritic
from mist_reg.nn.ensemble_mlp import EnsembleColumnwise, EnsembleLinear, ensemble_mlp

__all__ = ["AveragedCritic", "separable_members"]


class AveragedCritic(Critic):
    r"""``f(x, y) = base(x, y) + offset + mean_k member_k(x, y)``.

    Arguments:
        members: A critic whose score matrices are ``[K, N, M]`` (one per member).
        base: A critic shared by every member (e.g. a fitted reference), or ``None``.
        offset: A constant added to every score (see
            :class:`~mist_reg.nn.references.gaussian.ResidualCritic`).
    """

    def __init__(self, members: Critic, base: Critic | None = None, offset: float = 0.0) -> None:
        super().__init__()
        self.members, self.base, self.offset = members, base, offset

    @property
    def n_members(self) -> int:
        """The number ``K`` of members (that of the members' ensemble layers)."""
        for module in self.members.modules():
            if isinstance(module, (EnsembleLinear, EnsembleColumnwise)):
                return module.members
        raise ValueError("the members of an AveragedCritic must hold ensemble layers (mist_reg.nn.ensemble_mlp)")

    def _shared(self, scores: Tensor | None) -> Tensor | float:
        return self.offset if scores is None else scores + self.offset

    def member_score_matrix(self, x: Tensor, y: Tensor) -> Tensor:
        r"""Every member's scores of every pair: ``[K, N, M]``."""
        shared = self._shared(self.base.score_matrix(x, y) if self.base is not None else None)
        return self.members.score_matrix(x, y) + shared

    def member_score_pairs(self, x: Tensor, y: Tensor, index: Tensor) -> Tensor:
        r"""Every member's scores ``f_k(x_i, y_{index[i, j]})``: ``[K, N, J]``."""
        shared = self._shared(self.base.score_pairs(x, y, index) if self.base is not None else None)
        return self.members.score_pairs(x, y, index) + shared

    def score_matrix(self, x: Tensor, y: Tensor) -> Tensor:
        shared = self._shared(self.base.score_matrix(x, y) if self.base is not None else None)
        return self.members.score_matrix(x, y).mean(0) + shared

    def score_pairs(self, x: Tensor, y: Tensor, index: Tensor) -> Tensor:
        shared = self._shared(self.base.score_pairs(x, y, index) if self.base is not None else None)
        return self.members.score_pairs(x, y, index).mean(0) + shared

    def zero_output_(self) -> None:
        self.members.zero_output_()


def _mlp_shape(head: nn.Module) -> tuple[int, list[int], int, type[nn.Module]]:
    """``(in_dim, hidden_dims, out_dim, activation)`` of an MLP made by
    :func:`mist_reg.nn.mlp.mlp` (linear layers with one kind of activation between them)."""
    layers = list(head.children()) if isinstance(head, nn.Sequential) else []
    linears = [m for m in layers if isinstance(m, nn.Linear)]
    activations = {type(m) for m in layers if not isinstance(m, nn.Linear)}
    if not linears or len(activations) > 1 or len(linears) + (len(linears) - 1) != len(layers):
        raise ValueError(
            f"separable_members needs MLP heads (nn.Sequential of nn.Linear and one activation), got {head}"
        )
    widths = [linears[0].in_features] + [m.out_features for m in linears]
    return widths[0], widths[1:-1], widths[-1], activations.pop() if activations else nn.ReLU


def separable_members(critic: SeparableCritic, members: int) -> SeparableCritic:
    r"""``members`` freshly initialised critics of ``critic``'s shape (its MLP heads, feature
    normalisation, temperature and marginal terms) run as one network
    (:func:`~mist_reg.nn.ensemble_mlp.ensemble_mlp` heads), each starting at zero output
    (:meth:`~mist_reg.nn.critic.SeparableCritic.zero_output_`): scores ``[K, N, M]``."""
    if not isinstance(critic, SeparableCritic):
        raise TypeError(f"separable_members needs a SeparableCritic, got {type(critic).__name__}")
    if not isinstance(members, int) or members < 1:
        raise ValueError(f"members must be a positive integer, got {members!r}")
    heads = []
    for head in (critic.f_x, critic.f_y):
        in_dim, hidden, out_dim, activation = _mlp_shape(head)
        heads.append(ensemble_mlp(members, in_dim, hidden, out_dim, activation))
    copy = SeparableCritic(*heads, critic.normalize, critic.temperature, critic.marginal_terms)
    copy.zero_output_()
    return copy
