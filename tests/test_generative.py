"""Tests for the generative and quantized estimators: BA, DoE, GM, L1OUT, CLUB, Binned, PQ.

Estimators are trained with small networks for a few hundred steps on tasks with known
mutual information and evaluated on held-out samples. ``valid_percentage=0`` keeps the last
weights: these estimators are fitted by likelihood, and selecting on the validation
estimate would favour an untrained ``q`` for the upper bounds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from estimator_contract import Samples, check_ground_truth, fit_and_evaluate, gaussian_pair
from torch.distributions import Independent, Normal

import mist_reg
from mist_reg import evaluate_mi, train_mi_estimator
from mist_reg.distributions import ConditionalCategorical, ConditionalGaussian
from mist_reg.estimators import (
    BA,
    CLUB,
    GM,
    L1OUT,
    PQ,
    Binned,
    DoE,
    ba,
    binned,
    club,
    doe,
    gm,
    instantiate_estimator,
    l1out,
    list_estimators,
    pq,
)
from mist_reg.estimators.quantized import plugin_mutual_information
from mist_reg.nn.quantization import KMeansQuantizer, ThresholdQuantizer
from mist_reg.tasks import GaussianTask, get_task

HIDDEN = [32, 32]


FIT = dict(max_iterations=300, batch_size=128, lr=3e-3)  # with valid_percentage=0 (see above)


@pytest.fixture(scope="module")
def gaussian_5x5():
    return gaussian_pair("gaussian-5x5", n=4000, n_test=2048)


def test_ba_is_a_lower_bound_close_to_the_truth(gaussian_5x5):
    torch.manual_seed(0)
    estimator = ba(5, 5, HIDDEN, entropy_y=gaussian_5x5.entropy_y, covariance="full")
    check_ground_truth(estimator, gaussian_5x5, -0.15, 0.05, **FIT)


def test_ba_without_entropy_is_refused():
    with pytest.raises(ValueError, match="BA needs the entropy H\\(Y\\)"):
        ba(2, 2, HIDDEN)
    with pytest.raises(ValueError, match="entropy_y"):
        instantiate_estimator("ba", x_dim=2, y_dim=2)
    with pytest.raises(ValueError, match="finite"):
        BA(ConditionalGaussian(2, 2, [8]), entropy_y=float("nan"))


def test_doe_close_to_the_truth(gaussian_5x5):
    torch.manual_seed(0)
    check_ground_truth(doe(5, 5, HIDDEN, covariance="full"), gaussian_5x5, -0.15, 0.15, **FIT)


def test_gm_close_to_the_truth(gaussian_5x5):
    torch.manual_seed(0)
    estimator = gm(5, 5, HIDDEN)
    check_ground_truth(estimator, gaussian_5x5, -0.1, 0.1, **{**FIT, "max_iterations": 100})
    assert estimator.bound is None


def test_l1out_is_an_upper_bound(gaussian_5x5):
    torch.manual_seed(0)
    check_ground_truth(l1out(5, 5, HIDDEN, covariance="full"), gaussian_5x5, -0.15, 0.3, **FIT)


@pytest.fixture(scope="module")
def sparse_2x2():
    return gaussian_pair((2, 0.5), n=4000, n_test=2048)  # I = -log(0.75) = 0.288


CLUB_EXACT_2X2 = 2 * 0.25 / 0.75  # CLUB of the exact conditional: sum of rho^2 / (1 - rho^2)


@pytest.mark.parametrize("neg_samples", [0, 4])
def test_club_is_an_upper_bound_near_its_exact_value(sparse_2x2, neg_samples):
    truth = sparse_2x2.mutual_information
    torch.manual_seed(0)
    estimator = club(2, 2, HIDDEN, neg_samples=neg_samples)
    value = check_ground_truth(
        estimator, sparse_2x2, CLUB_EXACT_2X2 - truth - 0.12, CLUB_EXACT_2X2 - truth + 0.12, **FIT
    )
    assert value > truth + 0.1  # CLUB is loose here, by theory


def test_club_fits_q_on_detached_inputs_and_its_estimate_is_differentiable():
    torch.manual_seed(0)
    estimator = club(3, 2, [16])
    x = torch.randn(32, 3, requires_grad=True)
    y = torch.randn(32, 2, requires_grad=True)
    loss = estimator(x, y)
    loss.backward()
    assert x.grad is None and y.grad is None  # fitting q never moves the features
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in estimator.parameters())
    estimator.zero_grad()
    estimator.mutual_information(x, y).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert y.grad is not None and y.grad.abs().sum() > 0


@pytest.fixture(scope="module")
def labelled_mixture():
    """Y uniform over 4 classes, X | Y ~ N(mu_Y, I) in 2-D; I(X;Y) and the CLUB value of the
    exact posterior by Monte Carlo."""
    means = torch.tensor([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    generator = torch.Generator().manual_seed(0)

    def sample(n):
        labels = torch.randint(0, 4, (n,), generator=generator)
        return means[labels] + torch.randn(n, 2, generator=generator), labels

    x_mc, _ = sample(200_000)
    log_lik = -0.5 * ((x_mc.unsqueeze(1) - means) ** 2).sum(-1)
    posterior = torch.log_softmax(log_lik, dim=1)
    negative_entropy = float((posterior.exp() * posterior).sum(1).mean())
    truth = math.log(4) + negative_entropy
    club_exact = negative_entropy - float(posterior.mean(1).mean())  # E_p log p(y|x) - E_p(x)p(y) log p(y|x)
    x, labels = sample(4000)
    x_test, labels_test = sample(2048)
    return truth, club_exact, x, labels, x_test, labels_test


def test_categorical_club_and_ba_with_class_index_y(labelled_mixture):
    truth, club_exact, x, labels, x_test, labels_test = labelled_mixture
    torch.manual_seed(0)
    estimator = club(2, 1, HIDDEN, q="categorical", n_classes=4)
    assert isinstance(estimator.q_y_given_x, ConditionalCategorical)
    # class indices as [N] integers, as [N, 1] integers and as [N, 1] floats (the pipeline's form)
    for y in (labels, labels.unsqueeze(1), labels.unsqueeze(1).float()):
        assert torch.isfinite(estimator.mutual_information(x[:64], y[:64]))
    value = fit_and_evaluate(estimator, Samples(x, labels.float(), x_test, labels_test.float()), **FIT)
    assert value > truth + 0.5  # an upper bound, loose by theory here
    assert abs(value - club_exact) < 0.2
    lower_bound = ba(2, 1, HIDDEN, entropy_y=math.log(4), q="categorical", n_classes=4)
    lower = fit_and_evaluate(lower_bound, Samples(x, labels.float(), x_test, labels_test.float()), **FIT)
    assert truth - 0.1 < lower < truth + 0.05
    # differentiable w.r.t. x, not w.r.t. the labels
    xs = x[:32].clone().requires_grad_(True)
    estimator.mutual_information(xs, labels[:32]).backward()
    assert xs.grad.abs().sum() > 0


def test_chunked_pairs_equal_unchunked():
    torch.manual_seed(0)
    q = ConditionalGaussian(3, 2, [16], covariance="full")
    x = torch.randn(40, 3, requires_grad=True)
    y = torch.randn(40, 2)
    for cls in (CLUB, L1OUT):
        values, gradients = [], []
        for max_pairs in (1 << 20, 7, 40):
            estimator = cls(q, max_pairs=max_pairs)
            terms = estimator.terms(x, y)
            value = terms.value()
            gradients.append(torch.autograd.grad(value, [x, *q.parameters()]))
            values.append(terms.per_sample)
        for other, other_grads in zip(values[1:], gradients[1:]):
            assert torch.allclose(values[0], other, atol=1e-5)
            for a, b in zip(gradients[0], other_grads):
                assert torch.allclose(a, b, atol=1e-5)


def test_pairwise_memory_stays_bounded_for_large_batches():
    seen = []

    def q(context):
        seen.append(context.shape[:-1].numel())
        return Independent(Normal(context, torch.ones_like(context)), 1)

    n, max_pairs = 4096, 1 << 16
    x, y = torch.randn(n, 1), torch.randn(n, 1)
    with torch.no_grad():
        estimate = L1OUT(q, max_pairs=max_pairs).mutual_information(x, y)
    assert torch.isfinite(estimate)
    assert max(seen) <= max_pairs and sum(seen) == n * n  # every pair once, in bounded chunks
    seen.clear()
    with torch.no_grad():
        CLUB(q, neg_samples=8, max_pairs=max_pairs).mutual_information(x, y)
    assert max(seen) <= max(max_pairs, n)


def test_binned_plug_in_estimate():
    torch.manual_seed(0)
    pair = gaussian_pair((1, 0.7), n=8000, n_test=4000)
    x, y = pair.x, pair.y
    estimator = binned(1, 1, bins=16)
    check_ground_truth(estimator, pair, -0.08, 0.02, **{**FIT, "max_iterations": 5})
    assert estimator.bound is None
    # with no smoothing, on the fitting samples, it is exactly the plug-in estimate
    exact = Binned(KMeansQuantizer(1, 8), KMeansQuantizer(1, 8), pseudo_count=0.0)
    exact.fit_data(x, y)
    codes_x, codes_y = exact.quantizer_x(x).numpy(), exact.quantizer_y(y).numpy()
    table = np.zeros((8, 8))
    np.add.at(table, (codes_x, codes_y), 1)
    p = table / table.sum()
    outer = p.sum(1, keepdims=True) * p.sum(0, keepdims=True)
    reference = float(np.sum(p[p > 0] * np.log(p[p > 0] / outer[p > 0])))
    assert abs(float(exact.mutual_information(x, y)) - reference) < 1e-5
    assert (
        abs(float(plugin_mutual_information(torch.from_numpy(codes_x), torch.from_numpy(codes_y))) - reference) < 1e-9
    )


def test_binned_fits_lazily_and_refuses_huge_tables():
    estimator = Binned(ThresholdQuantizer([0.0]), ThresholdQuantizer([0.0]))
    x = torch.randn(100, 1)
    assert torch.isfinite(estimator.mutual_information(x, -x))
    with pytest.raises(ValueError, match="unknown quantization"):
        binned(2, 2, quantization="vq")
    huge = binned(8, 8, bins=16, quantization="quantile")
    with pytest.raises(ValueError, match="cells"):
        huge.fit_data(torch.randn(500, 8), torch.randn(500, 8))


def test_pq_lower_bound_on_quantized_y():
    torch.manual_seed(0)
    covariance = torch.tensor([[1.0, 0.0, 0.6], [0.0, 1.0, 0.6], [0.6, 0.6, 1.0]])
    task = GaussianTask(covariance, dim_x=2)  # x 2-D, y 1-D: 16 bins of y lose little
    estimator = pq(2, 1, HIDDEN, n_bins=16)
    check_ground_truth(
        estimator, gaussian_pair(task, n=6000, n_test=2048), -0.12, 0.03, **{**FIT, "max_iterations": 400}
    )
    assert estimator.bound == "lower"


def test_pq_with_a_learned_quantizer_trains():
    torch.manual_seed(0)
    x = torch.randn(1000, 2)
    y = x[:, :1] + 0.3 * torch.randn(1000, 1)
    estimator = pq(2, 1, [16], quantization="vq", n_bins=8)
    before = estimator.quantizer.codebook.detach().clone()
    train_mi_estimator(
        estimator, x=x, y=y, batch_size=100, max_iterations=300, lr=3e-3, valid_percentage=0.0, device="cpu"
    )
    assert not torch.equal(before, estimator.quantizer.codebook.detach())
    codes = estimator.codes(y)
    assert bool(((codes >= 0) & (codes < 8)).all())
    assert evaluate_mi(estimator, x=x, y=y, batch_size=500) > 0.6  # I = 1.25 nats, I(X; Q(Y)) a little less


@pytest.mark.parametrize(
    "make",
    [
        lambda: ba(3, 2, [8], entropy_y=2.0),
        lambda: doe(3, 2, [8]),
        lambda: gm(3, 2, [8]),
        lambda: l1out(3, 2, [8]),
        lambda: club(3, 2, [8]),
        lambda: club(3, 2, [8], neg_samples=3),
        lambda: club(3, 2, [8], q="flow", transforms=1),
        lambda: pq(3, 2, [8], n_bins=4),
    ],
)
def test_mutual_information_is_differentiable_wrt_x(make):
    torch.manual_seed(0)
    estimator = make()
    x = torch.randn(32, 3, requires_grad=True)
    y = torch.randn(32, 2, requires_grad=True)
    if hasattr(estimator, "fit_data"):  # e.g. GM's Gaussians start independent: a constant estimate
        estimator.fit_data(x.detach(), (y + x[:, :2]).detach())
    value = estimator.mutual_information(x, y)
    assert value.shape == () and torch.isfinite(value)
    value.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    if not isinstance(estimator, PQ):  # PQ sees y only through its (discrete) code
        assert y.grad is not None and y.grad.abs().sum() > 0


def test_flow_densities_train_in_doe(sparse_2x2):
    torch.manual_seed(0)
    estimator = doe(2, 2, [16], q="flow", transforms=1)
    check_ground_truth(estimator, sparse_2x2, -0.15, 0.15, **{**FIT, "max_iterations": 200})


def test_registry_and_option_errors():
    names = set(list_estimators())
    assert {"ba", "doe", "gm", "l1out", "club", "binned", "pq"} <= names
    assert isinstance(instantiate_estimator("CLUB", x_dim=2, y_dim=2, hidden_dims=[8]), CLUB)
    assert isinstance(instantiate_estimator("doe", x_dim=2, y_dim=2, hidden_dims=[8]), DoE)
    assert isinstance(instantiate_estimator("gm", x_dim=2, y_dim=2), GM)
    with pytest.raises(ValueError, match="valid values: gaussian, categorical, flow"):
        club(2, 2, q="student")
    with pytest.raises(ValueError, match="valid values: kmeans, quantile, vq"):
        pq(2, 2, quantization="lattice")
    with pytest.raises(ValueError, match="valid values: diagonal, full"):
        l1out(2, 2, covariance="isotropic")
    with pytest.raises(ValueError, match="valid values: gaussian, flow"):
        gm(2, 2, density="categorical")
    with pytest.raises(ValueError, match="at least 2 samples"):
        club(2, 2, [8]).mutual_information(torch.randn(1, 2), torch.randn(1, 2))


def test_estimate_mi_runs_a_generative_estimator_end_to_end():
    x, y = get_task("gaussian-5x5").sample(1000, seed=0)
    truth = get_task("gaussian-5x5").mutual_information
    # q(y | x) refitted in closed form (the exact family here), so CLUB is an upper bound of the truth
    estimate = mist_reg.estimate_mi(x, y, "club", q="batch_gaussian", max_iterations=5)
    assert estimate.bound == "upper" and estimate.estimator_name == "club"
    assert estimate.interval[0] > truth + 1.0
