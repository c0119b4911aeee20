r"""The confusion loss: an encoder pushes a fitted ``q(s | z)`` towards the prior of ``S``.

Following the "confusion" objectives of adversarial representation learning (Tzeng et
al., "Simultaneous Deep Transfer Across Domains and Tasks", ICCV 2015; Alvi et al.,
"Turning a Blind Eye", ECCV Workshops 2018): instead of *maximising* the adversary's
loss, as a gradient-reversal layer does (which rewards the encoder for making the
adversary confidently wrong), the encoder minimises the cross-entropy between the prior
``p(s)`` and the adversary's prediction,

    ``L_conf = - E_z sum_s p(s) log q(s | z)``,

which is smallest when ``q(s | z) = p(s)`` for every ``z``: the adversary is made
uncertain, not wrong. The adversary ``q`` (a 2x64 MLP) is fitted by maximum likelihood on
*detached* features, with ``steps`` steps of its own optimiser per batch, so it keeps up
with the encoder; the encoder's term is computed with ``q``'s parameters frozen.

Example:
    >>> penalty = ConfusionPenalty(8, prior=torch.tensor([0.7, 0.3]), weight=1.0)
    >>> optimizer = torch.optim.Adam(penalty.q.parameters(), lr=1e-3)
    >>> z, s = torch.randn(64, 8, requires_grad=True), torch.randint(0, 2, (64,))
    >>> penalty.fit_q(z, s, optimizer, steps=5)     # the adversary's steps
    >>> term = penalty(z, s)                        # the encoder's term
    >>> term.backward()
    >>> all(p.grad is None for p in penalty.q.parameters()), z.grad.shape
    (True, torch.Size([64, 8]))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from .adversary import classifier

__all__ = ["ConfusionPenalty"]


class ConfusionPenalty(nn.Module):
    r"""A fitted ``q(s | z)`` and the encoder's confusion term (see the module documentation).

    Arguments:
        z_dim: Width of the features.
        prior: ``[K]`` class frequencies of ``S`` (from the training rows).
        hidden: Hidden width of ``q`` (two layers).
        weight: The weight of the encoder's term (may change between steps).
    """

    def __init__(self, z_dim: int, prior: Tensor, hidden: int = 64, weight: float = 1.0) -> None:
        super().__init__()
        prior = torch.as_tensor(prior, dtype=torch.float32)
        if prior.dim() != 1 or len(prior) < 2 or (prior < 0).any() or float(prior.sum()) <= 0:
            raise ValueError(f"prior must be a vector of at least two non-negative frequencies, got {prior}")
        self.register_buffer("prior", prior / prior.sum())
        self.q = classifier(z_dim, len(prior), hidden)
        self.weight = float(weight)
        self.last_q_loss: Tensor | None = None
        r"""The cross-entropy of ``q`` on the batch after its latest fitting steps."""

    def fit_q(self, z: Tensor, s: Tensor, optimizer: torch.optim.Optimizer, steps: int) -> None:
        r"""``steps`` steps of ``optimizer`` on ``q``'s cross-entropy, on detached ``z``; the
        gradients of the other parameters are untouched."""
        z = z.detach().float()
        params = [p for p in self.q.parameters()]
        with torch.enable_grad():
            for _ in range(steps):
                loss = F.cross_entropy(self.q(z), s)
                grads = torch.autograd.grad(loss, params)
                for p, g in zip(params, grads):
                    p.grad = g
                optimizer.step()
                for p in params:
                    p.grad = None
                self.last_q_loss = loss.detach()

    def forward(self, z: Tensor, s: Tensor | None = None) -> Tensor:
        r"""``weight * CE(prior, q(s | z))`` averaged over the batch, with ``q`` frozen."""
        frozen = {name: p.detach() for name, p in self.q.named_parameters()}
        log_q = F.log_softmax(functional_call(self.q, frozen, (z.float(),)), dim=1)
        return -self.weight * (log_q * self.prior).sum(1).mean()
