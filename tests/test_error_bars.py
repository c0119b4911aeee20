"""Error bars of estimate_mi: the fields of MIEstimate, how the standard error and the
interval are formed (one split and cross-fitting), and a small coverage check on a Gaussian
task (the full studies: recipes/benchmarks/coverage.py)."""

from __future__ import annotations

import json
import math
import pickle
import statistics
import warnings

import pytest
import torch

from mist_reg import MIEstimate, TrainingLog, estimate_mi, evaluate_mi
from mist_reg.estimation.combine import FoldFit, combine_fits
from mist_reg.estimation.data import TensorBatches
from mist_reg.estimation.result import heterogeneity_p_value, normal_interval, pooled_mean_and_error
from mist_reg.estimators import nwj
from mist_reg.functional.bounds import RunningBound, donsker_varadhan
from mist_reg.tasks import dense_gaussian, get_task
from recipes.benchmarks import coverage as coverage_benchmark
from recipes.benchmarks.coverage import binomial_cdf

Z95 = 1.959963984540054
# A cheap configuration: the critic starts as the closed-form Gaussian log-ratio fitted to
# the training samples and its network correction is barely trained, so on Gaussian data
# the estimate is close to unbiased and what is tested is how the interval is formed.
CHEAP = dict(max_iterations=3, hidden_dims=[16], batch_size=64)


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

GAUSSIAN_1X1 = dense_gaussian(1, 1, 0.8)

# The coverage studies (hundreds of runs) are recipes/benchmarks/coverage.py, whose figures
# docs/error_bars.md cites. This small version of the one-split study catches an interval
# that is broken rather than slightly off: 12 fixed-seed runs of 1,000 samples must cover
# the truth at least 9 times (a correct interval, of coverage 0.93 or more, falls below 9
# with probability under 0.008), and the mean standard error must be within a factor 1.67
# of the spread of the estimates over the runs. An interval that ignores the standard
# error, or a standard error off by sqrt(n), covers the truth in almost no run.


def test_interval_covers_the_truth_and_its_width_matches_the_spread(capsys):
    assert binomial_cdf(8, 12, 0.93) < 0.008
    figures = coverage_benchmark.main(["--scheme", "one-split", "--runs", "12", "--n", "1000"])
    assert figures["hits"] >= 9, f"the 95% interval covered the truth in {figures['hits']}/12 runs"
    assert 0.6 < figures["mean_standard_error"] / figures["sd_estimates"] < 1.67
    assert abs(figures["mean_error"]) < figures["mean_standard_error"]
    assert "/12 runs" in capsys.readouterr().out


# --------------------------------------------------------------------------------------
# one-dimensional x and y: KSG by default, with a subsampling standard error
# --------------------------------------------------------------------------------------
#
# The coverage of the KSG interval is measured by recipes/benchmarks/coverage.py --scheme ksg;
# the test below checks that its interval is the estimate +- z * standard error with a
# standard error of the right size.


def test_default_on_one_dimensional_pairs_is_ksg_and_says_so():
    x, y = GAUSSIAN_1X1.sample(1500, seed=0)
    x_test, y_test = GAUSSIAN_1X1.sample(500, seed=1)
    result = estimate_mi(x, y, x_test=x_test, y_test=y_test)
    assert result.estimator_name == "ksg" and result.bound is None and result.estimator is None
    assert result.n_test == 2000 and result.n_folds is None and result.log is None  # every sample counts
    assert result.to_dict()["estimator_name"] == "ksg" and "estimator='ksg'" in repr(result)
    low, high = result.interval
    assert high - low == pytest.approx(2 * Z95 * result.standard_error) and 0.005 < result.standard_error < 0.05
    explicit = estimate_mi(torch.cat([x, x_test]), torch.cat([y, y_test]), "ksg")
    assert float(explicit) == float(result) and explicit.standard_error == result.standard_error
    # a training option, an estimator argument or a named estimator: the trained estimator, as before
    few_x, few_y = x[:400], y[:400]  # the choice does not depend on the sample size
    for options in ({"max_iterations": 3}, {"hidden_dims": [8], "max_iterations": 3}, {"n_folds": 2, **CHEAP}):
        assert estimate_mi(few_x, few_y, **options).estimator_name == "mine", options
    assert estimate_mi(few_x, few_y, "nwj", max_iterations=3).estimator_name == "nwj"
    # more than one dimension: the trained estimator, unless the columns split into independent
    # groups (a column of pure noise is left out); a few rounded values are codes: a classifier
    noise = torch.randn(400, 1, generator=torch.Generator().manual_seed(2))
    wide = estimate_mi(torch.cat([few_x, few_y + noise], 1), few_y).estimator_name
    assert wide in ("mine", "mine (averaged)", "gaussian_unbiased"), wide  # the critic, or its Gaussian start
    assert estimate_mi(torch.cat([few_x, noise], 1), few_y).estimator_name == "blocks(ksg)"
    assert estimate_mi(few_x.clamp(-2, 2).round(), few_y).estimator_name.startswith("classifier:")


def test_ksg_by_name_and_its_errors():
    x, y = GAUSSIAN_1X1.sample(600, seed=0)
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
