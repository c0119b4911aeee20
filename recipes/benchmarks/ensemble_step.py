r"""Cost of one training step of the one-column bound's ``q`` (:mod:`mist_reg.estimation.single_column`):
``K`` conditional Gaussians fitted one after another (the reference: ``K`` networks, ``K``
optimisers), against :class:`mist_reg.distributions.ConditionalEnsemble` with the same ``K``
MLPs run as one batched network, without and with the one-column networks that
:func:`~mist_reg.estimation.single_column.one_column_density` gives a side of that width.

A step is the negative log-likelihood of a batch, its backward pass and a fused Adam step.
The variants take turns call by call in one process, so that a slow spell of a shared
machine slows all alike; each figure is the median over ``--repeats`` steps after 20
warm-up steps, in milliseconds, with its ratio to the reference.

Usage::

    OMP_NUM_THREADS=1 python -m recipes.benchmarks.ensemble_step
    python -m recipes.benchmarks.ensemble_step --dims 3 16 32 64 --members 4 --repeats 300
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from mist_reg.distributions import ConditionalEnsemble, ConditionalGaussian, log_prob
from mist_reg.estimation.single_column import ENSEMBLE_SIZE, HIDDEN_DIMS, one_column_density
from mist_reg.estimation.training_defaults import ESTIMATE_BATCH_SIZE, ESTIMATE_LR


def _adam(module: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.Adam(module.parameters(), lr=ESTIMATE_LR, fused=True)


def step_functions(x_dim: int, members: int, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Callable[[], None]]:
    r"""One training step of each variant on ``batch``, by name (the reference first)."""
    x, y = batch
    units = one_column_density(x_dim).columns.hidden
    separate = [ConditionalGaussian(x_dim, 1, HIDDEN_DIMS) for _ in range(members)]
    separate_optimisers = [_adam(q) for q in separate]

    def one_by_one() -> None:
        for q, optimiser in zip(separate, separate_optimisers):
            loss = -log_prob(q, x, y).mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()

    def batched(q: ConditionalEnsemble) -> Callable[[], None]:
        optimiser = _adam(q)

        def step() -> None:
            loss = q.fitting_nll(x, y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()

        return step

    return {
        f"{members} networks, one by one": one_by_one,
        "one batched network": batched(ConditionalEnsemble(x_dim, 1, HIDDEN_DIMS, members=members)),
        f"batched, with one-column networks of {units} units": batched(
            ConditionalEnsemble(x_dim, 1, HIDDEN_DIMS, members=members, column_hidden=units)
        ),
    }


def median_milliseconds(steps: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    r"""Median milliseconds per step of every variant, taking turns step by step."""
    for step in steps.values():
        for _ in range(20):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(1e3 * (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in times.items()}


def parse_step_arguments(
    doc: str, argv: list[str] | None, dims: list[int], members: int, dims_help: str
) -> argparse.Namespace:
    r"""The options of a step benchmark (``--dims``, ``--members``, ``--repeats``, ``--seed``),
    validated; seeds torch."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--dims", type=int, nargs="+", default=dims, help=dims_help)
    parser.add_argument("--members", type=int, default=members, help="members of the ensemble")
    parser.add_argument("--repeats", type=int, default=200, help="timed steps per variant")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if min(args.dims) < 1 or args.members < 1 or args.repeats < 1:
        parser.error("--dims, --members and --repeats must be positive")
    torch.manual_seed(args.seed)
    return args


def step_table(
    dims: list[int],
    steps_for: Callable[[int], dict[str, Callable[[], None]]],
    repeats: int,
    dim_label: Callable[[int], str],
    header: tuple[str, str],
) -> list[dict[str, object]]:
    r"""Times the variants of ``steps_for(dim)`` for every ``dim`` (:func:`median_milliseconds`)
    and prints a table, each variant's ratio to the first; ``header`` names the dimension
    column and the first variant. Returns one row per dimension and variant."""
    rows = []
    print(f"| {header[0]} | variant | ms per step | ratio to {header[1]} |")
    print("|---:|---|---:|---:|")
    for dim in dims:
        medians = median_milliseconds(steps_for(dim), repeats)
        reference = next(iter(medians.values()))
        for name, ms in medians.items():
            rows.append({"dim": dim, "variant": name, "ms": ms, "ratio": ms / reference})
            print(f"| {dim_label(dim)} | {name} | {ms:.2f} | {ms / reference:.2f} |")
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    args = parse_step_arguments(__doc__, argv, [3, 16, 32, 64], ENSEMBLE_SIZE, "dimensions of the other side")

    def steps_for(dim: int) -> dict[str, Callable[[], None]]:
        batch = torch.randn(ESTIMATE_BATCH_SIZE, dim), torch.randn(ESTIMATE_BATCH_SIZE, 1)
        return step_functions(dim, args.members, batch)

    header = ("x dim", f"{args.members} networks, one by one")
    return step_table(args.dims, steps_for, args.repeats, str, header)


if __name__ == "__main__":
    main()
