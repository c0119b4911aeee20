r"""Multinomial logistic regression: ``log q(k | x) = w_k' z + b_k`` up to normalisation, on
standardised features ``z``, fitted full-batch by L-BFGS with an L2 penalty whose strength is
chosen on the validation rows: strongest first, each fit starting from the previous one, until
the validation cross-entropy rises.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> y = torch.randint(0, 3, (600,), generator=g)
    >>> x = 2.0 * torch.eye(3)[y] + torch.randn(600, 3, generator=g)
    >>> model = LogisticRegression()
    >>> ce = model.fit(x[:400], y[:400], 3, x[400:], y[400:])
    >>> ce < 1.0, model.log_probs(x[:1]).exp().sum().item() > 0.999
    (True, True)
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.functional import cross_entropy

from mist_reg.estimation.classifiers.penalised import PenalisedFit
from mist_reg.estimation.preprocessing import Standardizer

__all__ = ["LogisticRegression"]


class LogisticRegression(PenalisedFit):
    r"""Multinomial logistic regression with an L2 penalty ``strength * |W|^2 / 2`` on the mean
    cross-entropy (the bias is not penalised).

    Arguments:
        strengths: Candidate penalty strengths, tried in order with warm starts until one does worse
            on the validation rows than the one before.
        max_iter: The most L-BFGS iterations per fit.

    Attributes:
        strength: The chosen penalty strength.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(1)
        >>> y = torch.randint(0, 2, (400,), generator=g)
        >>> x = torch.randn(400, 4, generator=g) + y[:, None]
        >>> model = LogisticRegression(strengths=(0.1, 0.01))
        >>> _ = model.fit(x[:300], y[:300], 2, x[300:], y[300:])
        >>> model.name, model.strength in (0.1, 0.01)
        ('logistic', True)
    """

    name = "logistic"

    def _start(self, x: Tensor, y: Tensor) -> Tensor:
        self.standardise = Standardizer().fit(x.float())
        self.weight = torch.zeros(x.shape[1], self.n_classes, device=x.device, requires_grad=True)
        self.bias = torch.zeros(self.n_classes, device=x.device, requires_grad=True)
        return self.standardise(x.float())

    def _parameters(self) -> list[Tensor]:
        return [self.weight, self.bias]

    def _loss(self, z: Tensor, y: Tensor, strength: float) -> Tensor:
        return cross_entropy(z @ self.weight + self.bias, y) + 0.5 * strength * self.weight.square().sum()

    def _logits(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            return self.standardise(x.float()) @ self.weight + self.bias
