r"""What :func:`mist_reg.estimate_mi` trains: :class:`ModelSpec`, an estimator instance or a
registered name with its arguments, built for the widths of the data.

Example:
    >>> ModelSpec("mine", {"hidden_dims": [8]}).build(x_dim=2, y_dim=1).__class__.__name__
    'MINE'
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from mist_reg.estimators.base import MIEstimator
from mist_reg.estimators.registry import get_entry

__all__ = ["ModelSpec"]


@dataclass(frozen=True)
class ModelSpec:
    """The estimator to fit: an instance, or a registered name built with the entry's
    ``estimate_defaults`` overridden by ``params``."""

    estimator: MIEstimator | str
    params: dict[str, Any]
    by_default: bool = False
    """Whether :func:`mist_reg.estimate_mi` chose it as its default (which may then report the
    closed-form reference model instead: :mod:`mist_reg.estimation.reference_model_choice`)."""
    averaged: bool = False
    """Whether a trained correction that learned is replaced by the mean of several
    (:mod:`mist_reg.estimation.critic_ensemble`): the default whose training nobody configured."""

    @property
    def name(self) -> str:
        """The registry key of a named estimator, or the class name of an instance."""
        if isinstance(self.estimator, str):
            return get_entry(self.estimator).name
        return type(self.estimator).__name__

    def accepts_class_labels(self) -> bool:
        """Whether the estimator models a class label as one (class indices as ``y``)."""
        cls = get_entry(self.estimator).cls if isinstance(self.estimator, str) else type(self.estimator)
        return bool(getattr(cls, "accepts_class_labels", False))

    def build(self, x_dim: int, y_dim: int, fresh: bool = False) -> MIEstimator:
        """The estimator for data of these widths; ``fresh``: a copy of a given instance."""
        estimator = self.estimator
        if isinstance(estimator, MIEstimator):
            if self.params:
                raise TypeError(
                    f"estimator arguments {sorted(self.params)} apply only when the estimator is given by name"
                )
            return copy.deepcopy(estimator) if fresh else estimator
        if isinstance(estimator, str):
            return get_entry(estimator).build_for_estimate(x_dim=x_dim, y_dim=y_dim, **self.params)
        raise TypeError(f"estimator must be a name or an MIEstimator, got {type(estimator).__name__}")
