r"""Seed import path: ``from mist_reg.utils.train import train_mi_estimator``."""

from mist_reg.fitting import TrainingLog, train_mi_estimator

__all__ = ["train_mi_estimator", "TrainingLog"]
