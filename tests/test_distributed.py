"""Tests for mist_reg.distributed and MILoss under DistributedDataParallel.

Two CPU processes over gloo train a model that holds its MILoss (so that DDP synchronises
the estimator's gradients) on two halves of a batch; one process trains the same model on
the whole batch. The MI term and every gradient must agree, step after step."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from mist_reg import MILoss
from mist_reg.distributed import gather_with_grad, get_rank, get_world_size, is_distributed
from mist_reg.estimators import club, infonce

WORLD = 2
GLOBAL_BATCH = 16
STEPS = 2

CASES = {
    # both sides captured (two gathers with gradients), a critic trained jointly with the encoder
    "maximize": dict(kind="infonce", x="encoder.1", y="encoder", direction="maximize", weight=0.5, inner_steps=0),
    # CLUB against a nuisance given at call time: q fitted on detached gathered features
    "minimize": dict(kind="club", x="encoder", y=None, direction="minimize", weight=2.0, inner_steps=0),
    # inner steps of q on the gathered batch keep the ranks in step
    "minimize_inner": dict(kind="club", x="encoder", y=None, direction="minimize", weight=1.0, inner_steps=2),
}


class Model(nn.Module):
    """An encoder, a task head and the MI term, all inside the module DDP wraps."""

    def __init__(self, mi_loss: MILoss) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 4))
        self.head = nn.Linear(4, 1)
        self.mi_loss = mi_loss

    def forward(self, inputs, target, nuisance):
        z = self.encoder(inputs)
        task = nn.functional.mse_loss(self.head(z), target)
        term = self.mi_loss(y=nuisance) if self.mi_loss.sources["y"] is None else self.mi_loss()
        return task + term, term


def build(case: str) -> Model:
    spec = CASES[case]
    torch.manual_seed(0)
    if spec["kind"] == "infonce":
        estimator = infonce(8, 4, hidden_dims=[16])
    else:
        estimator = club(4, 2, hidden_dims=[16])
    mi_loss = MILoss(
        estimator, x=spec["x"], y=spec["y"], direction=spec["direction"], weight=spec["weight"],
        inner_steps=spec["inner_steps"], inner_lr=1e-2,
    )
    return Model(mi_loss)


def batch(step: int):
    g = torch.Generator().manual_seed(100 + step)
    inputs = torch.randn(GLOBAL_BATCH, 3, generator=g)
    target = inputs[:, :1] - inputs[:, 1:2]
    nuisance = torch.cat([inputs[:, 2:], inputs[:, :1]], dim=1) + 0.2 * torch.randn(GLOBAL_BATCH, 2, generator=g)
    return inputs, target, nuisance


def train(model: nn.Module, attach_to: nn.Module, rows: slice) -> list[dict]:
    """STEPS steps of SGD; the MI term and the gradients of each step."""
    named = dict(model.named_parameters())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    records = []
    with model_of(attach_to).mi_loss.attach(attach_to):
        for step in range(STEPS):
            inputs, target, nuisance = (t[rows] for t in batch(step))
            optimizer.zero_grad()
            loss, term = attach_to(inputs, target, nuisance)
            loss.backward()
            records.append(
                {
                    "term": term.detach().clone(),
                    "estimate": model_of(attach_to).mi_loss.last_estimate.clone(),
                    "grads": {name.removeprefix("module."): p.grad.clone() for name, p in named.items()},
                }
            )
            optimizer.step()
    return records


def model_of(module: nn.Module) -> Model:
    return module.module if isinstance(module, DistributedDataParallel) else module


def gather_checks(rank: int) -> dict:
    """gather_with_grad on unequal sizes, in both gradient modes, and on labels."""
    out = {}
    for mode in ("all_reduce", "local"):
        t = torch.full((2 + rank, 3), rank + 1.0, requires_grad=True)
        gathered = gather_with_grad(t, grad=mode, equal_sizes=False)
        (gathered * (rank + 1.0)).sum().backward()  # each rank's loss differs
        out[mode] = (gathered.detach(), t.grad.clone())
    labels = torch.arange(3) + 10 * rank
    out["labels"] = gather_with_grad(labels)
    return out


def _worker(rank: int, world: int, port: int, outdir: str) -> None:
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=60))
    try:
        assert is_distributed() and get_world_size() == world and get_rank() == rank
        results = {"gather": gather_checks(rank)}
        n = GLOBAL_BATCH // world
        for case in CASES:
            model = build(case)
            ddp = DistributedDataParallel(model)
            results[case] = train(model, ddp, slice(rank * n, (rank + 1) * n))  # names resolve through "module."
        torch.save(results, os.path.join(outdir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def distributed_results(tmp_path_factory):
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    outdir = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(WORLD, free_port(), str(outdir)), nprocs=WORLD, join=True)
    return [torch.load(outdir / f"rank{r}.pt") for r in range(WORLD)]


def test_without_process_group_gather_is_identity():
    assert not is_distributed() and get_world_size() == 1 and get_rank() == 0
    t = torch.randn(3, 2, requires_grad=True)
    assert gather_with_grad(t) is t
    with pytest.raises(ValueError, match="grad"):
        gather_with_grad(t, grad="mean")


def test_gather_with_grad_forward_and_backward(distributed_results):
    for rank, results in enumerate(distributed_results):
        for mode in ("all_reduce", "local"):
            gathered, grad = results["gather"][mode]
            expected = torch.cat([torch.full((2, 3), 1.0), torch.full((3, 3), 2.0)])
            torch.testing.assert_close(gathered, expected)
            # rank r's loss is (r + 1) * sum: the exact adjoint sums 1 + 2 over ranks; the
            # local mode scales this rank's own gradient by the world size
            value = 3.0 if mode == "all_reduce" else WORLD * (rank + 1.0)
            torch.testing.assert_close(grad, torch.full((2 + rank, 3), value))
        torch.testing.assert_close(results["gather"]["labels"], torch.tensor([0, 1, 2, 10, 11, 12]))


@pytest.mark.parametrize("case", list(CASES))
def test_ddp_matches_one_process_on_the_whole_batch(distributed_results, case):
    model = build(case)
    reference = train(model, model, slice(None))
    for results in distributed_results:
        for step, (got, want) in enumerate(zip(results[case], reference)):
            torch.testing.assert_close(got["term"], want["term"], rtol=1e-4, atol=1e-6, msg=f"term, step {step}")
            torch.testing.assert_close(got["estimate"], want["estimate"], rtol=1e-4, atol=1e-6)
            assert got["grads"].keys() == want["grads"].keys()
            for name, grad in want["grads"].items():
                assert grad.abs().sum() > 0, f"{name} got no gradient: the comparison would be vacuous"
                torch.testing.assert_close(
                    got["grads"][name], grad, rtol=1e-4, atol=1e-6, msg=f"{case}: {name}, step {step}"
                )
