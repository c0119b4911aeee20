r"""Cost of one training step of the default critic (:func:`mist_reg.estimate_mi`'s MINE on a
closed-form reference plus a separable correction) against the averaged critic of
:mod:`mist_reg.estimation.critic_ensemble`: ``K`` copies trained one after another (``K``
networks, ``K`` optimisers), and ``K`` members run as one network
(:class:`~mist_reg.estimators.averaged.AveragedMINE`).

A step scores a batch of :data:`~mist_reg.estimation.training_defaults.ESTIMATE_BATCH_SIZE`
rows against each other, takes the backward pass and a fused Adam step. The variants take
turns call by call in one process, so that a slow spell of a shared machine slows all
alike; each figure is the median over ``--repeats`` steps after 20 warm-up steps, in
milliseconds, with its ratio to one critic.

Usage::

    OMP_NUM_THREADS=1 python -m recipes.benchmarks.critic_ensemble_step
    python -m recipes.benchmarks.critic_ensemble_step --dims 3 5 25 --members 4 --repeats 300
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mist_reg.estimation.critic_ensemble import ENSEMBLE_MEMBERS, averaged_copy
from mist_reg.estimation.model_spec import ModelSpec
from mist_reg.estimation.training_defaults import ESTIMATE_BATCH_SIZE, ESTIMATE_LR
from mist_reg.estimators.base import MIEstimator
from recipes.benchmarks.ensemble_step import parse_step_arguments, step_table


def _default(dim: int) -> MIEstimator:
    estimator = ModelSpec("mine", {}, by_default=True).build(dim, dim)
    x = torch.randn(500, dim)
    estimator.initialize(x, x + torch.randn(500, dim))  # the closed-form reference, fitted
    return estimator


def _step(estimators: list[MIEstimator], batch: tuple[torch.Tensor, torch.Tensor]) -> Callable[[], None]:
    optimisers = [torch.optim.Adam(e.parameters(), lr=ESTIMATE_LR, fused=True) for e in estimators]
    for estimator in estimators:
        estimator.train()

    def step() -> None:
        for estimator, optimiser in zip(estimators, optimisers):
            loss = estimator(*batch)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()

    return step


def step_functions(dim: int, members: int, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Callable[[], None]]:
    r"""One training step of each variant on ``batch``, by name (one critic first)."""
    one = _default(dim)
    return {
        "one critic": _step([one], batch),
        f"{members} critics, one by one": _step([_default(dim) for _ in range(members)], batch),
        f"{members} members as one network": _step([averaged_copy(one, members)], batch),
    }


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    args = parse_step_arguments(__doc__, argv, [3, 5, 25], ENSEMBLE_MEMBERS, "columns of each side")

    def steps_for(dim: int) -> dict[str, Callable[[], None]]:
        x = torch.randn(ESTIMATE_BATCH_SIZE, dim)
        return step_functions(dim, args.members, (x, x + torch.randn_like(x)))

    return step_table(args.dims, steps_for, args.repeats, lambda dim: f"{dim}x{dim}", ("dims", "one critic"))


if __name__ == "__main__":
    main()
