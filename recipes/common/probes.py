r"""Probes on frozen features: what a representation makes easy to read out.

* :func:`linear_probe`: multinomial logistic regression on standardised features, fitted
  full-batch with L-BFGS and a small L2 penalty; returns the test accuracy, the test
  cross-entropy (nats) and the test class probabilities.
* :func:`mlp_probe`: an MLP classifier (one hidden layer by default; several, with
  minibatches and early stopping, on request), for information present but not linearly
  readable.
* :func:`knn_probe`: a weighted k-nearest-neighbour vote with cosine similarity, each
  neighbour weighted by ``exp(similarity / temperature)``.
* :func:`binary_auc`: the area under the ROC curve of scores for a binary label
  (Mann-Whitney statistic, ties counted as one half).
* :func:`probe_mi_lower_bound`: ``H(S) - CE``, a lower bound on ``I(Z; S)`` in nats from
  a probe's held-out cross-entropy (Barber-Agakov: any classifier ``q(s | z)`` gives
  ``I(Z; S) >= H(S) - E[-log q(s | z)]``, up to the sampling error of the test set).
* :func:`extract_features`: a model's features for a whole tensor of images, in batches,
  in evaluation mode and without gradients.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "ProbeResult",
    "linear_probe",
    "mlp_probe",
    "knn_probe",
    "binary_auc",
    "entropy",
    "probe_mi_lower_bound",
    "extract_features",
]


@dataclass
class ProbeResult:
    r"""Test accuracy, test cross-entropy (nats; ``nan`` for the k-NN probe) and the test
    class probabilities ``[N, K]``."""

    accuracy: float
    cross_entropy: float
    probabilities: Tensor


@torch.no_grad()
def extract_features(encode: Callable[[Tensor], Tensor], images: Tensor, batch_size: int = 512) -> Tensor:
    r"""``encode`` applied to ``images`` in batches, without gradients, as float32."""
    return torch.cat([encode(images[i : i + batch_size]).float() for i in range(0, len(images), batch_size)])


def linear_probe(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    num_classes: int | None = None,
    l2: float = 1e-3,
    max_iter: int = 200,
) -> ProbeResult:
    r"""Logistic regression on frozen features (see the module documentation).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> labels = torch.randint(0, 2, (200,), generator=g)
        >>> features = labels[:, None] + 0.3 * torch.randn(200, 4, generator=g)
        >>> linear_probe(features[:100], labels[:100], features[100:], labels[100:]).accuracy > 0.9
        True
    """
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1 if num_classes is None else num_classes
    train_features, test_features = train_features.detach().float(), test_features.detach().float()
    mean, std = train_features.mean(0), train_features.std(0).clamp_min(1e-6)
    x_train, x_test = (train_features - mean) / std, (test_features - mean) / std
    with torch.enable_grad():
        linear = torch.nn.Linear(x_train.shape[1], num_classes).to(x_train.device)
        optimizer = torch.optim.LBFGS(
            linear.parameters(), lr=1.0, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe"
        )

        def closure() -> Tensor:
            optimizer.zero_grad()
            loss = F.cross_entropy(linear(x_train), train_labels) + l2 * linear.weight.pow(2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
    with torch.no_grad():
        logits = linear(x_test)
        cross_entropy = float(F.cross_entropy(logits, test_labels))
        accuracy = float((logits.argmax(1) == test_labels).float().mean())
    return ProbeResult(accuracy, cross_entropy, logits.softmax(1))


@torch.no_grad()
def knn_probe(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    k: int = 20,
    temperature: float = 0.07,
    num_classes: int | None = None,
    chunk_size: int = 1024,
) -> ProbeResult:
    r"""Weighted k-NN vote with cosine similarity (see the module documentation)."""
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1 if num_classes is None else num_classes
    k = min(k, len(train_features))
    bank = F.normalize(train_features.float(), dim=1)
    votes = []
    for i in range(0, len(test_features), chunk_size):
        queries = F.normalize(test_features[i : i + chunk_size].float(), dim=1)
        similarity, index = (queries @ bank.T).topk(k, dim=1)
        weights = (similarity / temperature).exp()
        one_hot = F.one_hot(train_labels[index], num_classes).float()
        votes.append((weights.unsqueeze(-1) * one_hot).sum(1))
    scores = torch.cat(votes)
    probabilities = scores / scores.sum(1, keepdim=True)
    accuracy = float((scores.argmax(1) == test_labels).float().mean())
    return ProbeResult(accuracy, math.nan, probabilities)


def binary_auc(scores: Tensor, labels: Tensor) -> float:
    r"""ROC AUC of ``scores`` for binary ``labels`` (0.5 is chance; ``nan`` with one class).

    Example:
        >>> binary_auc(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1]))
        0.75
    """
    scores, labels = scores.detach().double().flatten().cpu(), labels.flatten().cpu().bool()
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = scores.argsort()
    positions = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    _, inverse = torch.unique(scores[order], return_inverse=True)  # tied scores share a group
    groups = int(inverse.max()) + 1
    rank_sum = torch.zeros(groups, dtype=torch.float64).index_add_(0, inverse, positions)
    rank_count = torch.zeros(groups, dtype=torch.float64).index_add_(0, inverse, torch.ones_like(positions))
    ranks = torch.empty_like(scores)
    ranks[order] = (rank_sum / rank_count)[inverse]  # mean rank within each group of ties
    u = float(ranks[labels].sum()) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def entropy(labels: Tensor, num_classes: int | None = None) -> float:
    r"""The entropy (nats) of the empirical distribution of class indices."""
    counts = torch.bincount(labels.flatten().cpu(), minlength=num_classes or 0).double()
    p = counts[counts > 0] / counts.sum()
    return float(-(p * p.log()).sum())


def probe_mi_lower_bound(probe: ProbeResult, test_labels: Tensor) -> float:
    r"""``H(S) - CE`` in nats (see the module documentation); negative values mean the
    probe does worse than predicting the class frequencies, i.e. no detectable information."""
    return entropy(test_labels) - probe.cross_entropy


def mlp_probe(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    num_classes: int | None = None,
    hidden: int | Sequence[int] = 128,
    iterations: int = 500,
    lr: float = 1e-2,
    weight_decay: float = 1e-3,
    validation: float = 0.2,
    seed: int = 0,
    batch_size: int | None = None,
    patience: int = 5,
    max_epochs: int = 100,
) -> ProbeResult:
    r"""An MLP classifier on standardised frozen features (hidden widths ``hidden``: one
    int for one layer, a sequence for several), trained with AdamW on ``1 - validation``
    of the training samples; the weights kept are those with the lowest cross-entropy on
    the other ``validation`` part. A stronger reader than the linear probe, for
    information that is present but not linearly readable.

    * ``batch_size=None``: full-batch steps, ``iterations`` of them, validated every 10;
    * ``batch_size=B``: epochs of shuffled minibatches of ``B`` (at most ``max_epochs``),
      validated after each epoch, stopping early after ``patience`` epochs without
      improvement (e.g. ``hidden=(64, 64), lr=1e-3, batch_size=256``).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> labels = torch.randint(0, 2, (600,), generator=g)
        >>> angle = torch.rand(600, generator=g) * 6.283
        >>> radius = 1.0 + labels + 0.1 * torch.randn(600, generator=g)   # two rings: not linear
        >>> features = torch.stack([radius * angle.cos(), radius * angle.sin()], 1)
        >>> result = mlp_probe(features[:400], labels[:400], features[400:], labels[400:],
        ...                    hidden=(64, 64), lr=3e-3, batch_size=64)
        >>> result.accuracy > 0.95
        True
    """
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1 if num_classes is None else num_classes
    train_features, test_features = train_features.detach().float(), test_features.detach().float()
    mean, std = train_features.mean(0), train_features.std(0).clamp_min(1e-6)
    x_all, x_test = (train_features - mean) / std, (test_features - mean) / std
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x_all), generator=generator).to(x_all.device)
    n_valid = max(1, int(validation * len(x_all)))
    valid, fit = order[:n_valid], order[n_valid:]
    widths = [hidden] if isinstance(hidden, int) else list(hidden)
    with torch.random.fork_rng(devices=[]), torch.enable_grad():
        torch.manual_seed(seed)
        layers: list[torch.nn.Module] = []
        previous = x_all.shape[1]
        for width in widths:
            layers += [torch.nn.Linear(previous, width), torch.nn.ReLU()]
            previous = width
        net = torch.nn.Sequential(*layers, torch.nn.Linear(previous, num_classes)).to(x_all.device)
        optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
        best, best_state = math.inf, None

        def validate(tolerance: float = 0.0) -> bool:
            nonlocal best, best_state
            with torch.no_grad():
                loss = float(F.cross_entropy(net(x_all[valid]), train_labels[valid]))
            if loss < best - tolerance:
                best, best_state = loss, {k: v.clone() for k, v in net.state_dict().items()}
                return True
            return False

        if batch_size is None:
            for i in range(iterations + 1):
                if i % 10 == 0:
                    validate()
                if i == iterations:
                    break
                optimizer.zero_grad()
                F.cross_entropy(net(x_all[fit]), train_labels[fit]).backward()
                optimizer.step()
        else:
            validate()
            batch = max(1, min(batch_size, len(fit)))
            waited = 0
            for _ in range(max_epochs):
                shuffled = fit[torch.randperm(len(fit), generator=generator).to(fit.device)]
                for i in range(0, len(shuffled) - batch + 1, batch):
                    rows = shuffled[i : i + batch]
                    optimizer.zero_grad()
                    F.cross_entropy(net(x_all[rows]), train_labels[rows]).backward()
                    optimizer.step()
                waited = 0 if validate(1e-4) else waited + 1
                if waited >= patience:
                    break
        net.load_state_dict(best_state)
    with torch.no_grad():
        logits = net(x_test)
        cross_entropy = float(F.cross_entropy(logits, test_labels))
        accuracy = float((logits.argmax(1) == test_labels).float().mean())
    return ProbeResult(accuracy, cross_entropy, logits.softmax(1))
