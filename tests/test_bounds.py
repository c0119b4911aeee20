"""Closed-form checks of the variational bounds in mist_reg.functional.bounds.

Most checks use the optimal critic of a 1-d correlated Gaussian,
``f(x, y) = log p(y | x) - log p(y)``, written out from ``rho`` below, on 50k samples:
for that critic the DV, NWJ(f + 1), TUBA(a = 0), SMILE(large tau) and FLO(u = -f) bounds are
all equal to the true mutual information ``-log(1 - rho^2) / 2`` in expectation.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch

from mist_reg.functional import bounds
from mist_reg.functional.bounds import (
    BoundTerms,
    RunningBound,
    alpha_tuba,
    donsker_varadhan,
    flo,
    infonce,
    js_divergence,
    logmeanexp,
    mine_surrogate,
    nwj,
    smile,
    straight_through,
    tuba,
)

RHO = 0.8
TRUE_MI = -0.5 * math.log(1 - RHO**2)
N_SAMPLES = 50_000
N_NEG = 8
TOL = 0.03


def log_ratio(x: torch.Tensor, y: torch.Tensor, rho: float = RHO) -> torch.Tensor:
    """log p(y | x) - log p(y) for unit-variance Gaussians with correlation rho."""
    var = 1 - rho**2
    return -0.5 * math.log(var) - (y - rho * x) ** 2 / (2 * var) + y**2 / 2


@functools.cache
def gaussian_scores(rho: float = RHO, n: int = N_SAMPLES, m: int = N_NEG, seed: int = 0):
    """Positive [n] and negative [n, m] scores of the optimal critic (float64; do not modify)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=g, dtype=torch.float64)
    y = rho * x + math.sqrt(1 - rho**2) * torch.randn(n, generator=g, dtype=torch.float64)
    shifts = torch.randperm(n - 1, generator=g)[:m] + 1
    index = (torch.arange(n).unsqueeze(1) + shifts) % n  # never the row's own y
    return log_ratio(x, y, rho), log_ratio(x.unsqueeze(1), y[index], rho)


@pytest.fixture(scope="module")
def scores():
    return gaussian_scores()


# --------------------------------------------------------------------------------------
# Optimal critic: every tight bound recovers the true MI
# --------------------------------------------------------------------------------------


def test_reference_critic_is_normalised(scores):
    # Sanity check of the test's own critic: E_{p(x)p(y)}[exp f] = 1 and E_p[f] = MI.
    positive, negative = scores
    assert abs(float(negative.exp().mean()) - 1.0) < 0.01
    assert abs(float(positive.mean()) - TRUE_MI) < TOL


def test_donsker_varadhan_optimal_critic(scores):
    positive, negative = scores
    terms = donsker_varadhan(positive, negative)
    assert terms.log_partition is not None
    assert abs(float(terms.value()) - TRUE_MI) < TOL


def test_nwj_optimal_critic_is_log_ratio_plus_one(scores):
    positive, negative = scores
    assert abs(float(nwj(positive + 1, negative + 1).value()) - TRUE_MI) < TOL
    # Without the +1 shift the bound is MI - 1/e in expectation.
    loose = float(nwj(positive, negative).value())
    assert abs(loose - (TRUE_MI - math.exp(-1))) < TOL


def test_tuba_optimal_critic_zero_baseline(scores):
    # 1 + E_p[f - a] - E_q[exp(f - a)] with f = log ratio and a = 0 is 1 + MI - 1.
    positive, negative = scores
    zero = torch.zeros_like(positive)
    assert abs(float(tuba(positive, negative, zero).value()) - TRUE_MI) < TOL


def test_tuba_is_invariant_to_shifting_critic_and_baseline(scores):
    positive, negative = scores[0][:2000], scores[1][:2000]
    shift = torch.linspace(-2, 2, positive.shape[0], dtype=positive.dtype)
    reference = tuba(positive, negative, torch.zeros_like(positive)).per_sample
    shifted = tuba(positive + shift, negative + shift.unsqueeze(1), shift).per_sample
    torch.testing.assert_close(shifted, reference)


def test_tuba_constant_baseline_loses_closed_form_gap(scores):
    # With a = c, the bound is MI + 1 - c - exp(-c) in expectation.
    positive, negative = scores
    c = 0.5
    value = float(tuba(positive, negative, torch.full_like(positive, c)).value())
    assert abs(value - (TRUE_MI + 1 - c - math.exp(-c))) < TOL


def test_smile_with_large_tau_equals_dv(scores):
    positive, negative = scores
    dv = float(donsker_varadhan(positive, negative).value())
    value = float(smile(positive, negative, tau=100.0).value())
    assert value == pytest.approx(dv, abs=1e-12)
    assert abs(value - TRUE_MI) < TOL


def test_smile_clips_partition_scores_only():
    positive = torch.tensor([3.0, -4.0], dtype=torch.float64)
    negative = torch.tensor([[5.0, -6.0, 0.5], [0.0, 2.5, -0.2]], dtype=torch.float64)
    tau = 1.0
    expected = positive.mean() - torch.log(negative.clamp(-tau, tau).exp().mean())
    assert float(smile(positive, negative, tau).value()) == pytest.approx(float(expected), abs=1e-12)
    # the positive scores are not clipped
    assert float(smile(positive, negative, tau).per_sample.mean()) == pytest.approx(-0.5)


def test_flo_with_exact_log_partition_recovers_mi(scores):
    # u(x, y) = log E_{p(y')}[exp(f(x, y') - f(x, y))] = -f(x, y) for the optimal critic.
    positive, negative = scores
    assert abs(float(flo(positive, negative, -positive).value()) - TRUE_MI) < TOL
    # ... which makes FLO identical, sample by sample, to NWJ on f + 1.
    torch.testing.assert_close(
        flo(positive, negative, -positive).per_sample, nwj(positive + 1, negative + 1).per_sample
    )


def test_flo_row_log_partition_maximises_each_term():
    positive, negative = gaussian_scores(n=2000, seed=3)
    u_star = logmeanexp(negative - positive.unsqueeze(1), dim=1)
    best = flo(positive, negative, u_star).per_sample
    for delta in (-0.5, -0.1, 0.1, 0.5):
        assert bool((flo(positive, negative, u_star + delta).per_sample < best).all())
    # and the maximum is the InfoNCE-like term f(x, y) - log mean_j exp f(x, y_j)
    torch.testing.assert_close(best, positive - logmeanexp(negative, dim=1))


def test_infonce_optimal_critic_below_mi_and_cap(scores):
    positive, negative = scores
    value = float(infonce(positive, negative).value())
    assert value <= math.log(N_NEG + 1)
    assert value <= TRUE_MI + TOL
    assert value > 0.5 * TRUE_MI  # the optimal critic carries real information


def test_infonce_cap_is_reached_by_a_sharp_critic():
    m = 4
    positive = torch.full((10,), 50.0, dtype=torch.float64)
    negative = torch.zeros(10, m, dtype=torch.float64)
    per_sample = infonce(positive, negative).per_sample
    assert bool((per_sample <= math.log(m + 1) + 1e-12).all())
    assert float(per_sample.mean()) == pytest.approx(math.log(m + 1), abs=1e-12)
    # Every term is bounded by log(M + 1) whatever the scores.
    g = torch.Generator().manual_seed(1)
    rand_pos, rand_neg = 20 * torch.randn(500, generator=g), 20 * torch.randn(500, m, generator=g)
    assert bool((infonce(rand_pos, rand_neg).per_sample <= math.log(m + 1) + 1e-5).all())


# --------------------------------------------------------------------------------------
# Constant critics carry no information
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("c", [-3.0, 0.0, 2.5])
def test_constant_critic_gives_zero(c):
    positive = torch.full((7,), c, dtype=torch.float64)
    negative = torch.full((7, 5), c, dtype=torch.float64)
    assert float(infonce(positive, negative).value()) == pytest.approx(0.0, abs=1e-12)
    assert float(donsker_varadhan(positive, negative).value()) == pytest.approx(0.0, abs=1e-12)
    assert float(smile(positive, negative, tau=10.0).value()) == pytest.approx(0.0, abs=1e-12)
    assert float(tuba(positive, negative, torch.full((7,), c, dtype=torch.float64)).value()) == pytest.approx(
        0.0, abs=1e-12
    )
    # NWJ is tight at 0 only for the constant f = 1.
    one_pos, one_neg = torch.ones(7, dtype=torch.float64), torch.ones(7, 5, dtype=torch.float64)
    assert float(nwj(one_pos, one_neg).value()) == pytest.approx(0.0, abs=1e-12)
    if c != 1.0:
        assert float(nwj(positive, negative).value()) < 0


def test_bound_terms_value_formula():
    per_sample = torch.tensor([1.0, 2.0, 3.0])
    log_partition = torch.tensor([[0.0, math.log(3.0)]])
    terms = BoundTerms(per_sample, log_partition)
    assert float(terms.value()) == pytest.approx(2.0 - math.log(2.0), abs=1e-6)
    assert float(BoundTerms(per_sample).value()) == pytest.approx(2.0)


# --------------------------------------------------------------------------------------
# alpha-TUBA
# --------------------------------------------------------------------------------------


def test_alpha_tuba_one_is_exactly_tuba(scores):
    # alpha is the weight of the baseline, as in torch_mist 0.1.5's table of estimators
    positive, negative = scores
    baseline = torch.linspace(-1, 1, positive.shape[0], dtype=positive.dtype)
    a0 = alpha_tuba(positive, negative, baseline, alpha=1.0)
    t = tuba(positive, negative, baseline)
    assert torch.equal(a0.per_sample, t.per_sample)
    assert a0.log_partition is None and t.log_partition is None


def test_alpha_tuba_zero_is_exactly_infonce():
    g = torch.Generator().manual_seed(0)
    positive, negative = 3 * torch.randn(1000, generator=g), 3 * torch.randn(1000, 6, generator=g)
    torch.testing.assert_close(
        alpha_tuba(positive, negative, torch.randn(1000, generator=g), alpha=0.0).per_sample,
        infonce(positive, negative).per_sample,
    )


@pytest.mark.parametrize("rho", [0.9, 0.95])
def test_alpha_tuba_zero_matches_infonce_on_gaussian_scores(rho):
    positive, negative = gaussian_scores(rho=rho, n=20_000)
    a0 = float(alpha_tuba(positive, negative, torch.zeros_like(positive), alpha=0.0).value())
    nce = float(infonce(positive, negative).value())
    assert abs(a0 - nce) <= 1e-5


@pytest.mark.parametrize("alpha", [0.0, 0.25, 0.5])
def test_alpha_tuba_is_a_lower_bound_for_the_optimal_critic(alpha):
    rho = 0.95
    positive, negative = gaussian_scores(rho=rho, n=20_000)
    value = float(alpha_tuba(positive, negative, torch.zeros_like(positive), alpha=alpha).value())
    assert value <= -0.5 * math.log(1 - rho**2) + 0.02  # standard error is below 0.01


# --------------------------------------------------------------------------------------
# RunningBound
# --------------------------------------------------------------------------------------


def _chunks(n: int, sizes=(1, 7, 100, 2500, 13)):
    start, i = 0, 0
    while start < n:
        stop = min(n, start + sizes[i % len(sizes)])
        yield slice(start, stop)
        start, i = stop, i + 1


@pytest.mark.parametrize("bound", ["dv", "nwj", "smile"])
def test_running_bound_over_batches_equals_whole_data(scores, bound):
    positive, negative = scores
    make = {
        "dv": donsker_varadhan,
        "nwj": lambda p, n: nwj(p + 1, n + 1),
        "smile": lambda p, n: smile(p, n, tau=2.0),
    }[bound]
    running = RunningBound()
    for part in _chunks(positive.shape[0]):
        running.add(make(positive[part], negative[part]))
    whole = make(positive, negative)
    assert running.n_samples == positive.shape[0]
    assert running.value() == pytest.approx(float(whole.value()), abs=1e-9)
    if whole.log_partition is not None:
        assert running.n_partition == negative.numel()
    # The mean of batch means differs (batches of 1 and 2500 weigh the same):
    batch_means = [float(make(positive[p], negative[p]).value()) for p in _chunks(positive.shape[0])]
    assert abs(np.mean(batch_means) - running.value()) > 1e-3


def test_running_bound_standard_error_matches_direct_computation(scores):
    positive, negative = scores
    running = RunningBound()
    for part in _chunks(positive.shape[0]):
        running.add(nwj(positive[part] + 1, negative[part] + 1))
    per_sample = nwj(positive + 1, negative + 1).per_sample.numpy()
    expected = per_sample.std(ddof=1) / math.sqrt(per_sample.size)
    assert running.standard_error() == pytest.approx(expected, rel=1e-6)


def test_running_bound_edge_cases():
    running = RunningBound()
    with pytest.raises(RuntimeError):
        running.value()
    running.add(nwj(torch.ones(1), torch.ones(1, 3)))
    assert running.value() == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(running.standard_error())


def test_running_bound_handles_huge_scores_stably():
    running = RunningBound()
    running.add(donsker_varadhan(torch.full((3,), 800.0), torch.full((3, 2), 800.0)))
    running.add(donsker_varadhan(torch.full((5,), 800.0), torch.full((5, 2), 790.0)))
    expected = 800.0 - (math.log(6 + 10 * math.exp(-10.0)) + 800.0 - math.log(16))
    assert running.value() == pytest.approx(expected, abs=1e-6)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def test_logmeanexp_matches_numpy_and_is_stable():
    g = torch.Generator().manual_seed(0)
    values = torch.randn(4, 6, generator=g, dtype=torch.float64)
    arr = values.numpy()
    assert float(logmeanexp(values)) == pytest.approx(float(np.log(np.mean(np.exp(arr)))), abs=1e-12)
    np.testing.assert_allclose(logmeanexp(values, dim=1).numpy(), np.log(np.exp(arr).mean(axis=1)), atol=1e-12)
    np.testing.assert_allclose(logmeanexp(values, dim=0).numpy(), np.log(np.exp(arr).mean(axis=0)), atol=1e-12)
    big = torch.tensor([1000.0, 1000.0 + math.log(3.0)], dtype=torch.float64)
    assert float(logmeanexp(big)) == pytest.approx(1000.0 + math.log(2.0), abs=1e-9)
    assert float(logmeanexp(-big)) == pytest.approx(-1000.0 + math.log((1 + 1 / 3) / 2), abs=1e-9)


def test_straight_through_value_of_first_gradient_of_second():
    w = torch.tensor(2.0, requires_grad=True)
    out = straight_through(w**3, 5 * w)
    assert float(out.detach()) == pytest.approx(8.0)
    out.backward()
    assert float(w.grad) == pytest.approx(5.0)


def test_mine_surrogate_value_and_gradient():
    g = torch.Generator().manual_seed(0)
    positive = torch.randn(6, generator=g, dtype=torch.float64, requires_grad=True)
    negative = torch.randn(6, 4, generator=g, dtype=torch.float64, requires_grad=True)
    dv = donsker_varadhan(positive, negative).value()
    log_ema = torch.tensor(0.7, dtype=torch.float64)
    value = mine_surrogate(positive, negative, log_ema)
    assert float(value.detach()) == pytest.approx(float(dv.detach()), abs=1e-12)
    value.backward()
    torch.testing.assert_close(positive.grad, torch.full_like(positive, 1 / 6))
    torch.testing.assert_close(negative.grad, -torch.exp(negative.detach() - 0.7) / negative.numel())
    # With the batch's own partition as the running average, the gradient is DV's.
    positive.grad = negative.grad = None
    mine_surrogate(positive, negative, logmeanexp(negative.detach())).backward()
    surrogate_grad = negative.grad.clone()
    negative.grad = None
    donsker_varadhan(positive, negative).value().backward()
    torch.testing.assert_close(surrogate_grad, negative.grad)


def test_js_divergence_formula_and_optimum(scores):
    zero_pos, zero_neg = torch.zeros(5), torch.zeros(5, 3)
    assert float(js_divergence(zero_pos, zero_neg)) == pytest.approx(-2 * math.log(2), abs=1e-6)
    positive, negative = scores
    best = float(js_divergence(positive, negative))
    for shift in (-0.5, 0.5):
        assert float(js_divergence(positive + shift, negative + shift)) < best
    for scale in (0.7, 1.3):
        assert float(js_divergence(scale * positive, scale * negative)) < best


# --------------------------------------------------------------------------------------
# Argument validation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan")])
def test_alpha_tuba_rejects_invalid_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        alpha_tuba(torch.zeros(3), torch.zeros(3, 2), torch.zeros(3), alpha=alpha)


@pytest.mark.parametrize("tau", [0.0, -1.0])
def test_smile_rejects_invalid_tau(tau):
    with pytest.raises(ValueError, match="tau"):
        smile(torch.zeros(3), torch.zeros(3, 2), tau=tau)


def test_public_names_are_exported():
    for name in bounds.__all__:
        assert hasattr(bounds, name), name
