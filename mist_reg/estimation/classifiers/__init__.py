r"""Classifiers ``q(y | x)`` of a class label for :func:`mist_reg.estimation.label_estimate.label_mi`:
cheap models written in torch, each choosing its hyperparameters and one temperature on
validation rows (:mod:`.base`): a shared-covariance Gaussian (:mod:`.gaussian`), multinomial
logistic regression (:mod:`.logistic`) and a small MLP (:mod:`.mlp`).

Example:
    >>> [type(c).__name__ for c in default_classifiers()]
    ['SharedCovarianceGaussian', 'LogisticRegression', 'MLPClassifier']
"""

from __future__ import annotations

from mist_reg.estimation.classifiers.base import LabelClassifier, class_log_frequencies, fit_inverse_temperature
from mist_reg.estimation.classifiers.gaussian import SharedCovarianceGaussian
from mist_reg.estimation.classifiers.logistic import LogisticRegression
from mist_reg.estimation.classifiers.mlp import MLPClassifier

__all__ = [
    "LabelClassifier",
    "SharedCovarianceGaussian",
    "LogisticRegression",
    "MLPClassifier",
    "class_log_frequencies",
    "fit_inverse_temperature",
    "default_classifiers",
]


def default_classifiers(seed: int | None = 0) -> list[LabelClassifier]:
    r"""Fresh instances of the candidate families, cheapest first.

    Arguments:
        seed: Seed of the MLP's initial weights and batch order.

    Example:
        >>> [c.name for c in default_classifiers()]
        ['lda', 'logistic', 'mlp']
    """
    return [SharedCovarianceGaussian(), LogisticRegression(), MLPClassifier(seed=seed)]
