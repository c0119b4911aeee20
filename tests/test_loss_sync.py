"""A minimising MILoss step makes no host-device synchronisation.

The step runs on fake tensors (``torch._subclasses.fake_tensor.FakeTensorMode``), which
carry shapes and dtypes but no values: anything that reads a value back to the host
(``.item()``, ``int(t)``, ``bool(t)``, ``.tolist()``, ``.numpy()``, ``nonzero``,
``torch.unique``, boolean-mask indexing) raises there, as it would stall an accelerator's
stream in a real step. The first call builds the estimator on real tensors (one-time
work is allowed); the steady-state step is then run, forward and backward, on fakes.
"""

from __future__ import annotations

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from mist_reg import MILoss


def fake_step(penalty: MILoss, attribute: torch.Tensor) -> None:
    """One forward and backward of ``penalty`` on fake features and a fake attribute like ``attribute``."""
    with FakeTensorMode(allow_non_fake_inputs=True):
        z = torch.randn(256, 8, requires_grad=True)
        s = torch.empty_like(attribute)
        penalty(x=z, y=s).backward()
        assert z.grad is not None and z.grad.shape == z.shape


ATTRIBUTES = {
    "binary": lambda g: torch.randint(0, 2, (256,), generator=g),
    "five groups, large codes": lambda g: torch.tensor([3, 1990, -1, 7, 40])[torch.randint(0, 5, (256,), generator=g)],
    "two attributes": lambda g: torch.randint(0, 2, (256, 2), generator=g),
    "continuous": lambda g: torch.randn(256, generator=g),
    "several continuous": lambda g: torch.randn(256, 3, generator=g),
}


@pytest.mark.parametrize("estimator", ["kernel", "club"])
@pytest.mark.parametrize("kind", list(ATTRIBUTES))
def test_the_default_minimising_step_reads_nothing_back_from_the_device(estimator, kind):
    g = torch.Generator().manual_seed(0)
    attribute = ATTRIBUTES[kind](g)
    penalty = MILoss(estimator, direction="minimize", weight=2.0)
    z = torch.randn(256, 8, generator=g, requires_grad=True)
    penalty(x=z, y=attribute).backward()  # builds the estimator (and reads the attribute's kind once)
    fake_step(penalty, attribute)


def test_the_check_fails_on_a_step_that_reads_a_value_back():
    # the Gaussian class model reads its classes on the host (numpy, .tolist()): a sync
    attribute = torch.randint(0, 2, (256,))
    penalty = MILoss("gaussian", direction="minimize")
    penalty(x=torch.randn(256, 8, requires_grad=True), y=attribute).backward()
    with pytest.raises(Exception, match="_local_scalar_dense|numpy|nonzero|unique"):
        fake_step(penalty, attribute)


def test_non_finite_features_are_still_refused_on_the_cpu():
    z = torch.randn(64, 3)
    z[5, 1] = float("nan")
    with pytest.raises(ValueError, match="contain NaN or infinite values"):
        MILoss("kernel", direction="minimize")(x=z, y=torch.randint(0, 2, (64,)))
