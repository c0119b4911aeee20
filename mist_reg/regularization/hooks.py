r"""Capturing intermediate features of a model by module name, with forward hooks.

:class:`FeatureCapture` registers one forward hook per named module and keeps the latest
output (or input) of each; :meth:`FeatureCapture.pop` hands a captured tensor over once,
so nothing leaks from one training step into the next. :meth:`FeatureCapture.attach`
returns a :class:`CaptureHandle` that removes every hook it added, also as a context
manager. :func:`reduce_features` turns feature maps into the ``[N, d]`` matrices that
estimators take.

What is recorded, and when:

* Names are dotted paths as in :meth:`~torch.nn.Module.named_modules`. Wrapper prefixes
  are optional: ``"layer4"`` finds ``"module.layer4"`` under
  :class:`~torch.nn.parallel.DistributedDataParallel`, ``"_orig_mod.layer4"`` under
  :func:`torch.compile` (and FSDP or checkpoint wrappers' inner names). An unknown name
  raises a ``ValueError`` listing close matches.
* Each call of the attached model (the module given to :meth:`~FeatureCapture.attach`)
  starts afresh: features left over from a forward pass whose features were never used
  (an evaluation loop, say) are dropped. Within one forward pass, a module that runs
  several times is recorded once, by default at its first call (``repeat``).
* Calls made while autograd runs a backward pass are ignored: that is where activation
  checkpointing recomputes the forward of a checkpointed region, and a hook firing again
  there must not record twice. With ``use_reentrant=False`` (the recommended mode) the
  captured tensor comes from the original forward and carries gradients; with the
  reentrant mode the original forward runs without gradients, so features captured
  *inside* a checkpointed region carry none (hook the checkpointed block's output
  instead).
* With :func:`torch.compile`, attach before compiling (hooks registered later may be
  ignored by a compiled graph, depending on the version and backend). The hooks run
  eagerly (a graph break each), so ``fullgraph=True`` cannot be combined with them.

Example:
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 3))
    >>> capture = FeatureCapture(["1"])
    >>> with capture.attach(model):
    ...     out = model(torch.randn(2, 3, 16, 16))
    ...     features = capture.pop("1")
    >>> features.shape, reduce_features(features).shape
    (torch.Size([2, 8, 14, 14]), torch.Size([2, 8]))
    >>> model[0]._forward_hooks
    OrderedDict()
"""

from __future__ import annotations

import difflib
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal

import einops
import torch
from torch import Tensor, nn

__all__ = [
    "FeatureCapture",
    "CaptureHandle",
    "CaptureMode",
    "RepeatPolicy",
    "ReduceRule",
    "REDUCTIONS",
    "WRAPPER_NAMES",
    "resolve_module_name",
    "reduce_features",
]

CaptureMode = Literal["output", "input"]
RepeatPolicy = Literal["first", "last", "error"]
ReduceRule = str | Callable[[Tensor], Tensor]

REDUCTIONS: tuple[str, ...] = ("mean", "max", "flatten", "cls")
r"""The named rules of :func:`reduce_features` (an einops pattern or a callable also serve)."""

WRAPPER_NAMES: tuple[str, ...] = ("_orig_mod", "_fsdp_wrapped_module", "_checkpoint_wrapped_module")
r"""Attribute names that wrappers insert into module paths, ignored anywhere in a name
(``"module"``, the attribute of DDP and DataParallel, is ignored at the start only)."""


_graph_task_id = getattr(torch._C, "_current_graph_task_id", None)


def _in_backward() -> bool:
    r"""Whether autograd is running a backward pass in this thread (where activation
    checkpointing recomputes forward passes)."""
    return _graph_task_id is not None and _graph_task_id() != -1


def _canonical(name: str) -> str:
    parts = [p for p in name.split(".") if p and p not in WRAPPER_NAMES]
    while parts and parts[0] == "module":
        parts.pop(0)
    return ".".join(parts)


def resolve_module_name(model: nn.Module, name: str) -> str:
    r"""The path in ``model.named_modules()`` that ``name`` designates.

    An exact path wins; otherwise paths are compared without wrapper prefixes
    (:data:`WRAPPER_NAMES`, and a leading ``module.``).

    Example:
        >>> class Wrapper(nn.Module):  # names like DistributedDataParallel's
        ...     def __init__(self, module):
        ...         super().__init__()
        ...         self.module = module
        >>> model = Wrapper(nn.Sequential(nn.Linear(2, 2), nn.ReLU()))
        >>> resolve_module_name(model, "0"), resolve_module_name(model, "module.1")
        ('module.0', 'module.1')
        >>> resolve_module_name(model, "2")
        Traceback (most recent call last):
        ...
        ValueError: no module named '2' in Wrapper; close matches: 0, 1
    """
    if not isinstance(name, str):
        raise TypeError(f"a module name must be a string, got {type(name).__name__}")
    modules = dict(model.named_modules(remove_duplicate=False))
    if name in modules:
        return name
    wanted = _canonical(name)
    matches: dict[int, str] = {}
    for path, module in modules.items():
        if _canonical(path) == wanted:
            matches.setdefault(id(module), path)
    if len(matches) == 1:
        return next(iter(matches.values()))
    if len(matches) > 1:
        raise ValueError(
            f"module name {name!r} is ambiguous in {type(model).__name__}: {', '.join(sorted(matches.values()))}"
        )
    known = sorted({_canonical(p) for p in modules} - {""})
    close = difflib.get_close_matches(wanted, known, n=5, cutoff=0.5)
    if not close:  # e.g. a parent path: suggest what lies under it, then the top level
        close = [k for k in known if k.startswith(wanted + ".")][:5] or [k for k in known if "." not in k][:5]
    hint = f"; close matches: {', '.join(close)}" if close else ""
    raise ValueError(f"no module named {name!r} in {type(model).__name__}{hint}")


def _first_tensor(values: Iterable[object]) -> Tensor | None:
    for value in values:
        if isinstance(value, Tensor):
            return value
    return None


def _select(value: object, what: str, path: str) -> Tensor:
    if isinstance(value, Tensor):
        return value
    found = None
    if isinstance(value, (tuple, list)):
        found = _first_tensor(value)
    elif isinstance(value, Mapping):
        found = _first_tensor(value.values())
    if found is None:
        raise TypeError(
            f"the {what} of module {path!r} holds no tensor (got {type(value).__name__}); "
            "capture another module, or its input"
        )
    return found


class CaptureHandle:
    r"""Removes the hooks of one :meth:`FeatureCapture.attach`; a context manager that
    removes them (and drops captured features) on exit. ``remove`` may be called twice."""

    def __init__(self, capture: FeatureCapture, handles: list, paths: dict[str, str]) -> None:
        self._capture: FeatureCapture | None = capture
        self._handles = handles
        self.paths = dict(paths)
        r"""The resolved module path of each key."""

    @property
    def active(self) -> bool:
        r"""Whether the hooks are still registered."""
        return self._capture is not None

    def remove(self) -> None:
        r"""Removes every hook this handle added and drops captured features."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if self._capture is not None:
            self._capture._release(self)
            self._capture = None

    def __enter__(self) -> CaptureHandle:
        return self

    def __exit__(self, *exc_info) -> None:
        self.remove()

    def __repr__(self) -> str:
        state = "active" if self.active else "removed"
        return f"CaptureHandle({state}, paths={self.paths})"


class FeatureCapture:
    r"""Records the outputs (or inputs) of named modules during forward passes.

    Arguments:
        targets: Module names (each is also its key), or a mapping from keys to names
            (two keys may name the same module, e.g. one for its input and one for its
            output).
        capture: ``"output"`` or ``"input"`` (the first positional tensor argument, else
            the first tensor keyword argument), for all keys or as a mapping per key.
            From a tuple, list or dict output, the first tensor is kept.
        repeat: What to keep when a module runs more than once in one forward pass of the
            attached model: ``"first"`` (by default), ``"last"``, or ``"error"`` to raise.
            Recomputations under activation checkpointing never count.

    See the module documentation for when features are recorded and dropped.
    """

    def __init__(
        self,
        targets: str | Sequence[str] | Mapping[str, str],
        capture: CaptureMode | Mapping[str, CaptureMode] = "output",
        repeat: RepeatPolicy = "first",
    ) -> None:
        if isinstance(targets, str):
            targets = [targets]
        if isinstance(targets, Mapping):
            self.targets = dict(targets)
        else:
            self.targets = {name: name for name in targets}
        if not self.targets:
            raise ValueError("FeatureCapture needs at least one module name")
        for key, name in self.targets.items():
            if not isinstance(name, str):
                raise TypeError(f"module name of {key!r} must be a string, got {type(name).__name__}")
        if isinstance(capture, str):
            capture = {key: capture for key in self.targets}
        unknown = set(capture) - set(self.targets)
        if unknown:
            raise ValueError(f"capture names unknown keys {sorted(unknown)}; keys: {sorted(self.targets)}")
        self.capture = {key: capture.get(key, "output") for key in self.targets}
        for key, mode in self.capture.items():
            if mode not in ("output", "input"):
                raise ValueError(f"capture must be 'output' or 'input', got {mode!r} for {key!r}")
        if repeat not in ("first", "last", "error"):
            raise ValueError(f"repeat must be 'first', 'last' or 'error', got {repeat!r}")
        self.repeat = repeat
        self._features: dict[str, Tensor] = {}
        self._handle: CaptureHandle | None = None

    @property
    def attached(self) -> bool:
        r"""Whether hooks are registered on a model."""
        return self._handle is not None

    @property
    def paths(self) -> dict[str, str]:
        r"""The resolved module path of each key (empty while detached)."""
        return dict(self._handle.paths) if self._handle is not None else {}

    def attach(self, model: nn.Module) -> CaptureHandle:
        r"""Registers the hooks on the named submodules of ``model`` and returns the handle
        that removes them. Attach before :func:`torch.compile`; under DDP, attach to the
        wrapped module or to the DDP module itself."""
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if self._handle is not None:
            raise RuntimeError("this capture is already attached to a model; remove its handle first")
        paths = {key: resolve_module_name(model, name) for key, name in self.targets.items()}
        modules = dict(model.named_modules(remove_duplicate=False))
        handles = []
        try:
            handles.append(model.register_forward_pre_hook(self._start_hook(model)))
            for key, path in paths.items():
                module = modules[path]
                handles.append(module.register_forward_hook(self._record_hook(key, module), with_kwargs=True))
        except BaseException:
            for handle in handles:
                handle.remove()
            raise
        self._features.clear()
        self._handle = CaptureHandle(self, handles, paths)
        return self._handle

    def remove(self) -> None:
        r"""Removes the hooks, if attached (the same as ``handle.remove()``)."""
        if self._handle is not None:
            self._handle.remove()

    def _release(self, handle: CaptureHandle) -> None:
        if self._handle is handle:
            self._handle = None
            self._features.clear()

    def _start_hook(self, model: nn.Module):
        model_ref = weakref.ref(model)

        @torch.compiler.disable
        def start(module: nn.Module, args: tuple) -> None:
            if module is model_ref() and not _in_backward():
                self._features.clear()

        return start

    def _record_hook(self, key: str, target: nn.Module):
        target_ref = weakref.ref(target)  # copies of the model (an EMA teacher) share hooks
        mode = self.capture[key]

        @torch.compiler.disable
        def record(module: nn.Module, args: tuple, kwargs: dict, output: object) -> None:
            if module is not target_ref() or _in_backward():
                return
            if key in self._features:
                if self.repeat == "first":
                    return
                if self.repeat == "error":
                    raise RuntimeError(
                        f"module {self.targets[key]!r} ran twice in one forward pass and repeat='error'; "
                        "use repeat='first' or 'last' to choose a call"
                    )
            if mode == "output":
                value = _select(output, "output", self.targets[key])
            else:
                value = _first_tensor(args)
                if value is None:
                    value = _first_tensor(kwargs.values())
                if value is None:
                    raise TypeError(f"module {self.targets[key]!r} was called without a tensor argument to capture")
            self._features[key] = value

        return record

    def __contains__(self, key: str) -> bool:
        return key in self._features

    def pop(self, key: str) -> Tensor:
        r"""Returns the feature recorded for ``key`` and forgets it; raises a
        ``RuntimeError`` when none was recorded since the last pop."""
        if key not in self.targets:
            raise KeyError(f"unknown key {key!r}; keys: {', '.join(self.targets)}")
        if key in self._features:
            return self._features.pop(key)
        if self._handle is None:
            raise RuntimeError(
                f"no features for {key!r}: the capture is not attached; call attach(model) before the forward pass"
            )
        raise RuntimeError(
            f"no features captured from module {self._handle.paths[key]!r} since they were last used: run a forward "
            "pass of the model before each use (captured features are used once); if the model is compiled, "
            "attach before torch.compile"
        )

    def clear(self) -> None:
        r"""Drops every captured feature."""
        self._features.clear()

    def __repr__(self) -> str:
        return f"FeatureCapture(targets={self.targets}, capture={self.capture}, repeat={self.repeat!r}, attached={self.attached})"


def reduce_features(features: Tensor, rule: ReduceRule = "mean") -> Tensor:
    r"""Reduces a batch of features ``[N, ...]`` to ``[N, d]``.

    Rules:

    * ``"mean"`` (the default): ``[N, d]`` is kept; ``[N]`` becomes ``[N, 1]``;
      ``[N, T, D]`` (tokens) is averaged over ``T``; ``[N, C, *spatial]`` (channels first,
      4-D or more) is averaged over the spatial dimensions (global average pooling);
    * ``"max"``: the same with the maximum instead of the mean;
    * ``"flatten"``: ``[N, ...]`` becomes ``[N, prod(...)]``;
    * ``"cls"``: the first token of ``[N, T, D]`` (a ViT class token);
    * an einops pattern such as ``"b c h w -> b (c h w)"`` or ``"b h w c -> b c"``
      (channels last): :func:`einops.reduce` with ``"mean"`` over the axes the output
      omits;
    * a callable ``features -> [N, d]``.

    Integer tensors (class labels) are only reshaped: ``[N]`` becomes ``[N, 1]``.

    Example:
        >>> maps = torch.randn(2, 8, 4, 4)
        >>> torch.allclose(reduce_features(maps), maps.mean((2, 3)))
        True
        >>> reduce_features(maps, "b c h w -> b (c h w)").shape
        torch.Size([2, 128])
        >>> reduce_features(torch.randn(2, 17, 192)).shape  # tokens are averaged
        torch.Size([2, 192])
    """
    if not isinstance(features, Tensor):
        raise TypeError(f"features must be a torch.Tensor, got {type(features).__name__}")
    if features.dim() == 0:
        raise ValueError("features must have a batch dimension, got a 0-d tensor")
    if not (features.is_floating_point() or features.is_complex()):
        if features.dim() == 1:
            return features.unsqueeze(1)
        if features.dim() == 2:
            return features
        raise ValueError(f"integer features must be [N] or [N, 1] class indices, got shape {tuple(features.shape)}")
    if callable(rule):
        out = rule(features)
    elif not isinstance(rule, str):
        raise TypeError(f"reduce must be a string or a callable, got {type(rule).__name__}")
    elif "->" in rule:
        out = einops.reduce(features, rule, "mean")
    elif features.dim() <= 2:
        if rule not in REDUCTIONS:
            raise ValueError(
                f"unknown reduce rule {rule!r}; valid rules: {', '.join(REDUCTIONS)}, an einops pattern or a callable"
            )
        out = features
    elif rule in ("mean", "max"):
        dims = (1,) if features.dim() == 3 else tuple(range(2, features.dim()))
        out = features.mean(dims) if rule == "mean" else features.amax(dims)
    elif rule == "flatten":
        out = features.flatten(1)
    elif rule == "cls":
        if features.dim() != 3:
            raise ValueError(f"reduce='cls' takes tokens [N, T, D], got shape {tuple(features.shape)}")
        out = features[:, 0]
    else:
        raise ValueError(
            f"unknown reduce rule {rule!r}; valid rules: {', '.join(REDUCTIONS)}, an einops pattern or a callable"
        )
    if not isinstance(out, Tensor):
        raise TypeError(f"the reduce callable must return a tensor, got {type(out).__name__}")
    if out.dim() == 1:
        out = out.unsqueeze(1)
    if out.dim() != 2 or out.shape[0] != features.shape[0]:
        raise ValueError(
            f"reducing features of shape {tuple(features.shape)} gave shape {tuple(out.shape)}, not [N, d] "
            f"with N = {features.shape[0]}"
        )
    return out
