r"""Fresh readers of an attribute from frozen features, for
:func:`~mist_reg.regularization.leakage.attribute_leakage`: a linear model, a two-layer MLP
(64 units) and gradient-boosted trees (scikit-learn's HistGradientBoosting, an optional
dependency), each as a classifier of class indices or a regressor of continuous values.

A reader is trained on the training part (the torch readers stop early on the validation
part; the trees hold out their own tenth) and returns, on the held-out features, class
log-probabilities ``[n, K]`` or predicted values ``[n, k]``.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> z = torch.randn(600, 2, generator=g); s = (z[:, 0] > 0).long()
    >>> log_q = read_classes("linear", z[:400], s[:400], z[400:500], s[400:500], z[500:], 2, g)
    >>> bool((log_q.argmax(1) == s[500:]).float().mean() > 0.9)
    True
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["READERS", "read_classes", "read_values", "require_boosting"]

READERS: tuple[str, ...] = ("linear", "mlp", "boosted")


def require_boosting():
    r"""The ``sklearn.ensemble`` module, or an ImportError that says how to install it.

    Example:
        >>> require_boosting().__name__
        'sklearn.ensemble'
    """
    try:
        from sklearn import ensemble
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the 'boosted' reader needs scikit-learn: pip install scikit-learn (or leave 'boosted' out of readers)"
        ) from None
    return ensemble


def _network(kind: str, d: int, out: int, generator: torch.Generator, device: torch.device) -> nn.Module:
    if kind == "linear":
        net: nn.Module = nn.Linear(d, out)
    else:
        net = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, out))
    with torch.no_grad():
        for p in net.parameters():  # initialised from the generator: the check is reproducible
            if p.dim() > 1:
                bound = 1.0 / math.sqrt(p.shape[1])
                p.copy_(torch.empty(p.shape).uniform_(-bound, bound, generator=generator))
            else:
                p.zero_()
    return net.to(device)


def _train(
    kind: str, loss_fn, z_fit: Tensor, t_fit: Tensor, z_valid: Tensor, t_valid: Tensor, out: int, generator
) -> nn.Module:
    net = _network(kind, z_fit.shape[1], out, generator, z_fit.device)
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
            loss_fn(net(z_fit[rows]), t_fit[rows]).backward()
            optimizer.step()
        with torch.no_grad():
            loss = float(loss_fn(net(z_valid), t_valid))
        if loss < best - 1e-4:
            best, best_state, patience = loss, {k: v.clone() for k, v in net.state_dict().items()}, 0
        else:
            patience += 1
            if patience >= 3:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    return net


def read_classes(
    kind: str,
    z_fit: Tensor,
    s_fit: Tensor,
    z_valid: Tensor,
    s_valid: Tensor,
    z_test: Tensor,
    classes: int,
    generator: torch.Generator,
) -> Tensor:
    r"""Trains the classifier ``kind`` (one of :data:`READERS`) and returns its held-out
    log-probabilities ``[len(z_test), classes]`` (float64).

    Arguments:
        kind: ``"linear"``, ``"mlp"`` or ``"boosted"``.
        z_fit: Standardised training features; ``s_fit`` their class indices.
        s_fit: ``[n_fit]`` class indices.
        z_valid: Validation features (early stopping); ``s_valid`` their classes.
        s_valid: ``[n_valid]`` class indices.
        z_test: Held-out features.
        classes: ``K``.
        generator: The seed of the initialisation and batches.

    Returns:
        ``[n_test, K]`` log-probabilities.

    Raises:
        ImportError: For ``"boosted"`` without scikit-learn.

    Example:
        >>> g = torch.Generator().manual_seed(1)
        >>> z = torch.randn(300, 2, generator=g); s = torch.randint(0, 3, (300,), generator=g)
        >>> read_classes("mlp", z[:200], s[:200], z[200:250], s[200:250], z[250:], 3, g).shape
        torch.Size([50, 3])
    """
    if kind == "boosted":
        model = require_boosting().HistGradientBoostingClassifier(
            max_iter=200, early_stopping=True, random_state=int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        )
        z_train, s_train = torch.cat([z_fit, z_valid]).cpu().numpy(), torch.cat([s_fit, s_valid]).cpu().numpy()
        model.fit(z_train, s_train)
        probs = torch.full((len(z_test), classes), 1e-6, dtype=torch.float64)
        probs[:, torch.as_tensor(model.classes_, dtype=torch.long)] = torch.as_tensor(
            model.predict_proba(z_test.cpu().numpy()), dtype=torch.float64
        )
        return (probs / probs.sum(1, keepdim=True)).log().to(z_test.device)
    with torch.enable_grad():
        net = _train(kind, F.cross_entropy, z_fit, s_fit, z_valid, s_valid, classes, generator)
    with torch.no_grad():
        return F.log_softmax(net(z_test).double(), dim=1)


def read_values(
    kind: str,
    z_fit: Tensor,
    v_fit: Tensor,
    z_valid: Tensor,
    v_valid: Tensor,
    z_test: Tensor,
    generator: torch.Generator,
) -> Tensor:
    r"""Trains the regressor ``kind`` on standardised targets ``v: [n, k]`` and returns its
    held-out predictions ``[len(z_test), k]``.

    Arguments:
        kind: ``"linear"`` (least squares), ``"mlp"`` or ``"boosted"``.
        z_fit: Standardised training features; ``v_fit`` their values.
        v_fit: ``[n_fit, k]`` standardised values.
        z_valid: Validation features (early stopping of the MLP).
        v_valid: ``[n_valid, k]`` values.
        z_test: Held-out features.
        generator: The seed of the initialisation and batches.

    Returns:
        ``[n_test, k]`` predictions.

    Raises:
        ImportError: For ``"boosted"`` without scikit-learn.

    Example:
        >>> g = torch.Generator().manual_seed(2)
        >>> z = torch.randn(400, 3, generator=g); v = z[:, :1] * 2
        >>> pred = read_values("linear", z[:300], v[:300], z[300:350], v[300:350], z[350:], g)
        >>> bool(torch.allclose(pred, v[350:], atol=1e-3))
        True
    """
    if kind == "linear":
        design = torch.cat([torch.cat([z_fit, z_valid]), z_fit.new_ones(len(z_fit) + len(z_valid), 1)], 1).double()
        target = torch.cat([v_fit, v_valid]).double()
        coef = torch.linalg.lstsq(design, target).solution
        return (torch.cat([z_test, z_test.new_ones(len(z_test), 1)], 1).double() @ coef).float()
    if kind == "boosted":
        ensemble = require_boosting()
        z_train, v_train = torch.cat([z_fit, z_valid]).cpu().numpy(), torch.cat([v_fit, v_valid]).cpu().numpy()
        columns = []
        for j in range(v_train.shape[1]):
            model = ensemble.HistGradientBoostingRegressor(
                max_iter=200,
                early_stopping=True,
                random_state=int(torch.randint(0, 2**31 - 1, (1,), generator=generator)),
            )
            columns.append(torch.as_tensor(model.fit(z_train, v_train[:, j]).predict(z_test.cpu().numpy())))
        return torch.stack(columns, 1).float().to(z_test.device)
    with torch.enable_grad():
        net = _train(kind, F.mse_loss, z_fit, v_fit, z_valid, v_valid, v_fit.shape[1], generator)
    with torch.no_grad():
        return net(z_test)
