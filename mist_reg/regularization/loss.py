r"""A mutual-information term to add to a training loss: :class:`MILoss`.

``MILoss`` = feature capture (:mod:`~mist_reg.regularization.hooks`) + an estimator + a
direction + a weight; the term itself is the pure function
:func:`~mist_reg.regularization.term.mi_term`. The class keeps what lives between steps:
the hooks, the estimator built lazily by name, inner steps and their optimiser, the state
dict, and :attr:`MILoss.last_estimate`. ``direction="maximize"`` returns
``-weight * I_hat`` (InfoMax, contrastive learning); ``direction="minimize"`` returns
``weight * I_hat`` (fairness, disentanglement), by default from a model refitted on every
batch that the encoder cannot fool, with ``y`` read by its type (classes for an integer
``y``, continuous values for a float ``y``; see :mod:`~mist_reg.regularization.attribute`).
Why each default, DDP, checkpoints and costs: ``docs/miloss.md``.

Example:
    >>> import torch
    >>> z, s = torch.randn(256, 4, requires_grad=True), torch.randint(0, 2, (256,))
    >>> penalty = MILoss("kernel", direction="minimize", weight=3.0)
    >>> penalty(z, s).backward()     # a differentiable term; no parameters to fit
    >>> bool(penalty.last_estimate.abs() < 0.05)   # S independent of Z
    True
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.modules.module import _EXTRA_STATE_KEY_SUFFIX

from mist_reg.checks import check_pair
from mist_reg.estimators.base import MIEstimator
from mist_reg.estimators.factories import ESTIMATORS, instantiate_estimator, list_estimators, normalize_name
from mist_reg.regularization.attribute import ATTRIBUTE_KINDS, AttributeKind, looks_like_labels, read_attribute
from mist_reg.regularization.distributed import gather_with_grad, is_distributed
from mist_reg.regularization.hooks import (
    CaptureHandle,
    CaptureMode,
    FeatureCapture,
    ReduceRule,
    RepeatPolicy,
    reduce_features,
)
from mist_reg.regularization.term import Direction, mi_term

__all__ = ["MILoss", "Direction", "MINIMIZE_DENSITY"]

MINIMIZE_DENSITY = "batch"
r"""The ``q(y | x)`` an estimator built by name gets when it is minimised (see
:class:`mist_reg.distributions.BatchByType`)."""

_DIRECTIONS = {"maximize": "maximize", "maximise": "maximize", "minimize": "minimize", "minimise": "minimize"}
_SIDES = ("x", "y")


def _per_side(value: Any, name: str) -> dict[str, Any]:
    if isinstance(value, Mapping):
        unknown = set(value) - set(_SIDES)
        if unknown:
            raise ValueError(f"{name} as a mapping takes the keys 'x' and 'y', got {sorted(unknown)}")
        return {side: value.get(side, None) for side in _SIDES}
    return {side: value for side in _SIDES}


def _check_finite(features: Tensor, what: str) -> None:
    r"""Refuses NaN or infinite features without a host synchronisation: the test is a
    device-side assertion (:func:`torch._assert_async`), raised here on the CPU and at the
    device's next synchronisation on an accelerator, where reading a flag back would stall
    every step."""
    message = f"{what} contain NaN or infinite values; the estimator would turn them into a NaN loss and NaN parameters"
    try:
        torch._assert_async(torch.isfinite(features).all(), message)
    except RuntimeError:
        raise ValueError(message) from None


class MILoss(nn.Module):
    r"""A mutual-information term between features of a model, to add to its loss.

    See the module documentation for what each direction computes, which gradients reach
    which parameters, and the DDP, checkpointing and compilation rules.

    Arguments:
        estimator: An :class:`~mist_reg.estimators.MIEstimator` instance, or a registered
            name (see :func:`mist_reg.list_estimators`) built with ``estimator_kwargs``.
        x: The dotted name of a submodule whose output (or input, see ``capture``) is
            the variable ``x``, or ``None`` to pass the tensor at call time.
        y: The same for ``y`` (``None`` and ``mi_loss(y=labels)`` for labels or a
            sensitive attribute).
        direction: ``"maximize"`` or ``"minimize"`` (British spellings accepted).
        weight: The non-negative weight of the term for the encoder; may be changed
            between steps (a schedule).
        reduce: How features become ``[N, d]`` (see :func:`mist_reg.regularization.hooks.reduce_features`):
            ``"mean"`` (global average pooling of ``[N, C, H, W]``, mean over tokens of
            ``[N, T, D]``), ``"max"``, ``"flatten"``, ``"cls"``, an einops pattern such as
            ``"b c h w -> b (c h w)"``, or a callable; one rule for both or a mapping
            ``{"x": ..., "y": ...}``. Rules apply to features of three or more
            dimensions; ``[N]`` and ``[N, d]`` are used as they are (``[N]`` as ``[N, 1]``).
        capture: ``"output"`` or ``"input"`` of the named modules, or a mapping per side.
        inner_steps: Extra steps of the estimator alone per call, on detached features.
        inner_optimizer: A callable ``params -> optimizer`` for the inner steps (Adam with
            ``inner_lr`` by default). The optimiser it returns belongs to this ``MILoss``:
            its state is saved and loaded with :meth:`state_dict`.
        inner_lr: The learning rate of the default inner optimiser.
        estimator_kwargs: Arguments of the estimator factory when ``estimator`` is a name
            (``x_dim`` and ``y_dim`` build it at once; see the module documentation).
        gather: Whether to gather features across ranks; by default, when a process group
            of more than one rank is initialised at the call (without one, nothing is
            gathered). Every rank must then pass batches of the same size.
        repeat: Which call to keep when a captured module runs several times in one
            forward pass (see :class:`mist_reg.regularization.hooks.FeatureCapture`).
        y_kind: How a ``y`` given at call time is read: ``"auto"`` (integer: classes,
            ``[N, k]`` integer: joint classes; float: values), ``"classes"`` (any codes,
            whole floats included) or ``"values"`` (see
            :mod:`~mist_reg.regularization.attribute`).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
        >>> mi_loss = MILoss("club", x="1", direction="minimize", weight=0.1,
        ...                  estimator_kwargs=dict(x_dim=8, y_dim=1, hidden_dims=[16]))
        >>> optimizer = torch.optim.Adam([*model.parameters(), *mi_loss.parameters()], lr=1e-3)
        >>> inputs, target, nuisance = torch.randn(64, 4), torch.randn(64, 1), torch.randn(64, 1)
        >>> handle = mi_loss.attach(model)  # also a context manager
        >>> for step in range(3):
        ...     optimizer.zero_grad()
        ...     loss = nn.functional.mse_loss(model(inputs), target) + mi_loss(y=nuisance)
        ...     loss.backward()
        ...     optimizer.step()
        >>> mi_loss.last_estimate.shape, mi_loss.last_estimate.requires_grad
        (torch.Size([]), False)
        >>> mi_loss(y=nuisance)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        RuntimeError: no features captured from module '1' since they were last used: ...
        >>> handle.remove()  # the model is as it was
    """

    def __init__(
        self,
        estimator: MIEstimator | str,
        x: str | None = None,
        y: str | None = None,
        *,
        direction: Direction = "maximize",
        weight: float = 1.0,
        reduce: ReduceRule | Mapping[str, ReduceRule] = "mean",
        capture: CaptureMode | Mapping[str, CaptureMode] = "output",
        inner_steps: int = 0,
        inner_optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer] | None = None,
        inner_lr: float = 1e-3,
        estimator_kwargs: Mapping[str, Any] | None = None,
        gather: bool | None = None,
        repeat: RepeatPolicy = "first",
        y_kind: AttributeKind = "auto",
    ) -> None:
        super().__init__()
        if not isinstance(direction, str) or direction.lower() not in _DIRECTIONS:
            raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
        self.direction: Direction = _DIRECTIONS[direction.lower()]  # type: ignore[assignment]
        self.weight = weight  # validated by the property
        if not isinstance(inner_steps, int) or isinstance(inner_steps, bool) or inner_steps < 0:
            raise ValueError(f"inner_steps must be a non-negative int, got {inner_steps!r}")
        if inner_lr <= 0:
            raise ValueError(f"inner_lr must be positive, got {inner_lr}")
        if inner_optimizer is not None and not callable(inner_optimizer):
            raise TypeError("inner_optimizer must be a callable params -> torch.optim.Optimizer")
        if gather is not None and not isinstance(gather, bool):
            raise TypeError(f"gather must be True, False or None, got {gather!r}")
        self.inner_steps, self.inner_lr, self.inner_optimizer = inner_steps, inner_lr, inner_optimizer
        self.gather = gather
        if y_kind not in ATTRIBUTE_KINDS:
            raise ValueError(f"y_kind must be one of {', '.join(ATTRIBUTE_KINDS)}, got {y_kind!r}")
        self.y_kind, self._y_checked = y_kind, False

        self.sources: dict[str, str | None] = {"x": x, "y": y}
        for side, source in self.sources.items():
            if source is not None and not isinstance(source, str):
                raise TypeError(
                    f"{side} must be a module name (str) or None (a tensor given at call time), got {type(source).__name__}"
                )
        self.reduce = _per_side(reduce, "reduce")
        for side, rule in self.reduce.items():
            if rule is None:
                self.reduce[side] = "mean"
            elif not (callable(rule) or isinstance(rule, str)):
                raise TypeError(f"reduce for {side} must be a string or a callable, got {type(rule).__name__}")
        named = {side: source for side, source in self.sources.items() if source is not None}
        capture_modes = _per_side(capture, "capture")
        self._capture = (
            FeatureCapture(named, {side: capture_modes[side] or "output" for side in named}, repeat) if named else None
        )

        self.register_module("estimator", None)
        self.estimator_name: str | None = None
        self.estimator_kwargs: dict[str, Any] = dict(estimator_kwargs or {})
        self._dims: dict[str, int] = {}
        if isinstance(estimator, MIEstimator):
            if estimator_kwargs:
                raise TypeError("estimator_kwargs apply only when the estimator is given by name")
            self.estimator = estimator
            self._check_bound()
        elif isinstance(estimator, str):
            if normalize_name(estimator) not in ESTIMATORS:
                raise ValueError(f"unknown estimator {estimator!r}; valid names: {', '.join(list_estimators())}")
            self.estimator_name = estimator
            if "x_dim" in self.estimator_kwargs and "y_dim" in self.estimator_kwargs:
                self._build(self.estimator_kwargs["x_dim"], self.estimator_kwargs["y_dim"], None)
        else:
            raise TypeError(f"estimator must be an MIEstimator or a registered name, got {type(estimator).__name__}")

        self.last_estimate: Tensor | None = None
        r"""The estimate (nats, detached, float32) of the latest call; ``None`` before it."""
        self._inner: torch.optim.Optimizer | None = None

    # -- configuration -------------------------------------------------------------------

    @property
    def weight(self) -> float:
        r"""The weight of the term for the encoder (non-negative)."""
        return self._weight

    @weight.setter
    def weight(self, value: float) -> None:
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"weight must be a finite non-negative number (flip direction instead), got {value}")
        self._weight = value

    def _check_bound(self) -> None:
        if self.direction == "maximize" and getattr(self.estimator, "bound", None) == "upper":
            warnings.warn(
                f"maximising the upper bound of {type(self.estimator).__name__} does not raise mutual information; "
                "use a lower bound (InfoNCE, NWJ, SMILE, ...) to maximise",
                UserWarning,
                stacklevel=3,
            )

    def _factory_defaults(self) -> dict[str, Any]:
        r"""What a name builds differently in this MILoss: minimising with a density
        ``q(y | x)`` (CLUB, L1OUT, ...) uses one refitted in closed form on every batch
        (see the module documentation), unless ``estimator_kwargs`` names ``q``."""
        factory = ESTIMATORS[normalize_name(self.estimator_name)]
        if self.direction == "minimize" and "q" in inspect.signature(factory).parameters:
            return {"q": MINIMIZE_DENSITY}
        return {}

    def _build(self, x_dim: int, y_dim: int, device: torch.device | None) -> None:
        kwargs = {**self._factory_defaults(), **self.estimator_kwargs, "x_dim": int(x_dim), "y_dim": int(y_dim)}
        estimator = instantiate_estimator(self.estimator_name, **kwargs)
        if device is not None:
            estimator = estimator.to(device)
        estimator.train(self.training)
        self.estimator = estimator
        self._dims = {"x": int(x_dim), "y": int(y_dim)}
        self._check_bound()

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        if self.estimator is None:
            warnings.warn(
                "the estimator of this MILoss is built at its first call, so it has no parameters yet: run one step "
                "before creating the optimiser, or give x_dim and y_dim in estimator_kwargs",
                UserWarning,
                stacklevel=2,
            )
        return super().parameters(recurse)

    # -- state ---------------------------------------------------------------------------

    def get_extra_state(self) -> dict[str, Any]:
        r"""What :meth:`state_dict` holds besides the estimator's parameters and buffers: the
        widths of an estimator built at the first call (``dims``, empty when the estimator
        was given or built at once), the state of the inner optimiser (``None`` before its
        first step), and :attr:`last_estimate`. Plain values and tensors only, so a
        checkpoint loads with ``torch.load(..., weights_only=True)``.

        Example:
            >>> mi_loss = MILoss("infonce", estimator_kwargs=dict(hidden_dims=[8]), inner_steps=1)
            >>> _ = mi_loss(torch.randn(16, 3), torch.randn(16, 2))
            >>> fresh = MILoss("infonce", estimator_kwargs=dict(hidden_dims=[8]), inner_steps=1)
            >>> fresh.load_state_dict(mi_loss.state_dict())  # builds the estimator, then loads it
            <All keys matched successfully>
            >>> state = fresh.get_extra_state()
            >>> state["dims"], len(state["inner_optimizer"]["state"]) > 0
            ({'x': 3, 'y': 2}, True)
        """
        return {
            "dims": dict(self._dims),
            "inner_optimizer": None if self._inner is None else self._inner.state_dict(),
            "last_estimate": self.last_estimate,
        }

    def set_extra_state(self, state: Any) -> None:
        r"""Restores what :meth:`get_extra_state` saved (an estimator built at the first call
        is built from the saved widths before this runs)."""
        if not isinstance(state, Mapping) or not {"dims", "inner_optimizer", "last_estimate"} <= set(state):
            raise ValueError(
                "the extra state of a MILoss must be the mapping that MILoss.get_extra_state returns "
                f"(keys 'dims', 'inner_optimizer', 'last_estimate'), got {state!r:.200}"
            )
        self._inner = None  # a state saved before the first inner step restarts the optimiser
        if state["inner_optimizer"] is not None:
            self._inner_optimizer().load_state_dict(state["inner_optimizer"])
        self.last_estimate = state["last_estimate"]

    def _load_from_state_dict(
        self,
        state_dict: Mapping[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        # nn.Module loads a module's own entries before its submodules': an estimator built
        # at the first call is built here, from the saved widths, before its entries load
        key = prefix + _EXTRA_STATE_KEY_SUFFIX
        saved = state_dict.get(key)
        dims = saved.get("dims") if isinstance(saved, Mapping) else None
        if dims:
            if self.estimator is None and self.estimator_name is not None:
                tensors = [
                    v for k, v in state_dict.items() if k.startswith(f"{prefix}estimator.") and isinstance(v, Tensor)
                ]
                self._build(dims["x"], dims["y"], tensors[0].device if tensors else None)
            elif self._dims and dict(dims) != self._dims:
                error_msgs.append(
                    f"the state dict is of an estimator built for x_dim={dims['x']}, y_dim={dims['y']}; "
                    f"this MILoss's was built for x_dim={self._dims['x']}, y_dim={self._dims['y']}"
                )
                return
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
        if key not in state_dict and key in missing_keys:
            missing_keys.remove(key)  # written before MILoss saved its own state: a fresh inner optimiser

    # -- hooks ---------------------------------------------------------------------------

    def attach(self, model: nn.Module) -> CaptureHandle:
        r"""Registers forward hooks on the modules named by ``x`` and ``y`` in ``model`` and
        returns a handle that removes them (also as a context manager). Attach before
        :func:`torch.compile`; under DDP the ``module.`` prefix is optional."""
        if self._capture is None:
            raise RuntimeError("neither x nor y names a module: pass both tensors at call time instead of attaching")
        return self._capture.attach(model)

    @property
    def capture(self) -> FeatureCapture | None:
        r"""The :class:`~mist_reg.regularization.hooks.FeatureCapture` of the named sides (``None`` if none)."""
        return self._capture

    # -- the term ------------------------------------------------------------------------

    def _features(self, side: str, given: Tensor | None) -> Tensor:
        source = self.sources[side]
        if source is not None:
            if given is not None:
                raise ValueError(f"{side} is captured from module {source!r}; do not also pass it at call time")
            features = self._capture.pop(side)
        elif given is None:
            raise ValueError(f"{side} names no module, so pass it at call time: mi_loss({side}=tensor)")
        elif not isinstance(given, Tensor):
            raise TypeError(f"{side} must be a torch.Tensor, got {type(given).__name__}")
        else:
            features = given
            if side == "y":
                features = self._read_y(features)
        if features.is_floating_point():
            origin = f"module {source!r}" if source is not None else "the tensor passed at call time"
            _check_finite(features, f"the {side} features from {origin}")
        if features.dtype in (torch.float16, torch.bfloat16):
            features = features.float()  # before the reduction, which then runs in float32
        if features.dim() <= 2:  # already [N] or [N, d]: the rule is for feature maps and tokens
            return reduce_features(features, "mean")
        return reduce_features(features, self.reduce[side])

    def _read_y(self, y: Tensor) -> Tensor:
        if self.y_kind == "auto" and not self._y_checked:
            self._y_checked = True
            if looks_like_labels(y):
                warnings.warn(
                    "y is a float tensor of a few whole values, read as continuous values (through its linear "
                    "relation to the features); pass y.long() or y_kind='classes' to read classes, "
                    "y_kind='values' to keep this reading",
                    UserWarning,
                    stacklevel=6,
                )
        if self.y_kind == "classes" and y.is_floating_point() and not bool(torch.isfinite(y).all()):
            raise ValueError("y contains NaN or infinite values, which are no class codes")
        return read_attribute(y, self.y_kind)

    def _use_gather(self) -> bool:
        return is_distributed() if self.gather is None else (self.gather and is_distributed())

    def _inner_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.estimator.parameters() if p.requires_grad]

    def _inner_optimizer(self) -> torch.optim.Optimizer:
        r"""The private optimiser of the inner steps, made at its first use."""
        if self._inner is None:
            make = self.inner_optimizer or (lambda p: torch.optim.Adam(p, lr=self.inner_lr))
            self._inner = make(self._inner_parameters())
        return self._inner

    def _run_inner_steps(self, x: Tensor, y: Tensor) -> None:
        params = self._inner_parameters()
        if not params:
            return
        optimizer = self._inner_optimizer()
        saved = [p.grad for p in params]
        x, y = x.detach(), y.detach()
        try:
            for _ in range(self.inner_steps):
                # autograd.grad, not backward: accumulated gradients and DDP's hooks stay untouched
                grads = torch.autograd.grad(self.estimator(x, y), params, allow_unused=True)
                for p, g in zip(params, grads):
                    p.grad = g
                optimizer.step()
        finally:
            for p, g in zip(params, saved):
                p.grad = g

    def forward(self, x: Tensor | None = None, y: Tensor | None = None) -> Tensor:
        r"""The term to add to the task loss, from the features captured in the latest
        forward pass (and the tensors given here for sides that name no module)."""
        fx, fy = self._features("x", x), self._features("y", y)
        check_pair(fx, fy)
        if self.estimator is None:
            self._build(fx.shape[1], fy.shape[1], fx.device)
            if is_distributed():
                warnings.warn(
                    "the estimator of this MILoss was built at its first call, after the model was wrapped in "
                    "DistributedDataParallel: its parameters get no gradient synchronisation; give x_dim and y_dim "
                    "in estimator_kwargs (or run one step before wrapping)",
                    UserWarning,
                    stacklevel=2,
                )
        for side, features in (("x", fx), ("y", fy)):
            expected = self._dims.get(side)
            if expected is not None and features.is_floating_point() and features.shape[1] != expected:
                raise ValueError(
                    f"the reduced {side} features have {features.shape[1]} dimensions but the estimator was built "
                    f"for {side}_dim={expected} (reduce rule {self.reduce[side]!r})"
                )
        if self._use_gather():
            fx, fy = gather_with_grad(fx), gather_with_grad(fy)

        training = self.training and torch.is_grad_enabled()
        if training and self.inner_steps:
            self._run_inner_steps(fx, fy)
        term, self.last_estimate = mi_term(
            self.estimator, fx, fy, direction=self.direction, weight=self.weight, fit=training
        )
        return term

    def extra_repr(self) -> str:
        sources = ", ".join(f"{side}={source!r}" for side, source in self.sources.items())
        estimator = f"estimator_name={self.estimator_name!r}, " if self.estimator is None else ""
        return (
            f"{estimator}{sources}, direction={self.direction!r}, weight={self.weight}, "
            f"reduce={self.reduce}, inner_steps={self.inner_steps}"
        )
