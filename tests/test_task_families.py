"""Tests for the task families of mist_reg.tasks: truths against independent computations,
shapes and dtypes, determinism, the stored Monte Carlo table and the splits."""

from __future__ import annotations

import math

import pytest
import torch

from mist_reg.tasks import (
    FAMILY_TASKS,
    AdditiveUniformTask,
    BentLabelTask,
    ClusteredMixtureTask,
    GaussianMixtureLabelTask,
    MixedColumnsTask,
    PeriodicTask,
    SparseSignalTask,
    StepLabelTask,
    discrete_pair,
    family_of,
    family_tasks,
    gaussian_mutual_information,
    get_task,
    list_tasks,
    table_mutual_information,
)
from mist_reg.tasks.families import FAMILY_FACTORIES
from mist_reg.tasks.monte_carlo import monte_carlo_mean
from mist_reg.tasks.truth_table import TRUTH_TABLE

ALL = list(FAMILY_FACTORIES)  # every split


def _close(value: float, truth: float, se: float, slack: float = 1e-3) -> None:
    assert abs(value - truth) < 4 * se + slack, f"{value:.5f} vs {truth:.5f} (se {se:.5f})"


# ---------------------------------------------------------------- catalogue and splits


def test_every_family_task_is_registered_under_its_own_name_with_a_small_standard_error():
    assert set(ALL) <= set(list_tasks()) and len(ALL) == len(set(ALL))
    for name in ALL:
        task = get_task(name)
        assert task.name == name and math.isfinite(task.mutual_information)
        assert 0 <= task.mutual_information_se < 0.005


def test_splits_are_disjoint_and_every_family_has_both():
    for family, splits in FAMILY_TASKS.items():
        assert splits["tuning"] and splits["reporting"], family
        assert not set(splits["tuning"]) & set(splits["reporting"])
        assert all(family_of(name) == family for names in splits.values() for name in names)
    high = [get_task(n).mutual_information for n in family_tasks("all", ["high-mi"])]
    assert min(high) >= 2 and max(high) <= 20
    with pytest.raises(ValueError, match="unknown split"):
        family_tasks("test")
    with pytest.raises(ValueError, match="unknown families"):
        family_tasks("all", ["nope"])


@pytest.mark.parametrize("name", ALL)
def test_samples_have_shapes_natural_dtypes_and_are_deterministic(name):
    task = get_task(name)
    x, y = task.sample(64, seed=3)
    assert x.shape == (64, task.dim_x) and y.shape == (64, task.dim_y)
    for t in (x, y):
        assert t.dtype in (torch.float32, torch.int64) and bool(torch.isfinite(t.double()).all())
    assert torch.equal(x, task.sample(64, seed=3)[0]) and torch.equal(y, task.sample(64, seed=3)[1])
    assert not torch.equal(x, task.sample(64, seed=4)[0])


def test_discrete_sides_are_int64_codes():
    x, y = get_task("discrete-4.3x5-b1.5").sample(2000, seed=0)
    assert x.dtype == y.dtype == torch.int64
    assert x[:, 0].unique().tolist() == [0, 1, 2, 3] and x[:, 1].unique().tolist() == [0, 1, 2]
    _, labels = get_task("label-k10-d64-s3").sample(2000, seed=0)
    assert labels.dtype == torch.int64 and labels.unique().tolist() == list(range(10))
    task = get_task("mixed-2d3-2c-y2-s1")
    x, _ = task.sample(500, seed=0)
    codes = x[:, list(task.discrete_columns_x)]
    assert torch.equal(codes, codes.round()) and set(codes.unique().tolist()) == {0.0, 1.0, 2.0}


# ---------------------------------------------------------------- truths against independent computations


def test_stored_truths_are_what_the_code_computes():
    for task, key in [
        (ClusteredMixtureTask(1, 1, 2, 2.0, 4.0), "clusters-1x1-c2-s2-e4-seed0"),
        (GaussianMixtureLabelTask(2, 8, 2.0), "label-k2-d8-s2-seed0"),
    ]:
        density = task._information_density if hasattr(task, "_information_density") else task._kl_from_prior
        mi, se = monte_carlo_mean(density)
        assert mi == pytest.approx(TRUTH_TABLE[key][0], abs=1e-9) and se == pytest.approx(TRUTH_TABLE[key][1])


def test_two_class_label_truth_matches_one_dimensional_quadrature():
    # With two classes the posterior depends on x only through t = <x - centre, unit(mu_1 - mu_0)>,
    # t ~ N(D/2, 1) given class 1, and p(1 | x) = sigmoid(D t): I = log 2 - E H(sigmoid(D t)).
    task = get_task("label-k2-d8-s2")
    distance = (task.means[1] - task.means[0]).norm().item()
    t = torch.linspace(-12, 12, 20_001, dtype=torch.float64) + distance / 2
    weight = torch.exp(-0.5 * (t - distance / 2) ** 2) / math.sqrt(2 * math.pi)
    p = torch.sigmoid(distance * t)
    entropy = -(p * p.log() + (1 - p) * torch.log1p(-p))
    truth = math.log(2) - torch.trapezoid(weight * entropy, t).item()
    _close(task.mutual_information, truth, task.mutual_information_se)


def test_discrete_pair_truth_matches_entropies_and_sampled_frequencies():
    task = discrete_pair(20, 5, 2.0)
    p = task.joint

    def entropy(q):
        return -(q * q.log()).sum().item()

    assert task.mutual_information == pytest.approx(entropy(p.sum(1)) + entropy(p.sum(0)) - entropy(p), abs=1e-12)
    x, y = task.sample(200_000, seed=0)
    counts = torch.zeros_like(p).index_put_((x[:, 0], y[:, 0]), torch.ones(len(x), dtype=p.dtype), accumulate=True)
    assert (counts / len(x) - p).abs().max() < 0.003
    assert abs(table_mutual_information(torch.full((3, 4), 1 / 12, dtype=torch.float64))) < 1e-12


def test_mixed_truth_matches_exact_table_and_quadrature():
    # Only discrete columns and a class label: the Monte Carlo truth equals the exact table MI.
    task = MixedColumnsTask(1, 4, 0, n_classes=3)
    joint = torch.softmax(task.tables[0], dim=1) / 4
    _close(task.mutual_information, table_mutual_information(joint), task.mutual_information_se)
    # One discrete column, one Gaussian one and a 1-d y: p(y) is a 1-d mixture, h(y) by quadrature.
    task = MixedColumnsTask(1, 3, 1, dim_y=1)
    sd = math.sqrt(task.weights.pow(2).sum().item() + task.noise**2)
    ys = torch.linspace(-15, 15, 30_001, dtype=torch.float64)
    density = torch.exp(-0.5 * ((ys[:, None] - task.tables[0, :, 0]) / sd) ** 2).mean(1) / (sd * math.sqrt(2 * math.pi))
    h_y = -torch.trapezoid(density * density.clamp_min(1e-300).log(), ys).item()
    truth = h_y - 0.5 * math.log(2 * math.pi * math.e * task.noise**2)
    _close(task.mutual_information, truth, task.mutual_information_se)


def test_periodic_truth_matches_nested_monte_carlo():
    task = PeriodicTask(1, 4.0, 0.3)
    g = torch.Generator().manual_seed(0)
    x, y = task._sample(4000, g)
    inner = torch.sin(4.0 * torch.randn(4000, generator=g, dtype=torch.float64))
    log_py = torch.logsumexp(-0.5 * ((y - inner) / 0.3) ** 2, dim=1) - math.log(4000)
    density = -0.5 * ((y[:, 0] - torch.sin(4.0 * x[:, 0])) / 0.3) ** 2 - log_py
    se = density.std().item() / math.sqrt(4000)
    _close(density.mean().item(), task.mutual_information, se, slack=0.01)


@pytest.mark.parametrize("half_width", [0.1, 0.75])
def test_additive_uniform_truth_matches_monte_carlo_of_the_exact_density(half_width):
    task = AdditiveUniformTask(2, half_width)
    x, y = task._sample(100_000, torch.Generator().manual_seed(0))
    h = half_width
    density = ((y + h).clamp(max=1) - (y - h).clamp(min=0)) / (2 * h)  # P(x in [y - h, y + h]) / 2h
    info = (-(density.log()) - math.log(2 * h)).sum(1)
    _close(info.mean().item(), task.mutual_information, info.std().item() / math.sqrt(len(info)))


def test_sparse_signal_hides_correlated_pairs_among_independent_outliers():
    task = SparseSignalTask(10, 10, 2, 0.6)
    x, y = task.sample(20_000, seed=0)
    ranks_x, ranks_y = x.argsort(0).argsort(0).double(), y.argsort(0).argsort(0).double()
    corr = torch.corrcoef(torch.cat([ranks_x, ranks_y], 1).T)[:10, 10:].abs()
    assert (corr > 0.4).sum() == 2 and corr.sort(descending=True).values.flatten().sort().values[-3] < 0.05
    assert task.mutual_information == pytest.approx(-math.log(1 - 0.36))


def test_one_cluster_mixture_truth_matches_the_gaussian_closed_form():
    task = ClusteredMixtureTask(2, 1, 1, spread=1.0, elongation=9.0)
    cov = task.factors[0] @ task.factors[0].T
    _close(task.mutual_information, gaussian_mutual_information(cov, 2), task.mutual_information_se)


def test_two_views_truth_matches_canonical_correlations_of_a_rank_latent_cross_covariance():
    task = get_task("views-128x128-k8-n0.35")
    cov, d = task.covariance, 128
    cross = cov[:d, d:]
    assert torch.linalg.matrix_rank(cross).item() == 8
    root_x, root_y = (torch.linalg.cholesky(cov[:d, :d]), torch.linalg.cholesky(cov[d:, d:]))
    whitened = torch.linalg.solve_triangular(
        root_x, torch.linalg.solve_triangular(root_y, cross.T, upper=False).T, upper=False
    )
    rho = torch.linalg.svdvals(whitened)
    assert task.mutual_information == pytest.approx(-0.5 * torch.log1p(-(rho**2)).sum().item(), rel=1e-9)
    x, y = task.sample(4000, seed=0)
    assert (x.double().T @ y.double() / 4000 - cross).abs().max() < 0.12


def test_bad_parameters_name_the_argument():
    with pytest.raises(ValueError, match="n_classes"):
        GaussianMixtureLabelTask(1, 8, 2.0)
    with pytest.raises(ValueError, match="half_width"):
        AdditiveUniformTask(2, 0.0)
    with pytest.raises(ValueError, match="n_signal"):
        SparseSignalTask(3, 3, 4, 0.5)
    with pytest.raises(ValueError, match="strength"):
        discrete_pair(3, 3, -1.0)
    with pytest.raises(ValueError, match="unknown activation 'relu'; valid: tanh"):
        BentLabelTask(3, 4, 2.0, 8, "relu")
    with pytest.raises(ValueError, match="gain must be positive"):
        BentLabelTask(3, 4, 2.0, 8, "tanh", gain=0.0)
    with pytest.raises(ValueError, match="out_dim"):
        BentLabelTask(3, 4, 2.0, 2, "tanh")
    with pytest.raises(ValueError, match="shape must be 'ring' or 'xor'"):
        StepLabelTask("square", 4, 0.2)
    with pytest.raises(ValueError, match=r"flip must lie in \[0, 1\)"):
        StepLabelTask("xor", 4, 1.0)
