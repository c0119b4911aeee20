r"""Compatibility module: the estimation pipeline that used to live here is split by concept.

* :mod:`mist_reg.estimate`: :func:`~mist_reg.estimate.estimate_mi`, the one-call estimate
  with cross-fitting;
* :mod:`mist_reg.fitting`: :func:`~mist_reg.fitting.train_mi_estimator`, its settings
  :class:`~mist_reg.fitting.FitSettings` and :class:`~mist_reg.fitting.TrainingLog`;
* :mod:`mist_reg.evaluation`: :func:`~mist_reg.evaluation.evaluate_mi`;
* :mod:`mist_reg.result`: :class:`~mist_reg.result.MIEstimate` and the statistics of its
  error bar.

Every name importable from here before still is.

Example:
    >>> from mist_reg.training import estimate_mi, MIEstimate
    >>> from mist_reg import estimate
    >>> estimate_mi is estimate.estimate_mi
    True
"""

from mist_reg.estimate import DEFAULT_ESTIMATOR, estimate_mi
from mist_reg.estimators.factories import ESTIMATION_CRITIC_DEFAULTS
from mist_reg.estimators.generative_factories import ESTIMATION_HYBRID_DEFAULTS
from mist_reg.evaluation import DEFAULT_EVAL_BATCH_SIZE, evaluate_mi
from mist_reg.fitting import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_LR,
    DEFAULT_MAX_ITERATIONS,
    FitSettings,
    TrainingLog,
    fit_data_dependent,
    train_mi_estimator,
)
from mist_reg.result import MIEstimate, normal_interval

__all__ = [
    "TrainingLog",
    "MIEstimate",
    "normal_interval",
    "train_mi_estimator",
    "evaluate_mi",
    "estimate_mi",
    "fit_data_dependent",
    "FitSettings",
    "DEFAULT_ESTIMATOR",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_EVAL_BATCH_SIZE",
    "DEFAULT_LR",
    "DEFAULT_MAX_ITERATIONS",
    "ESTIMATION_CRITIC_DEFAULTS",
    "ESTIMATION_HYBRID_DEFAULTS",
]
