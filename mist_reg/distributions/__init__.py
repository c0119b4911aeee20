r"""Densities for generative estimators: conditionals ``q(y | x)``, marginals ``q(y)`` and
joints ``q(x, y)``.

Built in: the conditional Gaussian (diagonal or full covariance, bounded log-variances),
the conditional categorical (for a discrete ``y``), the learned Gaussian (marginal or
joint) and :class:`BatchGaussian`, a Gaussian ``q(y | x)`` refitted in closed form on every
batch (the default density of minimising penalties, see :class:`mist_reg.MILoss`). Normalising flows come from zuko, an optional extra (``pip install
mist_reg[flows]``), imported only when a flow is built.

Any callable ``q(x)`` returning a :class:`torch.distributions.Distribution` serves as
``q(y | x)``; marginal and joint densities are called without arguments.

Example:
    >>> import torch
    >>> q = ConditionalGaussian(x_dim=2, y_dim=2, hidden_dims=[16])
    >>> x, y = torch.randn(4, 2), torch.randn(4, 2)
    >>> log_prob(q, x, y).shape, pairwise_log_prob(q, x, y).shape
    (torch.Size([4]), torch.Size([4, 4]))
"""

from mist_reg.distributions.batch_by_type import BatchByType
from mist_reg.distributions.batch_gaussian import BatchGaussian
from mist_reg.distributions.batch_kernel import BatchKernel
from mist_reg.distributions.conditional_categorical import ConditionalCategorical
from mist_reg.distributions.conditional_gaussian import COVARIANCES, ConditionalGaussian
from mist_reg.distributions.ensemble import ConditionalEnsemble
from mist_reg.distributions.factory import (
    CONDITIONAL_DENSITIES,
    MARGINAL_DENSITIES,
    conditional_density,
    marginal_density,
)
from mist_reg.distributions.flows import FLOW_KINDS, conditional_flow, joint_flow, marginal_flow, require_zuko
from mist_reg.distributions.gaussian import LearnedGaussian
from mist_reg.distributions.log_density import (
    DEFAULT_MAX_PAIRS,
    ConditionalDensity,
    as_value,
    indexed_log_prob,
    log_prob,
    marginal_log_prob,
    pairwise_log_prob,
)
from mist_reg.distributions.parametrization import bounded_log_variance

__all__ = [
    "ConditionalGaussian",
    "ConditionalEnsemble",
    "ConditionalCategorical",
    "LearnedGaussian",
    "BatchGaussian",
    "BatchKernel",
    "BatchByType",
    "conditional_flow",
    "marginal_flow",
    "joint_flow",
    "require_zuko",
    "conditional_density",
    "marginal_density",
    "CONDITIONAL_DENSITIES",
    "MARGINAL_DENSITIES",
    "COVARIANCES",
    "FLOW_KINDS",
    "ConditionalDensity",
    "DEFAULT_MAX_PAIRS",
    "as_value",
    "log_prob",
    "marginal_log_prob",
    "pairwise_log_prob",
    "indexed_log_prob",
    "bounded_log_variance",
]
