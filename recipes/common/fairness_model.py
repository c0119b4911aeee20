r"""The models of the fairness recipe: the data of a comparison (:class:`Task`: images or
tabular rows, with ``S`` as classes or continuous values), the encoder and head, and the
penalty of each method (:class:`MethodModel`).

Example:
    >>> sorted(METHODS)[:3], applicable("mmd", continuous=True)
    (['adversary', 'club', 'club_learned'], False)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from mist_reg import MILoss
from recipes.common.adult import TabularData
from recipes.common.adversary import AdversaryPenalty
from recipes.common.confusion import ConfusionPenalty
from recipes.common.data import ImageData, step_seed
from recipes.common.hsic import HSICPenalty
from recipes.common.mmd import MMDPenalty
from recipes.common.models import build_backbone

__all__ = ["METHODS", "MI_METHODS", "CLASS_METHODS", "Task", "MethodModel", "applicable", "encode_rows", "log_odds"]

METHODS: tuple[str, ...] = (
    "none", "mi", "gaussian", "club", "club_learned", "adversary", "confusion", "mmd", "hsic",
)  # fmt: skip
MI_METHODS: tuple[str, ...] = ("mi", "gaussian", "club", "club_learned")
CLASS_METHODS: tuple[str, ...] = ("club_learned", "adversary", "confusion", "mmd")
r"""The methods that need ``S`` as classes (a classifier of ``S`` or groups to compare)."""


def applicable(method: str, continuous: bool) -> bool:
    r"""Whether ``method`` applies to an attribute that is ``continuous`` (or classes)."""
    return not (continuous and method in CLASS_METHODS)


@dataclass
class Task:
    r"""The data of the comparison, images or tabular rows alike: the model inputs of any
    rows, the task labels, the attribute ``S`` and the number of classes of each."""

    data: ImageData | TabularData
    s_train: Tensor
    s_test: Tensor
    augment: bool = False

    @property
    def tabular(self) -> bool:
        return isinstance(self.data, TabularData)

    @property
    def num_train(self) -> int:
        return len(self.data.train_labels)

    @property
    def num_classes(self) -> int:
        return self.data.num_classes

    @property
    def continuous(self) -> bool:
        return self.s_train.is_floating_point()

    @property
    def s_classes(self) -> int:
        r"""The classes of ``S`` (``0`` for a continuous attribute)."""
        return 0 if self.continuous else int(max(self.s_train.max(), self.s_test.max())) + 1

    def inputs(self, split: str, index: Tensor | None = None) -> Tensor:
        r"""The model inputs of the rows ``index`` of ``split`` (all rows if ``None``), unaugmented."""
        if self.tabular:
            rows = self.data.train_inputs if split == "train" else self.data.test_inputs
            return rows if index is None else rows[index]
        images = self.data.train_images if split == "train" else self.data.test_images
        images = images if index is None else images[index]
        return self.data.normalize(images.float() / 255)

    def training_batch(
        self,
        index: Tensor,
        step: int,
        seed: int,
        augment: Any,
        generator: torch.Generator,
        rows: slice,
        batch_size: int,
    ) -> Tensor:
        r"""The inputs of the training batch of ``step``, images augmented with draws seeded by
        ``(seed, step)``."""
        if self.tabular or not self.augment:
            return self.inputs("train", index)
        generator.manual_seed(step_seed(seed, step))
        images = augment(self.data.train_images[index].float() / 255, generator, rows, batch_size)
        return self.data.normalize(images)


def tabular_encoder(in_features: int, hidden: Sequence[int], z_dim: int) -> nn.Sequential:
    r"""``in_features -> hidden... (ReLU) -> z_dim``: the MLP encoder of tabular rows."""
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, z_dim))
    return nn.Sequential(*layers)


def log_odds(logits: Tensor) -> Tensor:
    r"""``[N, k - 1]``: the log-odds of every class against the first, ``logits[:, 1:] -
    logits[:, :1]``. They fix the head's probabilities, and so its decision, and carry
    nothing else: the logits' common offset, which the softmax ignores, is gone.

    Example:
        >>> log_odds(torch.tensor([[1.0, 3.0], [5.0, 4.0]])).tolist()
        [[2.0], [-1.0]]
    """
    return logits[:, 1:] - logits[:, :1]


class MethodModel(nn.Module):
    r"""Encoder ``x -> Z``, a head ``Z -> label`` and the penalty of one method.

    ``forward(inputs, s)`` returns the logits and the penalty term to add to the task loss
    (``0`` for ``none``). ``weight`` sets the penalty's weight (the warm-up changes it
    between steps). The penalties:

    * ``mi``: ``MILoss(estimator, x="encoder", direction="minimize", weight=w)``, called
      as ``mi(y=s)`` with the integer attribute (``"kernel"`` by default: the leave-one-out
      kernel estimate of the batch);
    * ``gaussian``: the same with ``"gaussian"``, the closed-form information of the
      class-conditional Gaussian model of the batch;
    * ``club``: ``MILoss("club", ...)`` with its defaults, i.e. ``q(s | z)`` the kernel
      classifier of the batch (:class:`mist_reg.distributions.BatchKernel`);
    * ``club_learned``: CLUB with a learned categorical ``q(s | z)`` (2x64 MLP) trained on
      detached features, the adversarial game (its estimator is built by a first forward
      pass in the constructor, so that its parameters are in the optimiser);
    * ``adversary``: :class:`common.adversary.AdversaryPenalty` (gradient reversal);
    * ``confusion``: :class:`common.confusion.ConfusionPenalty`, whose ``q`` takes
      ``adversary_steps`` steps of its own optimiser (``q_optimizer``) per training batch;
    * ``mmd``: :class:`common.mmd.MMDPenalty` between the groups of ``S``;
    * ``hsic``: :class:`common.hsic.HSICPenalty`, for classes or continuous ``S``.

    With ``config.output_weight > 0`` every method also gets ``output_penalty``,
    ``MILoss(config.estimator, direction="minimize")`` between the head's log-odds
    (:func:`log_odds`: for two classes the margin whose sign is the decision) and ``S``:
    the penalty on ``Z`` spreads its pull over every direction of the features, and where
    the label depends on ``S`` (UCI Adult: 31% of men and 11% of women earn over 50K) the
    trace of ``S`` that costs the most task accuracy to remove, and so is removed last,
    lies along the direction the head reads: the decision then differs between groups
    (the demographic-parity gap) while readers of ``S`` stay at the majority rate (the
    label alone does not change the majority group there). This term puts the pull on
    that one direction and removes what the decision itself says
    about ``S``. Its weight is set by :meth:`set_output_weight`.
    """

    def __init__(self, config: Any, task: Task, method: str, weight: float) -> None:
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; valid choices: {', '.join(METHODS)}")
        self.method = method
        if task.tabular:
            z_dim = config.z_dim or 8
            self.encoder: nn.Module = tabular_encoder(task.data.num_features, config.hidden, z_dim)
            self.head: nn.Module = nn.Linear(z_dim, task.num_classes)
        else:
            backbone, dim = build_backbone(config.backbone, task.data.channels, task.data.image_size, config.width)
            z_dim = config.z_dim or dim
            self.encoder = nn.Sequential(backbone, nn.Linear(dim, z_dim)) if config.z_dim else nn.Sequential(backbone)
            self.head = (
                nn.Sequential(nn.ReLU(), nn.Linear(z_dim, task.num_classes))
                if config.z_dim
                else nn.Linear(z_dim, task.num_classes)
            )
        self.z_dim = z_dim
        self.output_penalty: MILoss | None = None
        if getattr(config, "output_weight", 0.0) > 0:
            self.output_penalty = MILoss(config.estimator, direction="minimize", weight=config.output_weight)
        self.q_optimizer: torch.optim.Optimizer | None = None
        self.adversary_steps = config.adversary_steps
        self.penalty: nn.Module | None = None
        if method in MI_METHODS:
            estimator, extra = {
                "mi": (config.estimator, {}),
                "gaussian": ("gaussian", {}),
                "club": ("club", {}),
                "club_learned": (
                    "club",
                    {
                        "estimator_kwargs": dict(
                            q="categorical", n_classes=task.s_classes, hidden_dims=[config.adversary_hidden] * 2
                        )
                    },
                ),
            }[method]
            self.penalty = MILoss(estimator, x="encoder", direction="minimize", weight=weight, **extra)
            self.penalty.attach(self)
            rows = torch.arange(min(64, task.num_train), device=task.s_train.device)
            with torch.no_grad():  # builds the estimator from the widths of the features (on the CPU, like the model)
                self(task.inputs("train", rows).float().cpu(), task.s_train[rows].cpu())
        elif method == "adversary":
            self.penalty = AdversaryPenalty(z_dim, task.s_classes, config.adversary_hidden, weight)
        elif method == "confusion":
            prior = torch.bincount(task.s_train.cpu(), minlength=task.s_classes).float()
            self.penalty = ConfusionPenalty(z_dim, prior, config.adversary_hidden, weight)
            self.q_optimizer = torch.optim.Adam(self.penalty.q.parameters(), lr=config.adversary_lr)
        elif method == "mmd":
            self.penalty = MMDPenalty(weight, config.mmd_bandwidths)
        elif method == "hsic":
            self.penalty = HSICPenalty(weight, config.mmd_bandwidths)

    def set_weight(self, weight: float) -> None:
        if self.penalty is not None:
            self.penalty.weight = weight

    def set_output_weight(self, weight: float) -> None:
        r"""The weight of the penalty on the head's logits (if the model has one)."""
        if self.output_penalty is not None:
            self.output_penalty.weight = weight

    def forward(self, inputs: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        logits, term = self._logits_and_term(inputs, s)
        if self.output_penalty is not None and self.training and torch.is_grad_enabled():
            term = term + self.output_penalty(x=log_odds(logits.float()), y=s)
        return logits, term

    def _logits_and_term(self, inputs: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        z = self.encoder(inputs)
        logits = self.head(z)
        if self.penalty is None:
            return logits, logits.new_zeros(()).float()
        if self.method in MI_METHODS:
            return logits, self.penalty(y=s)
        if self.method == "confusion" and self.training and torch.is_grad_enabled():
            self.penalty.fit_q(z, s, self.q_optimizer, self.adversary_steps)
        return logits, self.penalty(z, s)

    def logged(self, term: Tensor) -> dict[str, Tensor]:
        r"""The method's values worth logging after a forward pass."""
        if self.output_penalty is not None and self.output_penalty.last_estimate is not None:
            return {**self._logged(term), "output_mi_estimate": self.output_penalty.last_estimate}
        return self._logged(term)

    def _logged(self, term: Tensor) -> dict[str, Tensor]:
        if self.method in MI_METHODS:
            return {"mi_estimate": self.penalty.last_estimate}
        if self.method == "adversary":
            return {"adversary_ce": term.detach()}
        if self.method == "confusion":
            return {"penalty": term.detach(), "q_ce": self.penalty.last_q_loss}
        if self.method in ("mmd", "hsic"):
            return {"penalty": term.detach()}
        return {}


@torch.no_grad()
def encode_rows(
    model: MethodModel, task: Task, split: str, index: Tensor | None = None, batch_size: int = 2048
) -> Tensor:
    r"""The features ``Z`` of rows of ``split`` (all if ``index`` is ``None``), in evaluation mode."""
    was_training = model.training
    model.eval()
    n = (task.num_train if split == "train" else len(task.s_test)) if index is None else len(index)
    device = next(model.parameters()).device
    rows = torch.arange(n, device=device) if index is None else index
    z = torch.cat(
        [model.encoder(task.inputs(split, rows[i : i + batch_size])).float() for i in range(0, n, batch_size)]
    )
    model.train(was_training)
    return z
