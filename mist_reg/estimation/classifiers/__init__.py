r"""Classifiers ``q(y | x)`` of a class label for :func:`mist_reg.estimation.label_estimate.label_mi`:
cheap models written in torch, each choosing its hyperparameters and one temperature on
validation rows (:mod:`.base`): a shared-covariance Gaussian (:mod:`.gaussian`), one covariance
per class (:mod:`.quadratic`, where every class has more rows than features), multinomial
logistic regression (:mod:`.logistic`), a small MLP (:mod:`.mlp`), for few features the
k-nearest-neighbour classifier (:mod:`.neighbours`), where they are cheap, gradient-boosted
trees (:mod:`.trees`), and for a label of ordered numeric values the ordered probit
(:mod:`.ordinal`).

Example:
    >>> import torch
    >>> labels = torch.randint(0, 3, (300,))
    >>> [type(c).__name__ for c in default_classifiers(labels, n_features=200, n_classes=3)]
    ['SharedCovarianceGaussian', 'LogisticRegression', 'MLPClassifier']
    >>> [c.name for c in default_classifiers(labels, n_features=20, n_classes=3)]
    ['lda', 'qda', 'logistic', 'mlp', 'trees']
"""

from __future__ import annotations

from torch import Tensor

from mist_reg.estimation.classifiers.base import LabelClassifier, class_log_frequencies, fit_inverse_temperature
from mist_reg.estimation.classifiers.gaussian import SharedCovarianceGaussian
from mist_reg.estimation.classifiers.gaussianized import GaussianizedLDA
from mist_reg.estimation.classifiers.logistic import LogisticRegression
from mist_reg.estimation.classifiers.mlp import MLPClassifier
from mist_reg.estimation.classifiers.neighbours import NearestNeighbourClassifier, offered
from mist_reg.estimation.classifiers.ordinal import OrderedProbit
from mist_reg.estimation.classifiers.ordinal import offered as ordered_offered
from mist_reg.estimation.classifiers.quadratic import ClassCovarianceGaussian, quadratic_fits
from mist_reg.estimation.classifiers.trees import BoostedTrees
from mist_reg.estimation.classifiers.trees import offered as trees_offered

__all__ = [
    "LabelClassifier",
    "SharedCovarianceGaussian",
    "GaussianizedLDA",
    "ClassCovarianceGaussian",
    "LogisticRegression",
    "MLPClassifier",
    "NearestNeighbourClassifier",
    "OrderedProbit",
    "BoostedTrees",
    "class_log_frequencies",
    "fit_inverse_temperature",
    "default_classifiers",
]


def default_classifiers(
    labels: Tensor,
    n_features: int,
    n_classes: int,
    seed: int | None = 0,
    bent_columns: bool = False,
    ordered: bool = False,
) -> list[LabelClassifier]:
    r"""Fresh instances of the candidate families for training rows with these labels.

    Arguments:
        labels: ``[N]`` class indices of the rows that fit.
        n_features: The number of feature columns.
        n_classes: The number of classes.
        seed: Seed of the MLP's initial weights and batch order.
        bent_columns: Whether a feature column is bent
            (:func:`~mist_reg.estimation.classifiers.gaussianized.offered`): only then is LDA on
            Gaussianised columns offered.
        ordered: Whether the class indices are sorted as numeric values: only then, with three
            classes or more, is the ordered probit offered (:mod:`.ordinal`).

    Returns:
        The shared-covariance Gaussian, the same on Gaussianised columns where one is bent, the
        per-class-covariance Gaussian when every class has
        more rows than features (:func:`~mist_reg.estimation.classifiers.quadratic.quadratic_fits`),
        logistic regression, the MLP, and the nearest-neighbour classifier for few features
        and rows (:func:`~mist_reg.estimation.classifiers.neighbours.offered`), and boosted trees
        where a round of them sees few columns (:func:`~mist_reg.estimation.classifiers.trees.offered`),
        and the ordered probit for an ordered label.

    Example:
        >>> import torch
        >>> [c.name for c in default_classifiers(torch.arange(40) % 2, n_features=3, n_classes=2)]
        ['lda', 'qda', 'logistic', 'mlp', 'knn', 'trees']
    """
    quadratic = [ClassCovarianceGaussian()] if quadratic_fits(labels, n_features, n_classes) else []
    neighbours = [NearestNeighbourClassifier()] if offered(len(labels), n_features) else []
    trees = [BoostedTrees(seed=seed)] if trees_offered(n_features, n_classes) else []
    return [
        SharedCovarianceGaussian(),
        *([GaussianizedLDA()] if bent_columns else []),
        *quadratic,
        LogisticRegression(),
        MLPClassifier(seed=seed),
        *neighbours,
        *trees,
        *([OrderedProbit()] if ordered_offered(n_classes, ordered) else []),
    ]
