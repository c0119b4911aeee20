r"""``mist-reg tasks`` and ``mist-reg estimators``: what the command line can run.

Example:
    >>> [r["name"] for r in estimator_catalogue()][:2]
    ['alpha_tuba', 'ba']
"""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Sequence
from typing import Any, TextIO

from mist_reg.cli.common import dump
from mist_reg.estimators.factories import ESTIMATION_CRITIC_DEFAULTS, make_critic
from mist_reg.estimators.registry import REGISTRY, list_estimators
from mist_reg.tasks import BENCHMARK_SUITE, get_task, list_tasks

__all__ = ["add_listing_parsers", "run_tasks", "run_estimators", "estimator_catalogue"]


def add_listing_parsers(commands: argparse._SubParsersAction) -> None:
    r"""Adds the subcommand to ``commands`` (the subparsers of ``mist-reg``)."""
    tasks = commands.add_parser(
        "tasks", help="list the ground-truth tasks", description="List the ground-truth tasks (exact MI known)."
    )
    tasks.add_argument("--json", action="store_true", help="print JSON instead of a table")
    tasks.set_defaults(run=run_tasks)

    estimators = commands.add_parser(
        "estimators",
        help="list the estimators with their bound direction and arguments",
        description="List every registered estimator, its bound direction and its arguments.",
    )
    estimators.add_argument("--json", action="store_true", help="print JSON instead of text")
    estimators.set_defaults(run=run_estimators)


def run_tasks(args: argparse.Namespace, out: TextIO) -> int:
    r"""``mist-reg tasks``: the ground-truth tasks as a table or JSON; returns the exit code."""
    records = []
    for name in list_tasks():
        task = get_task(name)
        records.append(
            {
                "name": name,
                "dim_x": task.dim_x,
                "dim_y": task.dim_y,
                "mutual_information": task.mutual_information,
                "in_suite": name in BENCHMARK_SUITE,
                "description": task.description,
            }
        )
    if args.json:
        dump(records, out)
        return 0
    out.write(f"{'name':22s} {'dim_x':>6s} {'dim_y':>6s} {'MI (nats)':>10s}  suite  description\n")
    for r in records:
        out.write(
            f"{r['name']:22s} {r['dim_x']:6d} {r['dim_y']:6d} {r['mutual_information']:10.4f}  "
            f"{'yes' if r['in_suite'] else '':5s}  {r['description']}\n"
        )
    return 0


def _arguments(function: Any, skip: Sequence[str] = ("x_dim", "y_dim")) -> list[dict[str, Any]]:
    """The named parameters of ``function`` with their defaults (``required`` when none)."""
    result = []
    for p in inspect.signature(function).parameters.values():
        if p.name in skip or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        entry: dict[str, Any] = {"name": p.name, "required": p.default is p.empty}
        if p.default is not p.empty:
            entry["default"] = (
                p.default if isinstance(p.default, (int, float, str, bool, type(None))) else repr(p.default)
            )
        result.append(entry)
    return result


def _format_argument(entry: dict[str, Any]) -> str:
    return entry["name"] if entry["required"] else f"{entry['name']}={entry['default']!r}"


def estimator_catalogue() -> list[dict[str, Any]]:
    r"""Every registered estimator: name, class, bound direction, factory arguments and
    what :func:`mist_reg.estimate_mi` gives it by default (from its registry entry)."""
    records = []
    for name in list_estimators():
        entry = REGISTRY[name]
        records.append(
            {
                "name": name,
                "class": entry.cls.__name__,
                "bound": entry.bound,
                "arguments": _arguments(entry.factory),
                "critic_arguments": entry.has_critic,
                "estimate_defaults": dict(entry.estimate_defaults),
            }
        )
    return records


def run_estimators(args: argparse.Namespace, out: TextIO) -> int:
    r"""``mist-reg estimators``: every estimator with its bound and arguments; returns the exit code."""
    records = estimator_catalogue()
    critic = _arguments(make_critic, skip=("x_dim", "y_dim", "hidden_dims"))
    if args.json:
        dump(
            {
                "estimators": records,
                "critic_arguments": critic,
                "estimate_mi_critic_defaults": ESTIMATION_CRITIC_DEFAULTS,
            },
            out,
        )
        return 0
    for r in records:
        arguments = ", ".join(_format_argument(a) for a in r["arguments"])
        if r["critic_arguments"]:
            arguments += (", " if arguments else "") + "+ critic arguments"
        out.write(f"{r['name']:16s} {str(r['bound']):6s} {r['class']}\n    {arguments or '(none)'}\n")
    out.write(
        "\ncritic arguments: " + ", ".join(_format_argument(a) for a in critic) + "\n"
        "estimate_mi gives critic estimators: "
        + ", ".join(f"{k}={v!r}" for k, v in ESTIMATION_CRITIC_DEFAULTS.items())
        + "\n"
        "bound: lower, upper or None (no guaranteed direction). Pass arguments to 'mist-reg estimate' "
        "with --param NAME=VALUE.\n"
    )
    return 0
