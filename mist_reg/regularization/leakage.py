r"""How much a fresh reader recovers of a discrete attribute from frozen features.

A penalty's own logged value says little about what it removed: an adversary (CLUB's
``q``, a gradient-reversal head) can be fooled while the attribute stays readable, and
a kernel penalty measures dependence at its own bandwidth only. The check that counts is
a *fresh* probe, trained afterwards on frozen features and scored on samples it did not
see. :func:`attribute_leakage` is that check, cheap enough to run at every checkpoint:

1. the features are split into a training part (with a validation tenth) and a held-out
   part; each coordinate is standardised with the training statistics, so that a
   representation cannot hide the attribute in a small scale;
2. a logistic regression and a two-layer MLP (64 units) are trained on the training part,
   with early stopping on the validation cross-entropy; the one with the lower
   validation cross-entropy is kept;
3. on the held-out part it reports the accuracy (beside the majority-class rate), the ROC
   AUC for a binary attribute, and the Barber-Agakov lower bound
   ``I(Z; S) >= H(S) - CE`` in nats, with its standard error.

Any classifier ``q(s | z)`` gives ``I(Z; S) >= H(S) - E[-log q(s | z)]`` (``H(S)`` from
the class frequencies of the training part), so the bound is conservative: a stronger
reader can only raise it. A bound whose interval covers 0 means no reader of this
strength finds the attribute.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> s = torch.randint(0, 2, (2000,), generator=g)
    >>> z = torch.randn(2000, 4, generator=g)
    >>> z[:, 0] += 2.0 * s                     # the attribute is in the first feature
    >>> report = attribute_leakage(z, s)
    >>> report.accuracy > 0.8 and report.mi_lower_bound > 0.3
    True
    >>> clean = attribute_leakage(torch.randn(2000, 4, generator=g), s)
    >>> abs(clean.mi_lower_bound) < 3 * clean.standard_error + 0.01
    True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["LeakageReport", "attribute_leakage", "as_class_indices"]

ProbeKind = Literal["auto", "linear", "mlp"]


@dataclass(frozen=True)
class LeakageReport:
    r"""What a fresh probe reads of a discrete attribute on held-out features.

    Attributes:
        accuracy: The probe's accuracy on the held-out part.
        chance: The held-out accuracy of always predicting the most frequent training class.
        auc: The ROC AUC of the probe's score for a binary attribute (``nan`` otherwise).
        cross_entropy: The probe's held-out cross-entropy (nats).
        entropy: ``H(S)`` of the training class frequencies, scored on the held-out part (nats).
        mi_lower_bound: ``entropy - cross_entropy``, a lower bound on ``I(Z; S)`` (nats).
        standard_error: The standard error of ``mi_lower_bound`` over held-out samples.
        probe: ``"linear"`` or ``"mlp"``, the probe kept.
        n_train: The samples the probe was trained on (validation part included).
        n_test: The held-out samples.
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

    def as_dict(self) -> dict[str, Any]:
        r"""The fields as a dictionary (for logs and JSON)."""
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"probe accuracy {self.accuracy:.3f} (chance {self.chance:.3f}), "
            f"I(Z;S) >= {self.mi_lower_bound:.4f} +- {self.standard_error:.4f} nats ({self.probe} probe, "
            f"{self.n_test} held-out samples)"
        )


def as_class_indices(attribute: Tensor | Any, n: int | None = None, name: str = "attribute") -> Tensor:
    r"""``attribute`` as a ``[N]`` int64 tensor of class indices ``0 .. K-1``, with clear
    errors: integer or integral-float values, ``[N]`` or ``[N, 1]``, at least two classes,
    no NaN, and ``N == n`` when ``n`` is given.

    Example:
        >>> as_class_indices(torch.tensor([[0.0], [1.0], [1.0]]))
        tensor([0, 1, 1])
        >>> as_class_indices(torch.tensor([0.5, 1.0]))
        Traceback (most recent call last):
        ...
        ValueError: attribute must hold class indices (integers 0, 1, ...), got non-integral values such as 0.5; for a continuous attribute use mist_reg.estimate_mi
    """
    s = torch.as_tensor(attribute)
    if s.dim() == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if s.dim() != 1:
        raise ValueError(f"{name} must have shape [N] or [N, 1] (one class index per sample), got {tuple(s.shape)}")
    if n is not None and s.shape[0] != n:
        raise ValueError(f"{name} holds {s.shape[0]} samples but the features hold {n}")
    if s.is_floating_point():
        if torch.isnan(s).any():
            raise ValueError(f"{name} contains NaN")
        fractional = s[s != s.round()]
        if fractional.numel():
            raise ValueError(
                f"{name} must hold class indices (integers 0, 1, ...), got non-integral values such as "
                f"{float(fractional[0]):g}; for a continuous attribute use mist_reg.estimate_mi"
            )
    elif s.dtype == torch.bool:
        s = s.long()
    elif s.is_complex():
        raise TypeError(f"{name} must hold class indices, got {s.dtype}")
    s = s.long()
    if s.numel() and int(s.min()) < 0:
        raise ValueError(f"{name} must hold class indices >= 0, got {int(s.min())}")
    if s.numel() and torch.unique(s).numel() < 2:
        raise ValueError(f"{name} takes a single value ({int(s[0])}): there is nothing to read or remove")
    return s


def _standardise(train: Tensor, *others: Tensor) -> tuple[Tensor, ...]:
    mean, std = train.mean(0), train.std(0).clamp_min(1e-6)
    return tuple((t - mean) / std for t in (train, *others))


def _fit_probe(
    kind: str, z_fit: Tensor, s_fit: Tensor, z_valid: Tensor, s_valid: Tensor, classes: int, generator: torch.Generator
) -> tuple[nn.Module, float]:
    d = z_fit.shape[1]
    if kind == "linear":
        net: nn.Module = nn.Linear(d, classes)
    else:
        net = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, classes))
    net = net.to(z_fit.device)
    with torch.no_grad():
        for p in net.parameters():  # initialised from the generator: the check is reproducible
            if p.dim() > 1:
                bound = 1.0 / math.sqrt(p.shape[1])
                p.copy_(torch.empty(p.shape).uniform_(-bound, bound, generator=generator))
            else:
                p.zero_()
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3 if kind == "linear" else 1e-3)
    batch = min(256, len(z_fit))
    steps_per_epoch = max(1, len(z_fit) // batch)
    max_epochs = max(8, min(200, 4000 // steps_per_epoch))  # about 4,000 steps, at least 8 passes
    best, best_state, patience = math.inf, None, 0
    for _ in range(max_epochs):
        order = torch.randperm(len(z_fit), generator=generator).to(z_fit.device)
        for i in range(steps_per_epoch):
            rows = order[i * batch : (i + 1) * batch]
            optimizer.zero_grad()
            F.cross_entropy(net(z_fit[rows]), s_fit[rows]).backward()
            optimizer.step()
        with torch.no_grad():
            loss = float(F.cross_entropy(net(z_valid), s_valid))
        if loss < best - 1e-4:
            best, best_state, patience = loss, {k: v.clone() for k, v in net.state_dict().items()}, 0
        else:
            patience += 1
            if patience >= 3:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    return net, best


def _auc(scores: Tensor, labels: Tensor) -> float:
    positive, negative = scores[labels == 1], scores[labels == 0]
    if positive.numel() == 0 or negative.numel() == 0:
        return math.nan
    ranks = torch.empty_like(scores, dtype=torch.float64)
    order = scores.argsort()
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float64, device=scores.device)
    # tied scores share their mean rank
    unique, inverse = torch.unique(scores, return_inverse=True)
    sums = torch.zeros(len(unique), dtype=torch.float64, device=scores.device).index_add_(0, inverse, ranks)
    counts = torch.bincount(inverse, minlength=len(unique)).double()
    ranks = (sums / counts)[inverse]
    n_pos = positive.numel()
    return float((ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * negative.numel()))


def attribute_leakage(
    features: Tensor,
    attribute: Tensor,
    *,
    probe: ProbeKind = "auto",
    test_fraction: float = 0.3,
    seed: int = 0,
) -> LeakageReport:
    r"""Trains a fresh probe to read ``attribute`` from frozen ``features`` and scores it on
    held-out samples (see the module documentation).

    Arguments:
        features: ``[N, d]`` features (detached and cast to float32 here), or ``[N]``.
        attribute: ``[N]`` class indices (integers, or integral floats).
        probe: ``"linear"``, ``"mlp"``, or ``"auto"`` (both; the one with the lower
            validation cross-entropy is kept).
        test_fraction: The share of samples held out for scoring.
        seed: The seed of the split, the initialisation and the batches.

    Returns:
        A :class:`LeakageReport`.

    Example:
        >>> import torch
        >>> z, s = torch.randn(400, 3), torch.randint(0, 3, (400,))
        >>> report = attribute_leakage(z, s, probe="linear")
        >>> report.probe, report.n_test
        ('linear', 120)
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
    s = as_class_indices(attribute, len(z)).to(z.device)
    if probe not in ("auto", "linear", "mlp"):
        raise ValueError(f"probe must be 'auto', 'linear' or 'mlp', got {probe!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n = len(z)
    n_test = int(round(test_fraction * n))
    n_valid = max(1, (n - n_test) // 10)
    if n_test < 10 or n - n_test - n_valid < 10:
        raise ValueError(f"attribute_leakage needs more samples: {n} leave fewer than 10 to train or to test on")
    classes = int(s.max()) + 1
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=generator).to(z.device)
    test, valid, fit = order[:n_test], order[n_test : n_test + n_valid], order[n_test + n_valid :]
    z_fit, z_valid, z_test = _standardise(z[fit], z[valid], z[test])
    with torch.enable_grad():
        candidates = [
            _fit_probe(kind, z_fit, s[fit], z_valid, s[valid], classes, generator)
            for kind in (("linear", "mlp") if probe == "auto" else (probe,))
        ]
    kinds = ("linear", "mlp") if probe == "auto" else (probe,)
    index = min(range(len(candidates)), key=lambda i: candidates[i][1])
    net, kind = candidates[index][0], kinds[index]

    train_counts = torch.bincount(s[torch.cat([fit, valid])], minlength=classes).double()
    prior = (train_counts + 0.5) / (train_counts.sum() + 0.5 * classes)  # never log 0 on the test part
    with torch.no_grad():
        log_q = F.log_softmax(net(z_test).double(), dim=1)
    s_test = s[test]
    gain = log_q.gather(1, s_test[:, None])[:, 0] - prior.log().to(z.device)[s_test]
    cross_entropy = float(-log_q.gather(1, s_test[:, None]).mean())
    accuracy = float((log_q.argmax(1) == s_test).double().mean())
    chance = float((s_test == int(train_counts.argmax())).double().mean())
    auc = _auc(log_q[:, 1] - log_q[:, 0], s_test) if classes == 2 else math.nan
    return LeakageReport(
        accuracy=accuracy,
        chance=chance,
        auc=auc,
        cross_entropy=cross_entropy,
        entropy=float(-prior.log().to(z.device)[s_test].mean()),
        mi_lower_bound=float(gain.mean()),
        standard_error=float(gain.std() / math.sqrt(len(gain))),
        probe=kind,
        n_train=n - n_test,
        n_test=n_test,
    )
