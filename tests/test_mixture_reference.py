"""Tests for the Gaussian-mixture reference of mist_reg.nn.references.mixture (and its EM fit)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import MultivariateNormal

from mist_reg.estimation.coordinates import fit_in_coordinates
from mist_reg.estimation.evaluation import evaluate_mi
from mist_reg.estimation.fitting import FitSettings, fit_data_dependent, fit_estimator, sample_loaders
from mist_reg.estimation.model_spec import ModelSpec
from mist_reg.estimation.preprocessing import MarginalGaussianizer, Standardizer
from mist_reg.estimation.reference_choice import Relocated, fit_with_reference_choice
from mist_reg.estimators import mine
from mist_reg.estimators.factories import make_critic
from mist_reg.nn.references.held_out import shifted_dv_bound
from mist_reg.nn.references.mixture import MixtureLogRatio, max_components
from mist_reg.nn.references.mixture_em import fit_gaussian_mixture, pool_covariances
from mist_reg.tasks import get_task
from mist_reg.tasks.mixtures import ClusteredMixtureTask


def gaussian_log_ratio(x: torch.Tensor, y: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    dx = x.shape[1]
    joint = MultivariateNormal(mean, cov).log_prob(torch.cat([x, y], 1))
    px = MultivariateNormal(mean[:dx], cov[:dx, :dx]).log_prob(x)
    py = MultivariateNormal(mean[dx:], cov[dx:, dx:]).log_prob(y)
    return joint - px - py


def test_one_component_is_the_gaussian_log_ratio_of_the_sample_moments():
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(2000, 5, generator=generator, dtype=torch.float64) @ torch.randn(5, 5, generator=generator).double()
    z = z + torch.tensor([1.0, -2.0, 0.5, 3.0, 0.0], dtype=torch.float64)
    x, y = z[:, :2], z[:, 2:]
    reference = MixtureLogRatio(2, 3, n_components=1, covariance_floor=0.0)
    reference.fit_data(x, y)
    mean, cov = z.mean(0), torch.cov(z.T, correction=0)
    exact = gaussian_log_ratio(x[:50], y[:50], mean, cov).float()
    torch.testing.assert_close(reference(x[:50], y[:50]), exact, atol=2e-4, rtol=1e-4)
    matrix = gaussian_log_ratio(x[:7].repeat_interleave(6, 0), y[:6].repeat(7, 1), mean, cov).reshape(7, 6).float()
    torch.testing.assert_close(reference.score_matrix(x[:7], y[:6]), matrix, atol=2e-4, rtol=1e-4)
    index = torch.tensor([[1, 2], [0, 0], [4, 3]])
    pairs = reference.score_pairs(x[:5], y[:5], torch.cat([index, index[:2]]))
    torch.testing.assert_close(pairs, reference.score_matrix(x[:5], y[:5]).gather(1, torch.cat([index, index[:2]])))


def test_a_product_of_two_mixtures_has_a_zero_log_ratio():
    # q(x, y) = q(x) q(y), each a two-component mixture: every pair scores exactly 0
    weights_x, weights_y = torch.tensor([0.3, 0.7]), torch.tensor([0.6, 0.4])
    means_x, means_y = torch.tensor([[-2.0], [1.5]]), torch.tensor([[0.0, 3.0], [1.0, -1.0]])
    var_x = torch.tensor([0.5, 2.0])
    cov_y = torch.stack([torch.tensor([[1.0, 0.3], [0.3, 0.5]]), torch.tensor([[2.0, -0.4], [-0.4, 1.0]])])
    log_weights, means, covariances = [], [], []
    for i in range(2):
        for j in range(2):
            log_weights.append(math.log(weights_x[i] * weights_y[j]))
            means.append(torch.cat([means_x[i], means_y[j]]))
            covariances.append(torch.block_diag(var_x[i].reshape(1, 1), cov_y[j]))
    reference = MixtureLogRatio(1, 2)
    reference.set_mixture(torch.tensor(log_weights), torch.stack(means), torch.stack(covariances))
    x, y = 3 * torch.randn(40, 1), 3 * torch.randn(30, 2)
    assert reference.score_matrix(x, y).abs().max() < 1e-4
    assert reference(x[:30], y).abs().max() < 1e-4


def test_mixture_reference_recovers_the_mi_of_a_clustered_task_and_the_gaussian_does_not():
    task = get_task("clusters-2x2-c3-s2-e4")  # 1.015 nats (Monte Carlo truth)
    x, y = task.sample(3000, seed=1)
    mixture = MixtureLogRatio(2, 2)
    mixture.fit_data(x[:2000], y[:2000])
    assert mixture.n_components >= 3
    held_out = float(mixture(x[2000:], y[2000:]).mean())
    assert abs(held_out - task.mutual_information) < 0.1, held_out
    gaussian = MixtureLogRatio(2, 2, n_components=1)
    gaussian.fit_data(x[:2000], y[:2000])
    assert float(gaussian(x[2000:], y[2000:]).mean()) < held_out - 0.3  # the Gaussian of the same data


def test_default_reference_choice_takes_the_mixture_start_on_clusters():
    # the untrained mixture beats the briefly trained Gaussian start on validation: it is the
    # start trained, and its held-out estimate beats the Gaussian start's
    task = get_task("clusters-2x2-c3-s2-e4")
    x, y = task.sample(4000, seed=0)
    gaussianizer = MarginalGaussianizer().fit(torch.cat([x, y], 1))
    z = gaussianizer(torch.cat([x, y], 1))
    train, test = z[:3000], z[3000:]
    settings = FitSettings(max_iterations=150, seed=0)
    estimator = mine(2, 2, hidden_dims=[32], critic_type="separable", marginal_terms=True, reference="student_t")
    fitted, log = fit_with_reference_choice(estimator, settings, train[:, :2], train[:, 2:])
    assert isinstance(fitted.critic.reference, MixtureLogRatio) and fitted.critic.reference.n_components > 1
    assert log.mixture_search == fitted.critic.reference.n_components  # the challenger's own search, recorded
    chosen = evaluate_mi(fitted, test[:, :2], test[:, 2:])
    gaussian_start = mine(2, 2, hidden_dims=[32], critic_type="separable", marginal_terms=True, reference="gaussian")
    gaussian_start, _ = fit_with_reference_choice(gaussian_start, settings, train[:, :2], train[:, 2:])
    assert abs(chosen - task.mutual_information) < 0.08, chosen
    assert chosen > evaluate_mi(gaussian_start, test[:, :2], test[:, 2:]) + 0.05


def test_gaussian_data_keeps_one_component_and_wide_pairs_get_no_mixture():
    x, y = get_task("gaussian-5x5").sample(3000, seed=0)
    reference = MixtureLogRatio(5, 5)
    reference.fit_data(x, y)
    assert reference.is_gaussian
    assert max_components(50, 3500) == 1 and MixtureLogRatio(25, 25).shares_covariance(2, 3500)
    assert MixtureLogRatio(2, 2).candidates_for(30) == (1,)


def test_em_separates_clusters_and_keeps_collapsing_components_finite():
    generator = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-5.0, 0.0], [0.0, 5.0], [5.0, 0.0]], dtype=torch.float64)
    z = (centres[:, None] + 0.5 * torch.randn(3, 300, 2, generator=generator, dtype=torch.float64)).reshape(-1, 2)
    fit = fit_gaussian_mixture(z, 3)
    assert torch.allclose(fit.means[fit.means[:, 0].argsort()], centres, atol=0.15)
    discrete = torch.randint(0, 2, (500, 2), generator=generator).double()  # atoms: singular without the floor
    fit = fit_gaussian_mixture(discrete, 4)
    assert math.isfinite(fit.log_likelihood) and bool(torch.linalg.eigvalsh(fit.covariances).min() >= 1e-3 - 1e-9)


def test_named_option_state_round_trip_and_argument_checks():
    critic = make_critic(2, 2, [8], critic_type="separable", reference="mixture")
    x, y = get_task("clusters-2x2-c3-s2-e4").sample(1000, seed=0)
    critic.reference.fit_data(x, y)
    loaded = make_critic(2, 2, [8], critic_type="separable", reference="mixture")
    loaded.load_state_dict(critic.state_dict())
    assert loaded.reference.n_components == critic.reference.n_components > 1
    torch.testing.assert_close(loaded(x[:10], y[:10]), critic(x[:10], y[:10]))
    xr = x[:10].clone().requires_grad_(True)
    critic.reference(xr, y[:10]).sum().backward()
    assert xr.grad is not None and bool(xr.grad.abs().sum() > 0)
    with pytest.raises(ValueError, match="n_components"):
        MixtureLogRatio(2, 2, n_components=0)
    with pytest.raises(ValueError, match="built for dims"):
        MixtureLogRatio(2, 2).fit_data(x[:, :1], y)
    with pytest.raises(ValueError, match="n_components must lie"):
        fit_gaussian_mixture(torch.randn(3, 2), 5)


def test_clustered_data_are_refitted_on_standardised_columns_where_the_mixture_is_exact():
    # a mixture of Gaussians stays one under standardisation but not under Gaussianisation
    # of each column: the second fit, from a mixture of standardised columns, wins on
    # validation and its held-out estimate reaches the truth that the first one misses
    task = ClusteredMixtureTask(2, 2, 3, spread=3.0, elongation=10.0)
    x, y = task.sample(3000, seed=0)
    train, test = slice(0, 2000), slice(2000, None)
    model = ModelSpec("mine", {}, by_default=True)
    settings = FitSettings(batch_size=128, lr=2e-3, max_iterations=300, eval_every=25, patience=7, seed=0)
    fitted = fit_in_coordinates(model, "gaussianize", (2, 2), x[train], y[train], settings, fresh=True)
    assert isinstance(fitted.x_map.inner, Standardizer) and isinstance(fitted.y_map.inner, Standardizer)
    assert isinstance(fitted.estimator.critic.reference, MixtureLogRatio)
    held_out = evaluate_mi(fitted.estimator, fitted.x_map(x[test]), fitted.y_map(y[test]))
    assert abs(held_out - task.mutual_information) < 0.05 * task.mutual_information, held_out
    # Gaussian-copula data are fitted once, in Gaussianised columns
    gx, gy = get_task("gaussian-5x5").sample(2000, seed=0)
    once = fit_in_coordinates(model, "gaussianize", (gx.shape[1], gy.shape[1]), gx, gy, settings, fresh=True)
    assert isinstance(once.x_map.inner, MarginalGaussianizer)


def test_a_relocated_challenger_is_scored_and_trained_in_its_own_coordinates():
    # the relocation hook moves the mixture challenger of Gaussianised clusters to
    # standardised columns, where a mixture is exact: that one is scored on its validation
    # rows, trained there, kept, and its held-out estimate on fresh rows reaches the truth
    task = ClusteredMixtureTask(2, 2, 3, spread=3.0, elongation=10.0)
    x, y = task.sample(2000, seed=0)
    settings = FitSettings(batch_size=128, lr=2e-3, max_iterations=100, eval_every=25, patience=7, seed=0)
    x_map, y_map = Standardizer().fit(x), Standardizer().fit(y)
    sx, sy = x_map(x), y_map(y)
    calls = []

    def relocate(reference):
        if not isinstance(reference, MixtureLogRatio):
            return None
        calls.append("relocated")
        moved = ModelSpec("mine", {}, by_default=True).build(2, 2)
        moved.critic.reference = MixtureLogRatio(2, 2, n_components=3, restarts=4)
        train_batches, valid_batches = sample_loaders(sx, sy, settings)
        fit_data_dependent(moved, train_batches)

        def train():
            calls.append("trained")
            return moved, fit_estimator(moved, settings, sx, sy)

        return Relocated(moved, valid_batches, train)

    gaussianised = (MarginalGaussianizer().fit(v)(v) for v in (x, y))
    estimator = ModelSpec("mine", {}, by_default=True).build(2, 2)
    fitted, _ = fit_with_reference_choice(estimator, settings, *gaussianised, relocate=relocate)
    assert calls == ["relocated", "trained"]
    assert fitted is not estimator and isinstance(fitted.critic.reference, MixtureLogRatio)
    assert fitted.critic.reference.n_components == 3
    tx, ty = task.sample(2000, seed=1)
    held_out = evaluate_mi(fitted, x_map(tx), y_map(ty))
    assert abs(held_out - task.mutual_information) < 0.05 * task.mutual_information, held_out


def test_em_restarts_escape_a_start_that_merges_two_clusters():
    # from k-means++ seed 1, EM on five clusters merges two of them into one component; the
    # most likely of four starts does not, and its held-out log-ratio reaches the truth
    task = get_task("clusters-3x3-c5-s2-e4")
    x, y = task.sample(5000, seed=0)
    z = torch.cat([x[:3500], y[:3500]], 1).double()
    z = (z - z.mean(0)) / z.std(0)
    single = fit_gaussian_mixture(z, 5, seed=1)
    best = fit_gaussian_mixture(z, 5, seed=1, restarts=4)
    assert best.log_likelihood > single.log_likelihood + 0.02
    mixture = MixtureLogRatio(3, 3, n_components=5, restarts=4)
    mixture.fit_data(x[:3500].float(), y[:3500].float())
    with torch.no_grad():
        held_out = float(mixture(x[3500:].float(), y[3500:].float()).mean())
    assert abs(held_out - task.mutual_information) < 0.05
    with pytest.raises(ValueError, match="restarts"):
        fit_gaussian_mixture(z, 2, restarts=0)
    with pytest.raises(ValueError, match="restarts"):
        MixtureLogRatio(3, 3, restarts=0)


def test_the_coordinates_of_a_clustered_pair_are_chosen_by_the_mixtures_held_out_bounds():
    # the search over K leaves each mixture's two-fold held-out bound; on clusters the
    # standardised columns' mixture is the better one (a mixture stays one under affine maps),
    # on clusters seen through a cube of every column the Gaussianised one is
    task = get_task("clusters-3x3-c5-s2-e4")
    x, y = task.sample(3000, seed=0)
    bounds = {}
    for name, f in [("clusters", lambda v: v), ("cubed", lambda v: v**3)]:
        for kind, preprocessor in [("gaussianized", MarginalGaussianizer), ("standardized", Standardizer)]:
            u, v = f(x).float(), f(y).float()
            pu, pv = preprocessor().fit(u), preprocessor().fit(v)
            mixture = MixtureLogRatio(3, 3)
            mixture.fit_data(pu(u), pv(v))
            bounds[name, kind] = mixture.held_out_bound
    assert bounds["clusters", "standardized"] > bounds["clusters", "gaussianized"] + 0.05
    assert bounds["cubed", "gaussianized"] > bounds["cubed", "standardized"] + 0.5
    assert abs(bounds["clusters", "standardized"] - task.mutual_information) < 0.15
    frozen = MixtureLogRatio(3, 3)
    frozen.fit_data(x.float(), y.float())
    chosen = frozen.held_out_bound
    frozen.freeze_choice()
    frozen.fit_data(x.float(), y.float())  # a refit with the K chosen keeps the bound of its search
    assert frozen.held_out_bound == chosen
    assert MixtureLogRatio(3, 3, n_components=4).held_out_bound is None


def test_mixed_columns_are_fitted_in_the_coordinates_where_the_gaussian_bound_is_higher():
    # y = sum of per-code effects + linear in z + noise: linear-Gaussian given the codes in
    # standardised columns, bent by Gaussianising y's multimodal marginals; exp(y) reverses that
    task = get_task("mixed-3d4-2c-y3-s1")
    x, y = task.sample(2000, seed=0)
    codes = torch.nn.functional.one_hot(x[:, :3].long(), 4)[:, :, 1:].reshape(len(x), -1).float()
    features = torch.cat([x[:, 3:], codes], 1)  # continuous columns first, then indicators
    model = ModelSpec("mine", {}, by_default=True)
    settings = FitSettings(batch_size=128, max_iterations=100, eval_every=25, patience=2, seed=0)
    plain = fit_in_coordinates(model, "gaussianize", (2, 3), features, y, settings, fresh=True)
    assert isinstance(plain.y_map.inner, Standardizer) and isinstance(plain.x_map.inner, Standardizer)
    bent = fit_in_coordinates(model, "gaussianize", (2, 3), features, y.exp(), settings, fresh=True)
    assert isinstance(bent.y_map.inner, MarginalGaussianizer)
    x2, y2 = task.sample(2000, seed=1)
    codes2 = torch.nn.functional.one_hot(x2[:, :3].long(), 4)[:, :, 1:].reshape(len(x2), -1).float()
    features2 = torch.cat([x2[:, 3:], codes2], 1)
    held_out = evaluate_mi(plain.estimator, plain.x_map(features2), plain.y_map(y2))
    assert abs(held_out - task.mutual_information) < 0.15, held_out


def test_round_clusters_in_wide_pairs_are_held_by_components_that_share_one_covariance():
    # 16 joint columns: full covariances afford 4 components on 2,500 rows, and the 6
    # clusters, which differ only in their means, are then fitted with one shared covariance
    task = ClusteredMixtureTask(8, 8, 6, spread=1.2, elongation=1.0, seed=3)
    x, y = task.sample(4000, seed=0)
    reference = MixtureLogRatio(8, 8)
    reference.fit_data(x[:2500], y[:2500])
    assert reference.n_components >= 6 and reference.tied
    assert max_components(16, 2500) < reference.n_components
    held_out = shifted_dv_bound(reference, x[2500:], y[2500:])
    gaussian = MixtureLogRatio(8, 8, n_components=1)
    gaussian.fit_data(x[:2500], y[:2500])
    assert abs(held_out - task.mutual_information) < 0.1, (held_out, task.mutual_information)
    assert held_out > shifted_dv_bound(gaussian, x[2500:], y[2500:]) + 0.2


def test_clusters_of_different_shapes_pool_their_own_covariances_with_the_shared_one():
    # 6 clusters elongated 4:1 along directions of their own in 8 + 8 columns, 2,500 rows:
    # full covariances afford 3 components; one shared covariance averages away the coupling
    # of x and y inside each cluster, and each cluster's own scatter restores much of it
    task = ClusteredMixtureTask(8, 8, 6, spread=1.2, elongation=4.0, seed=3)
    x, y = task.sample(4000, seed=0)
    reference = MixtureLogRatio(8, 8)
    reference.fit_data(x[:2500], y[:2500])
    assert reference.n_components > max_components(16, 2500) and 0.0 <= reference.pooling < 1.0
    held_out = shifted_dv_bound(reference, x[2500:], y[2500:])
    shared = MixtureLogRatio(8, 8, n_components=reference.n_components)
    shared.fixed_pooling = 1.0
    shared.fit_data(x[:2500], y[:2500])
    assert shared.tied and not reference.tied
    # truth 2.67; the shared covariance 1.36, the search 2.44 (1.56 before it pooled covariances)
    assert held_out > shifted_dv_bound(shared, x[2500:], y[2500:]) + 0.6
    assert 0.8 * task.mutual_information < held_out < task.mutual_information + 0.05, held_out
    frozen = MixtureLogRatio(8, 8)
    frozen.load_state_dict(reference.state_dict())
    assert torch.allclose(frozen(x[2500:], y[2500:]), reference(x[2500:], y[2500:]))


def test_pooled_covariances_move_from_each_components_own_scatter_to_the_shared_one():
    generator = torch.Generator().manual_seed(0)
    wide = torch.randn(600, 2, generator=generator, dtype=torch.float64) * torch.tensor([2.0, 0.4], dtype=torch.float64)
    z = torch.cat([wide - 5, wide.flip(1) + 5])
    shared = fit_gaussian_mixture(z, 2, tied=True, covariance_floor=0.0)
    own = pool_covariances(shared, z, 0.0, covariance_floor=0.0)
    half = pool_covariances(shared, z, 0.5, covariance_floor=0.0)
    assert torch.allclose(
        pool_covariances(shared, z, 1.0, covariance_floor=0.0).covariances, shared.covariances, atol=1e-9
    )
    assert torch.allclose(half.covariances, (own.covariances + shared.covariances) / 2, atol=1e-9)
    variances = sorted(torch.diagonal(own.covariances, dim1=1, dim2=2)[:, 0].tolist())
    assert variances[0] < 0.3 < 3.0 < variances[1]  # each cluster's own elongation: 0.16 and 4
    assert own.log_likelihood > half.log_likelihood > shared.log_likelihood
    with pytest.raises(ValueError, match="pooling must lie in"):
        pool_covariances(shared, z, 1.5)
    with pytest.raises(ValueError, match="columns"):
        pool_covariances(shared, z[:, :1], 0.5)


def test_a_shared_covariance_is_shrunk_where_the_dimension_nears_the_rows():
    # 60 columns from 120 rows of N(0, I): the sample covariance's eigenvalues spread from
    # about 0.08 to 2.9; Ledoit-Wolf's shrinkage pulls the shared covariance back towards I
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(120, 60, generator=generator, dtype=torch.float64)
    eye = torch.eye(60, dtype=torch.float64)
    plain = fit_gaussian_mixture(z, 1, covariance_floor=0.0).covariances[0]
    shared = fit_gaussian_mixture(z, 1, covariance_floor=0.0, tied=True).covariances[0]
    assert (shared - eye).norm() < 0.5 * (plain - eye).norm()
    # many rows in few columns: almost no shrinkage
    z = torch.randn(5000, 3, generator=generator, dtype=torch.float64) @ torch.tensor(
        [[2.0, 0, 0], [1, 1, 0], [0, 0, 0.5]], dtype=torch.float64
    )
    plain = fit_gaussian_mixture(z, 1, covariance_floor=0.0).covariances[0]
    shared = fit_gaussian_mixture(z, 1, covariance_floor=0.0, tied=True).covariances[0]
    assert torch.allclose(shared, plain, atol=0.02)
