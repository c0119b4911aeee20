r"""Mutual-information estimators: classes (``MINE``, ``InfoNCE``, ...) and lower-case
factories (``mine``, ``infonce``, ...) that build them from dimensions."""

from mist_reg.estimators.base import MIEstimator
from mist_reg.estimators.discriminative import (
    FLO,
    JS,
    MINE,
    NWJ,
    SMILE,
    TUBA,
    AlphaTUBA,
    DiscriminativeEstimator,
    InfoNCE,
)
from mist_reg.estimators.factories import (
    ESTIMATORS,
    alpha_tuba,
    flo,
    infonce,
    instantiate_estimator,
    js,
    list_estimators,
    mine,
    nwj,
    register_estimator,
    smile,
    tuba,
)

MutualInformationEstimator = MIEstimator

__all__ = [
    "MIEstimator",
    "MutualInformationEstimator",
    "DiscriminativeEstimator",
    "NWJ",
    "MINE",
    "InfoNCE",
    "TUBA",
    "AlphaTUBA",
    "JS",
    "SMILE",
    "FLO",
    "ESTIMATORS",
    "register_estimator",
    "instantiate_estimator",
    "list_estimators",
    "nwj",
    "mine",
    "infonce",
    "tuba",
    "alpha_tuba",
    "js",
    "smile",
    "flo",
]
