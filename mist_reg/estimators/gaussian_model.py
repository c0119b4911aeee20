r"""The mutual information of the Gaussian model of the data, in closed form:
:class:`GaussianMI`, a penalty for minimising with :class:`mist_reg.MILoss` that has no adversary.

``I_G`` is the information the data would carry if they were Gaussian with their own
first two moments:

* **class-index** ``y`` (an integer tensor): ``x | y = k ~ N(mu_k, Sigma_k)`` with the
  class frequencies ``p_k`` and ``x ~ N(mu, Sigma)`` with the overall moments,
  ``I_G = 1/2 log det Sigma - sum_k p_k 1/2 log det Sigma_k``. It is an upper bound on
  ``I(X; Y)`` when the classes are Gaussian (no density of covariance ``Sigma`` has more
  entropy than the Gaussian), and zero exactly when every class has the same mean and
  covariance;
* **continuous** ``y``: ``I_G = -1/2 sum_k log(1 - rho_k^2)`` over the canonical
  correlations, exact for jointly Gaussian data.

Fitted to the batch it is evaluated on (the penalty use), the estimate is the closed form
above. After :meth:`GaussianMI.fit_data` (what :func:`mist_reg.estimate_mi` calls with
the training samples), it is the mean over held-out samples of the log-ratio of the
stored model, ``log N(x_i; mu_{y_i}, Sigma_{y_i}) - log N(x_i; mu, Sigma)`` or
``log N(x_i, y_i) - log N(x_i) - log N(y_i)``, which also gives a standard error.

As a penalty. A minimised upper bound with a learned ``q`` is a game that
the encoder wins by making ``q`` wrong (see :mod:`mist_reg.distributions.batch_gaussian`);
``I_G`` has nothing learned: it is refitted on every batch, its gradient includes how the
fit moves with the features, and every statistic is computed on standardised coordinates,
so rescaling a feature changes nothing. Compared with CLUB on the same Gaussian model
(``sum rho^2 / (1 - rho^2)`` for continuous ``y``, which grows without limit as a
relation becomes deterministic), ``I_G`` is an entropy difference that grows only
logarithmically: its gradient stays of the size of the task's. What it cannot see is
dependence beyond the first two moments of each class (or beyond linear for continuous
``y``), and an encoder under a strong penalty can move the attribute there: on UCI Adult
a fresh linear probe falls to chance while a fresh MLP probe still reads the attribute
(``docs/recipes.md``). Judge the result with :func:`mist_reg.attribute_leakage`, never
with the penalty's value.

Used by :func:`mist_reg.estimate_mi`, the model is fitted on the training samples
(``fit_data``) and evaluated on held-out samples; used as a penalty it is fitted on each
batch.

Example:
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> x = torch.randn(20000, 2); y = 0.8 * x[:, :1] + 0.6 * torch.randn(20000, 1)
    >>> round(float(GaussianMI().mutual_information(x, y)), 1)  # -1/2 log(1 - 0.64) = 0.51
    0.5
    >>> s = torch.randint(0, 2, (20000,)); z = torch.randn(20000, 3) + s[:, None]
    >>> round(float(GaussianMI().mutual_information(z, s)), 1)  # 1/2 log det(I + 11^T / 4)
    0.3
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from mist_reg.distributions.batch_gaussian import (
    ClassConditionalPosterior,
    JointGaussian,
    check_model_settings,
)
from mist_reg.estimators.base import MIEstimator, autocast_disabled
from mist_reg.estimators.generative import check_generative_inputs
from mist_reg.estimators.registry import register_estimator
from mist_reg.functional.bounds import BoundTerms
from mist_reg.labels import encode_labels

__all__ = ["GaussianMI", "gaussian"]


class GaussianMI(MIEstimator):
    r"""``I_G``, the mutual information of the Gaussian model (see the module documentation).

    It has no parameters. Without :meth:`fit_data` the model is fitted to each batch it is
    evaluated on (the penalty use); after :meth:`fit_data` the stored fit is used.

    Arguments:
        ridge: Added to the diagonal of the standardised covariances.
        pooling: For class ``y``: each class covariance is shrunk towards the pooled
            one with the weight of this many samples (``None``: the Ledoit-Wolf weight,
            near 1 when the classes do not differ), so that a class with few samples in
            a batch borrows the pooled shape.

    Class labels may be any codes (``{1990, 1991}``, booleans): they are mapped to
    indices by :func:`mist_reg.labels.encode_labels`. With one class the estimate is 0;
    it is never above ``H(Y)``, the entropy of the classes (the closed form is clamped
    there, and each held-out log-ratio at ``-log p_y``, the most that sample can carry).
    """

    bound: ClassVar = None
    min_samples: ClassVar[int] = 3
    accepts_class_labels: ClassVar[bool] = True

    def __init__(self, ridge: float = 1e-3, pooling: float | None = None) -> None:
        super().__init__()
        self.ridge, self.pooling = check_model_settings(ridge, pooling)
        self._fitted: ClassConditionalPosterior | JointGaussian | None = None

    def _fit(self, x: Tensor, y: Tensor) -> ClassConditionalPosterior | JointGaussian:
        if y.is_floating_point():
            return JointGaussian(x, y, self.ridge)
        labels = encode_labels(y, "y")
        model = ClassConditionalPosterior(x, labels.indices, self.ridge, self.pooling)
        model.class_codes = torch.as_tensor(labels.classes, device=y.device)
        return model

    @torch.no_grad()
    def fit_data(self, x: Tensor, y: Tensor) -> None:
        r"""Fits the model to the training samples; later estimates use this fit."""
        x, y = check_generative_inputs(x, y, self.min_samples)
        self._fitted = self._fit(x, y)

    def reset(self) -> None:
        r"""Forgets the stored fit: estimates fit each batch again."""
        self._fitted = None

    def get_extra_state(self) -> dict:
        r"""The model stored by :meth:`fit_data` (its tensors), so that ``state_dict()``
        holds it."""
        if self._fitted is None:
            return {"kind": None}
        kind = "joint" if isinstance(self._fitted, JointGaussian) else "classes"
        return {"kind": kind, "fields": dict(vars(self._fitted))}

    def set_extra_state(self, state: dict) -> None:
        kind = state.get("kind")
        if kind is None:
            self._fitted = None
            return
        model = object.__new__(JointGaussian if kind == "joint" else ClassConditionalPosterior)
        vars(model).update(state["fields"])
        self._fitted = model

    def terms(self, x: Tensor, y: Tensor) -> BoundTerms:
        x, y = check_generative_inputs(x, y, self.min_samples)
        with autocast_disabled(x.device):
            if self._fitted is None:
                # fitted to this very batch: the closed form, shared by every sample (the
                # per-sample log-ratios would add Mahalanobis terms whose mean is a constant
                # of the fit only up to the ridge, and whose gradient is noise)
                information = self._fit(x, y).information()
                return BoundTerms(information.expand(x.shape[0]))
            model = self._fitted
            if isinstance(model, JointGaussian):
                if not y.is_floating_point():
                    raise ValueError("this GaussianMI was fitted to continuous y: pass y as floats")
                return BoundTerms(model.log_ratio(x, y))
            if y.is_floating_point():
                raise ValueError("this GaussianMI was fitted to class indices: pass y as an integer tensor")
            labels = _fitted_indices(y, model.class_codes)
            own = model.class_log_densities(x).gather(1, labels[:, None])[:, 0]
            most = -model.log_prior[labels]  # log q(y | x) / p(y) <= -log p(y)
            return BoundTerms(torch.minimum(own - model.overall_log_density(x), most))

    def saturation_cap(self, batch_size: int) -> float | None:
        r"""``H(Y)`` of the fitted class frequencies (each test value is clamped at ``-log p(y)``),
        or ``None`` for continuous ``y`` or before :meth:`fit_data`."""
        if not isinstance(self._fitted, ClassConditionalPosterior):
            return None
        prior = self._fitted.log_prior[torch.isfinite(self._fitted.log_prior)]
        return float(-(prior.exp() * prior).sum())

    def saturation_meaning(self) -> str:
        return (
            "H(Y) = {cap:.3f}, the most any estimate can be: X determines Y, or (more often) a column constant within "
            "classes, such as a code, gave the class Gaussians no spread there and every label a certain "
            "prediction; estimator='default' models codes as codes"
        )

    def extra_repr(self) -> str:
        return f"ridge={self.ridge}, pooling={self.pooling}, fitted={self._fitted is not None}"


def _fitted_indices(y: Tensor, codes: Tensor) -> Tensor:
    r"""The class indices of the codes ``y`` (``[N]`` or ``[N, 1]``) among the ``codes`` of a fit."""
    flat = y.reshape(-1)
    match = flat[:, None] == codes.to(flat.device, flat.dtype)[None, :]
    known = match.any(1)
    if not bool(known.all()):
        unknown = flat[~known][0].item()
        raise ValueError(
            f"y holds the class {unknown}, which was not among the classes {codes.tolist()} of the fit; "
            "fit on data that hold every class"
        )
    return match.int().argmax(1)


@register_estimator("gaussian", GaussianMI)
def gaussian(x_dim: int, y_dim: int, ridge: float = 1e-3, pooling: float | None = None) -> GaussianMI:
    r"""A :class:`~mist_reg.estimators.GaussianMI`: the closed-form mutual information of
    the Gaussian model of the data (class-conditional Gaussians for class-index ``y``).
    ``x_dim`` and ``y_dim`` are accepted like every factory's; the model has no parameters.

    Example:
        >>> import torch
        >>> estimator = gaussian(x_dim=3, y_dim=1)
        >>> z, s = torch.randn(256, 3), torch.randint(0, 2, (256,))
        >>> bool(estimator.mutual_information(z, s).abs() < 0.1)
        True
    """
    return GaussianMI(ridge, pooling)
