r"""How much fresh readers recover of an attribute from frozen features:
:func:`attribute_leakage`, the check that judges a penalty (never its own value).

The features are split into a training part (with a validation tenth) and a held-out
part, standardised with the training statistics; each reader (:mod:`~mist_reg.regularization.readers`:
linear, a 2x64 MLP, gradient-boosted trees) is trained on the training part and scored on
the held-out part. For classes (any codes) it reports accuracy beside the majority rate,
ROC AUC (binary), and the Barber-Agakov bound ``I(Z; S) >= H(S) - CE`` in nats with its
standard error; for continuous values (``[N]`` or ``[N, k]``), the held-out ``R^2`` of
regressors. The report's figures are the strongest reader's, and ``readers`` holds each
reader's. Why and how to read it: ``docs/miloss.md``.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> s = torch.randint(0, 2, (2000,), generator=g)
    >>> z = torch.randn(2000, 4, generator=g)
    >>> z[:, 0] += 2.0 * s                     # the attribute is in the first feature
    >>> report = attribute_leakage(z, s + 1990)  # codes of any kind
    >>> report.accuracy > 0.8 and report.mi_lower_bound > 0.3, sorted(report.readers)
    (True, ['linear', 'mlp'])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor

from mist_reg.labels import encode_labels
from mist_reg.regularization.attribute import ATTRIBUTE_KINDS, AttributeKind, looks_like_labels
from mist_reg.regularization.readers import READERS, read_classes, read_values, require_boosting

__all__ = ["LeakageReport", "attribute_leakage", "as_class_indices"]

ProbeKind = Literal["auto", "all", "linear", "mlp", "boosted"]


@dataclass(frozen=True)
class LeakageReport:
    r"""What fresh readers recover of an attribute on held-out features (the strongest
    reader's figures; ``nan`` where a figure does not apply to the attribute's kind).

    Attributes:
        accuracy: The probe's accuracy on the held-out part.
        chance: The held-out accuracy of always predicting the most frequent training class.
        auc: The ROC AUC of the probe's score for a binary attribute (``nan`` otherwise).
        cross_entropy: The probe's held-out cross-entropy (nats).
        entropy: ``H(S)`` of the training class frequencies, scored on the held-out part (nats).
        mi_lower_bound: ``entropy - cross_entropy``, a lower bound on ``I(Z; S)`` (nats).
        standard_error: The standard error of ``mi_lower_bound`` over held-out samples.
        probe: The strongest reader (``"linear"``, ``"mlp"`` or ``"boosted"``).
        n_train: The samples the readers were trained on (validation part included).
        n_test: The held-out samples.
        kind: ``"classes"`` or ``"values"``.
        r2: For values, the strongest regressor's held-out ``R^2`` (standardised columns).
        r2_standard_error: Its standard error over held-out samples.
        readers: Each reader's figures, by name.
    """

    accuracy: float
    chance: float
    auc: float
    cross_entropy: float
    entropy: float
    mi_lower_bound: float
    standard_error: float
    probe: str
    n_train: int
    n_test: int
    kind: str = "classes"
    r2: float = math.nan
    r2_standard_error: float = math.nan
    readers: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        r"""The fields as a dictionary (for logs and JSON)."""
        return asdict(self)

    def __str__(self) -> str:
        if self.kind == "values":
            return (
                f"held-out R^2 {self.r2:.4f} +- {self.r2_standard_error:.4f} ({self.probe} regressor, "
                f"{self.n_test} held-out samples)"
            )
        return (
            f"probe accuracy {self.accuracy:.3f} (chance {self.chance:.3f}), "
            f"I(Z;S) >= {self.mi_lower_bound:.4f} +- {self.standard_error:.4f} nats ({self.probe} probe, "
            f"{self.n_test} held-out samples)"
        )


def as_class_indices(attribute: Tensor | Any, n: int | None = None, name: str = "attribute") -> Tensor:
    r"""``attribute`` as ``[N]`` int64 class indices ``0 .. K-1`` (any codes: ``{1990, 1991}``,
    strings, booleans, whole floats; see :func:`mist_reg.labels.encode_labels`), with
    ``N == n`` when ``n`` is given and at least two classes.

    Raises:
        ValueError: On NaN, fractional or non-finite codes, a shape other than ``[N]`` or
            ``[N, 1]``, a length other than ``n``, or a single class.

    Example:
        >>> as_class_indices(torch.tensor([[1990.0], [1991.0], [1991.0]]))
        tensor([0, 1, 1])
        >>> as_class_indices(["b", "a"], n=3)
        Traceback (most recent call last):
        ...
        ValueError: attribute holds 2 samples but the features hold 3
    """
    if isinstance(attribute, Tensor) and attribute.is_floating_point() and torch.isnan(attribute).any():
        raise ValueError(f"{name} contains NaN; class labels must be finite codes")
    if isinstance(attribute, Tensor) and attribute.is_complex():
        raise TypeError(f"{name} must hold class codes, got {attribute.dtype}")
    labels = encode_labels(attribute, name)
    s = labels.indices
    if n is not None and s.shape[0] != n:
        raise ValueError(f"{name} holds {s.shape[0]} samples but the features hold {n}")
    if labels.n_classes < 2:
        raise ValueError(f"{name} takes a single value ({labels.classes[0]!r}): there is nothing to read or remove")
    return s


def _standardise(train: Tensor, *others: Tensor) -> tuple[Tensor, ...]:
    mean, std = train.mean(0), train.std(0).clamp_min(1e-6)
    return tuple((t - mean) / std for t in (train, *others))


def _reader_names(probe: ProbeKind | Sequence[str]) -> tuple[str, ...]:
    names = {"auto": ("linear", "mlp"), "all": READERS}.get(probe, (probe,)) if isinstance(probe, str) else tuple(probe)
    unknown = [p for p in names if p not in READERS]
    if unknown or not names:
        raise ValueError(f"probe must be 'auto', 'all', or names from {', '.join(READERS)}, got {probe!r}")
    return names


def _is_values(attribute: Any, kind: AttributeKind) -> bool:
    if kind not in ATTRIBUTE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(ATTRIBUTE_KINDS)}, got {kind!r}")
    if kind != "auto":
        return kind == "values"
    if not isinstance(attribute, Tensor):
        return False
    return attribute.is_floating_point() and not torch.isnan(attribute).any() and not looks_like_labels(attribute)


def _auc(scores: Tensor, labels: Tensor) -> float:
    positive, negative = scores[labels == 1], scores[labels == 0]
    if positive.numel() == 0 or negative.numel() == 0:
        return math.nan
    order = scores.argsort()
    ranks = torch.empty_like(scores, dtype=torch.float64)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float64, device=scores.device)
    unique, inverse = torch.unique(scores, return_inverse=True)  # tied scores share their mean rank
    sums = torch.zeros(len(unique), dtype=torch.float64, device=scores.device).index_add_(0, inverse, ranks)
    ranks = (sums / torch.bincount(inverse, minlength=len(unique)).double())[inverse]
    n_pos = positive.numel()
    return float((ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * negative.numel()))


def _class_figures(log_q: Tensor, s_test: Tensor, log_prior: Tensor, classes: int) -> dict[str, float]:
    gain = log_q.gather(1, s_test[:, None])[:, 0] - log_prior[s_test]
    return {
        "accuracy": float((log_q.argmax(1) == s_test).double().mean()),
        "auc": _auc(log_q[:, 1] - log_q[:, 0], s_test) if classes == 2 else math.nan,
        "cross_entropy": float(-log_q.gather(1, s_test[:, None]).mean()),
        "mi_lower_bound": float(gain.mean()),
        "standard_error": float(gain.std() / math.sqrt(len(gain))),
    }


def _value_figures(prediction: Tensor, v_test: Tensor) -> dict[str, float]:
    residual = (prediction - v_test).double().pow(2).sum(1)
    total = v_test.double().pow(2).sum(1)  # targets standardised with the training statistics
    r2 = 1.0 - residual.mean() / total.mean()
    # delta method: the standard error of a ratio of two means
    ratio_terms = (residual - (1.0 - r2) * total) / total.mean()
    return {"r2": float(r2), "r2_standard_error": float(ratio_terms.std() / math.sqrt(len(ratio_terms)))}


def attribute_leakage(
    features: Tensor,
    attribute: Tensor | Any,
    *,
    probe: ProbeKind | Sequence[str] = "auto",
    kind: AttributeKind = "auto",
    test_fraction: float = 0.3,
    seed: int = 0,
) -> LeakageReport:
    r"""Trains fresh readers of ``attribute`` on frozen ``features`` and scores them on
    held-out samples (see the module documentation); the report is the strongest reader's.

    Arguments:
        features: ``[N, d]`` features (detached and cast to float32 here), or ``[N]``.
        attribute: ``[N]`` class codes of any kind (integers such as years, booleans,
            strings, whole floats), or ``[N]`` / ``[N, k]`` continuous values.
        probe: The readers: ``"auto"`` (linear and MLP), ``"all"`` (and gradient-boosted
            trees, which need scikit-learn), one name or a list of ``"linear"``, ``"mlp"``,
            ``"boosted"``.
        kind: ``"classes"``, ``"values"`` or ``"auto"``: values for a float attribute
            unless it is one column of a few whole values, classes otherwise.
        test_fraction: The share of samples held out for scoring.
        seed: The seed of the split, the initialisation and the batches.

    Returns:
        A :class:`LeakageReport`.

    Raises:
        ValueError: On NaN or infinite features or values, bad class codes, a length
            mismatch, a single class, too few samples, or unknown readers.
        ImportError: For the ``"boosted"`` reader without scikit-learn.

    Example:
        >>> z, s = torch.randn(400, 3), torch.randint(0, 3, (400,))
        >>> report = attribute_leakage(z, s, probe="linear")
        >>> report.probe, report.n_test
        ('linear', 120)
        >>> age = 3 * z[:, 0] + 40
        >>> attribute_leakage(z, age, probe="linear").r2 > 0.99
        True
    """
    if not isinstance(features, Tensor):
        features = torch.as_tensor(features)
    if features.dim() == 1:
        features = features[:, None]
    if features.dim() != 2:
        raise ValueError(f"features must have shape [N, d], got {tuple(features.shape)}; flatten them first")
    if not (features.is_floating_point() or features.dtype in (torch.int32, torch.int64)):
        raise TypeError(f"features must be floating-point, got {features.dtype}")
    z = features.detach().float()
    if not torch.isfinite(z).all():
        raise ValueError("features contain NaN or infinite values")
    readers = _reader_names(probe)
    if "boosted" in readers:
        require_boosting()
    values = _is_values(attribute, kind)
    if values:
        v = torch.as_tensor(attribute).detach().to(z.device).float()
        v = v[:, None] if v.dim() == 1 else v
        if v.dim() != 2 or len(v) != len(z):
            raise ValueError(f"attribute of shape {tuple(v.shape)} must be [N] or [N, k] with N = {len(z)}")
        if not torch.isfinite(v).all():
            raise ValueError("attribute contains NaN or infinite values; drop those rows or impute them first")
    else:
        s = as_class_indices(attribute, len(z)).to(z.device)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n = len(z)
    n_test = int(round(test_fraction * n))
    n_valid = max(1, (n - n_test) // 10)
    if n_test < 10 or n - n_test - n_valid < 10:
        raise ValueError(f"attribute_leakage needs more samples: {n} leave fewer than 10 to train or to test on")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=generator).to(z.device)
    test, valid, fit = order[:n_test], order[n_test : n_test + n_valid], order[n_test + n_valid :]
    z_fit, z_valid, z_test = _standardise(z[fit], z[valid], z[test])
    sizes = {"n_train": n - n_test, "n_test": n_test}
    if values:
        v_fit, v_valid, v_test = _standardise(v[fit], v[valid], v[test])
        figures = {
            name: _value_figures(read_values(name, z_fit, v_fit, z_valid, v_valid, z_test, generator), v_test)
            for name in readers
        }
        best = max(figures, key=lambda name: figures[name]["r2"])
        nan = math.nan
        return LeakageReport(nan, nan, nan, nan, nan, nan, nan, best, **sizes, kind="values", r2=figures[best]["r2"],
                             r2_standard_error=figures[best]["r2_standard_error"], readers=figures)  # fmt: skip

    classes = int(s.max()) + 1
    train_counts = torch.bincount(s[torch.cat([fit, valid])], minlength=classes).double()
    log_prior = ((train_counts + 0.5) / (train_counts.sum() + 0.5 * classes)).log().to(z.device)  # never log 0
    s_test = s[test]
    figures = {
        name: _class_figures(
            read_classes(name, z_fit, s[fit], z_valid, s[valid], z_test, classes, generator), s_test, log_prior, classes
        )
        for name in readers
    }
    best = max(figures, key=lambda name: figures[name]["mi_lower_bound"])
    return LeakageReport(
        **figures[best],
        chance=float((s_test == int(train_counts.argmax())).double().mean()),
        entropy=float(-log_prior[s_test].mean()),
        probe=best,
        **sizes,
        readers=figures,
    )
