"""Tests for mist_reg.regularization.loss.MILoss: which gradients reach which parameters in each
direction, the value of the term, popping, lazy building, inner steps, the state dict
(inner optimiser, lazily built estimator), autocast,
activation checkpointing, torch.compile, and small runs where a CLUB penalty removes a
nuisance variable from an encoder while a maximised InfoNCE bound puts it in."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from mist_reg import MILoss
from mist_reg.distributions import ConditionalGaussian
from mist_reg.estimators import CLUB, InfoNCE, club, doe, infonce, js
from mist_reg.nn.critic import joint_critic


class Encoder(nn.Module):
    def __init__(self, in_dim: int = 3, dim: int = 4) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_dim, 8), nn.Tanh(), nn.Linear(8, dim))
        self.head = nn.Linear(dim, 1)

    def forward(self, x):
        return self.head(self.body(x))


def encoder_grads(model: nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in model.body.parameters()]


def data(n: int = 32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, 3, generator=g)
    nuisance = inputs[:, :1] + 0.3 * torch.randn(n, 1, generator=g)
    return inputs, nuisance


def grads_of(loss: torch.Tensor, params) -> list[torch.Tensor]:
    params = list(params)
    return [
        g if g is not None else torch.zeros_like(p)
        for p, g in zip(params, torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True))
    ]


def assert_all_close(a, b, **kw):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v, **kw)


def test_maximize_value_and_gradients():
    torch.manual_seed(0)
    model = Encoder()
    estimator = infonce(4, 1, hidden_dims=[16])
    mi_loss = MILoss(estimator, x="body", direction="maximize", weight=0.5)
    inputs, nuisance = data()
    with mi_loss.attach(model):
        model(inputs)
        term = mi_loss(y=nuisance)
    z = model.body(inputs)
    estimate = estimator.mutual_information(z, nuisance)
    torch.testing.assert_close(mi_loss.last_estimate, estimate.detach())
    torch.testing.assert_close(term, -0.5 * estimate)
    assert not mi_loss.last_estimate.requires_grad and mi_loss.last_estimate.dtype == torch.float32
    # the encoder ascends 0.5 * I_hat; the critic ascends I_hat at unit scale
    assert_all_close(grads_of(term, model.body.parameters()), grads_of(-0.5 * estimate, model.body.parameters()))
    assert_all_close(grads_of(term, estimator.parameters()), grads_of(-estimate, estimator.parameters()))
    assert all(g.abs().sum() > 0 for g in grads_of(term, model.body.parameters()))


def test_weight_scales_only_the_encoder():
    inputs, nuisance = data()
    results = {}
    for weight in (1.0, 0.25, 0.0):
        torch.manual_seed(0)
        model, estimator = Encoder(), infonce(4, 1, hidden_dims=[16])
        mi_loss = MILoss(estimator, x="body", weight=weight)
        with mi_loss.attach(model):
            model(inputs)
            mi_loss(y=nuisance).backward()
        results[weight] = encoder_grads(model), [p.grad.clone() for p in estimator.parameters()]
    for weight in (0.25, 0.0):
        assert_all_close(results[weight][0], [weight * g for g in results[1.0][0]])
        assert_all_close(results[weight][1], results[1.0][1])


def test_surrogate_objective_trains_both_and_reports_the_bound():
    torch.manual_seed(0)
    model, estimator = Encoder(), js(4, 1, hidden_dims=[16])
    mi_loss = MILoss(estimator, x="body")
    inputs, nuisance = data()
    with mi_loss.attach(model):
        model(inputs)
        term = mi_loss(y=nuisance)
    z = model.body(inputs)
    torch.testing.assert_close(term, -estimator.mutual_information(z, nuisance))
    loss = estimator(z, nuisance)  # the JS training loss
    assert_all_close(grads_of(term, estimator.parameters()), grads_of(loss, estimator.parameters()))
    assert_all_close(grads_of(term, model.body.parameters()), grads_of(loss, model.body.parameters()))


def test_minimize_freezes_the_estimator_in_the_encoder_term():
    torch.manual_seed(0)
    model, estimator = Encoder(), club(4, 1, hidden_dims=[16])
    mi_loss = MILoss(estimator, x="body", direction="minimize", weight=2.0)
    inputs, nuisance = data()
    with mi_loss.attach(model):
        model(inputs)
        term = mi_loss(y=nuisance)
    z = model.body(inputs)
    estimate = estimator.mutual_information(z, nuisance)
    torch.testing.assert_close(term, 2.0 * estimate)
    torch.testing.assert_close(mi_loss.last_estimate, estimate.detach())
    # the encoder descends 2 * I_hat ...
    encoder = grads_of(term, model.body.parameters())
    assert_all_close(encoder, grads_of(2.0 * estimate, model.body.parameters()))
    assert all(g.abs().sum() > 0 for g in encoder)
    # ... while q(y|x) receives only the gradient of its likelihood on detached features,
    # not that of the encoder term (which would differ)
    fit = estimator(z.detach(), nuisance)
    assert_all_close(grads_of(term, estimator.parameters()), grads_of(fit, estimator.parameters()))
    leaked = grads_of(2.0 * estimate, estimator.parameters())
    assert any(g.abs().sum() > 1e-6 for g in leaked), "the check above would not tell a leak"


def test_minimize_with_a_lower_bound_critic_ascends_its_own_objective():
    torch.manual_seed(0)
    model, estimator = Encoder(), infonce(4, 1, hidden_dims=[16])
    mi_loss = MILoss(estimator, x="body", direction="minimize")
    inputs, nuisance = data()
    with mi_loss.attach(model):
        model(inputs)
        term = mi_loss(y=nuisance)
    z = model.body(inputs)
    estimate = estimator.mutual_information(z, nuisance)
    assert_all_close(grads_of(term, model.body.parameters()), grads_of(estimate, model.body.parameters()))
    assert_all_close(grads_of(term, estimator.parameters()), grads_of(-estimate, estimator.parameters()))


def test_likelihood_estimators_are_fitted_by_likelihood_when_maximizing():
    torch.manual_seed(0)
    model, estimator = Encoder(), doe(4, 1, hidden_dims=[16])
    mi_loss = MILoss(estimator, x="body", direction="maximize")
    inputs, nuisance = data()
    with mi_loss.attach(model):
        model(inputs)
        term = mi_loss(y=nuisance)
    z = model.body(inputs)
    estimate = estimator.mutual_information(z, nuisance)
    torch.testing.assert_close(term, -estimate)
    assert_all_close(grads_of(term, model.body.parameters()), grads_of(-estimate, model.body.parameters()))
    assert_all_close(grads_of(term, estimator.parameters()), grads_of(estimator(z, nuisance), estimator.parameters()))


def test_features_are_used_once():
    torch.manual_seed(0)
    model = Encoder()
    mi_loss = MILoss(infonce(4, 1, hidden_dims=[8]), x="body")
    inputs, nuisance = data()
    with mi_loss.attach(model):
        model(inputs)
        mi_loss(y=nuisance)
        with pytest.raises(RuntimeError, match="since they were last used"):
            mi_loss(y=nuisance)
        model(inputs)
        mi_loss(y=nuisance)
    with pytest.raises(RuntimeError, match="not attached"):
        mi_loss(y=nuisance)


def test_tensors_given_at_call_time_and_argument_errors():
    torch.manual_seed(0)
    x, y = data()
    mi_loss = MILoss(infonce(3, 1, hidden_dims=[8]))
    assert mi_loss(x=x, y=y).shape == ()
    with pytest.raises(RuntimeError, match="pass both tensors"):
        mi_loss.attach(Encoder())
    with pytest.raises(ValueError, match="pass it at call time"):
        mi_loss(x=x)
    named = MILoss(infonce(4, 1, hidden_dims=[8]), x="body")
    with pytest.raises(ValueError, match="do not also pass it"):
        named(x=x, y=y)
    with pytest.raises(ValueError, match="direction"):
        MILoss(infonce(3, 1), direction="up")
    with pytest.raises(ValueError, match="weight"):
        MILoss(infonce(3, 1), weight=-1.0)
    with pytest.raises(ValueError, match="inner_steps"):
        MILoss(infonce(3, 1), inner_steps=-1)
    with pytest.raises(ValueError, match="valid names: .*infonce"):
        MILoss("infonse")
    with pytest.raises(TypeError, match="estimator_kwargs"):
        MILoss(infonce(3, 1), estimator_kwargs={"hidden_dims": [8]})
    assert MILoss(infonce(3, 1), direction="minimise").direction == "minimize"
    with pytest.warns(UserWarning, match="upper bound"):
        MILoss(club(3, 1), direction="maximize")


def test_estimator_by_name_eager_and_lazy():
    torch.manual_seed(0)
    model = Encoder()
    inputs, nuisance = data()
    eager = MILoss(
        "club", x="body", direction="minimize", estimator_kwargs=dict(x_dim=4, y_dim=1, hidden_dims=[8], q="gaussian")
    )
    assert isinstance(eager.estimator, CLUB) and len(list(eager.parameters())) > 0

    lazy = MILoss("club", x="body", direction="minimize", estimator_kwargs=dict(hidden_dims=[8], q="gaussian"))
    assert lazy.estimator is None
    with pytest.warns(UserWarning, match="no parameters yet"):
        assert list(lazy.parameters()) == []
    with lazy.attach(model):
        model(inputs)
        lazy(y=nuisance)
    assert isinstance(lazy.estimator, CLUB)
    assert (lazy.estimator.q_y_given_x.x_dim, lazy.estimator.q_y_given_x.y_dim) == (4, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(lazy.parameters())) > 0
    wrong = MILoss("infonce", x="body", estimator_kwargs=dict(x_dim=5, y_dim=1, hidden_dims=[8]))
    with wrong.attach(model):
        model(inputs)
        with pytest.raises(ValueError, match="x_dim=5"):
            wrong(y=nuisance)


def test_feature_maps_are_reduced_by_the_rule():
    torch.manual_seed(0)
    conv = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 2, 1))
    images, labels = torch.randn(8, 3, 5, 5), torch.randn(8, 2)
    for reduce, dim in (("mean", 6), ("b c h w -> b (c h w)", 150), ({"x": "max"}, 6)):
        mi_loss = MILoss("infonce", x="1", reduce=reduce, estimator_kwargs=dict(hidden_dims=[8]))
        with mi_loss.attach(conv):
            conv(images)
            mi_loss(y=labels)
        assert mi_loss.estimator.critic.score_matrix(torch.zeros(1, dim), torch.zeros(1, 2)).shape == (1, 1)
    with pytest.raises(ValueError, match="unknown reduce rule"):
        mi_loss = MILoss(infonce(6, 2), x="1", reduce="avg")
        with mi_loss.attach(conv):
            conv(images)
            mi_loss(y=labels)


def test_inner_steps_fit_the_estimator_and_keep_accumulated_gradients():
    torch.manual_seed(0)
    model, estimator = Encoder(), club(4, 1, hidden_dims=[16])
    mi_loss = MILoss(estimator, x="body", direction="minimize", inner_steps=3, inner_lr=1e-2)
    inputs, nuisance = data()
    before = [p.detach().clone() for p in estimator.parameters()]
    accumulated = [torch.full_like(p, 7.0) for p in estimator.parameters()]
    for p, g in zip(estimator.parameters(), accumulated):
        p.grad = g.clone()
    with mi_loss.attach(model):
        z = model.body(inputs).detach()
        nll_before = float(estimator(z, nuisance).detach())
        model(inputs)
        mi_loss(y=nuisance)
    assert any(not torch.equal(p, b) for p, b in zip(estimator.parameters(), before))
    assert float(estimator(z, nuisance).detach()) < nll_before
    assert_all_close([p.grad for p in estimator.parameters()], accumulated)
    assert all(p.grad is None for p in model.parameters())
    mi_loss.eval()  # evaluation: no inner steps
    after = [p.detach().clone() for p in estimator.parameters()]
    with mi_loss.attach(model), torch.no_grad():
        model(inputs)
        mi_loss(y=nuisance)
    assert all(torch.equal(p, a) for p, a in zip(estimator.parameters(), after))


class Penalised(nn.Module):
    r"""An encoder with its penalty as a submodule, as the recipes hold it."""

    def __init__(self, mi_loss: MILoss) -> None:
        super().__init__()
        self.encoder = Encoder()
        self.penalty = mi_loss
        self.penalty.attach(self)

    def forward(self, inputs, nuisance):
        return nn.functional.mse_loss(self.encoder(inputs), inputs[:, :1]) + self.penalty(y=nuisance)


def club_penalty(**kwargs) -> MILoss:
    return MILoss(
        "club",
        x="encoder.body",
        direction="minimize",
        inner_steps=2,
        inner_lr=1e-2,
        estimator_kwargs=dict(hidden_dims=[8], q="gaussian", **kwargs),
    )


def training_steps(model: Penalised, optimizer, steps: range) -> list[torch.Tensor]:
    losses = []
    for step in steps:
        inputs, nuisance = data(seed=step)
        optimizer.zero_grad()
        loss = model(inputs, nuisance)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    return losses


def test_state_dict_round_trip_restores_the_inner_optimizer(tmp_path):
    torch.manual_seed(0)
    model = Penalised(club_penalty(x_dim=4, y_dim=1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    training_steps(model, optimizer, range(3))
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, tmp_path / "last.pt")
    expected = training_steps(model, optimizer, range(3, 5))

    checkpoint = torch.load(tmp_path / "last.pt", weights_only=True)
    inner = checkpoint["model"]["penalty._extra_state"]["inner_optimizer"]
    assert inner["state"] and all(int(s["step"]) == 6 for s in inner["state"].values())  # 3 calls x 2 inner steps
    for restore_inner in (True, False):
        torch.manual_seed(1)  # other initial values: everything must come from the checkpoint
        resumed = Penalised(club_penalty(x_dim=4, y_dim=1))
        state = dict(checkpoint["model"])
        if not restore_inner:  # as a state dict written before MILoss saved its inner optimiser
            del state["penalty._extra_state"]
        resumed.load_state_dict(state)
        resumed_optimizer = torch.optim.Adam(resumed.parameters(), lr=1e-2)
        resumed_optimizer.load_state_dict(checkpoint["optimizer"])
        if restore_inner:
            assert torch.equal(
                resumed.penalty.last_estimate, checkpoint["model"]["penalty._extra_state"]["last_estimate"]
            )
        else:
            assert resumed.penalty.last_estimate is None
        got = training_steps(resumed, resumed_optimizer, range(3, 5))
        same = all(torch.equal(a, b) for a, b in zip(got, expected))
        assert same == restore_inner, (got, expected)
        params_equal = all(torch.equal(a, b) for a, b in zip(resumed.parameters(), model.parameters()))
        assert params_equal == restore_inner


def test_lazily_built_miloss_loads_a_state_dict():
    torch.manual_seed(0)
    trained = Penalised(club_penalty())
    with torch.no_grad():  # builds the estimator from the widths of the features
        trained(*data())
    training_steps(trained, torch.optim.Adam(trained.parameters(), lr=1e-2), range(2))
    state = trained.state_dict()
    assert state["penalty._extra_state"]["dims"] == {"x": 4, "y": 1}

    fresh = Penalised(club_penalty())
    assert fresh.penalty.estimator is None
    fresh.load_state_dict(state)  # strict: every key of the estimator is expected once it is built
    assert isinstance(fresh.penalty.estimator, CLUB) and fresh.penalty.estimator.training
    for name, value in trained.state_dict().items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(fresh.state_dict()[name], value), name
    inputs, nuisance = data(seed=7)
    with torch.no_grad():
        torch.testing.assert_close(fresh(inputs, nuisance), trained(inputs, nuisance), rtol=0, atol=0)

    other = Penalised(club_penalty(x_dim=5, y_dim=1))
    with pytest.raises(RuntimeError, match="built for x_dim=4, y_dim=1; this MILoss's was built for x_dim=5"):
        other.load_state_dict(state)
    with pytest.raises(ValueError, match="extra state of a MILoss"):
        fresh.penalty.set_extra_state({"dims": {}})


def test_no_grad_evaluation_reads_the_estimate():
    torch.manual_seed(0)
    model, estimator = Encoder(), club(4, 1, hidden_dims=[8])
    mi_loss = MILoss(estimator, x="body", direction="minimize", weight=3.0)
    inputs, nuisance = data()
    with mi_loss.attach(model), torch.no_grad():
        model(inputs)
        term = mi_loss(y=nuisance)
    assert not term.requires_grad
    torch.testing.assert_close(term, 3.0 * mi_loss.last_estimate)


@pytest.mark.parametrize("direction,factory", [("maximize", infonce), ("minimize", club)])
def test_autocast_bfloat16_is_finite_and_close(direction, factory):
    torch.manual_seed(0)
    model, estimator = Encoder(), factory(4, 1, hidden_dims=[16])
    mi_loss = MILoss(estimator, x="body", direction=direction)
    inputs, nuisance = data(64)
    values = {}
    with mi_loss.attach(model):
        for precision in ("float32", "bfloat16"):
            model.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16"):
                model(inputs)
                term = mi_loss(y=nuisance)
            term.backward()
            values[precision] = term.detach(), encoder_grads(model)
            assert term.dtype == torch.float32 and mi_loss.last_estimate.dtype == torch.float32
    (low, low_grads), (full, full_grads) = values["bfloat16"], values["float32"]
    assert torch.isfinite(low) and all(torch.isfinite(g).all() for g in low_grads)
    assert abs(float(low) - float(full)) < 0.05 + 0.05 * abs(float(full))
    for a, b in zip(low_grads, full_grads):
        assert float((a - b).norm()) <= 0.1 * float(b.norm()) + 1e-3


def test_half_precision_features_reach_the_estimator_in_float32():
    torch.manual_seed(0)
    model, estimator = Encoder(), infonce(4, 1, hidden_dims=[16])
    model.body.to(torch.bfloat16)  # a model kept in bfloat16, without autocast
    mi_loss = MILoss(estimator, x="body")
    inputs, nuisance = data()
    with mi_loss.attach(model):
        z = model.body(inputs.bfloat16())
        term = mi_loss(y=nuisance)
    assert z.dtype == torch.bfloat16 and term.dtype == torch.float32
    torch.testing.assert_close(mi_loss.last_estimate, estimator.mutual_information(z.detach().float(), nuisance))
    term.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.body.parameters())


def test_activation_checkpointing_gives_the_same_term_and_gradients():
    inputs, nuisance = data()
    results = []
    for use_checkpoint in (False, True):
        torch.manual_seed(0)
        model, estimator = Encoder(), club(8, 1, hidden_dims=[8])
        body = model.body

        class Checkpointed(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, x):
                z = checkpoint(body, x, use_reentrant=False) if use_checkpoint else body(x)
                return self.model.head(z)

        wrapper = Checkpointed()
        mi_loss = MILoss(estimator, x="model.body.1", direction="minimize", repeat="error")
        with mi_loss.attach(wrapper):
            out = wrapper(inputs)
            term = mi_loss(y=nuisance)
            (out.square().mean() + term).backward()  # recomputes body under checkpointing
            assert "x" not in mi_loss.capture  # the recomputation recorded nothing
            with pytest.raises(RuntimeError, match="since they were last used"):
                mi_loss(y=nuisance)
        results.append((term.detach(), encoder_grads(model), [p.grad for p in estimator.parameters()]))
    (t0, e0, q0), (t1, e1, q1) = results
    torch.testing.assert_close(t0, t1)
    assert_all_close(e0, e1)
    assert_all_close(q0, q1)


def test_compiled_model_feeds_the_term():
    torch.manual_seed(0)
    model, estimator = Encoder(), infonce(4, 1, hidden_dims=[8])
    mi_loss = MILoss(estimator, x="body")
    inputs, nuisance = data()
    mi_loss.attach(model)  # before compiling
    compiled = torch.compile(model, backend="eager")
    compiled(inputs)
    term = mi_loss(y=nuisance)
    z = model.body(inputs)
    torch.testing.assert_close(term, -estimator.mutual_information(z, nuisance))
    term.backward()
    assert all(g.abs().sum() > 0 for g in encoder_grads(model))


# -- small training runs ----------------------------------------------------------------

NOISE = 0.3


class NoisyEncoder(nn.Module):
    """z = W [s1, s2, n] + noise; the task reads z[:, :2] and must reproduce s, so the third
    row of W is free: only an MI term moves the nuisance n in or out of it."""

    def __init__(self, nuisance_weight: float) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 3)
        with torch.no_grad():
            self.linear.weight[2] = torch.tensor([0.3, -0.3, nuisance_weight])
            if nuisance_weight == 0:
                self.linear.weight[:, 2] = 0.0
        self.noise = nn.Identity()

    def forward(self, u):
        return self.noise(self.linear(u) + NOISE * torch.randn(u.shape[0], 3))[:, :2]


def nuisance_information(model: NoisyEncoder, seed: int = 123) -> float:
    """Gaussian MI implied by the R^2 of a least-squares probe of n from z, on fresh samples."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(4000, 3, generator=g)
    with torch.no_grad():
        z = model.linear(u) + NOISE * torch.randn(4000, 3, generator=g)
    design = torch.cat([z, torch.ones(4000, 1)], dim=1)
    n = u[:, 2:]
    residual = n - design @ torch.linalg.lstsq(design, n).solution
    r2 = 1 - residual.var() / n.var()
    return -0.5 * math.log(max(1 - float(r2), 1e-6))


def train(model: NoisyEncoder, mi_loss: MILoss | None, steps: int, seed: int = 0) -> float:
    """Trains the encoder on the task (plus the MI term); returns the last task loss."""
    torch.manual_seed(seed)
    params = list(model.parameters()) + (list(mi_loss.parameters()) if mi_loss is not None else [])
    optimizer = torch.optim.Adam(params, lr=1e-2)
    handle = mi_loss.attach(model) if mi_loss is not None else None
    for _ in range(steps):
        u = torch.randn(128, 3)
        optimizer.zero_grad()
        task = nn.functional.mse_loss(model(u), u[:, :2])
        loss = task + mi_loss(y=u[:, 2:]) if mi_loss is not None else task
        loss.backward()
        optimizer.step()
    if handle is not None:
        handle.remove()
    return float(task.detach())


@pytest.mark.parametrize("seed", [0, 1])
def test_club_penalty_removes_a_nuisance(seed):
    torch.manual_seed(seed)
    control = NoisyEncoder(nuisance_weight=1.0)
    penalised = NoisyEncoder(nuisance_weight=1.0)
    penalised.load_state_dict(control.state_dict())
    start = nuisance_information(control)
    assert start > 0.7
    control_task = train(control, None, steps=300)
    club_loss = MILoss(
        CLUB(ConditionalGaussian(3, 1, [16])), x="noise", direction="minimize", weight=0.3, inner_steps=1, inner_lr=1e-2
    )
    task = train(penalised, club_loss, steps=300)
    kept, removed = nuisance_information(control), nuisance_information(penalised)
    assert kept > 0.7, kept
    assert removed < 0.1 and removed < 0.2 * kept, (removed, kept)
    assert task < control_task + 0.03, (task, control_task)  # the task is still solved


def test_infomax_puts_the_nuisance_in():
    torch.manual_seed(2)
    blind = NoisyEncoder(nuisance_weight=0.0)
    assert nuisance_information(blind) < 0.01
    infomax = MILoss(InfoNCE(joint_critic(3, 1, [16])), x="noise", direction="maximize", weight=0.5)
    train(blind, infomax, steps=150)
    assert nuisance_information(blind) > 1.0
    assert float(infomax.last_estimate) > 1.0
