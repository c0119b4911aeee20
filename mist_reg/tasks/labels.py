r"""Class labels from features: y is a class in ``0..K-1``, x its feature vector.

:class:`GaussianMixtureLabelTask`: ``y`` is uniform over ``K`` classes and
``x | y = k ~ N(mu_k, I_d)``, with class means drawn once from a fixed seed. The posterior
``p(k | x)`` is a softmax of ``<x, mu_k> - |mu_k|^2 / 2``, so
``I(X; Y) = H(Y) - E H(Y | X) = E_x KL(p(. | x) || uniform)``, averaged by Monte Carlo with
its standard error (``mutual_information_se``).

:class:`BentLabelTask`: the same classes seen through ``f(z W + b)``, a random linear map to
more columns followed by a monotone activation ``f`` of each: the features of a network's
last layer, with the information of the classes (an injective map keeps it).

:class:`StepLabelTask`: a binary label set by a step in two of ``d`` standard normal columns
(inside or outside a circle, or the exclusive-or of two signs), replaced by a fair coin with
probability ``flip``: the posterior is a step, and ``I = log 2 - H(flip / 2)`` exactly.

Example:
    >>> task = GaussianMixtureLabelTask(n_classes=3, dim=4, separation=3.0)
    >>> x, y = task.sample(5, seed=0)
    >>> x.dtype, y.dtype, y.shape, bool(y.max() < 3)
    (torch.float32, torch.int64, torch.Size([5, 1]), True)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mist_reg.tasks.base import Task, _check_float, _check_int
from mist_reg.tasks.monte_carlo import monte_carlo_mean, stored_truth

__all__ = ["GaussianMixtureLabelTask", "StepLabelTask", "BentLabelTask", "ACTIVATIONS", "class_means"]


def class_means(n_classes: int, dim: int, separation: float, seed: int = 0) -> Tensor:
    r"""Class means ``mu_k ~ N(0, separation^2 / (2 dim) I)``: two means lie about ``separation``
    apart whatever the dimension.

    Arguments:
        n_classes: Number of classes ``K`` (>= 2).
        dim: Feature dimension ``d``.
        separation: Typical distance between two class means, in noise standard deviations.
        seed: Seed of the draw.

    Returns:
        A float64 tensor of shape [n_classes, dim].

    Example:
        >>> class_means(4, 512, 3.0).diff(dim=0).norm(dim=1).round().tolist()
        [3.0, 3.0, 3.0]
    """
    generator = torch.Generator().manual_seed(seed)
    scale = separation / math.sqrt(2 * dim)
    return torch.randn(n_classes, dim, generator=generator, dtype=torch.float64) * scale


class GaussianMixtureLabelTask(Task):
    r"""A uniform class label ``y`` (int64, shape [n, 1]) and features ``x | y = k ~ N(mu_k, I)``.

    Arguments:
        n_classes: Number of classes ``K`` (>= 2).
        dim: Feature dimension.
        separation: Typical distance between two class means (see :func:`class_means`).
        seed: Seed of the class means.
        name: Task name (default ``"label-k{K}-d{dim}-s{separation}"``).

    Raises:
        ValueError: If ``n_classes < 2``, ``dim < 1`` or ``separation`` is not positive.

    Example:
        >>> task = GaussianMixtureLabelTask(2, 8, 0.0001)
        >>> task.mutual_information < 1e-6, task.mutual_information_se < 1e-6
        (True, True)
    """

    def __init__(self, n_classes: int, dim: int, separation: float, seed: int = 0, name: str | None = None) -> None:
        self.n_classes = _check_int(n_classes, "n_classes", minimum=2)
        dim = _check_int(dim, "dim")
        self.separation = _check_float(separation, "separation")
        if self.separation <= 0:
            raise ValueError(f"separation must be positive, got {separation}")
        self.means = class_means(self.n_classes, dim, self.separation, seed)
        key = f"label-k{self.n_classes}-d{dim}-s{self.separation:g}-seed{seed}"
        mi, se = stored_truth(key, lambda: monte_carlo_mean(self._kl_from_prior))
        name = name or f"label-k{self.n_classes}-d{dim}-s{self.separation:g}"
        desc = f"uniform label of {self.n_classes} classes, {dim}-d Gaussian features, separation {self.separation:g}"
        super().__init__(name, dim, 1, mi, desc, se)

    def _draw(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        y = torch.randint(self.n_classes, (n,), generator=generator)
        x = self.means[y] + torch.randn(n, self.means.shape[1], generator=generator, dtype=torch.float64)
        return x, y

    def posterior_log_probs(self, x: Tensor) -> Tensor:
        r"""``log p(k | x)`` for every class, shape [n, K] (float64).

        Example:
            >>> task = GaussianMixtureLabelTask(3, 2, 2.0)
            >>> round(task.posterior_log_probs(torch.zeros(1, 2)).exp().sum().item(), 12)
            1.0
        """
        means = self.means
        logits = x.to(torch.float64) @ means.T - 0.5 * means.pow(2).sum(1)
        return torch.log_softmax(logits, dim=1)

    def _kl_from_prior(self, generator: torch.Generator, n: int) -> Tensor:
        log_post = self.posterior_log_probs(self._draw(n, generator)[0])
        return math.log(self.n_classes) + (log_post.exp() * log_post).sum(1)

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        x, y = self._draw(n, generator)
        return x, y.unsqueeze(1)


_MEDIAN_RADIUS = math.sqrt(2 * math.log(2))  # P(|z| > r) = exp(-r^2 / 2) = 1/2 for z ~ N(0, I_2)


class StepLabelTask(Task):
    r"""A binary label (int64, shape [n, 1]) set by a step in two of ``dim`` standard normal
    columns, replaced by a fair coin with probability ``flip``.

    ``shape="ring"``: the side of the circle ``|(x_0, x_1)| = sqrt(2 log 2)`` (half the rows
    inside); ``shape="xor"``: whether ``x_0`` and ``x_1`` have different signs. Either way the
    side is a fair bit, ``p(y = side | x) = 1 - flip / 2``, and
    ``I(X; Y) = log 2 - H(flip / 2)`` in nats, exactly.

    Arguments:
        shape: ``"ring"`` or ``"xor"``.
        dim: Feature columns (at least 2; the others carry nothing).
        flip: The probability that a fair coin replaces the side, in ``[0, 1)``.
        name: Task name (default ``"steps-{shape}-d{dim}-f{flip}"``).

    Raises:
        ValueError: On another shape, ``dim < 2`` or ``flip`` outside ``[0, 1)``.

    Example:
        >>> task = StepLabelTask("xor", 16, 0.2)
        >>> round(task.mutual_information, 4), task.dim_x
        (0.3681, 16)
        >>> x, y = task.sample(4, seed=0)
        >>> x.shape, y.shape, y.dtype
        (torch.Size([4, 16]), torch.Size([4, 1]), torch.int64)
    """

    def __init__(self, shape: str, dim: int, flip: float, name: str | None = None) -> None:
        if shape not in ("ring", "xor"):
            raise ValueError(f"shape must be 'ring' or 'xor', got {shape!r}")
        dim = _check_int(dim, "dim", minimum=2)
        self.shape, self.flip = shape, _check_float(flip, "flip")
        if not 0.0 <= self.flip < 1.0:
            raise ValueError(f"flip must lie in [0, 1), got {flip}")
        right = 1.0 - self.flip / 2
        conditional = -(right * math.log(right) + (1 - right) * math.log(1 - right)) if right < 1 else 0.0
        name = name or f"steps-{shape}-d{dim}-f{self.flip:g}"
        desc = f"binary label from a {shape} step in 2 of {dim} normal columns, replaced by a coin with p {self.flip:g}"
        super().__init__(name, dim, 1, math.log(2) - conditional, desc)

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        x = torch.randn(n, self.dim_x, generator=generator)
        if self.shape == "ring":
            side = (x[:, :2].norm(dim=1) > _MEDIAN_RADIUS).long()
        else:
            side = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long()
        coin = torch.randint(2, (n,), generator=generator)
        y = torch.where(torch.rand(n, generator=generator) < self.flip, coin, side)
        return x, y.unsqueeze(1)


ACTIVATIONS = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softplus": torch.nn.functional.softplus,
    "cube": lambda v: v**3,
    "exp": torch.exp,
}
"""Strictly increasing maps of each coordinate for :class:`BentLabelTask`."""


class BentLabelTask(Task):
    r"""The classes of a :class:`GaussianMixtureLabelTask` seen through
    ``x = f(gain * z W + b)``: ``W`` a ``[dim, out_dim]`` Gaussian matrix scaled by
    ``1 / sqrt(dim)``, ``b`` Gaussian offsets (scale 0.5), both drawn from ``seed``, and ``f``
    an activation of :data:`ACTIVATIONS`. With ``out_dim >= dim`` the map is injective almost
    surely, so ``I(X; Y)`` is that of the classes.

    Arguments:
        n_classes: Number of classes.
        dim: Dimension of the Gaussian classes.
        separation: Typical distance between two class means.
        out_dim: Number of feature columns (at least ``dim``).
        activation: A key of :data:`ACTIVATIONS`.
        gain: Scale of ``z W`` before the activation (larger: more bent).
        seed: Seed of the class means and of ``W``, ``b``.
        name: Task name (default ``"bent-{activation}-k{K}-d{dim}-o{out_dim}-g{gain}"``).

    Raises:
        ValueError: On an unknown activation, ``out_dim < dim`` or a gain that is not positive.

    Example:
        >>> task = BentLabelTask(5, 8, 2.0, 32, "tanh", 2.0)
        >>> task.mutual_information == GaussianMixtureLabelTask(5, 8, 2.0).mutual_information
        True
        >>> x, y = task.sample(3, seed=0)
        >>> x.shape, bool(x.abs().max() < 1)
        (torch.Size([3, 32]), True)
    """

    def __init__(
        self,
        n_classes: int,
        dim: int,
        separation: float,
        out_dim: int,
        activation: str,
        gain: float = 1.0,
        seed: int = 0,
        name: str | None = None,
    ) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(ACTIVATIONS)}")
        self.classes = GaussianMixtureLabelTask(n_classes, dim, separation, seed=seed)
        out_dim = _check_int(out_dim, "out_dim", minimum=dim)
        self.activation, self.gain = activation, _check_float(gain, "gain")
        if self.gain <= 0:
            raise ValueError(f"gain must be positive (a zero gain erases the classes), got {gain}")
        generator = torch.Generator().manual_seed(seed + 1)
        self.weights = torch.randn(dim, out_dim, generator=generator, dtype=torch.float64) / math.sqrt(dim)
        self.offsets = 0.5 * torch.randn(out_dim, generator=generator, dtype=torch.float64)
        name = name or f"bent-{activation}-k{n_classes}-d{dim}-o{out_dim}-g{self.gain:g}"
        desc = f"{n_classes} Gaussian classes in {dim} dims through {activation} of a random map to {out_dim}"
        classes = self.classes
        super().__init__(name, out_dim, 1, classes.mutual_information, desc, classes.mutual_information_se)

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        z, y = self.classes._draw(n, generator)
        return ACTIVATIONS[self.activation](self.gain * z @ self.weights + self.offsets), y.unsqueeze(1)
