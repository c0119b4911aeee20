r"""Import paths of the torch_mist 0.1.5 API: ``mist_reg.utils.evaluate_mi``, ``mist_reg.utils.train``
and ``mist_reg.utils.data`` re-export :mod:`mist_reg.training` and :mod:`mist_reg.data`."""

from mist_reg.training import estimate_mi, evaluate_mi, train_mi_estimator

__all__ = ["evaluate_mi", "train_mi_estimator", "estimate_mi"]
