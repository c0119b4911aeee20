r"""Import path of the torch_mist 0.1.5 API (a compatibility alias, see :mod:`mist_reg.utils`):
``from mist_reg.utils.train import train_mi_estimator``."""

from mist_reg.estimation.fitting import TrainingLog, train_mi_estimator

__all__ = ["train_mi_estimator", "TrainingLog"]
