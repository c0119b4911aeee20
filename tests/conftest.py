"""Shared test configuration."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def single_thread():
    """The tests train small networks, which run fastest on one intra-op thread; on a
    2-core machine shared with other work this also avoids oversubscription."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
