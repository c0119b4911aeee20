import pytest
import torch

from mist_reg.estimation.fitting import FitSettings
from mist_reg.estimation.reference_model_choice import reference_model_if_unresolved
from mist_reg.estimators import mine
from mist_reg.nn.references.gaussian import GaussianLogRatio
from mist_reg.tasks import get_task
from mist_reg.tasks.structured import two_views


def test_wide_noisy_views_shrink_the_correlations_and_stay_close_on_held_out_rows():
    torch.set_num_threads(1)
    task = two_views(96, 4, 1.0)  # 96 columns a side, 1,200 training rows
    x, y = task.sample(2000, seed=0)
    reference = GaussianLogRatio(96, 96)
    reference.fit_data(x[:1200], y[:1200])
    held_out = float(reference(x[1200:], y[1200:]).mean())
    assert reference.covariance_shrinkage > 0
    assert abs(held_out - task.mutual_information) < 0.1 * task.mutual_information


def test_an_ordinary_task_is_trained_not_replaced_by_the_reference_model():
    x, y = get_task("gaussian-5x5").sample(1000, seed=0)  # 1 nat: a well-resolved partition term
    assert reference_model_if_unresolved(mine(5, 5, reference="gaussian"), FitSettings(seed=0), x, y) is None


def test_the_reference_model_of_wide_views_is_within_ten_percent():
    task = two_views(32, 4, 0.1)
    x, y = task.sample(2000, seed=0)
    model, log = reference_model_if_unresolved(mine(32, 32, reference="gaussian"), FitSettings(seed=0), x, y)
    x_test, y_test = task.sample(1000, seed=1)
    value = float(model.mutual_information(x_test, y_test))
    assert log.iterations == 0 and model.bound is None
    assert abs(value - task.mutual_information) < 0.1 * task.mutual_information


def _held_out_scores_directly(x, y, ridge=1e-3):
    """The two-fold held-out log-ratio of every (shrinkage to identity, factor, rank), each
    Gaussian fitted from scratch: what the regularisation choice must maximise."""
    from mist_reg.nn.references.gaussian import COVARIANCE_SHRINKAGES

    n = x.shape[0]
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    folds = order[: n // 2], order[n // 2 :]
    factors = torch.linspace(0.5, 1.0, 11, dtype=x.dtype)
    rank = min(x.shape[1], y.shape[1])
    scores = torch.zeros(len(COVARIANCE_SHRINKAGES), len(factors), rank + 1, dtype=x.dtype)
    model = GaussianLogRatio(x.shape[1], y.shape[1], ridge=ridge)
    for j, lam in enumerate(COVARIANCE_SHRINKAGES):
        for train, test in (folds, folds[::-1]):
            mean_x, mean_y, proj_x, proj_y, rho = model._canonical(x[train], y[train], lam)
            a, b = (x[test] - mean_x) @ proj_x, (y[test] - mean_y) @ proj_y
            for i, factor in enumerate(factors):
                r = rho * factor
                terms = -0.5 * torch.log1p(-(r**2)) - r**2 * (a**2 + b**2) / (2 * (1 - r**2)) + r * a * b / (1 - r**2)
                scores[j, i, 1:] += terms.mean(0).cumsum(0)
    j, i, r = (int(v) for v in torch.unravel_index(scores.argmax(), scores.shape))
    return r, float(factors[i]), COVARIANCE_SHRINKAGES[j]


def test_the_regularisation_choice_is_the_best_held_out_fit_of_the_grid():
    # one eigendecomposition per side and fold serves every shrinkage toward the identity
    for task, n in (
        (two_views(24, 3, 1.0), 300),
        (get_task("gaussian-sparse-25x25"), 1500),
        (get_task("gaussian-5x5"), 800),
    ):
        x, y = (z.double() for z in task.sample(n, seed=0))
        chosen = GaussianLogRatio(x.shape[1], y.shape[1])._choose_regularisation(x, y)
        rank, factor, to_identity = _held_out_scores_directly(x, y)
        assert chosen[0] == rank and chosen[1] == pytest.approx(factor) and chosen[2] == pytest.approx(to_identity)


def test_mixed_columns_at_high_mi_model_the_continuous_sides_marginal_by_a_mixture():
    # y linear-Gaussian given the codes of x is a mixture over them: its Gaussian marginal would
    # overstate H(Y) and the MI with it; the mixture of y replaces it where it fits better
    from mist_reg import estimate_mi
    from mist_reg.tasks import MixedColumnsTask

    task = MixedColumnsTask(3, 4, 3, dim_y=3, signal=2.5, noise=0.3, seed=5)  # 7.3 nats
    x, y = task.sample(5000, seed=1)
    mi = estimate_mi(x, y)
    assert mi.estimator_name == "reference_model" and mi.estimator.marginal_side == "y"
    assert mi.estimator.marginal.n_components > 1
    assert abs(float(mi) - task.mutual_information) < 0.1, float(mi)


def test_a_gaussian_marginal_keeps_one_component_and_the_log_ratio_unchanged():
    from mist_reg.estimators.reference_model import ReferenceModelMI
    from mist_reg.nn.references.marginal_mixture import MarginalMixture

    g = torch.Generator().manual_seed(0)
    y = torch.randn(2000, 3, generator=g) @ torch.randn(3, 3, generator=g)
    marginal = MarginalMixture(3)
    marginal.fit(y)
    assert marginal.n_components == 1 and torch.equal(marginal.log_ratio_to_gaussian(y), torch.zeros(2000))
    with pytest.raises(ValueError, match="marginal_side"):
        ReferenceModelMI(GaussianLogRatio(2, 2), marginal_side="z")
    with pytest.raises(ValueError, match="built for 3 columns"):
        marginal.fit(torch.randn(10, 2))


def test_the_marginal_mixture_travels_in_the_state_dict():
    # a ReferenceModelMI rebuilt from a state_dict keeps the marginal's correction
    from mist_reg.estimators.reference_model import ReferenceModelMI

    g = torch.Generator().manual_seed(0)
    codes = torch.randint(0, 3, (3000,), generator=g)
    x = torch.nn.functional.one_hot(codes, 3).float()
    y = 4.0 * codes[:, None].float() + torch.randn(3000, 2, generator=g)
    fitted = ReferenceModelMI(GaussianLogRatio(3, 2), marginal_side="y")
    fitted.initialize(x[:2000], y[:2000])
    assert fitted.marginal.n_components > 1
    restored = ReferenceModelMI(GaussianLogRatio(3, 2), marginal_side="y")
    restored.load_state_dict(fitted.state_dict())
    assert restored.marginal.n_components == fitted.marginal.n_components
    held_out = (x[2000:], y[2000:])
    assert float(restored.mutual_information(*held_out)) == pytest.approx(float(fitted.mutual_information(*held_out)))
    from mist_reg.nn.references.marginal_mixture import MarginalMixture

    with pytest.raises(RuntimeError, match="fit must be called first"):
        MarginalMixture(2).log_ratio_to_gaussian(y)
