r"""The registry of estimators by name: one :class:`EstimatorEntry` per name carries
everything about it (the factory, the class it builds, the bound direction, whether it
takes the critic arguments of :func:`~mist_reg.estimators.factories.make_critic`, and the
defaults :func:`mist_reg.estimate_mi` gives it), so that a string in a config, on the
command line or in :class:`mist_reg.MILoss` reaches the right factory.

A new estimator is one class (see :mod:`mist_reg.estimators.base`) and one factory
registered beside it, in the class's module::

    @register_estimator("my_estimator", MyEstimator)
    def my_estimator(x_dim: int, y_dim: int, hidden_dims=None) -> MyEstimator:
        ...

Example:
    >>> entry = get_entry("SMILE")
    >>> entry.name, entry.cls.__name__, entry.bound, entry.has_critic
    ('smile', 'SMILE', 'lower', True)
    >>> estimator = instantiate_estimator("smile", x_dim=3, y_dim=2, hidden_dims=[32], tau=3.0)
    >>> type(estimator).__name__, estimator.tau
    ('SMILE', 3.0)
    >>> instantiate_estimator("mutual")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown estimator 'mutual'; valid names: alpha_tuba, ..., tuba
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Set
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from mist_reg.estimators.base import BoundDirection, MIEstimator

__all__ = [
    "EstimatorEntry",
    "REGISTRY",
    "ESTIMATORS",
    "CRITIC_ESTIMATORS",
    "register_estimator",
    "normalize_name",
    "get_entry",
    "instantiate_estimator",
    "list_estimators",
]


@dataclass(frozen=True)
class EstimatorEntry:
    r"""Everything about one registered name.

    Attributes:
        name: The registry key (lower case, ``_`` between words).
        factory: Builds the estimator: ``factory(x_dim=..., y_dim=..., **arguments)``.
        cls: The :class:`~mist_reg.estimators.base.MIEstimator` subclass it builds.
        has_critic: Whether the factory takes the critic arguments of
            :func:`~mist_reg.estimators.factories.make_critic` (``critic_type``,
            ``reference``, ...).
        estimate_defaults: Factory arguments :func:`mist_reg.estimate_mi` uses unless
            told otherwise (read-only).
    """

    name: str
    factory: Callable[..., MIEstimator]
    cls: type[MIEstimator]
    has_critic: bool = False
    estimate_defaults: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (isinstance(self.cls, type) and issubclass(self.cls, MIEstimator)):
            raise TypeError(f"cls of estimator {self.name!r} must be an MIEstimator subclass, got {self.cls!r}")
        object.__setattr__(self, "estimate_defaults", MappingProxyType(dict(self.estimate_defaults)))

    @property
    def bound(self) -> BoundDirection:
        r"""Which way the estimates of ``cls`` err: ``"lower"``, ``"upper"`` or ``None``."""
        return self.cls.bound

    def build(self, **kwargs: Any) -> MIEstimator:
        r"""The estimator built by the factory with ``kwargs`` (``x_dim``, ``y_dim``, ...)."""
        return self.factory(**kwargs)

    def build_for_estimate(self, **kwargs: Any) -> MIEstimator:
        r"""The estimator :func:`mist_reg.estimate_mi` builds: ``estimate_defaults``
        overridden by ``kwargs``."""
        return self.factory(**{**self.estimate_defaults, **kwargs})


REGISTRY: dict[str, EstimatorEntry] = {}
r"""Every registered name and its :class:`EstimatorEntry`."""


class _Factories(Mapping[str, Callable[..., MIEstimator]]):
    """A read-only view of :data:`REGISTRY`: name to factory."""

    def __getitem__(self, name: str) -> Callable[..., MIEstimator]:
        return REGISTRY[name].factory

    def __iter__(self) -> Iterator[str]:
        return iter(REGISTRY)

    def __len__(self) -> int:
        return len(REGISTRY)

    def __repr__(self) -> str:
        return f"ESTIMATORS({', '.join(REGISTRY)})"


class _CriticNames(Set):
    """A read-only view of :data:`REGISTRY`: the names whose entry ``has_critic``."""

    def __contains__(self, name: object) -> bool:
        entry = REGISTRY.get(name) if isinstance(name, str) else None
        return entry is not None and entry.has_critic

    def __iter__(self) -> Iterator[str]:
        return (name for name, entry in REGISTRY.items() if entry.has_critic)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"CRITIC_ESTIMATORS({', '.join(self)})"


ESTIMATORS: Mapping[str, Callable[..., MIEstimator]] = _Factories()
r"""Name to factory: a read-only view of :data:`REGISTRY`."""

CRITIC_ESTIMATORS: Set[str] = _CriticNames()
r"""The names whose entry ``has_critic``: a read-only view of :data:`REGISTRY`."""


def register_estimator(
    name: str,
    cls: type[MIEstimator] | None = None,
    *,
    has_critic: bool = False,
    estimate_defaults: Mapping[str, Any] | None = None,
) -> Callable[[Callable[..., MIEstimator]], Callable[..., MIEstimator]]:
    r"""Decorator that registers a factory under ``name`` with the class it builds.

    Arguments:
        name: The registry key (lower case, ``_`` between words).
        cls: The :class:`~mist_reg.estimators.base.MIEstimator` subclass the factory builds.
        has_critic: Whether the factory accepts the critic arguments of
            :func:`~mist_reg.estimators.factories.make_critic`.
        estimate_defaults: Factory arguments :func:`mist_reg.estimate_mi` uses unless told
            otherwise.

    Example:
        >>> register_estimator("nwj", MIEstimator)
        Traceback (most recent call last):
        ...
        ValueError: an estimator named 'nwj' is already registered
    """
    if name in REGISTRY:
        raise ValueError(f"an estimator named {name!r} is already registered")
    if normalize_name(name) != name:
        raise ValueError(f"register {name!r} as {normalize_name(name)!r}: names are lower case with '_'")
    if cls is None:
        raise TypeError(f"register_estimator({name!r}, cls) needs the MIEstimator subclass the factory builds")

    def decorate(factory: Callable[..., MIEstimator]) -> Callable[..., MIEstimator]:
        if name in REGISTRY:
            raise ValueError(f"an estimator named {name!r} is already registered")
        REGISTRY[name] = EstimatorEntry(name, factory, cls, has_critic, estimate_defaults or {})
        return factory

    return decorate


def normalize_name(estimator_name: str) -> str:
    r"""The registry key of a name: lower case, ``-`` read as ``_``.

    Arguments:
        estimator_name: A name as a user writes it (``"Alpha-TUBA"``).

    Returns:
        The key (``"alpha_tuba"``); whether it is registered is not checked.

    Raises:
        TypeError: When the name is not a string.

    Example:
        >>> normalize_name("Alpha-TUBA")
        'alpha_tuba'
    """
    if not isinstance(estimator_name, str):
        raise TypeError(f"estimator_name must be a string, got {type(estimator_name).__name__}")
    return estimator_name.lower().replace("-", "_")


def get_entry(estimator_name: str) -> EstimatorEntry:
    r"""The :class:`EstimatorEntry` of a name (case-insensitive, ``-`` or ``_``).

    Arguments:
        estimator_name: A registered name.

    Returns:
        Its entry.

    Raises:
        ValueError: For an unknown name, listing the valid ones.

    Example:
        >>> entry = get_entry("Pq-Hybrid")
        >>> entry.name, entry.cls.__name__, entry.has_critic
        ('pq_hybrid', 'PQHybrid', True)
    """
    key = normalize_name(estimator_name)
    if key not in REGISTRY:
        raise ValueError(f"unknown estimator {estimator_name!r}; valid names: {', '.join(list_estimators())}")
    return REGISTRY[key]


def list_estimators() -> list[str]:
    r"""The registered estimator names, sorted.

    Example:
        >>> list_estimators()[:4]
        ['alpha_tuba', 'ba', 'binned', 'club']
    """
    return sorted(REGISTRY)


def instantiate_estimator(estimator_name: str, **kwargs: Any) -> MIEstimator:
    r"""Builds the estimator registered as ``estimator_name`` (case-insensitive, ``-`` or
    ``_``).

    Arguments:
        estimator_name: A registered name.
        kwargs: The factory's keyword arguments (``x_dim``, ``y_dim``, ...).

    Returns:
        The estimator, untrained.

    Raises:
        ValueError: For an unknown name, listing the valid ones.

    Example:
        >>> instantiate_estimator("club", x_dim=2, y_dim=1, hidden_dims=[8]).bound
        'upper'
    """
    return get_entry(estimator_name).build(**kwargs)
