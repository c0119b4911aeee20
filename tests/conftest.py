"""Shared test configuration."""

from __future__ import annotations

import pytest
import torch


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` (pyproject.toml's addopts) runs one worker per core, except when the
    command names a single test file or test: then one process, which starts faster than
    the workers it would wait for."""
    files = {arg.split("::")[0] for arg in config.args if arg.split("::")[0].endswith(".py")}
    if len(config.args) == 1 and len(files) == 1:
        return 0
    return None  # pytest-xdist's default: one worker per CPU core


@pytest.fixture(autouse=True, scope="session")
def single_thread():
    """The tests train small networks, which run fastest on one intra-op thread; on a
    2-core machine shared with other work this also avoids oversubscription."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
