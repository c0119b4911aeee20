r"""How :class:`~mist_reg.MILoss` reads a ``y`` given at call time (a sensitive attribute,
a nuisance, labels): :func:`read_attribute`.

* ``"auto"`` (the default): by the dtype. An integer or boolean ``y`` holds classes (``[N]``
  or ``[N, 1]``; ``[N, k]`` is the joint class of ``k`` attributes, numbered in the order of
  first appearance); a floating-point ``y``
  holds continuous values (``[N]`` or ``[N, k]``: several attributes at once). A float
  ``y`` that looks like a label (one column of a few whole values) is read as values, with
  a warning that names the override.
* ``"classes"``: class codes of any kind (whole floats, ``{1990, 1991}``) as indices.
* ``"values"``: continuous values (an integer age becomes float32).

Example:
    >>> import torch
    >>> read_attribute(torch.tensor([[0, 1], [1, 1], [0, 1]]), "auto")   # two attributes: joint classes
    tensor([0, 1, 0])
    >>> read_attribute(torch.tensor([1990.0, 1991.0, 1990.0]), "classes")
    tensor([0, 1, 0])
    >>> read_attribute(torch.tensor([30, 41]), "values")
    tensor([[30.],
            [41.]])
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from mist_reg.distributions.batch_gaussian import class_indices

__all__ = ["AttributeKind", "read_attribute", "looks_like_labels", "ATTRIBUTE_KINDS"]

AttributeKind = Literal["auto", "classes", "values"]
ATTRIBUTE_KINDS: tuple[str, ...] = ("auto", "classes", "values")

LABEL_LIKE_VALUES = 10
r"""A one-column float ``y`` with at most this many distinct whole values looks like a label."""


def looks_like_labels(y: Tensor) -> bool:
    r"""Whether a floating-point ``y`` is one column of at most :data:`LABEL_LIKE_VALUES`
    distinct whole values (reads the values: call it once, not in every step).

    Example:
        >>> looks_like_labels(torch.tensor([0.0, 1.0, 1.0])), looks_like_labels(torch.randn(50))
        (True, False)
    """
    if not y.is_floating_point() or not (y.dim() == 1 or (y.dim() == 2 and y.shape[1] == 1)):
        return False
    values = torch.unique(y.detach())
    return len(values) <= LABEL_LIKE_VALUES and bool((values == values.round()).all())


def _joint_classes(y: Tensor) -> Tensor:
    if y.dim() == 1:
        return y.long()
    if y.dim() == 2 and y.shape[1] == 1:
        return y[:, 0].long()
    if y.dim() != 2:
        raise ValueError(f"class-index y must be [N], [N, 1] or [N, k] (k attributes), got shape {tuple(y.shape)}")
    # the index of the first sample with the same k codes, made dense: on the device, unlike torch.unique
    first = (y[:, None, :] == y[None, :, :]).all(-1).to(torch.float32).argmax(1)
    return class_indices(first)


def read_attribute(y: Tensor, kind: AttributeKind = "auto") -> Tensor:
    r"""``y`` as the estimator reads it: ``[N]`` int64 class indices or ``[N, k]`` float values.

    Arguments:
        y: The tensor given at call time.
        kind: ``"auto"``, ``"classes"`` or ``"values"`` (see the module documentation).

    Returns:
        The class indices (joint over columns for ``[N, k]`` classes), or the values as
        ``[N, k]`` (float32 for an integer input).

    Raises:
        ValueError: On an unknown ``kind``, fractional values read as classes, or a shape
            other than ``[N]`` / ``[N, k]``.

    Example:
        >>> read_attribute(torch.tensor([0.5, 1.0]), "classes")
        Traceback (most recent call last):
        ...
        ValueError: y holds fractional values (such as 0.5) but is read as classes; pass kind 'values' (continuous) or whole class codes
    """
    if kind not in ATTRIBUTE_KINDS:
        raise ValueError(f"the kind of y must be one of {', '.join(ATTRIBUTE_KINDS)}, got {kind!r}")
    if y.dtype == torch.bool:
        y = y.long()
    if kind == "auto":
        if not y.is_floating_point():  # class indices as given (no host synchronisation), or joint classes
            return _joint_classes(y) if y.dim() == 2 and y.shape[1] > 1 else y
        kind = "values"
    if kind == "values":
        y = y if y.is_floating_point() else y.float()
        return y[:, None] if y.dim() == 1 else y
    if y.is_floating_point():
        fractional = y[y != y.round()]
        if fractional.numel():
            raise ValueError(
                f"y holds fractional values (such as {float(fractional[0]):g}) but is read as classes; "
                "pass kind 'values' (continuous) or whole class codes"
            )
        y = y.long()
    labels = _joint_classes(y)
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= len(labels)):
        labels = torch.unique(labels, return_inverse=True)[1]  # codes such as {1990, 1991} or {-1, 1}
    return labels
