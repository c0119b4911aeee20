r"""Watching how readable an attribute is during training, without training a probe:
:class:`LeakageMonitor`.

:func:`~mist_reg.attribute_leakage` trains fresh readers, which is the judgement of a
penalty but costs seconds to minutes; a penalty's own logged value is cheap but measures
only what the penalty sees on one batch, which is what the encoder was trained to lower.
The monitor sits between the two. It keeps a fixed held-out buffer of the attribute and,
when given the features of those rows, fits the leave-one-out kernel model of
:mod:`~mist_reg.distributions.batch_kernel` to the whole buffer, in one pass and with
nothing to train:

* ``mi``: the leave-one-out kernel estimate of ``I(Z; S)`` in nats, the held-out
  log-likelihood gain of the kernel classifier (or conditional density) over the marginal;
* ``accuracy`` (classes): the leave-one-out accuracy of the kernel classifier, beside
  ``chance``, the majority rate of the buffer; ``r2`` (values): the leave-one-out
  ``R^2`` of the kernel (Nadaraya-Watson) regression of the standardised attribute.

Why it tracks fresh readers where the penalty's value does not: the buffer is several
times a training batch (2,048 rows by default), so the kernel, whose width is chosen by
the leave-one-out likelihood, resolves structure that a batch of 256 cannot and that an
encoder can therefore keep from the penalty while a reader trained on thousands of rows
finds it; and every reading uses the same rows, so readings are comparable across steps
and runs. It is a nonparametric reader, consistent as the buffer grows, not a bound: judge
a final model with :func:`~mist_reg.attribute_leakage`. Measured against the strongest
fresh reader on UCI Adult: ``docs/miloss.md``.

Cost: the ``[M, M]`` kernels of the buffer at a few widths (about 20-60 ms for 2,048 rows
of 8 features on one CPU thread); reading the figures back synchronises the device, so
call it every ``every`` steps (:meth:`LeakageMonitor.due`), not every step.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> s = torch.randint(0, 2, (1000,), generator=g)
    >>> monitor = LeakageMonitor(s, every=100)
    >>> leaky = torch.randn(1000, 4, generator=g) + 1.5 * s[:, None]
    >>> reading = monitor(leaky, step=100)
    >>> reading.accuracy > 0.85 and reading.mi > 0.3, round(reading.chance, 1)
    (True, 0.5)
    >>> monitor(torch.randn(1000, 4, generator=g), step=200).mi < 0.02
    True
    >>> [r.step for r in monitor.history]
    [100, 200]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from mist_reg.distributions.batch_gaussian import class_indices
from mist_reg.distributions.batch_kernel import DEFAULT_BANDWIDTHS, KernelFit, check_kernel_settings
from mist_reg.regularization.attribute import ATTRIBUTE_KINDS, AttributeKind, read_attribute

__all__ = ["LeakageMonitor", "LeakageReading"]


@dataclass(frozen=True)
class LeakageReading:
    r"""One reading of a :class:`LeakageMonitor` (see the module documentation).

    Attributes:
        step: The training step it was taken at (``None`` if not given).
        mi: The leave-one-out kernel estimate of ``I(Z; S)`` on the buffer (nats).
        accuracy: The kernel classifier's leave-one-out accuracy (``nan`` for values).
        chance: The majority rate of the buffer's classes (``nan`` for values).
        r2: The kernel regression's leave-one-out ``R^2`` (``nan`` for classes).
        bandwidth: The kernel width chosen by leave-one-out likelihood (units of ``sqrt(d)``).
        rows: The rows of the buffer.
    """

    step: int | None
    mi: float
    accuracy: float
    chance: float
    r2: float
    bandwidth: float
    rows: int

    def as_dict(self) -> dict[str, Any]:
        r"""The reading as a plain dictionary (for a metrics log)."""
        return asdict(self)


class LeakageMonitor:
    r"""Tracks how readable an attribute is from features over training (see the module
    documentation).

    Arguments:
        attribute: The attribute of the buffer's rows: ``[M]`` class codes (any integer
            codes) or ``[M]`` / ``[M, k]`` float values, read as :class:`~mist_reg.MILoss`
            reads ``y`` (``y_kind``).
        every: Steps between readings (:meth:`due`).
        max_rows: The buffer keeps the first ``max_rows`` rows (memory grows as the square).
        bandwidths: Kernel widths in units of ``sqrt(d)``; the fit keeps the one with the
            largest leave-one-out likelihood.
        smoothing: Pseudo-samples of the marginal in every neighbourhood.
        ridge: Added to the diagonal of the correlation matrices before whitening.
        y_kind: ``"auto"``, ``"classes"`` or ``"values"`` (see :mod:`~mist_reg.regularization.attribute`).

    Example:
        >>> monitor = LeakageMonitor(torch.randn(500), every=50)
        >>> monitor.due(0), monitor.due(50), monitor.due(75)
        (False, True, False)
        >>> z = torch.randn(500, 3); z[:, 0] = monitor.attribute[:, 0]    # a copy of S
        >>> monitor(z).r2 > 0.5, monitor(torch.randn(500, 3)).r2 < 0.05
        (True, True)
    """

    def __init__(
        self,
        attribute: Tensor,
        every: int = 100,
        max_rows: int = 2048,
        bandwidths: Sequence[float] = DEFAULT_BANDWIDTHS,
        smoothing: float = 1.0,
        ridge: float = 1e-3,
        y_kind: AttributeKind = "auto",
    ) -> None:
        if not isinstance(attribute, Tensor):
            raise TypeError(f"attribute must be a torch.Tensor, got {type(attribute).__name__}")
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError(f"every must be a positive int (steps between readings), got {every!r}")
        if not isinstance(max_rows, int) or max_rows < 3:
            raise ValueError(f"max_rows must be an int of at least 3, got {max_rows!r}")
        if y_kind not in ATTRIBUTE_KINDS:
            raise ValueError(f"y_kind must be one of {', '.join(ATTRIBUTE_KINDS)}, got {y_kind!r}")
        if attribute.is_floating_point() and not bool(torch.isfinite(attribute).all()):
            raise ValueError("attribute contains NaN or infinite values; drop those rows from the buffer")
        attribute = read_attribute(attribute[:max_rows], y_kind)
        if attribute.shape[0] < 3:
            raise ValueError(f"the buffer needs at least 3 rows, got {attribute.shape[0]}")
        self.classes = not attribute.is_floating_point()
        self.attribute = class_indices(attribute) if self.classes else attribute
        self.every, self.max_rows = every, max_rows
        self.bandwidths, self.smoothing, self.ridge, _ = check_kernel_settings(bandwidths, smoothing, ridge)
        self.history: list[LeakageReading] = []
        r"""Every reading taken through :meth:`__call__`, in order."""

    def due(self, step: int) -> bool:
        r"""Whether ``step`` is a reading step (a positive multiple of ``every``)."""
        return step > 0 and step % self.every == 0

    @torch.no_grad()
    def read(self, features: Tensor, step: int | None = None) -> LeakageReading:
        r"""A reading of ``features`` (``[M, d]``, the buffer's rows in order; more rows than
        the buffer are cut to it), without recording it."""
        if not isinstance(features, Tensor) or features.dim() != 2:
            raise ValueError(
                f"features must be an [M, d] tensor of the buffer's rows, got {getattr(features, 'shape', features)}"
            )
        z = features[: self.max_rows].detach().float()
        s = self.attribute.to(z.device)
        if z.shape[0] != s.shape[0]:
            raise ValueError(
                f"features hold {z.shape[0]} rows but the buffer holds {s.shape[0]}; pass the buffer's rows"
            )
        if not bool(torch.isfinite(z).all()):
            raise ValueError("features contain NaN or infinite values")
        fit = KernelFit(z, s, self.bandwidths, self.smoothing, self.ridge)
        mi = float(fit.log_ratios().mean())
        n, alpha = fit.n, self.smoothing
        accuracy = chance = r2 = math.nan
        if self.classes:
            counts = torch.bincount(s)
            # kernel mass of each class at every row (the kernel is symmetric), with the marginal's pseudo-samples
            mass = torch.zeros(len(counts), n, dtype=z.dtype, device=z.device).index_add_(0, s, fit.kernel)
            predicted = (mass + alpha * counts[:, None].to(z.dtype) / n).argmax(0)
            accuracy = float((predicted == s).float().mean())
            chance = float(counts.max()) / n
        else:
            standard = (s - s.mean(0)) / s.std(0).clamp_min(1e-12)
            predicted = (fit.kernel @ standard) / (fit.total + alpha)[:, None]  # the marginal's mean is 0
            r2 = float(1.0 - (standard - predicted).pow(2).sum() / standard.pow(2).sum())
        bandwidth = float(fit.bandwidth[0])
        return LeakageReading(step, mi, accuracy, chance, r2, bandwidth, n)

    def __call__(self, features: Tensor, step: int | None = None) -> LeakageReading:
        r"""A reading of ``features``, appended to :attr:`history`."""
        reading = self.read(features, step)
        self.history.append(reading)
        return reading
