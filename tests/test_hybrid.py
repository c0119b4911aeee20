"""Tests for the hybrid estimators: PQ + in-bin InfoNCE, and a generative proposal corrected
by a critic, compared with their discriminative part trained alone."""

from __future__ import annotations

import math

import pytest
import torch
from estimator_contract import fit_and_evaluate, gaussian_pair

from mist_reg import evaluate_mi
from mist_reg.distributions import ConditionalGaussian, LearnedGaussian
from mist_reg.estimators import (
    GenerativeHybrid,
    PQHybrid,
    gaussian_hybrid,
    infonce,
    instantiate_estimator,
    pq,
    pq_hybrid,
    smile,
)
from mist_reg.estimators.hybrid import DensityRatioCritic, bin_negatives
from mist_reg.functional.bounds import infonce as infonce_bound
from mist_reg.nn.critic import joint_critic
from mist_reg.nn.quantization import ThresholdQuantizer
from mist_reg.nn.references.gaussian import GaussianLogRatio, ResidualCritic
from mist_reg.tasks import get_task

HIDDEN = [32, 32]
SEPARABLE = {"critic_type": "separable", "marginal_terms": True}  # the hybrids' default critic


@pytest.fixture(scope="module")
def gaussian_5x5():
    return gaussian_pair("gaussian-5x5", n=4000, n_test=2048)


@pytest.fixture(scope="module")
def trained(gaussian_5x5):
    """Each estimator trained once, with the same steps, batches and seed."""
    makers = {
        "smile": lambda: smile(5, 5, HIDDEN, **SEPARABLE),
        "infonce": lambda: infonce(5, 5, HIDDEN, **SEPARABLE),
        "gaussian_hybrid": lambda: gaussian_hybrid(5, 5, HIDDEN),
        "learned_hybrid": lambda: gaussian_hybrid(5, 5, HIDDEN, proposal="learned"),
        "pq_hybrid": lambda: pq_hybrid(5, 5, HIDDEN, n_bins=8),
    }
    results = {}
    for name, make in makers.items():
        torch.manual_seed(0)
        estimator = make()
        value = fit_and_evaluate(
            estimator, gaussian_5x5, eval_batch_size=1024, batch_size=128, max_iterations=300, lr=3e-3
        )
        results[name] = (estimator, value)
    return results


def test_gaussian_hybrid_beats_its_discriminative_part(gaussian_5x5, trained):
    task = gaussian_5x5.task
    hybrid_value = trained["gaussian_hybrid"][1]
    assert abs(hybrid_value - task.mutual_information) < 0.05
    assert hybrid_value >= trained["infonce"][1]  # the same bound and critic, without the proposal
    assert hybrid_value >= trained["smile"][1]
    assert hybrid_value < task.mutual_information + 0.05


def test_gaussian_hybrid_stays_bounded_with_a_misspecified_proposal():
    """On raw Student-t samples (infinite variance) the fitted Gaussian is far off; the default
    bound must not turn that into an absurd estimate (a Donsker-Varadhan one reports ~90 nats)."""
    task = get_task("student-t-5x5")
    x, y = task.sample(4000, seed=0)
    x_test, y_test = task.sample(2048, seed=1)
    torch.manual_seed(0)
    estimator = gaussian_hybrid(5, 5, [16])
    estimator.proposal.fit_data(x, y)
    value = evaluate_mi(estimator, x=x_test, y=y_test, batch_size=1024)
    assert value < task.mutual_information + 0.1
    smile_based = gaussian_hybrid(5, 5, [16], discriminative="smile")
    smile_based.proposal.fit_data(x, y)
    assert evaluate_mi(smile_based, x=x_test, y=y_test, batch_size=1024) > 10  # why it is not the default


def test_learned_proposal_hybrid_is_as_good_as_its_discriminative_part(gaussian_5x5, trained):
    task = gaussian_5x5.task
    value = trained["learned_hybrid"][1]
    assert value >= trained["infonce"][1] - 0.03
    assert abs(value - task.mutual_information) < 0.1


def test_pq_hybrid_against_infonce_and_its_own_parts(gaussian_5x5, trained):
    task, x_test, y_test = gaussian_5x5.task, gaussian_5x5.x_test, gaussian_5x5.y_test
    estimator, value = trained["pq_hybrid"]
    # about InfoNCE's value at I = 1 nat (its in-bin negatives are fewer: about N / n_bins)
    assert value >= trained["infonce"][1] - 0.05
    assert value < task.mutual_information + 0.05
    with torch.no_grad():
        pq_terms, conditional_terms = estimator.parts(x_test[:1024], y_test[:1024])
        total = estimator.terms(x_test[:1024], y_test[:1024])
    assert torch.allclose(total.per_sample, pq_terms.per_sample + conditional_terms.per_sample)
    assert float(pq_terms.value()) > 0.15  # the quantized part carries real information
    assert float(total.value()) > float(conditional_terms.value()) + 0.15


def test_generative_hybrid_reuses_residual_critic_and_starts_at_the_proposal():
    torch.manual_seed(0)
    pair = gaussian_pair("gaussian-5x5", n=1024, n_test=2)
    x, y = pair.x, pair.y
    estimator = gaussian_hybrid(5, 5, [16], discriminative="infonce")
    assert isinstance(estimator.estimator.critic, ResidualCritic)
    assert isinstance(estimator.proposal, GaussianLogRatio)
    estimator.proposal.fit_data(x, y)
    with torch.no_grad():
        scores = estimator.proposal.score_matrix(x, y)
        reference = infonce_bound(scores.diagonal(), hybrid_off_diagonal(scores)).value()
        assert torch.allclose(estimator.mutual_information(x, y), reference, atol=1e-5)
    # the estimate is differentiable w.r.t. x
    xs = x[:64].clone().requires_grad_(True)
    estimator.mutual_information(xs, y[:64]).backward()
    assert xs.grad.abs().sum() > 0


def hybrid_off_diagonal(matrix):
    n = matrix.shape[0]
    return matrix.masked_select(~torch.eye(n, dtype=torch.bool)).reshape(n, n - 1)


def test_density_ratio_critic_scores_and_fitting():
    torch.manual_seed(0)
    critic = DensityRatioCritic(ConditionalGaussian(2, 3, [8]), LearnedGaussian(3))
    x, y = torch.randn(6, 2), torch.randn(6, 3)
    matrix = critic.score_matrix(x, y)
    assert torch.allclose(matrix.diagonal(), critic(x, y), atol=1e-5)
    index = torch.tensor([[1, 2], [0, 0], [5, 4], [3, 3], [2, 1], [0, 5]])
    assert torch.allclose(critic.score_pairs(x, y, index), matrix.gather(1, index), atol=1e-5)
    x_leaf = x.clone().requires_grad_(True)
    critic.fitting_loss(x_leaf, y).backward()
    assert x_leaf.grad is None  # densities are fitted on detached inputs
    critic.fit_data(x, y)
    assert torch.allclose(critic.q_y().mean, y.mean(0), atol=1e-5)


def test_bin_negatives_share_the_bin_and_exclude_the_row():
    torch.manual_seed(0)
    codes = torch.randint(0, 5, (200,))
    index, valid = bin_negatives(codes)
    sizes = torch.bincount(codes, minlength=5)
    rows = torch.arange(200).unsqueeze(1).expand_as(index)
    assert bool((codes[index][valid] == codes.unsqueeze(1).expand_as(index)[valid]).all())
    assert not bool((index[valid] == rows[valid]).any())
    assert valid.sum(1).tolist() == (sizes[codes] - 1).tolist()  # every other member of the bin
    for i in range(0, 200, 37):
        partners = index[i][valid[i]]
        assert len(set(partners.tolist())) == len(partners)  # distinct
    index, valid = bin_negatives(codes, neg_samples=3)
    assert index.shape[1] == 3 and bool(valid.all())
    assert bool((codes[index] == codes.unsqueeze(1)).all()) and not bool(
        (index == torch.arange(200).unsqueeze(1)).any()
    )
    index, valid = bin_negatives(torch.arange(4))  # every sample alone in its bin
    assert index.shape == (4, 0)


def test_pq_hybrid_without_same_bin_partners_is_pq():
    torch.manual_seed(0)
    estimator = pq_hybrid(2, 1, [8], quantization=ThresholdQuantizer([-1.0, 0.0, 1.0]), n_bins=4)
    x = torch.randn(4, 2)
    y = torch.tensor([[-2.0], [-0.5], [0.5], [2.0]])  # one sample per bin
    estimator.pq.fit_data(x, y)
    with torch.no_grad():
        _, conditional = estimator.parts(x, y)
        assert torch.equal(conditional.per_sample, torch.zeros(4))
        assert torch.allclose(estimator.mutual_information(x, y), estimator.pq.mutual_information(x, y))


def test_pq_hybrid_trains_critic_and_classifier_together():
    torch.manual_seed(0)
    estimator = pq_hybrid(2, 2, [8], n_bins=4, neg_samples=5)
    x = torch.randn(64, 2)
    y = x + 0.1 * torch.randn(64, 2)
    estimator.pq.fit_data(x, y)
    loss = estimator(x, y)
    loss.backward()
    first_layer = next(m for m in estimator.critic.f_x.modules() if isinstance(m, torch.nn.Linear))
    assert first_layer.weight.grad.abs().sum() > 0
    assert estimator.pq.q_code_given_x.net[0].weight.grad.abs().sum() > 0


def test_hybrid_options_are_validated():
    with pytest.raises(ValueError, match="valid values: closed_form, learned"):
        gaussian_hybrid(2, 2, proposal="exact")
    with pytest.raises(ValueError, match="valid values: smile, js, nwj, infonce, mine"):
        gaussian_hybrid(2, 2, discriminative="dv")
    with pytest.raises(ValueError, match="valid values: kmeans, quantile, vq"):
        pq_hybrid(2, 2, quantization="lattice")
    with pytest.raises(ValueError, match="neg_samples"):
        PQHybrid(pq(2, 2, [8]), joint_critic(2, 2, [8]), neg_samples=-1)
    assert isinstance(instantiate_estimator("pq-hybrid", x_dim=2, y_dim=2, hidden_dims=[8]), PQHybrid)
    assert isinstance(instantiate_estimator("gaussian_hybrid", x_dim=2, y_dim=2, hidden_dims=[8]), GenerativeHybrid)
    assert gaussian_hybrid(2, 2, [8], discriminative="smile", tau=3.0).estimator.tau == 3.0
    assert math.isclose(gaussian_hybrid(2, 2, [8], discriminative="mine", gamma=0.5).estimator.gamma, 0.5)


def test_estimate_mi_gives_gaussian_hybrid_the_estimation_correction():
    from mist_reg import estimate_mi
    from mist_reg.nn.critic import SeparableCritic

    pair = gaussian_pair("gaussian-5x5", n=2000, n_test=2)
    task, x, y = pair.task, pair.x, pair.y
    mi = estimate_mi(x, y, "gaussian_hybrid", max_iterations=200)
    correction = mi.estimator.correction
    assert isinstance(correction, SeparableCritic) and correction.marginal_terms
    widths = [m.out_features for m in correction.f_x.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [128, 128, 128, 33]  # 32 projected features and the marginal term
    assert abs(mi - task.mutual_information) < 0.1
