r"""When the default reports the closed-form reference model instead of a trained critic.

The trained critic of :func:`mist_reg.estimate_mi` is reported through a Donsker-Varadhan
estimate whose log-partition term is a Monte Carlo mean of ``exp f`` over negative pairs
(:mod:`mist_reg.estimation.combine`). When the MI is many nats for the number of samples
(two wide views of one latent: 16 nats from 5,000 samples), ``exp f`` is large only on
pairs that a few thousand samples almost never draw: the partition term is decided by
one or two pairs, the validation estimate that early stopping follows swings by nats
(42 nats on 350 validation rows of a 19-nat task), training chases those swings, and the
held-out figure lands nats above or below the truth. No critic can be judged by that
term there, whatever it learnt.

The closed-form reference needs no such term: it is the log-ratio of a normalised model,
and its mean over held-out pairs (:class:`~mist_reg.estimators.reference_model.ReferenceModelMI`)
stays within its sampling error. :func:`reference_model_if_unresolved` fits the Gaussian
reference on the training part, scores it on the validation part (never on the test
samples) and measures how many effective negative pairs carry its partition term
(:meth:`~mist_reg.functional.bounds.RunningBound.effective_pairs`). Fewer effective pairs
than validation samples is the regime in which the partition term is a handful of values
(the same boundary at which :func:`~mist_reg.estimation.combine.certified` distrusts a
held-out Donsker-Varadhan estimate); there nothing is trained, and the reference model is
reported (for continuous columns,
:func:`~mist_reg.estimation.gaussian_estimate.gaussian_on_all_rows` then reports the same
Gaussian model's MI from every row instead). On ordinary tasks (below a few nats) the
partition rests on tens of thousands of effective pairs and the trained critic is fitted and reported as before: the two regimes
lie orders of magnitude apart.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, Literal

import torch

from mist_reg.estimation.data import unpack_batch
from mist_reg.estimation.fitting import FitSettings, TrainingLog, fit_data_dependent, sample_loaders
from mist_reg.estimators.base import MIEstimator
from mist_reg.estimators.reference_model import ReferenceModelMI
from mist_reg.functional.bounds import RunningBound, donsker_varadhan
from mist_reg.nn.critic import Critic
from mist_reg.nn.references.gaussian import GaussianLogRatio
from mist_reg.nn.references.student_t import StudentTLogRatio

__all__ = ["reference_model_if_unresolved", "partition_support", "REFERENCE_MODEL_STOP_REASON"]

REFERENCE_MODEL_STOP_REASON = "reference_model"
"""The ``stop_reason`` of the :class:`~mist_reg.estimation.fitting.TrainingLog` of a reference model (nothing trained)."""


def _gaussian_reference(estimator: MIEstimator) -> GaussianLogRatio | None:
    """A fresh copy of the Gaussian reference of the estimator's critic, if it has one."""
    reference = getattr(getattr(estimator, "critic", None), "reference", None)
    if isinstance(reference, StudentTLogRatio):
        reference = reference.gaussian
    if isinstance(reference, GaussianLogRatio):
        return copy.deepcopy(reference)
    return None


@torch.no_grad()
def partition_support(critic: Critic, batches: Iterable, labels: bool = False) -> tuple[float, int]:
    r"""How many effective negative pairs carry the Donsker-Varadhan partition term of
    ``critic`` on ``batches`` (negatives within each batch), and how many samples there are.

    Example:
        >>> from mist_reg.estimation.data import TensorBatches
        >>> reference = GaussianLogRatio(2, 2)
        >>> x = torch.randn(400, 2)
        >>> reference.fit_data(x, x + 0.01 * torch.randn(400, 2))  # about 9 nats
        >>> y = x + 0.01 * torch.randn(400, 2)
        >>> pairs, n = partition_support(reference, TensorBatches(x, y, 200))
        >>> pairs < n
        True
    """
    running = RunningBound()
    buffer = next(critic.buffers(), None)
    for batch in batches:
        xb, yb = unpack_batch(batch, labels)
        if xb.shape[0] < 2:
            continue
        if buffer is not None:
            xb, yb = xb.to(buffer.device), yb.to(buffer.device)
        scores = critic.score_matrix(xb, yb)
        off_diagonal = ~torch.eye(len(scores), dtype=torch.bool, device=scores.device)
        running.add(donsker_varadhan(scores.diagonal(), scores[off_diagonal]))
    return running.effective_pairs(), running.n_samples


def reference_model_if_unresolved(
    estimator: MIEstimator,
    settings: FitSettings,
    x: Any = None,
    y: Any = None,
    train_loader: Iterable | None = None,
    valid_loader: Iterable | None = None,
    marginal_side: Literal["x", "y"] | None = None,
) -> tuple[ReferenceModelMI, TrainingLog] | None:
    r"""The fitted reference model, when the partition term of the Gaussian reference rests
    on fewer effective negative pairs than there are validation samples (see the module
    documentation); ``None`` when it does not, when there is no validation data or when the
    estimator's critic has no closed-form reference.

    Arguments:
        estimator: The estimator that would be trained (its critic's reference is copied).
        settings: The fitting settings: the split into training and validation samples.
        x: Samples, as for :func:`~mist_reg.estimation.fitting.fit_estimator`.
        y: Samples paired with ``x``.
        train_loader: Training batches, instead of ``x`` and ``y``.
        valid_loader: Validation batches.
        marginal_side: The side of continuous columns beside a side with discrete ones, whose
            marginal the model may fit by a mixture (:class:`~mist_reg.estimators.reference_model.ReferenceModelMI`).

    Returns:
        ``(model, log)`` with a :class:`~mist_reg.estimators.reference_model.ReferenceModelMI`
        fitted on the training part, or ``None``.

    Example:
        >>> from mist_reg.estimators import mine
        >>> from mist_reg.tasks.structured import two_views
        >>> x, y = two_views(32, 4, 0.1).sample(2000, seed=0)  # about 12 nats
        >>> chosen = reference_model_if_unresolved(mine(32, 32, reference="gaussian"), FitSettings(seed=0), x, y)
        >>> type(chosen[0]).__name__, chosen[1].stop_reason
        ('ReferenceModelMI', 'reference_model')
    """
    reference = _gaussian_reference(estimator)
    if reference is None:
        return None
    settings = settings.resolved()
    labels = estimator.accepts_class_labels
    if train_loader is None:
        train_loader, valid_loader = sample_loaders(x, y, settings, valid_loader, labels)
    if valid_loader is None:
        return None
    model = ReferenceModelMI(reference).to(settings.device)
    fit_data_dependent(model, train_loader)
    pairs, n_valid = partition_support(model.reference, valid_loader, labels)
    if n_valid == 0 or pairs >= n_valid:
        return None
    if marginal_side is not None:  # only now: the mixture search is wasted on a critic that trains
        model.marginal_side = marginal_side
        fit_data_dependent(model, train_loader)
    model.eval()
    return model, TrainingLog(stop_reason=REFERENCE_MODEL_STOP_REASON)
