r"""The estimator contract: :class:`MIEstimator`, the base class of every mutual-information
estimator of mist_reg.

An estimator declares how it is fitted (``forward``, ``fit_by_likelihood``, ``fit_data``,
:meth:`~MIEstimator.selects_weights_by`) and how its estimate is formed (``terms``,
``mutual_information``, ``bound``, ...), so that :func:`mist_reg.estimate_mi` and
:class:`mist_reg.MILoss` ask it instead of testing its type; every entry has a default
here (the contract, entry by entry: ``docs/architecture.md``). A new estimator is one
subclass and a factory registered beside it (:mod:`~mist_reg.estimators.registry`).

Example:
    >>> import torch
    >>> from mist_reg.functional.bounds import BoundTerms
    >>> class Correlation(MIEstimator):  # a Gaussian-copula estimate, nothing to train
    ...     def terms(self, x, y):
    ...         rho = torch.corrcoef(torch.cat([x, y], 1).T)[0, 1]
    ...         return BoundTerms(-0.5 * torch.log1p(-rho**2).expand(x.shape[0]))
    >>> estimator = Correlation()
    >>> estimator.shares_objective, estimator.selects_weights_by(), estimator.needs_initialization()
    (True, 'loss', False)
    >>> x = torch.randn(1000, 1)
    >>> value = estimator.mutual_information(x, x + torch.randn(1000, 1))
    >>> bool(abs(value - 0.35) < 0.1)  # log(2) / 2
    True
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from mist_reg.checks import check_inputs
from mist_reg.functional.bounds import BoundTerms

__all__ = ["MIEstimator", "BoundDirection", "WeightSelection"]

BoundDirection = Literal["lower", "upper"] | None
WeightSelection = Literal["estimate", "loss"]


class MIEstimator(nn.Module):
    r"""Base class of every estimator (see the module documentation for the contract)."""

    bound: ClassVar[BoundDirection] = None
    r"""Which way the estimate errs: ``"lower"``, ``"upper"`` or ``None`` (no guarantee)."""

    fit_by_likelihood: ClassVar[bool] = False
    r"""``forward`` fits densities by maximum likelihood on detached inputs instead of
    being minus the estimate: the estimator and an encoder are two players, whatever the
    direction of :class:`mist_reg.MILoss`."""

    shares_objective: ClassVar[bool] = True
    r"""Whether an encoder that maximises the estimate may ascend the estimator's own
    training objective (:meth:`loss_and_estimate`), so that one evaluation trains both.
    True for the default ``forward`` (minus the estimate) and for critics trained with a
    surrogate of their bound; a subclass that overrides ``forward`` without declaring it,
    or that is fitted by likelihood, gets ``False``."""

    accepts_class_labels: ClassVar[bool] = False
    r"""Whether an integer ``y`` is read as class indices by a model of its own (a
    class-conditional density, a class kernel): :func:`mist_reg.estimate_mi` then passes a
    categorical ``y`` as class indices; other estimators get its indicator columns."""

    weight_selection: ClassVar[WeightSelection | None] = None
    r"""How validation picks the weights to keep (see :meth:`selects_weights_by`); ``None``
    decides by :attr:`bound`."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "shares_objective" not in cls.__dict__ and ("forward" in cls.__dict__ or cls.fit_by_likelihood):
            cls.shares_objective = False

    # -- how it is fitted --------------------------------------------------------------

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        r"""The training loss on a batch (minimised by :func:`mist_reg.train_mi_estimator`)."""
        return -self.mutual_information(x, y)

    def fit_data(self, x: Tensor, y: Tensor) -> None:
        r"""Initialises the estimator from training samples before training (e.g. fits a
        quantizer or a closed-form model); does nothing unless overridden. Called through
        :meth:`initialize`, which also runs the hooks of sub-modules."""

    def _data_dependent_modules(self) -> list[nn.Module]:
        """This estimator and its sub-modules whose ``fit_data`` does something, in
        :meth:`torch.nn.Module.modules` order (nested estimators included once each). A
        module that is not an estimator (a closed-form reference) fits its own sub-modules:
        those are not listed again (the Student-t reference fits its Gaussian one)."""
        found, fitted_inside = [], []
        for name, module in self.named_modules():
            if any(name.startswith(prefix) for prefix in fitted_inside):
                continue
            if isinstance(module, MIEstimator):
                if type(module).fit_data is not MIEstimator.fit_data:
                    found.append(module)
            elif callable(getattr(module, "fit_data", None)):  # closed-form references
                found.append(module)
                fitted_inside.append(name + ".")
        return found

    def needs_initialization(self) -> bool:
        r"""Whether :meth:`initialize` has anything to do (if not, no training samples need
        be gathered for it)."""
        return bool(self._data_dependent_modules())

    @torch.no_grad()
    def initialize(self, x: Tensor, y: Tensor) -> None:
        r"""The data-dependent initialisation: calls ``fit_data(x, y)`` of this estimator
        and of every sub-module that has one (closed-form Gaussian references, density-ratio
        critics, the PQ part of a hybrid), each once. :func:`mist_reg.train_mi_estimator`
        calls it with the training samples; :class:`mist_reg.MILoss` does not (features
        change while the encoder trains)."""
        for module in self._data_dependent_modules():
            module.fit_data(x, y)

    def selects_weights_by(self) -> WeightSelection:
        r"""What validation keeps the weights of: ``"estimate"``, the highest validation
        estimate, or ``"loss"``, the lowest validation training loss. Unless
        :attr:`weight_selection` says otherwise, lower bounds select by the estimate and
        every other estimator by the loss (an upper bound is not improved by making it
        smaller with an untrained model)."""
        if self.weight_selection is not None:
            return self.weight_selection
        return "estimate" if self.bound == "lower" else "loss"

    # -- how the estimate is formed ----------------------------------------------------

    def terms(self, x: Tensor, y: Tensor) -> BoundTerms:
        r"""The estimate on a batch, decomposed for accumulation over many batches."""
        raise NotImplementedError

    def mutual_information(self, x: Tensor, y: Tensor) -> Tensor:
        r"""The estimate of ``I(X; Y)`` in nats on a batch: a differentiable scalar."""
        return self.terms(x, y).value()

    def loss_and_estimate(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        r"""The training loss and the estimate on a batch from one evaluation (for
        estimators that :attr:`shares_objective`; by default minus the estimate and the
        estimate)."""
        estimate = self.mutual_information(x, y)
        return -estimate, estimate

    def saturation_cap(self, batch_size: int) -> float | None:
        r"""The value the estimate can never exceed when evaluated on batches of
        ``batch_size`` (InfoNCE's ``log(M + 1)``), or ``None`` without such a cap;
        :func:`mist_reg.estimate_mi` warns when the estimate comes close to it."""
        return None

    def saturation_meaning(self) -> str:
        r"""The cap's name and what an estimate at it means, for the warning (``{cap}``: its value)."""
        return "log(M + 1) = {cap:.3f}; the true MI may be much higher (use a larger batch or another estimator)"

    def certificate_terms(self, terms: BoundTerms) -> BoundTerms | None:
        r"""A lower bound of the same critic on the same pairs as ``terms`` that the
        estimate should not fall below (the InfoNCE bound of a Donsker-Varadhan estimate),
        or ``None``. :func:`mist_reg.estimate_mi` accumulates it over the held-out data and
        reports it instead of an estimate whose partition term failed."""
        return None

    def certificate_cap(self, batch_size: int) -> float:
        r"""The largest value :meth:`certificate_terms` can take on batches of ``batch_size``."""
        return math.inf

    @staticmethod
    def check_inputs(x: Tensor, y: Tensor, min_samples: int = 1) -> None:
        r"""Raises an error naming the problem when ``x`` and ``y`` are not ``[N, d]``
        floating-point tensors with the same ``N`` (at least ``min_samples``) on one device
        (the rules of :func:`mist_reg.checks.check_inputs`)."""
        check_inputs(x, y, min_samples)

    def extra_repr(self) -> str:
        return f"bound={self.bound!r}"


def float32_scores(*scores: Tensor) -> tuple[Tensor, ...]:
    r"""Casts scores to float32: bounds are computed in full precision even under autocast
    (``logsumexp`` does not upcast bf16 and ``exp`` overflows fp16).

    Arguments:
        scores: Tensors of any dtype.

    Returns:
        The same tensors as float32.

    Example:
        >>> [s.dtype for s in float32_scores(torch.zeros(2, dtype=torch.bfloat16), torch.zeros(2))]
        [torch.float32, torch.float32]
    """
    return tuple(s.float() for s in scores)


def autocast_disabled(device: torch.device):
    r"""A context in which autocast is off on ``device``, for the bound arithmetic.

    Arguments:
        device: The device of the tensors computed inside.

    Example:
        >>> with torch.autocast("cpu", dtype=torch.bfloat16), autocast_disabled(torch.device("cpu")):
        ...     (torch.ones(2, 2) @ torch.ones(2, 2)).dtype
        torch.float32
    """
    return torch.autocast(device_type=device.type, enabled=False)
