"""The averaged critic: K corrections run as one network, each trained on its own MINE
objective, reported through the bound of their mean."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mist_reg.estimation import training_defaults as defaults
from mist_reg.estimation.coordinates import FoldModel
from mist_reg.estimation.critic_ensemble import averaged_copy, with_critic_ensemble
from mist_reg.estimation.evaluation import evaluate_mi
from mist_reg.estimation.fit_settings import FitSettings, TrainingLog, learned
from mist_reg.estimation.model_spec import ModelSpec
from mist_reg.estimation.preprocessing import ColumnPreprocessor
from mist_reg.estimation.reference_choice import fit_with_reference_choice
from mist_reg.estimators.averaged import AveragedMINE
from mist_reg.estimators.discriminative import MINE
from mist_reg.estimators.negatives import off_diagonal
from mist_reg.functional.bounds import donsker_varadhan
from mist_reg.nn.averaged_critic import AveragedCritic, separable_members
from mist_reg.nn.critic import SeparableCritic, separable_critic
from mist_reg.nn.mlp import mlp
from mist_reg.tasks import get_task


def _member(members: SeparableCritic, k: int) -> SeparableCritic:
    """Member ``k`` of ensemble heads as a plain separable critic with the same weights."""
    heads = []
    for ensemble_head in (members.f_x, members.f_y):
        linears = ensemble_head[::2]
        widths = [linears[0].in_dim] + [layer.out_dim for layer in linears]
        head = mlp(widths[0], widths[1:-1], widths[-1])
        with torch.no_grad():
            for layer, batched in zip(head[::2], linears):
                layer.weight.copy_(batched.weight[k].T)
                layer.bias.copy_(batched.bias[k, 0])
        heads.append(head)
    return SeparableCritic(*heads, members.normalize, members.temperature, members.marginal_terms)


def _trained_members() -> SeparableCritic:
    torch.manual_seed(0)
    members = separable_members(separable_critic(2, 3, [16, 16], projection_dim=4, marginal_terms=True), 3)
    with torch.no_grad():
        for parameter in members.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))  # away from the zero start
    return members


def test_each_member_scores_as_the_separable_critic_of_its_weights():
    members = _trained_members()
    base = separable_critic(2, 3, [8], marginal_terms=True)
    critic = AveragedCritic(members, base, offset=0.5)
    x, y = torch.randn(7, 2), torch.randn(5, 3)
    index = torch.randint(0, 5, (7, 4))
    matrices, pairs = critic.member_score_matrix(x, y), critic.member_score_pairs(x, y, index)
    shared = base.score_matrix(x, y) + 0.5
    for k in range(3):
        alone = _member(members, k)
        assert torch.allclose(matrices[k], alone.score_matrix(x, y) + shared, atol=1e-5)
        assert torch.allclose(pairs[k], alone.score_pairs(x, y, index) + base.score_pairs(x, y, index) + 0.5, atol=1e-5)
    assert torch.allclose(critic.score_matrix(x, y), matrices.mean(0), atol=1e-5)
    assert torch.allclose(critic.score_pairs(x, y, index), pairs.mean(0), atol=1e-5)
    assert torch.allclose(critic(x[:5], y), torch.diagonal(critic.score_matrix(x[:5], y)), atol=1e-5)


def test_members_copy_the_shape_start_at_zero_and_differ():
    torch.manual_seed(0)
    template = separable_critic(3, 2, [16, 8], projection_dim=4, marginal_terms=True)
    members = separable_members(template, 4)
    critic = AveragedCritic(members)
    assert critic.n_members == 4 and members.marginal_terms
    assert float(critic.member_score_matrix(torch.randn(6, 3), torch.randn(6, 2)).detach().abs().max()) == 0.0
    assert not torch.equal(members.f_x[0].weight[0], members.f_x[0].weight[1])
    assert [layer.out_dim for layer in members.f_y[::2]] == [16, 8, 5]
    with pytest.raises(TypeError, match="SeparableCritic"):
        separable_members(mlp(2, [4], 1), 2)
    with pytest.raises(ValueError, match="members must be a positive integer"):
        separable_members(template, 0)
    with pytest.raises(TypeError, match="AveragedCritic"):
        AveragedMINE(template)


def test_the_loss_trains_each_member_as_mine_alone_with_its_own_moving_average():
    members = _trained_members()
    estimator = AveragedMINE(AveragedCritic(members))
    x = torch.randn(32, 2)
    y = torch.cat([x, x[:, :1]], 1) + torch.randn(32, 3)
    estimator(x, y).backward()
    alone = MINE(_member(members, 1))
    alone(x, y).backward()
    batched_grad = members.f_x[0].weight.grad[1].T
    assert torch.allclose(batched_grad, alone.critic.f_x[0].weight.grad, atol=1e-5)
    assert torch.allclose(estimator.log_ema[1], alone.log_ema, atol=1e-6)
    assert not torch.isclose(estimator.log_ema[0], estimator.log_ema[1])


def test_the_bound_of_the_mean_is_at_least_the_mean_of_the_members_bounds():
    members = _trained_members()
    critic = AveragedCritic(members)
    x, y = torch.randn(200, 2), torch.randn(200, 3)
    with torch.no_grad():
        matrices = critic.member_score_matrix(x, y)
        alone = [float(donsker_varadhan(m.diagonal(), off_diagonal(m)).value()) for m in matrices]
        mean = critic.score_matrix(x, y)
        together = float(donsker_varadhan(mean.diagonal(), off_diagonal(mean)).value())
    assert together >= sum(alone) / len(alone)


DEFAULT = ModelSpec("mine", {}, by_default=True, averaged=True)
"""What estimate_mi trains when no training option is given."""


def _settings() -> FitSettings:
    return FitSettings(
        batch_size=defaults.ESTIMATE_BATCH_SIZE,
        lr=defaults.ESTIMATE_LR,
        eval_every=defaults.ESTIMATE_EVAL_EVERY,
        patience=defaults.ESTIMATE_PATIENCE,
        lr_decays=defaults.ESTIMATE_LR_DECAYS,
        min_delta=defaults.ESTIMATE_MIN_DELTA,
        max_iterations=1500,
        seed=0,
    )


def _fitted(task: str, n: int) -> tuple[FoldModel, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, float]:
    task = get_task(task)
    x, y = (torch.as_tensor(v, dtype=torch.float32) for v in task.sample(n + 1500, seed=0))
    x_map, y_map = (
        ColumnPreprocessor("gaussianize", x.shape[1]).fit(x[:n]),
        ColumnPreprocessor("gaussianize", y.shape[1]).fit(y[:n]),
    )
    torch.manual_seed(0)
    estimator = ModelSpec("mine", {}, by_default=True).build(x.shape[1], y.shape[1])
    estimator, log = fit_with_reference_choice(estimator, _settings(), x_map(x[:n]), y_map(y[:n]))
    return FoldModel(estimator, log, x_map, y_map), x[:n], y[:n], x[n:], y[n:], task.mutual_information


def test_averaging_closes_part_of_a_learned_correction_gap_on_a_product():
    # y = x_1 x_2 x_3 + noise: neither closed-form reference holds it, the correction learns it in part
    fitted, x, y, x_test, y_test, truth = _fitted("regression-product-3-n0.2", 2000)
    assert learned(fitted.log, defaults.ESTIMATE_MIN_DELTA)
    single = evaluate_mi(fitted.estimator, fitted.x_map(x_test), fitted.y_map(y_test))
    torch.manual_seed(1)
    averaged = with_critic_ensemble(fitted, DEFAULT, x, y, _settings())
    assert isinstance(averaged.estimator, AveragedMINE) and averaged.estimator.critic.n_members == 4
    value = evaluate_mi(averaged.estimator, averaged.x_map(x_test), averaged.y_map(y_test))
    assert value > single + 0.05 and 0.8 * truth < value < truth + 0.05  # truth 1.241
    # the reference the first fit chose is kept
    assert type(averaged.estimator.critic.base) is type(fitted.estimator.critic.reference)


def test_a_fit_that_did_not_leave_its_reference_is_kept_as_it_is():
    fitted, x, y, *_ = _fitted("gaussian-5x5", 1000)  # the Gaussian reference is the log-ratio
    fitted = dataclasses.replace(
        fitted, log=TrainingLog(records=[{"valid_mi": 1.0}], best_iteration=0, best_valid_mi=1.0)
    )
    assert with_critic_ensemble(fitted, ModelSpec("mine", {}, by_default=True), x, y, _settings()) is fitted
    named = ModelSpec("mine", {})  # asked for by name: trained as asked, never averaged
    grown = dataclasses.replace(
        fitted, log=TrainingLog(records=[{"valid_mi": 0.5}], best_iteration=100, best_valid_mi=1.0)
    )
    assert with_critic_ensemble(grown, named, x, y, _settings()) is grown
    assert averaged_copy(MINE(separable_critic(5, 5, [8]))) is None  # no closed-form reference to share


def test_estimate_mi_averages_only_the_default_whose_training_is_not_configured(monkeypatch):
    from mist_reg import estimate_mi
    from mist_reg.estimation import estimate as estimate_module

    seen = []

    def record(fitted, model, *args):
        seen.append(model.averaged)
        return fitted

    monkeypatch.setattr(estimate_module, "with_critic_ensemble", record)
    x, y = get_task("gaussian-5x5").sample(300, seed=0)
    estimate_mi(x, y, max_iterations=2)
    estimate_mi(x, y, "mine", max_iterations=2)
    estimate_mi(x, y, n_folds=2, hidden_dims=[8], max_iterations=2)
    assert seen == [False, False, False, False]
    estimate_mi(x, y, n_folds=2)  # which rows are held out is not how the critic is trained
    assert seen[-2:] == [True, True]


def test_the_averaged_estimator_keeps_the_estimator_contract():
    from estimator_contract import (
        check_autocast,
        check_gradients,
        check_permutation_invariance,
        check_state_round_trip,
        gaussian_pair,
    )

    pair = gaussian_pair((2, 0.6), n=256, n_test=256)

    def make() -> AveragedMINE:
        torch.manual_seed(0)
        return AveragedMINE(AveragedCritic(separable_members(separable_critic(2, 2, [16], marginal_terms=True), 3)))

    estimator = make()
    estimator.train()
    for start in range(0, 256, 64):  # a few steps: members away from zero, moving averages set
        estimator(pair.x[start : start + 64], pair.y[start : start + 64]).backward()
    with torch.no_grad():
        for parameter in estimator.parameters():
            parameter.sub_(0.05 * parameter.grad)
    check_permutation_invariance(estimator, pair.x_test, pair.y_test)
    check_autocast(estimator, pair.x_test, pair.y_test)
    check_gradients(estimator, pair.x_test[:64], pair.y_test[:64])
    clone = check_state_round_trip(make, estimator, lambda m: m.mutual_information(pair.x_test, pair.y_test))
    assert torch.equal(clone.log_ema, estimator.log_ema) and bool(torch.isfinite(estimator.log_ema).all())


def test_drawn_negatives_are_the_same_for_every_member_and_as_mine_draws_them():
    members = _trained_members()
    estimator = AveragedMINE(AveragedCritic(members), neg_samples=8)
    x, y = torch.randn(32, 2), torch.randn(32, 3)
    torch.manual_seed(3)
    positive, negative = estimator.member_scores(x, y)
    alone = MINE(_member(members, 2), neg_samples=8)
    torch.manual_seed(3)
    alone_positive, alone_negative = alone.scores(x, y)
    assert positive.shape == (3, 32) and negative.shape == (3, 32, 8)
    assert torch.allclose(positive[2], alone_positive, atol=1e-5)
    assert torch.allclose(negative[2], alone_negative, atol=1e-5)
