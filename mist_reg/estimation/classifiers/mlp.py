r"""A small multi-layer perceptron classifier (standardised features, ReLU hidden layers), trained
by Adam on mini-batches and stopped early at the epoch of least validation cross-entropy, whose
weights are kept. It is not refitted on the validation rows, since they chose its stopping epoch.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(800, 2, generator=g)
    >>> y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long()  # XOR: no linear rule does better than chance
    >>> model = MLPClassifier(seed=0)
    >>> model.fit(x[:600], y[:600], 2, x[600:], y[600:]) < 0.4
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn.functional import cross_entropy

from mist_reg.estimation.classifiers.base import LabelClassifier
from mist_reg.estimation.preprocessing import Standardizer
from mist_reg.nn.mlp import mlp

__all__ = ["MLPClassifier"]


class MLPClassifier(LabelClassifier):
    r"""An MLP ``x -> hidden_dims -> K`` logits with early stopping on validation cross-entropy.

    Arguments:
        hidden_dims: Widths of the hidden layers.
        learning_rate: Adam's step size.
        weight_decay: Decoupled weight decay (AdamW).
        batch_size: Rows per step.
        max_epochs: The most passes over the training rows.
        patience: Epochs without a better validation cross-entropy before stopping.
        seed: Seed of the initial weights and of the batch order (``None``: torch's global state).

    Attributes:
        best_epoch: The epoch whose weights were kept (1-based).

    Example:
        >>> model = MLPClassifier(hidden_dims=(16,), max_epochs=3, seed=0)
        >>> x, y = torch.randn(64, 3), torch.randint(0, 2, (64,))
        >>> _ = model.fit(x[:48], y[:48], 2, x[48:], y[48:])
        >>> 1 <= model.best_epoch <= 3
        True
    """

    name = "mlp"
    refits = False

    def __init__(
        self,
        hidden_dims: Sequence[int] = (128,),
        learning_rate: float = 3e-3,
        weight_decay: float = 1e-3,
        batch_size: int = 128,
        max_epochs: int = 60,
        patience: int = 4,
        seed: int | None = 0,
    ) -> None:
        super().__init__()
        self.hidden_dims, self.learning_rate, self.weight_decay = tuple(hidden_dims), learning_rate, weight_decay
        self.batch_size, self.max_epochs, self.patience, self.seed = batch_size, max_epochs, patience, seed
        self.best_epoch = 0

    def _fit(self, x: Tensor, y: Tensor, x_valid: Tensor, y_valid: Tensor) -> Tensor:
        self.standardise = Standardizer().fit(x.float())
        z, z_valid = self.standardise(x.float()), self.standardise(x_valid.float())
        generator = torch.Generator().manual_seed(self.seed) if self.seed is not None else None
        with torch.random.fork_rng(devices=[]):
            if self.seed is not None:
                torch.manual_seed(self.seed)
            self.net = mlp(z.shape[1], list(self.hidden_dims), self.n_classes).to(z.device)
        optimiser = torch.optim.AdamW(
            self.net.parameters(),
            lr=self.learning_rate,
            weight_decay=self.weight_decay,
            fused=z.device.type in ("cpu", "cuda"),  # one kernel for all parameters: the loop is most of a small step
        )
        best_score, best_state, waited = float("inf"), None, 0
        for epoch in range(1, self.max_epochs + 1):
            self.net.train()
            for rows in torch.randperm(len(z), generator=generator).to(z.device).split(self.batch_size):
                optimiser.zero_grad()
                cross_entropy(self.net(z[rows]), y[rows]).backward()
                optimiser.step()
            self.net.eval()
            with torch.no_grad():
                score = float(cross_entropy(self.net(z_valid), y_valid))
            if score < best_score:
                best_score, waited, self.best_epoch = score, 0, epoch
                best_state = {k: v.clone() for k, v in self.net.state_dict().items()}
            else:
                waited += 1
                if waited >= self.patience:
                    break
        self.net.load_state_dict(best_state)
        return self._logits(x_valid)

    def _logits(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            return self.net(self.standardise(x.float()))
