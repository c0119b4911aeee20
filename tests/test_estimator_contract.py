"""The estimator contract (what MIEstimator declares and dispatches), the registry entries,
and FitSettings: callers ask the estimator and the registry instead of testing types."""

from __future__ import annotations

import contextlib
import io

import pytest
import torch
from torch import nn

from mist_reg import estimate_mi, train_mi_estimator
from mist_reg.cli.app import main
from mist_reg.estimation.fitting import FitSettings, fit_estimator
from mist_reg.estimators import (
    ESTIMATORS,
    MINE,
    REGISTRY,
    EstimatorEntry,
    InfoNCE,
    MIEstimator,
    get_entry,
    infonce,
    list_estimators,
    mine,
    register_estimator,
)
from mist_reg.estimators.factories import CRITIC_ESTIMATORS, ESTIMATION_CRITIC_DEFAULTS
from mist_reg.functional.bounds import BoundTerms

SMALL = {"hidden_dims": [8]}
NEEDS = {"ba": {"entropy_y": 1.0}, "gaussian": {}, "kernel": {}, "binned": {}}


class Correlation(MIEstimator):
    """The Gaussian-copula estimate of one pair of coordinates; nothing to train."""

    def terms(self, x, y):
        rho = torch.corrcoef(torch.cat([x[:, :1], y[:, :1]], 1).T)[0, 1]
        return BoundTerms(-0.5 * torch.log1p(-(rho**2)).expand(x.shape[0]))


@pytest.mark.parametrize("name", list_estimators())
def test_registry_entry_describes_what_the_factory_builds(name):
    entry = get_entry(name)
    kwargs = NEEDS.get(name, SMALL)
    estimator = entry.build(x_dim=2, y_dim=2, **kwargs)
    assert type(estimator) is entry.cls
    assert entry.bound == estimator.bound
    assert entry.has_critic == (name in CRITIC_ESTIMATORS)
    assert ESTIMATORS[name] is entry.factory
    assert entry.estimate_defaults == get_entry(name).estimate_defaults
    with pytest.raises(TypeError):
        entry.estimate_defaults["hidden_dims"] = (1,)  # read-only


def test_estimate_defaults_live_in_the_entries():
    assert dict(get_entry("mine").estimate_defaults) == ESTIMATION_CRITIC_DEFAULTS
    assert dict(get_entry("pq_hybrid").estimate_defaults) == ESTIMATION_CRITIC_DEFAULTS
    assert get_entry("gaussian_hybrid").estimate_defaults["projection_dim"] == 32
    assert dict(get_entry("club").estimate_defaults) == {}
    built = get_entry("Mine").build_for_estimate(x_dim=2, y_dim=2, hidden_dims=[8])
    assert built.critic.reference is not None  # the Gaussian reference of the defaults


def test_register_estimator_needs_the_class_and_a_new_name():
    with pytest.raises(ValueError, match="already registered"):
        register_estimator("mine", MINE)
    with pytest.raises(TypeError, match="needs the MIEstimator subclass"):
        register_estimator("unclassed_estimator")
    with pytest.raises(TypeError, match="MIEstimator subclass"):
        EstimatorEntry("bad", lambda **kw: None, nn.Linear)
    with pytest.raises(ValueError, match="lower case"):
        register_estimator("Camel-Case", Correlation)


def test_a_new_estimator_is_one_class_and_one_registry_line():
    name = "test_correlation"

    @register_estimator(name, Correlation)
    def factory(x_dim: int, y_dim: int) -> Correlation:
        return Correlation()

    try:
        assert name in list_estimators() and name in ESTIMATORS and name not in CRITIC_ESTIMATORS
        _ = torch.manual_seed(0)
        x = torch.randn(600, 1)
        y = x + torch.randn(600, 1)
        result = estimate_mi(x, y, estimator=name, preprocessing="none")
        assert result.log.stop_reason == "no_parameters" and abs(result - 0.35) < 0.15
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            assert main(["estimators"]) == 0
        assert f"{name:16s} None   Correlation" in printed.getvalue()
    finally:
        REGISTRY.pop(name)
    assert name not in ESTIMATORS


def test_shares_objective_is_declared_or_derived():
    class OwnLoss(Correlation):
        def forward(self, x, y):
            return torch.zeros(())

    class DeclaredOwnLoss(OwnLoss):
        shares_objective = True

    class Likelihood(Correlation):
        fit_by_likelihood = True

    assert Correlation.shares_objective and DeclaredOwnLoss.shares_objective
    assert not OwnLoss.shares_objective and not Likelihood.shares_objective
    assert MINE.shares_objective and InfoNCE.shares_objective  # critics: one objective for both players
    for name in ("club", "doe", "pq", "pq_hybrid", "gaussian_hybrid", "binned"):
        assert not get_entry(name).cls.shares_objective, name


def test_loss_and_estimate_is_one_evaluation_of_the_training_objective():
    _ = torch.manual_seed(0)
    estimator = mine(2, 2, hidden_dims=[8]).eval()
    x = torch.randn(32, 2)
    y = x + torch.randn(32, 2)
    loss, estimate = estimator.loss_and_estimate(x, y)
    assert torch.allclose(loss, estimator(x, y)) and torch.allclose(estimate, estimator.mutual_information(x, y))
    loss, estimate = Correlation().loss_and_estimate(x, y)
    assert torch.equal(loss, -estimate)


def test_weight_selection_follows_the_bound_unless_declared():
    assert mine(1, 1, hidden_dims=[4]).selects_weights_by() == "estimate"
    assert get_entry("club").build(x_dim=1, y_dim=1, hidden_dims=[4]).selects_weights_by() == "loss"
    assert Correlation().selects_weights_by() == "loss"

    class ByEstimate(Correlation):
        weight_selection = "estimate"

    assert ByEstimate().selects_weights_by() == "estimate"


def test_caps_and_certificates():
    assert infonce(1, 1, hidden_dims=[4], neg_samples=7).saturation_cap(64) == pytest.approx(
        torch.log(torch.tensor(8.0))
    )
    assert mine(1, 1, hidden_dims=[4]).saturation_cap(64) is None
    terms = BoundTerms(torch.zeros(4), torch.zeros(4, 3))
    assert mine(1, 1, hidden_dims=[4]).certificate_terms(terms) is not None
    assert infonce(1, 1, hidden_dims=[4]).certificate_terms(terms) is None
    assert mine(1, 1, hidden_dims=[4]).certificate_cap(4) == pytest.approx(torch.log(torch.tensor(4.0)))


def test_initialize_runs_every_fit_data_hook_once():
    calls = []

    class Hooked(nn.Module):
        def fit_data(self, x, y):
            calls.append("module")

    class Inner(Correlation):
        def fit_data(self, x, y):
            calls.append("inner")

    class Outer(Correlation):
        def __init__(self):
            super().__init__()
            self.inner, self.hooked, self.plain = Inner(), Hooked(), Correlation()

    assert not Correlation().needs_initialization()
    outer = Outer()
    assert outer.needs_initialization()
    outer.initialize(torch.zeros(3, 1), torch.zeros(3, 1))
    assert sorted(calls) == ["inner", "module"]
    assert mine(1, 1, hidden_dims=[4], reference="gaussian").needs_initialization()
    assert not mine(1, 1, hidden_dims=[4]).needs_initialization()


def test_fit_settings_drive_train_mi_estimator():
    x = torch.randn(400, 1)
    y = x + torch.randn(400, 1)
    logs = []
    for fit in (
        lambda e: train_mi_estimator(e, x=x, y=y, batch_size=32, max_iterations=30, eval_every=10, seed=3),
        lambda e: fit_estimator(e, FitSettings(batch_size=32, max_iterations=30, eval_every=10, seed=3), x, y),
    ):
        _ = torch.manual_seed(0)
        logs.append(fit(mine(1, 1, hidden_dims=[8])))
    assert logs[0] == logs[1] and logs[0].iterations == 30
    resolved = FitSettings(max_epochs=2).resolved()
    assert resolved.max_iterations is None and resolved.eval_every == 100
    assert FitSettings().resolved().max_iterations == 3000
    for bad, message in (({"patience": 0}, "patience"), ({"max_epochs": 0}, "max_epochs"), ({"lr": -1.0}, "lr")):
        with pytest.raises(ValueError, match=message):
            FitSettings(**bad).resolved()
