r"""mist_reg: mutual-information estimation and MI-based regularisation for PyTorch.

Example:
    >>> from mist_reg import estimate_mi
    >>> from mist_reg.tasks import get_task
    >>> x, y = get_task("gaussian-5x5").sample(1000, seed=0)
    >>> estimate = estimate_mi(x, y, max_iterations=100)
    >>> estimate.bound
    'lower'
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type checkers and documentation tools; at run time names load on first use
    from mist_reg.estimation.data import SampleDataset
    from mist_reg.estimation.estimate import estimate_mi
    from mist_reg.estimation.evaluation import evaluate_mi
    from mist_reg.estimation.fitting import TrainingLog, train_mi_estimator
    from mist_reg.estimation.label_estimate import label_mi
    from mist_reg.estimation.result import MIEstimate
    from mist_reg.estimators import MIEstimator, instantiate_estimator, list_estimators
    from mist_reg.regularization.hooks import FeatureCapture
    from mist_reg.regularization.leakage import LeakageReport, attribute_leakage
    from mist_reg.regularization.loss import MILoss
    from mist_reg.regularization.monitor import LeakageMonitor

__version__ = "0.1.0"

__all__ = [
    "estimate_mi",
    "label_mi",
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
    "LeakageMonitor",
]

_LAZY: dict[str, str] = {
    "SampleDataset": "mist_reg.estimation.data",
    "estimate_mi": "mist_reg.estimation.estimate",
    "label_mi": "mist_reg.estimation.label_estimate",
    "evaluate_mi": "mist_reg.estimation.evaluation",
    "TrainingLog": "mist_reg.estimation.fitting",
    "train_mi_estimator": "mist_reg.estimation.fitting",
    "MIEstimate": "mist_reg.estimation.result",
    "MIEstimator": "mist_reg.estimators",
    "instantiate_estimator": "mist_reg.estimators",
    "list_estimators": "mist_reg.estimators",
    "FeatureCapture": "mist_reg.regularization.hooks",
    "LeakageReport": "mist_reg.regularization.leakage",
    "attribute_leakage": "mist_reg.regularization.leakage",
    "MILoss": "mist_reg.regularization.loss",
    "LeakageMonitor": "mist_reg.regularization.monitor",
}
_SUBPACKAGES = frozenset(
    {"checks", "labels", "functional", "nn", "distributions", "estimators", "estimation", "regularization"}
    | {"tasks", "cli", "utils", "critic"}
)


def __getattr__(name: str) -> object:
    # the public names load on first use, so that ``import mist_reg.cli`` (the console
    # entry point) stays light and can answer Ctrl-C before torch is imported
    import importlib

    module = _LAZY.get(name)
    if module is None:
        if name in _SUBPACKAGES:
            return importlib.import_module(f"mist_reg.{name}")
        raise AttributeError(f"module 'mist_reg' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
