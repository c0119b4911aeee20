r"""Import paths of the torch_mist 0.1.5 API: ``mist_reg.utils.estimate_mi``,
``mist_reg.utils.evaluate_mi``, ``mist_reg.utils.train`` and ``mist_reg.utils.data``
re-export the functions and classes of :mod:`mist_reg.estimation` (other names, not second
implementations). Every compatibility alias of mist_reg is listed in one place: the
section "The ``torch_mist`` API" of ``docs/getting-started.md``.

Example:
    >>> import mist_reg.utils.train, mist_reg.utils.data
    >>> from mist_reg.estimators import MutualInformationEstimator
    >>> (MutualInformationEstimator is mist_reg.MIEstimator,
    ...  mist_reg.utils.train.train_mi_estimator is mist_reg.train_mi_estimator,
    ...  mist_reg.utils.data.SampleDataset is mist_reg.SampleDataset, mist_reg.utils.evaluate_mi is mist_reg.evaluate_mi)
    (True, True, True, True)
"""

from mist_reg.estimation.estimate import estimate_mi
from mist_reg.estimation.evaluation import evaluate_mi
from mist_reg.estimation.fitting import train_mi_estimator

__all__ = ["evaluate_mi", "train_mi_estimator", "estimate_mi"]
