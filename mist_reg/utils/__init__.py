r"""Import paths of the torch_mist 0.1.5 API: ``mist_reg.utils.evaluate_mi``, ``mist_reg.utils.train``
and ``mist_reg.utils.data`` re-export :mod:`mist_reg.estimate`, :mod:`mist_reg.evaluation`,
:mod:`mist_reg.fitting` and :mod:`mist_reg.data`."""

from mist_reg.estimate import estimate_mi
from mist_reg.evaluation import evaluate_mi
from mist_reg.fitting import train_mi_estimator

__all__ = ["evaluate_mi", "train_mi_estimator", "estimate_mi"]
