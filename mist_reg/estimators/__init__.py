r"""Mutual-information estimators: the contract (:mod:`~mist_reg.estimators.base`), classes
(``MINE``, ``InfoNCE``, ``CLUB``, ...), lower-case factories (``mine``, ``infonce``,
``club``, ...) that build them from dimensions, and the registry of names
(:mod:`~mist_reg.estimators.registry`)."""

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
    alpha_tuba,
    flo,
    infonce,
    js,
    mine,
    nwj,
    smile,
    tuba,
)
from mist_reg.estimators.gaussian_model import GaussianMI, gaussian
from mist_reg.estimators.generative import BA, GM, DoE, GenerativeEstimator, ba, doe, gm
from mist_reg.estimators.hybrid import DensityRatioCritic, GenerativeHybrid, PQHybrid, gaussian_hybrid, pq_hybrid
from mist_reg.estimators.kernel import KernelMI
from mist_reg.estimators.quantized import PQ, Binned, binned, pq
from mist_reg.estimators.registry import (
    ESTIMATORS,
    REGISTRY,
    EstimatorEntry,
    get_entry,
    instantiate_estimator,
    list_estimators,
    register_estimator,
)
from mist_reg.estimators.upper_bounds import CLUB, L1OUT, club, l1out

MutualInformationEstimator = MIEstimator  # compatibility alias of the torch_mist 0.1.5 API (see mist_reg.utils)

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
    "GenerativeEstimator",
    "BA",
    "DoE",
    "GM",
    "L1OUT",
    "CLUB",
    "GaussianMI",
    "KernelMI",
    "Binned",
    "PQ",
    "PQHybrid",
    "GenerativeHybrid",
    "DensityRatioCritic",
    "ESTIMATORS",
    "REGISTRY",
    "EstimatorEntry",
    "get_entry",
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
    "ba",
    "doe",
    "gm",
    "l1out",
    "club",
    "binned",
    "pq",
    "pq_hybrid",
    "gaussian_hybrid",
    "gaussian",
]
