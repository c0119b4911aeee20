"""Tests for mist_reg.training: train_mi_estimator, evaluate_mi and estimate_mi."""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mist_reg import MIEstimate, SampleDataset, TrainingLog, estimate_mi, evaluate_mi, train_mi_estimator
from mist_reg.estimation.data import TensorBatches
from mist_reg.estimation.fit_settings import FitSettings
from mist_reg.estimation.weight_selection import BestWeights
from mist_reg.estimators import MINE, NWJ, MIEstimator, instantiate_estimator, list_estimators
from mist_reg.functional.bounds import BoundTerms
from mist_reg.nn.critic import SeparableCritic
from mist_reg.tasks import get_task


def small_nwj(x_dim: int = 5, y_dim: int = 5, seed: int = 0) -> NWJ:
    torch.manual_seed(seed)
    return instantiate_estimator("nwj", x_dim=x_dim, y_dim=y_dim, hidden_dims=[16])


@pytest.fixture(scope="module")
def gaussian():
    task = get_task("gaussian-5x5")
    x, y = task.sample(400, seed=0)
    return x, y


# --------------------------------------------------------------------------------------
# Helpers: estimators with known behaviour
# --------------------------------------------------------------------------------------


class ClimbingEstimator(MIEstimator):
    """One parameter theta; SGD with lr 0.1 raises it by exactly 0.1 per step (the loss is
    -theta), and the reported estimate -(theta - 1)^2 peaks after 10 steps. After
    ``nan_after`` steps the loss becomes NaN."""

    bound = "lower"

    def __init__(self, nan_after: int | None = None) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.zeros(()))
        self.nan_after = nan_after
        self.steps = 0

    def forward(self, x, y):
        self.steps += 1
        loss = -self.theta + 0.0 * x.sum()
        if self.nan_after is not None and self.steps > self.nan_after:
            loss = loss * float("nan")
        return loss

    def terms(self, x, y):
        return BoundTerms(-((self.theta.detach() - 1.0) ** 2) * torch.ones(x.shape[0]))


class NaNAfter(NWJ):
    """A real NWJ estimator whose training loss turns NaN after ``k`` steps."""

    def __init__(self, critic, k: int) -> None:
        super().__init__(critic)
        self.k, self.steps = k, 0

    def forward(self, x, y):
        self.steps += 1
        loss = super().forward(x, y)
        return loss * float("nan") if self.steps > self.k else loss


class RecordingBatches(TensorBatches):
    """A validation loader that snapshots the estimator's weights whenever it is iterated
    (once per validation), so the restored weights can be compared with them."""

    def __init__(self, estimator, x, y, batch_size):
        super().__init__(x, y, batch_size, shuffle=False)
        self.estimator = estimator
        self.snapshots: list[dict] = []
        self.recording = True

    def __iter__(self):
        if self.recording:
            self.snapshots.append(copy.deepcopy(self.estimator.state_dict()))
        return super().__iter__()


def states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def sgd_kwargs(**extra):
    return dict(optimizer_class=torch.optim.SGD, lr=0.1, eval_every=1, smoothing=0.0, **extra)


# --------------------------------------------------------------------------------------
# Bad input gives errors that name the problem
# --------------------------------------------------------------------------------------


def test_mismatched_lengths(gaussian):
    x, y = gaussian
    with pytest.raises(ValueError, match="same number of samples, got 400 and 399"):
        train_mi_estimator(small_nwj(), x=x, y=y[:-1], max_iterations=1)
    with pytest.raises(ValueError, match="same number of samples"):
        estimate_mi(x, y[:-1], max_iterations=1)
    with pytest.raises(ValueError, match="same number of samples"):
        evaluate_mi(small_nwj(), x=x, y=y[:-1], batch_size=10)


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_non_finite_inputs(gaussian, bad):
    x, y = gaussian
    y = y.clone()
    y[7, 2] = float(bad)
    pattern = "y contains NaN values" if bad == "nan" else "y contains infinite values"
    with pytest.raises(ValueError, match=pattern + r".*row 7"):
        train_mi_estimator(small_nwj(), x=x, y=y, max_iterations=1)
    with pytest.raises(ValueError, match=pattern):
        estimate_mi(x, y, max_iterations=1)
    with pytest.raises(ValueError, match=pattern):
        evaluate_mi(small_nwj(), x=x, y=y, batch_size=50)
    with pytest.raises(ValueError, match=pattern.replace("y ", "y_test ")):
        estimate_mi(x, gaussian[1], x_test=x, y_test=y, max_iterations=1)


def test_empty_inputs():
    with pytest.raises(ValueError, match="x is empty"):
        estimate_mi(np.zeros((0, 2)), np.zeros((0, 2)), max_iterations=1)
    with pytest.raises(ValueError, match="x is empty"):
        train_mi_estimator(small_nwj(2, 2), x=torch.zeros(0, 2), y=torch.zeros(0, 2), max_iterations=1)


@pytest.mark.parametrize(
    "values", [np.array(["a", "b", "c", "d"]), np.array([1, "b", 2.0, None], dtype=object)], ids=["str", "object"]
)
def test_non_numeric_inputs(values):
    y = np.zeros(4)  # estimate_mi reads strings as category codes (tests/test_column_types.py)
    with pytest.raises(TypeError, match="x must hold numbers"):
        train_mi_estimator(small_nwj(1, 1), x=values, y=y, max_iterations=1)


def test_batch_size_larger_than_data(gaussian):
    x, y = gaussian[0][:50], gaussian[1][:50]
    with pytest.raises(ValueError, match=r"batch_size=64 is larger than the 45 training samples"):
        train_mi_estimator(small_nwj(), x=x, y=y, batch_size=64, max_iterations=1)
    with pytest.raises(ValueError, match="batch_size=64 is larger than the 50 training samples"):
        train_mi_estimator(small_nwj(), x=x, y=y, batch_size=64, valid_percentage=0, max_iterations=1)
    with pytest.raises(ValueError, match="batch_size=256"):
        estimate_mi(gaussian[0], gaussian[1], batch_size=256, max_iterations=1)


def test_unknown_estimator_name_lists_valid_names(gaussian):
    x, y = gaussian
    with pytest.raises(ValueError, match="unknown estimator 'minee'") as info:
        estimate_mi(x, y, estimator="minee", max_iterations=1)
    for name in list_estimators():
        assert name in str(info.value)
    with pytest.raises(ValueError, match="unknown estimator"):
        estimate_mi(x, y, estimator_name="not-an-estimator", max_iterations=1)


def test_x_test_without_y_test(gaussian):
    x, y = gaussian
    with pytest.raises(ValueError, match="both x_test and y_test"):
        estimate_mi(x, y, x_test=x[:10], max_iterations=1)
    with pytest.raises(ValueError, match="both x_test and y_test"):
        estimate_mi(x, y, y_test=y[:10], max_iterations=1)
    with pytest.raises(ValueError, match="x_test has 3 features but x has 5"):
        estimate_mi(x, y, x_test=x[:10, :3], y_test=y[:10], max_iterations=1)


def test_other_argument_errors(gaussian):
    x, y = gaussian
    with pytest.raises(ValueError, match="pass x and y"):
        train_mi_estimator(small_nwj(), x=x, max_iterations=1)
    with pytest.raises(TypeError, match="MIEstimator"):
        train_mi_estimator(nn.Linear(2, 1), x=x, y=y, max_iterations=1)
    with pytest.raises(ValueError, match="max_iterations"):
        train_mi_estimator(small_nwj(), x=x, y=y, max_iterations=0)
    with pytest.raises(ValueError, match="lr"):
        train_mi_estimator(small_nwj(), x=x, y=y, lr=0.0, max_iterations=1)
    with pytest.raises(TypeError, match="apply only when the estimator is given by name"):
        estimate_mi(x, y, estimator=small_nwj(), hidden_dims=[8], max_iterations=1)


# --------------------------------------------------------------------------------------
# Accepted inputs
# --------------------------------------------------------------------------------------


def test_one_dimensional_numpy_inputs_are_accepted():
    g = np.random.default_rng(0)
    x = g.normal(size=300)
    y = x + g.normal(size=300)
    result = estimate_mi(x, y, estimator="nwj", hidden_dims=[16], batch_size=64, max_iterations=20)
    assert isinstance(result, MIEstimate) and math.isfinite(result)
    # [N] was read as [N, 1]: the fitted estimator takes one feature for x and for y
    with torch.no_grad():
        assert math.isfinite(float(result.estimator.mutual_information(torch.randn(10, 1), torch.randn(10, 1))))
        with pytest.raises(RuntimeError):
            result.estimator.mutual_information(torch.randn(10, 2), torch.randn(10, 1))
    log = train_mi_estimator(small_nwj(1, 1), x=x.astype(np.float32), y=y, batch_size=32, max_iterations=5)
    assert log.iterations == 5


def _loaders(x, y, batch_size):
    tuples = DataLoader(TensorDataset(x, y), batch_size=batch_size)
    dicts = DataLoader(SampleDataset(samples={"x": x, "y": y}), batch_size=batch_size)
    return tuples, dicts


def test_tuple_and_dict_loaders_train_and_evaluate_identically(gaussian):
    x, y = gaussian
    base = small_nwj()
    tuple_estimator, dict_estimator = copy.deepcopy(base), copy.deepcopy(base)
    tuples, dicts = _loaders(x[:320], y[:320], 32)
    valid_tuples, valid_dicts = _loaders(x[320:], y[320:], 40)
    log_t = train_mi_estimator(
        tuple_estimator, train_loader=tuples, valid_loader=valid_tuples, max_iterations=15, eval_every=5
    )
    log_d = train_mi_estimator(
        dict_estimator, train_loader=dicts, valid_loader=valid_dicts, max_iterations=15, eval_every=5
    )
    assert log_t.iterations == log_d.iterations == 15
    assert log_t.column("valid_mi") == log_d.column("valid_mi")
    assert states_equal(tuple_estimator.state_dict(), dict_estimator.state_dict())
    assert not states_equal(tuple_estimator.state_dict(), base.state_dict())
    # evaluation: loader as keyword or positional, tuples or dicts, or tensors -> same value
    reference = evaluate_mi(tuple_estimator, x=x, y=y, batch_size=40)
    for loader in _loaders(x, y, 40):
        assert evaluate_mi(tuple_estimator, data_loader=loader) == pytest.approx(reference, abs=1e-9)
        assert evaluate_mi(tuple_estimator, loader) == pytest.approx(reference, abs=1e-9)


def test_max_epochs_with_loader(gaussian):
    x, y = gaussian
    loader = DataLoader(TensorDataset(x, y), batch_size=100)
    log = train_mi_estimator(small_nwj(), train_loader=loader, max_epochs=2)
    assert log.iterations == 8 and log.stop_reason == "max_epochs"


# --------------------------------------------------------------------------------------
# evaluate_mi weighs samples, not batches
# --------------------------------------------------------------------------------------


class OnesHead(nn.Module):
    def forward(self, y):
        return torch.ones(y.shape[0], 1)


def x_only_critic() -> SeparableCritic:
    """f(x, y) = 1.5 x - 0.2: deterministic and independent of which y it is paired with."""
    f_x = nn.Linear(1, 1)
    with torch.no_grad():
        f_x.weight.fill_(1.5)
        f_x.bias.fill_(-0.2)
    return SeparableCritic(f_x, OnesHead())


def test_evaluate_mi_nwj_is_independent_of_batch_size():
    n = 100
    x = torch.linspace(-1, 1, n).unsqueeze(1)
    y = torch.randn(n, 1, generator=torch.Generator().manual_seed(0))
    estimator = NWJ(x_only_critic(), neg_samples=0)
    f = 1.5 * x[:, 0].double() - 0.2
    per_sample = f - torch.exp(f - 1)
    expected = float(per_sample.mean())
    for batch_size in (7, 30, 64, 100):
        value, stderr = evaluate_mi(estimator, x=x, y=y, batch_size=batch_size, return_standard_error=True)
        assert value == pytest.approx(expected, abs=1e-6), batch_size
        assert stderr == pytest.approx(float(per_sample.std() / math.sqrt(n)), rel=1e-5)
    # a mean of batch means would differ: the last batch of 2 would weigh as much as one of 7
    batch_means = [float(per_sample[i : i + 7].mean()) for i in range(0, n, 7)]
    assert abs(np.mean(batch_means) - expected) > 1e-2


def test_evaluate_mi_dv_pools_the_partition_over_batches():
    n = 100
    x = torch.linspace(-1, 1, n).unsqueeze(1)
    y = torch.randn(n, 1, generator=torch.Generator().manual_seed(0))
    estimator = MINE(x_only_critic(), neg_samples=1)
    f = 1.5 * x[:, 0].double() - 0.2
    expected = float(f.mean() - torch.logsumexp(f, 0) + math.log(n))
    for batch_size in (7, 30, 100):
        assert evaluate_mi(estimator, x=x, y=y, batch_size=batch_size) == pytest.approx(expected, abs=1e-6)
    batch_values = [
        float(f[i : i + 7].mean() - torch.logsumexp(f[i : i + 7], 0) + math.log(len(f[i : i + 7])))
        for i in range(0, n, 7)
    ]
    assert abs(np.mean(batch_values) - expected) > 1e-2


def test_evaluate_mi_uses_every_sample_even_with_a_final_batch_of_one():
    n = 101
    x = torch.linspace(-1, 1, n).unsqueeze(1)
    y = torch.zeros(n, 1)
    estimator = NWJ(x_only_critic(), neg_samples=0)
    whole = evaluate_mi(estimator, x=x, y=y, batch_size=n)
    assert evaluate_mi(estimator, x=x, y=y, batch_size=10) == pytest.approx(whole, abs=1e-6)


def test_evaluate_mi_restores_training_mode(gaussian):
    estimator = small_nwj()
    estimator.train()
    evaluate_mi(estimator, x=gaussian[0], y=gaussian[1], batch_size=100)
    assert estimator.training
    estimator.eval()
    evaluate_mi(estimator, x=gaussian[0], y=gaussian[1], batch_size=100)
    assert not estimator.training


# --------------------------------------------------------------------------------------
# Early stopping and non-finite losses
# --------------------------------------------------------------------------------------


def test_early_stopping_restores_the_best_weights():
    x, y = torch.randn(64, 1), torch.randn(64, 1)
    estimator = ClimbingEstimator()
    valid = RecordingBatches(estimator, x[:16], y[:16], 16)
    log = train_mi_estimator(
        estimator, x=x, y=y, valid_loader=valid, batch_size=8, max_iterations=100, patience=3, **sgd_kwargs()
    )
    assert log.stop_reason == "early_stopping"
    assert log.best_iteration == 10
    assert log.iterations == 13  # three validations without improvement
    assert float(estimator.theta.detach()) == pytest.approx(1.0, abs=1e-5)
    valid_by_iteration = {r["iteration"]: r["valid_mi"] for r in log.records}
    assert valid_by_iteration[13] < valid_by_iteration[10]
    assert log.best_valid_mi == pytest.approx(max(valid_by_iteration.values()))
    valid.recording = False
    assert evaluate_mi(estimator, data_loader=valid) == pytest.approx(log.best_valid_mi, abs=1e-9)
    best_index = [r["iteration"] for r in log.records].index(log.best_iteration)
    assert states_equal(estimator.state_dict(), valid.snapshots[best_index])
    assert not estimator.training


class BouncingEstimator(MIEstimator):
    """One parameter theta and the loss |theta - 1|: SGD moves theta by exactly lr per step
    towards 1, so from theta0 = 0 with lr 0.3 it reaches 0.9 and then jumps between 1.2 and
    0.9 for ever (the reported estimate is -(theta - 1)^2), while a step ten times smaller
    gets ten times closer."""

    bound = "lower"

    def __init__(self, theta0: float = 0.0) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(theta0))

    def forward(self, x, y):
        return (self.theta - 1.0).abs() + 0.0 * x.sum()

    def terms(self, x, y):
        return BoundTerms(-((self.theta.detach() - 1.0) ** 2) * torch.ones(x.shape[0]))


def bouncing_settings() -> dict:
    x, y = torch.randn(64, 1), torch.randn(64, 1)
    valid = TensorBatches(x[:16], y[:16], 16, shuffle=False)
    return dict(x=x, y=y, valid_loader=valid, optimizer_class=torch.optim.SGD, lr=0.3, eval_every=1, smoothing=0.0)


def test_a_learning_rate_decay_settles_where_the_first_step_size_bounces():
    settings = dict(bouncing_settings(), batch_size=8, max_iterations=200, patience=3)
    bouncing = BouncingEstimator()
    log = train_mi_estimator(bouncing, **settings)
    assert log.stop_reason == "early_stopping" and log.lr_decays == 0
    assert float(bouncing.theta.detach()) == pytest.approx(0.9, abs=1e-6)

    settling = BouncingEstimator()
    log = train_mi_estimator(settling, lr_decays=1, **settings)
    assert log.stop_reason == "early_stopping" and log.lr_decays == 1
    assert float(settling.theta.detach()) == pytest.approx(0.99, abs=1e-6)  # steps of 0.09 from 0.9
    assert log.best_valid_mi == pytest.approx(-(0.01**2), abs=1e-9)


def test_no_decay_where_training_never_beat_its_start():
    settings = dict(bouncing_settings(), batch_size=8, max_iterations=200, patience=3)
    at_the_optimum = BouncingEstimator(theta0=1.0)
    log = train_mi_estimator(at_the_optimum, lr_decays=2, **settings)
    assert log.stop_reason == "early_stopping" and log.lr_decays == 0 and log.iterations == 3


@pytest.mark.parametrize(
    ("option", "message"),
    [(dict(lr_decays=-1), "lr_decays must be an integer >= 0"), (dict(lr_decays=1.5), "lr_decays must be an integer")],
)
def test_bad_lr_decays_are_refused(option, message):
    with pytest.raises(ValueError, match=message):
        train_mi_estimator(small_nwj(), x=torch.randn(64, 1), y=torch.randn(64, 1), **option)


def test_a_decay_factor_outside_zero_and_one_is_refused():
    with pytest.raises(ValueError, match="lr_decay_factor must lie strictly between 0 and 1"):
        FitSettings(lr_decay_factor=1.0).resolved()


def test_rises_below_min_delta_keep_their_weights_but_do_not_restart_patience():
    module = nn.Linear(1, 1)
    log = TrainingLog()
    monitor = BestWeights(module, smoothing=0.0, min_delta=0.1)
    counts = []
    for score in [0.0, 1.0, 1.04, 1.08, 1.12, 1.0]:  # the last three rises add up to 0.12
        with torch.no_grad():
            module.bias.fill_(score)
        log.iterations += 1
        monitor.update(score, score, log, {})
        counts.append(monitor.bad_evaluations)
    assert counts == [0, 0, 1, 2, 0, 1]
    assert log.best_valid_mi == pytest.approx(1.12)  # the best weights are kept whatever the rise
    monitor.restore()
    assert float(module.bias.detach()) == pytest.approx(1.12)


def test_min_delta_zero_counts_every_rise_and_no_tie():
    monitor = BestWeights(nn.Linear(1, 1), smoothing=0.0)
    counts = []
    for score in [1.0, 1.0, 1.0 + 1e-9, 0.5]:
        monitor.update(score, score, TrainingLog(), {})
        counts.append(monitor.bad_evaluations)
    assert counts == [0, 1, 0, 1]


def test_a_negative_min_delta_is_refused():
    with pytest.raises(ValueError, match="min_delta must be a finite number >= 0"):
        train_mi_estimator(small_nwj(), x=torch.randn(64, 1), y=torch.randn(64, 1), min_delta=-0.1)


def smoothed_column(log: TrainingLog) -> list[float]:
    """The smoothed validation score used to pick the best weights."""
    key = "valid_score_smoothed" if "valid_score_smoothed" in log.records[0] else "valid_mi_smoothed"
    return log.column(key)


def test_best_weights_follow_the_smoothed_validation_curve(gaussian):
    x, y = gaussian
    estimator = small_nwj()
    valid = RecordingBatches(estimator, x[300:], y[300:], 100)
    log = train_mi_estimator(
        estimator,
        x=x[:300],
        y=y[:300],
        valid_loader=valid,
        batch_size=50,
        max_iterations=60,
        eval_every=5,
        lr=3e-2,
        patience=3,
        seed=0,
    )
    assert log.best_iteration is not None and isinstance(log, TrainingLog)
    smoothed = smoothed_column(log)
    best_index = [r["iteration"] for r in log.records].index(log.best_iteration)
    assert best_index == int(np.argmax(smoothed))
    assert log.best_valid_mi == pytest.approx(log.records[best_index]["valid_mi"])
    assert states_equal(estimator.state_dict(), valid.snapshots[best_index])
    valid.recording = False
    assert evaluate_mi(estimator, data_loader=valid) == pytest.approx(log.records[best_index]["valid_mi"], abs=1e-6)
    if log.stop_reason == "early_stopping":
        assert len(log.records) - 1 - best_index == 3


def test_non_finite_loss_stops_with_warning_and_restores_weights():
    x, y = torch.randn(64, 1), torch.randn(64, 1)
    estimator = ClimbingEstimator(nan_after=5)
    valid = TensorBatches(x[:16], y[:16], 16, shuffle=False)
    with pytest.warns(RuntimeWarning, match="loss became nan"):
        log = train_mi_estimator(
            estimator, x=x, y=y, valid_loader=valid, batch_size=8, max_iterations=100, **sgd_kwargs()
        )
    assert log.stop_reason == "non_finite_loss"
    assert log.iterations == 6
    assert float(estimator.theta.detach()) == pytest.approx(0.5, abs=1e-5)  # the best (= last finite) weights

    without_validation = ClimbingEstimator(nan_after=4)
    with pytest.warns(RuntimeWarning, match="loss became nan"):
        log = train_mi_estimator(
            without_validation, x=x, y=y, valid_percentage=0, batch_size=8, max_iterations=100, **sgd_kwargs()
        )
    assert log.stop_reason == "non_finite_loss"
    assert float(without_validation.theta.detach()) == pytest.approx(0.4, abs=1e-5)


def test_non_finite_loss_of_a_real_estimator(gaussian):
    x, y = gaussian
    torch.manual_seed(0)
    estimator = NaNAfter(instantiate_estimator("nwj", x_dim=5, y_dim=5, hidden_dims=[16]).critic, k=7)
    valid = RecordingBatches(estimator, x[300:], y[300:], 100)
    with pytest.warns(RuntimeWarning, match="training stopped at iteration 9"):
        log = train_mi_estimator(
            estimator, x=x[:300], y=y[:300], valid_loader=valid, batch_size=50, max_iterations=50, eval_every=3
        )
    assert log.stop_reason == "non_finite_loss"
    assert all(bool(torch.isfinite(p).all()) for p in estimator.parameters())
    best_index = [r["iteration"] for r in log.records].index(log.best_iteration)
    assert log.best_iteration in (0, 3, 6)
    assert states_equal(estimator.state_dict(), valid.snapshots[best_index])


# --------------------------------------------------------------------------------------
# estimate_mi
# --------------------------------------------------------------------------------------

FAST = dict(hidden_dims=[16], batch_size=64, max_iterations=30, eval_batch_size=256)


def test_estimate_mi_result_carries_its_provenance():
    x, y = get_task("gaussian-5x5").sample(1000, seed=0)
    result = estimate_mi(x, y, estimator="nwj", **FAST)
    assert isinstance(result, MIEstimate) and isinstance(result, float)
    assert math.isfinite(float(result))
    assert result.bound == "lower"
    assert result.standard_error > 0 and math.isfinite(result.standard_error)
    assert isinstance(result.log, TrainingLog) and result.log.iterations <= 30
    assert result.n_test == 300
    assert isinstance(result.estimator, NWJ) and not result.estimator.training
    assert result.warnings == []
    assert "nats" in repr(result)
    # the standard error is that of the per-sample mean over the 300 test samples
    assert 0.005 < result.standard_error < 0.2


def test_estimate_mi_with_explicit_test_data():
    task = get_task("gaussian-5x5")
    x, y = task.sample(600, seed=0)
    x_test, y_test = task.sample(123, seed=1)
    result = estimate_mi(x, y, estimator="smile", x_test=x_test, y_test=y_test, **FAST)
    assert result.n_test == 123


def test_estimate_mi_seed_is_reproducible_and_leaves_global_rng_alone():
    x, y = get_task("gaussian-5x5").sample(600, seed=0)
    torch.manual_seed(1234)
    state = torch.get_rng_state()
    first = estimate_mi(x, y, seed=7, **FAST)
    assert torch.equal(state, torch.get_rng_state())
    second = estimate_mi(x, y, seed=7, **FAST)
    assert float(first) == float(second)
    assert float(estimate_mi(x, y, seed=8, **FAST)) != float(first)
    assert torch.equal(state, torch.get_rng_state())
    assert torch.rand(1).item() == pytest.approx(torch.rand(1, generator=torch.Generator().manual_seed(1234)).item())


def test_infonce_saturation_warning():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1000, 5, generator=g)
    y = x + 0.1 * torch.randn(1000, 5, generator=g)  # about 11.5 nats
    with pytest.warns(RuntimeWarning, match=r"saturated.*log\(M \+ 1\) = 2\.079"):
        result = estimate_mi(
            x,
            y,
            estimator="infonce",
            hidden_dims=[32],
            critic_type="separable",
            batch_size=64,
            eval_batch_size=8,
            max_iterations=200,
            lr=3e-3,
        )
    assert float(result) <= math.log(8) + 1e-6
    assert len(result.warnings) == 1 and "saturated" in result.warnings[0]
    # no warning when the estimate is far below the cap
    xi, yi = get_task("independent-5x5").sample(400, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet = estimate_mi(xi, yi, estimator="infonce", **{**FAST, "eval_batch_size": 8, "max_iterations": 5})
    assert quiet.warnings == []
    assert not [w for w in caught if "saturated" in str(w.message)]


def test_estimate_mi_independent_data_is_near_zero():
    x, y = get_task("independent-5x5").sample(2000, seed=1)
    result = estimate_mi(x, y, hidden_dims=[32, 32], batch_size=64, max_iterations=200)
    assert abs(float(result)) < 0.05


def test_estimate_mi_defaults_on_gaussian():
    task = get_task("gaussian-5x5")
    x, y = task.sample(3000, seed=0)
    result = estimate_mi(x, y, seed=0)
    assert abs(float(result) - task.mutual_information) < 0.15
    # the critic's Gaussian start learns nothing more on Gaussian data: its MI from every row
    assert result.estimator_name == "gaussian_unbiased" and result.n_test == 3000 and result.bound is None
    trained = estimate_mi(x, y, seed=0, max_iterations=300)  # a training option: the held-out bound
    assert abs(float(trained) - task.mutual_information) < 0.15
    assert trained.n_test == 900 and trained.bound == "lower"


def test_validation_schedule():
    x, y = torch.randn(48, 1), torch.randn(48, 1)
    valid = TensorBatches(x[:16], y[:16], 16, shuffle=False)
    log = train_mi_estimator(
        small_nwj(1, 1),
        x=x,
        y=y,
        valid_loader=valid,
        batch_size=8,
        max_iterations=24,
        eval_every=6,
        early_stopping=False,
    )
    assert [r["iteration"] for r in log.records] == [0, 6, 12, 18, 24]
    log = train_mi_estimator(
        small_nwj(1, 1), x=x, y=y, valid_loader=valid, batch_size=8, max_iterations=250, early_stopping=False
    )
    assert [r["iteration"] for r in log.records] == [0, 100, 200, 250]  # default: every 100 steps


@pytest.mark.parametrize(
    "name, tolerance",
    [("half-cube-5x5", 0.05), ("gaussian-sparse-25x25", 0.06), ("independent-5x5", 0.02), ("student-t-5x5", 0.15)],
)
def test_estimate_mi_defaults_against_ground_truth(name, tolerance):
    # The defaults are the product: 3,000 training and 3,000 held-out samples of tasks with
    # known MI. Student-t keeps most of its MI in the tails and is learned only in part.
    task = get_task(name)
    x, y = task.sample(3000, seed=3)
    x_test, y_test = task.sample(3000, seed=4)
    estimate = estimate_mi(x, y, x_test=x_test, y_test=y_test)
    assert abs(float(estimate) - task.mutual_information) < tolerance


def test_estimate_mi_runs_with_cpu_threads_and_restores_them():
    from mist_reg.estimators import nwj

    seen = []
    estimator = nwj(2, 2, hidden_dims=[8])
    estimator.register_forward_pre_hook(lambda module, args: seen.append(torch.get_num_threads()))
    x = torch.randn(300, 2)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        estimate_mi(x, x + torch.randn(300, 2), estimator, max_iterations=3, cpu_threads=1, device="cpu")
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
        seen.clear()
        estimate_mi(x, x + torch.randn(300, 2), estimator, max_iterations=3, cpu_threads=None, device="cpu")
        assert set(seen) == {2}
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="cpu_threads"):
        estimate_mi(x, x, cpu_threads=0)


def test_auto_threads_train_critics_on_one_and_fit_classifiers_on_the_callers(monkeypatch):
    from mist_reg.estimation import typed_routes
    from mist_reg.estimators import nwj

    seen, label_threads = [], []
    estimator = nwj(2, 2, hidden_dims=[8])
    estimator.register_forward_pre_hook(lambda module, args: seen.append(torch.get_num_threads()))
    label_mi = typed_routes.label_mi

    def recording_label_mi(*args, **kwargs):
        label_threads.append(torch.get_num_threads())
        return label_mi(*args, **kwargs)

    monkeypatch.setattr(typed_routes, "label_mi", recording_label_mi)
    x = torch.randn(600, 2)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        estimate_mi(x, x + torch.randn(600, 2), estimator, max_iterations=3, device="cpu")  # cpu_threads="auto"
        estimate_mi(x, (x[:, 0] > 0).long(), device="cpu")
        assert set(seen) == {1} and label_threads == [2] and torch.get_num_threads() == 2
        label_threads.clear()
        estimate_mi(x, (x[:, 0] > 0).long(), device="cpu", cpu_threads=1)
        assert label_threads == [1]
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="cpu_threads must be a positive integer, 'auto' or None"):
        estimate_mi(x, x, cpu_threads="all")


def test_estimate_mi_under_no_grad_still_trains():
    from mist_reg.tasks import get_task

    x, y = get_task("gaussian-5x5").sample(1000, seed=0)
    with torch.no_grad():
        mi = estimate_mi(x, y, "infonce", max_iterations=30, reference=None)
        assert not torch.is_grad_enabled()
    assert mi.log.iterations == 30 and 0.0 < mi < 1.5
