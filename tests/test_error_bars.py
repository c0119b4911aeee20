"""Error bars of estimate_mi: the fields of MIEstimate, how the standard error and the
interval are formed (one split and cross-fitting), and their coverage on a Gaussian task."""

from __future__ import annotations

import json
import math
import pickle
import statistics
import warnings

import pytest
import torch

from mist_reg import MIEstimate, TrainingLog, estimate_mi, evaluate_mi
from mist_reg.estimation.data import TensorBatches
from mist_reg.estimation.estimate import FoldFit, combine_fits
from mist_reg.estimation.result import heterogeneity_p_value, normal_interval, pooled_mean_and_error
from mist_reg.estimators import nwj
from mist_reg.functional.bounds import RunningBound, donsker_varadhan
from mist_reg.tasks import dense_gaussian, get_task

Z95 = 1.959963984540054
# A cheap configuration: the critic starts as the closed-form Gaussian log-ratio fitted to
# the training samples and its network correction is barely trained, so on Gaussian data
# the estimate is close to unbiased and what is tested is how the interval is formed.
CHEAP = dict(max_iterations=3, hidden_dims=[16], batch_size=64)


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(Binomial(n, p) <= k)."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


# --------------------------------------------------------------------------------------
# MIEstimate
# --------------------------------------------------------------------------------------


def test_mi_estimate_is_a_float_with_its_error_bar():
    mi = MIEstimate(0.5, standard_error=0.1, confidence=0.95, bound="lower")
    assert isinstance(mi, float) and float(mi) == 0.5
    assert mi + 1 == 1.5 and 2 * mi == 1.0 and mi < 0.6 and round(mi, 1) == 0.5
    assert f"{mi:.2f}" == "0.50" and math.isclose(math.exp(mi), math.exp(0.5))
    assert type(mi + 1) is float  # arithmetic gives plain floats
    low, high = mi.interval
    assert low == pytest.approx(0.5 - Z95 * 0.1) and high == pytest.approx(0.5 + Z95 * 0.1)
    assert mi.n_folds is None and mi.fold_estimates == [] and mi.warnings == []
    assert "interval" in repr(mi) and "nats" in repr(mi)
    record = json.loads(json.dumps(mi.to_dict()))
    assert record["estimate"] == 0.5 and record["interval"] == [low, high] and record["bound"] == "lower"
    assert float(pickle.loads(pickle.dumps(float(mi)))) == 0.5


def test_normal_interval():
    assert normal_interval(1.0, 0.0) == (1.0, 1.0)
    narrow, wide = normal_interval(0.0, 1.0, 0.5), normal_interval(0.0, 1.0, 0.99)
    assert narrow[1] == pytest.approx(0.6744897501960817) and wide[1] == pytest.approx(2.5758293035489004)
    assert all(math.isnan(v) for v in normal_interval(1.0, float("nan")))
    with pytest.raises(ValueError, match="confidence"):
        normal_interval(0.0, 1.0, 1.0)


# --------------------------------------------------------------------------------------
# how the standard error and the interval are formed
# --------------------------------------------------------------------------------------


def test_single_split_error_bar_is_that_of_the_held_out_per_sample_mean():
    task = dense_gaussian(1, 1, 0.8)
    x, y = task.sample(800, seed=0)
    x_test, y_test = task.sample(300, seed=1)
    result = estimate_mi(x, y, x_test=x_test, y_test=y_test, preprocessing="none", eval_batch_size=128, **CHEAP)
    value, stderr = evaluate_mi(result.estimator, x_test, y_test, batch_size=128, return_standard_error=True)
    assert float(result) == pytest.approx(value) and result.standard_error == pytest.approx(stderr)
    assert result.interval == pytest.approx((value - Z95 * stderr, value + Z95 * stderr))
    assert result.n_test == 300 and result.n_folds is None and result.fold_estimates == []
    assert result.fold_estimators == [] and result.confidence == 0.95
    ninety = estimate_mi(
        x, y, x_test=x_test, y_test=y_test, preprocessing="none", eval_batch_size=128, confidence=0.9, **CHEAP
    )
    assert float(ninety) == float(result)
    assert ninety.interval[1] - ninety.interval[0] < result.interval[1] - result.interval[0]


def test_cross_fitting_holds_every_sample_out_once():
    x, y = dense_gaussian(1, 1, 0.8).sample(601, seed=0)
    result = estimate_mi(x, y, n_folds=3, **CHEAP)
    assert isinstance(result, MIEstimate) and result.n_folds == 3 and result.n_test == 601
    assert len(result.fold_estimates) == len(result.fold_standard_errors) == 3
    sizes = [len(f) for f in torch.tensor_split(torch.arange(601), 3)]
    weighted = sum(s * v for s, v in zip(sizes, result.fold_estimates)) / 601
    assert float(result) == pytest.approx(weighted)
    assert len({id(e) for e in result.fold_estimators}) == 3 and result.estimator is result.fold_estimators[0]
    assert all(not e.training for e in result.fold_estimators) and len(result.fold_logs) == 3
    assert result.log is result.fold_logs[0]
    low, high = result.interval
    assert low < float(result) < high and high - low == pytest.approx(2 * Z95 * result.standard_error)
    # every fold's standard error is about sqrt(K) times the pooled one
    assert statistics.fmean(result.fold_standard_errors) / result.standard_error == pytest.approx(math.sqrt(3), rel=0.3)
    again = estimate_mi(x, y, n_folds=3, **CHEAP)
    assert float(again) == float(result) and again.fold_estimates == result.fold_estimates


def test_cross_fitting_copies_an_estimator_instance_per_fold():
    x, y = dense_gaussian(1, 1, 0.8).sample(400, seed=0)
    template = nwj(1, 1, hidden_dims=[8])
    result = estimate_mi(x, y, template, n_folds=2, max_iterations=3, batch_size=32)
    assert all(e is not template for e in result.fold_estimators)
    assert result.fold_estimators[0] is not result.fold_estimators[1]


def test_pooled_standard_error_is_that_of_the_pooled_per_sample_values():
    # a sample's value is its per-sample term minus its fold's log-partition term; each
    # fold's partition term adds its Monte Carlo error, weighted by the fold's share
    g = torch.Generator().manual_seed(0)
    values, runs, partition_variance = [], [], 0.0
    for n, shift in ((50, 0.0), (70, 0.4), (64, -0.2)):
        positive, negative = torch.randn(n, generator=g) + shift, torch.randn(n, 9, generator=g) * 0.5
        running = RunningBound()
        running.add(donsker_varadhan(positive[:30], negative[:30]))
        running.add(donsker_varadhan(positive[30:], negative[30:]))
        log_partition = torch.logsumexp(negative.double().reshape(-1), 0) - math.log(negative.numel())
        values.append(positive.double() - log_partition)
        runs.append(FoldFit(model=None, log=TrainingLog(), running=running, eval_batch=64))
        weights = negative.double().exp().reshape(-1)
        effective = float(weights.sum() ** 2 / weights.square().sum())
        partition_variance += (n / 184) ** 2 * (1 / effective - 1 / weights.numel())
    pooled = torch.cat(values)
    mean, stderr, n = pooled_mean_and_error([r.running for r in runs])
    assert n == 184 and mean == pytest.approx(float(pooled.mean()))
    assert stderr == pytest.approx(math.sqrt(float(pooled.var() / 184) + partition_variance), rel=2e-3)
    assert stderr > float(pooled.std() / math.sqrt(184))


def test_heterogeneity_test_and_warning():
    scipy_stats = pytest.importorskip("scipy.stats")
    values, errors = [0.9, 1.0, 1.3], [0.05, 0.04, 0.06]
    weights = [1 / e**2 for e in errors]
    centre = sum(w * v for w, v in zip(weights, values)) / sum(weights)
    q = sum(w * (v - centre) ** 2 for w, v in zip(weights, values))
    assert heterogeneity_p_value(values, errors) == pytest.approx(scipy_stats.chi2.sf(q, 2))

    def fit(value: float) -> FoldFit:
        running = RunningBound()
        running.add(
            donsker_varadhan(
                value + 0.1 * torch.randn(400, generator=torch.Generator().manual_seed(1)), torch.zeros(400, 3)
            )
        )
        return FoldFit(nwj(1, 1, hidden_dims=[4]), TrainingLog(), running, 400)

    with pytest.warns(RuntimeWarning, match="fold estimates .* differ more"):
        disagreeing = combine_fits([fit(0.5), fit(1.0), fit(1.5)], 0.95, cross_fitted=True)
    assert any("differ more" in m for m in disagreeing.warnings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        agreeing = combine_fits([fit(1.0), fit(1.0), fit(1.0)], 0.95, cross_fitted=True)
    assert agreeing.warnings == []


def test_bad_error_bar_arguments():
    x, y = get_task("gaussian-5x5").sample(200, seed=0)
    with pytest.raises(ValueError, match="n_folds must be an integer >= 2"):
        estimate_mi(x, y, n_folds=1)
    with pytest.raises(ValueError, match="do not pass test data"):
        estimate_mi(x, y, n_folds=3, x_test=x, y_test=y)
    with pytest.raises(ValueError, match="data loader"):
        estimate_mi(TensorBatches(x, y, 32), n_folds=3)
    with pytest.raises(ValueError, match="confidence"):
        estimate_mi(x, y, confidence=95)
    with pytest.raises(ValueError, match="need at least 20 samples"):
        estimate_mi(x[:15], y[:15], n_folds=10)


# --------------------------------------------------------------------------------------
# coverage
# --------------------------------------------------------------------------------------
#
# Each run draws fresh samples of a 1x1 Gaussian (rho = 0.8, I = 0.511 nats) and checks
# whether the exact MI lies inside the 95% interval. The estimator is near-unbiased here
# (measured over 300 runs of 1,000 samples: bias -0.01 nats against a standard error of
# 0.046, coverage 0.947), so the number of runs that cover the truth is close to a
# Binomial(R, 0.95) draw. The thresholds are set so that an interval whose true coverage is
# 0.93 (some leeway for the small bias) fails with probability below 2e-3, while one that
# is too narrow by half (true coverage about 0.68) passes with probability below 1e-4;
# both numbers are computed below from the binomial distribution. The seeds are fixed, so
# the test is deterministic; the argument says it does not depend on a lucky choice.

COVERAGE_TASK = dense_gaussian(1, 1, 0.8)


def _coverage(runs: int, n: int, **kwargs) -> tuple[int, list[float], list[float]]:
    truth, hits, estimates, errors = COVERAGE_TASK.mutual_information, 0, [], []
    for r in range(runs):
        x, y = COVERAGE_TASK.sample(n, seed=1000 + r)
        result = estimate_mi(x, y, seed=r, **CHEAP, **kwargs)
        low, high = result.interval
        hits += low <= truth <= high
        estimates.append(float(result))
        errors.append(result.standard_error)
    return hits, estimates, errors


@pytest.mark.parametrize(
    "runs, n, threshold, kwargs",
    [
        pytest.param(150, 1000, 128, {}, id="one-split"),
        pytest.param(100, 600, 85, {"n_folds": 3}, id="3-fold-cross-fitting"),
    ],
)
def test_interval_covers_the_truth_at_about_the_nominal_rate(runs, n, threshold, kwargs):
    assert binomial_cdf(threshold - 1, runs, 0.93) < 2e-3  # a correct interval fails rarely
    assert 1 - binomial_cdf(threshold - 1, runs, 0.68) < 1e-4  # one half as wide is caught
    hits, estimates, errors = _coverage(runs, n, **kwargs)
    assert hits >= threshold, f"the 95% interval covered the truth in {hits}/{runs} runs"
    # and the interval is not simply wide: the standard error matches the spread of the
    # estimates over runs (the sample standard deviation of R estimates is within about
    # 3 / sqrt(2R), i.e. 20-30%, of the truth with high probability)
    assert 0.75 < statistics.fmean(errors) / statistics.stdev(estimates) < 1.33


# --------------------------------------------------------------------------------------
# one-dimensional x and y: KSG by default, with a subsampling standard error
# --------------------------------------------------------------------------------------
#
# The same argument as above, for the default on one-dimensional pairs (KSG with k = 5 on
# every sample, standard error from KSG on disjoint random blocks; see
# mist_reg.estimation.knn_estimate). Measured over 300 runs of 1,000 samples: coverage 0.950 at
# rho = 0.5 and 0.940 at rho = 0.9, where KSG errs high by 0.013 nats (0.4 standard
# errors); docs/error_bars.md has the figures at 5,000 samples.


def test_default_on_one_dimensional_pairs_is_ksg_and_says_so():
    x, y = COVERAGE_TASK.sample(1500, seed=0)
    x_test, y_test = COVERAGE_TASK.sample(500, seed=1)
    result = estimate_mi(x, y, x_test=x_test, y_test=y_test)
    assert result.estimator_name == "ksg" and result.bound is None and result.estimator is None
    assert result.n_test == 2000 and result.n_folds is None and result.log is None  # every sample counts
    assert result.to_dict()["estimator_name"] == "ksg" and "estimator='ksg'" in repr(result)
    low, high = result.interval
    assert high - low == pytest.approx(2 * Z95 * result.standard_error) and 0.005 < result.standard_error < 0.05
    explicit = estimate_mi(torch.cat([x, x_test]), torch.cat([y, y_test]), "ksg")
    assert float(explicit) == float(result) and explicit.standard_error == result.standard_error
    # a training option, an estimator argument or a named estimator: the trained estimator, as before
    for options in ({"max_iterations": 3}, {"hidden_dims": [8], "max_iterations": 3}, {"n_folds": 2, **CHEAP}):
        assert estimate_mi(x, y, **options).estimator_name == "mine", options
    assert estimate_mi(x, y, "nwj", max_iterations=3).estimator_name == "nwj"
    # more than one dimension, or discrete values: the trained estimator
    wide = torch.cat([x, torch.randn(1500, 1, generator=torch.Generator().manual_seed(2))], 1)
    assert estimate_mi(wide, y).estimator_name == "mine"
    assert estimate_mi(x.round(), y).estimator_name == "mine"


def test_ksg_by_name_and_its_errors():
    x, y = COVERAGE_TASK.sample(600, seed=0)
    three = estimate_mi(x, y, "ksg", k=3)
    assert three.estimator_name == "ksg" and float(three) != float(estimate_mi(x, y, "ksg"))
    x2 = torch.cat([x, torch.randn(600, 1, generator=torch.Generator().manual_seed(2))], 1)
    assert estimate_mi(x2, y, "KSG").estimator_name == "ksg"  # any dimension when asked for
    with pytest.raises(TypeError, match="estimator='ksg' trains nothing.*max_iterations"):
        estimate_mi(x, y, "ksg", max_iterations=10)
    with pytest.raises(TypeError, match="hidden_dims"):
        estimate_mi(x, y, "ksg", hidden_dims=[8])
    with pytest.raises(ValueError, match="data loader"):
        estimate_mi(TensorBatches(x, y, 32), estimator="ksg")
    with pytest.warns(RuntimeWarning, match="standard error needs at least two blocks"):
        tiny = estimate_mi(x[:9], y[:9])
    assert tiny.estimator_name == "ksg" and math.isnan(tiny.standard_error)
    with pytest.warns(RuntimeWarning, match="the mutual information is infinite"):
        copy = estimate_mi(x, 2 * x + 1)
    assert copy == math.inf and copy.estimator_name == "ksg"  # the copy check runs first
    with pytest.warns(RuntimeWarning, match="close to psi"):
        high = estimate_mi(x, x + 0.01 * torch.randn(600, 1, generator=torch.Generator().manual_seed(3)))
    assert high.estimator_name == "ksg" and float(high) > 3.5  # the truth: 4.6 nats


def test_default_on_one_dimensional_pairs_covers_the_truth_at_about_the_nominal_rate():
    runs, n, threshold = 150, 1000, 128
    assert binomial_cdf(threshold - 1, runs, 0.93) < 2e-3
    assert 1 - binomial_cdf(threshold - 1, runs, 0.68) < 1e-4
    truth, hits, estimates, errors = COVERAGE_TASK.mutual_information, 0, [], []
    for r in range(runs):
        x, y = COVERAGE_TASK.sample(n, seed=1000 + r)
        result = estimate_mi(x, y, seed=r)
        assert result.estimator_name == "ksg"
        hits += result.interval[0] <= truth <= result.interval[1]
        estimates.append(float(result))
        errors.append(result.standard_error)
    assert hits >= threshold, f"the 95% interval covered the truth in {hits}/{runs} runs"
    assert 0.75 < statistics.fmean(errors) / statistics.stdev(estimates) < 1.33
