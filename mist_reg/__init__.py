r"""mist_reg: mutual-information estimation and MI-based regularisation for PyTorch.

Example:
    >>> from mist_reg import estimate_mi
    >>> from mist_reg.tasks import get_task
    >>> x, y = get_task("gaussian-5x5").sample(1000, seed=0)
    >>> estimate = estimate_mi(x, y, max_iterations=100)
    >>> estimate.bound
    'lower'
"""

from mist_reg.estimation.data import SampleDataset
from mist_reg.estimation.estimate import estimate_mi
from mist_reg.estimation.evaluation import evaluate_mi
from mist_reg.estimation.fitting import TrainingLog, train_mi_estimator
from mist_reg.estimation.result import MIEstimate
from mist_reg.estimators import MIEstimator, instantiate_estimator, list_estimators
from mist_reg.regularization.hooks import FeatureCapture
from mist_reg.regularization.leakage import LeakageReport, attribute_leakage
from mist_reg.regularization.loss import MILoss

__version__ = "0.1.0"

__all__ = [
    "estimate_mi",
    "train_mi_estimator",
    "evaluate_mi",
    "SampleDataset",
    "MIEstimator",
    "MIEstimate",
    "TrainingLog",
    "instantiate_estimator",
    "list_estimators",
    "MILoss",
    "FeatureCapture",
    "attribute_leakage",
    "LeakageReport",
]
