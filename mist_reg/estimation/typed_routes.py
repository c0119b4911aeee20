r"""The models :func:`mist_reg.estimate_mi` chooses by column type (:func:`discrete_route`),
before any critic is trained:

* **both sides categorical** (every column discrete, few joint values;
  :attr:`~mist_reg.estimation.column_types.SideTypes.categorical`): the Miller-Madow-corrected
  plug-in of the counts (:func:`~mist_reg.estimation.discrete_estimate.plugin_mi`), on every
  sample: nothing is trained, and the counts are the exact model of a discrete pair;
* **one side categorical** (class labels, the other side features; also a single discrete
  column with 2-10 rows per class against a side with continuous columns, e.g. 1,000 classes
  of five rows, :attr:`~mist_reg.estimation.column_types.SideTypes.label_column`): ``H(Y) - H(Y | X)`` with
  ``H(Y | X)`` the held-out cross-entropy of a classifier chosen on validation
  (:func:`~mist_reg.estimation.label_estimate.label_mi`); when ``x`` is the categorical side
  the roles swap (MI is symmetric). A classifier is the exact-type model of a label: it
  never treats a class index as a number, and its held-out cross-entropy bounds ``H(Y|X)``
  from above whatever it gets wrong;
* otherwise ``None``: the trained critic path of :func:`~mist_reg.estimation.estimate.estimate_mi`
  (discrete columns of a mixed side enter it as indicator columns).

Example:
    >>> import torch
    >>> from mist_reg.estimation.typed_pair import read_pair
    >>> x = torch.randint(0, 3, (600,))
    >>> pair = read_pair(x, (x + torch.randint(0, 2, (600,))) % 3)
    >>> discrete_route(pair, test_percentage=0.3, n_folds=None, confidence=0.95, seed=0).estimator_name
    'plug-in'
"""

from __future__ import annotations

import torch

from mist_reg.estimation.discrete_estimate import plugin_mi
from mist_reg.estimation.label_estimate import label_mi
from mist_reg.estimation.result import MIEstimate
from mist_reg.estimation.typed_pair import TypedPair

__all__ = ["discrete_route"]


def discrete_route(
    pair: TypedPair,
    test_percentage: float,
    n_folds: int | None,
    confidence: float,
    seed: int | None,
    device: torch.device | None = None,
    verbose: bool = False,
) -> MIEstimate | None:
    r"""The estimate of a pair with a categorical side, or ``None`` when neither side is.

    Arguments:
        pair: The samples with their column types (:func:`~mist_reg.estimation.typed_pair.read_pair`).
        test_percentage: The held-out fraction for the classifier when no test rows are given.
        n_folds: Cross-fit the classifier over this many folds (``None``: label_mi's default,
            5 folds, extrapolated along the learning curve; ``test_percentage`` is then unused).
        confidence: The level of the interval.
        seed: Makes the split and the classifier's fit reproducible.
        device: Where the classifier is fitted.
        verbose: Show the classifier's progress over its folds.

    Returns:
        The :class:`~mist_reg.estimation.result.MIEstimate`, or ``None``.
    """
    x_types, y_types = pair.x_types, pair.y_types
    if x_types.categorical and y_types.categorical:
        return plugin_mi(x_types.joint, y_types.joint, confidence)
    if y_types.categorical or (y_types.label_column and x_types.continuous):
        features, labels = pair.x, y_types
    elif x_types.categorical or (x_types.label_column and y_types.continuous):
        features, labels = pair.y, x_types
    else:
        return None
    n = pair.n_train
    train_features, test_features = features[:n], (features[n:] if pair.has_test else None)
    train_labels = labels.joint[:n].to(features.device)
    test_labels = labels.joint[n:].to(features.device) if pair.has_test else None
    folds = {} if n_folds is None else {"n_folds": n_folds}  # label_mi's default: 5 folds
    return label_mi(
        train_features,
        train_labels,
        labels.n_joint,
        test_features,
        test_labels,
        test_percentage=test_percentage,
        **folds,
        confidence=confidence,
        seed=seed,
        device=device,
        verbose=verbose,
        ordered=labels.ordered,
    )
