"""Tests for mist_reg.estimators: registry, negative sampling, bound wiring, MINE's moving
average, the two ways of building MINE of the torch_mist 0.1.5 API, and short end-to-end training runs."""

from __future__ import annotations

import math

import pytest
import torch
from estimator_contract import (
    CONTRACT_FIT,
    CONTRACT_TASK,
    EXPECTATIONS,
    build,
    check_autocast,
    check_batch_split_invariance,
    check_gradients,
    check_ground_truth,
    check_permutation_invariance,
    check_state_round_trip,
    contract_param,
    gaussian_pair,
    prepare,
)
from torch import nn

from mist_reg import evaluate_mi
from mist_reg.estimators import (
    ESTIMATORS,
    MINE,
    NWJ,
    SMILE,
    AlphaTUBA,
    DiscriminativeEstimator,
    InfoNCE,
    MIEstimator,
    instantiate_estimator,
    list_estimators,
    mine,
    register_estimator,
)
from mist_reg.estimators.factories import ESTIMATION_CRITIC_DEFAULTS
from mist_reg.estimators.negatives import resolve_neg_samples
from mist_reg.estimators.registry import get_entry
from mist_reg.functional import bounds
from mist_reg.nn.critic import JointCritic, SeparableCritic

SEED_TABLE_NAMES = ["nwj", "mine", "infonce", "tuba", "alpha_tuba", "js", "smile", "flo"]


def small_batch(n: int = 12, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = torch.cat([x[:, :1], x[:, 1:2] ** 2], 1) + 0.3 * torch.randn(n, 2, generator=g)
    return x, y


# --------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------


def test_registry_holds_the_discriminative_estimators_of_the_seed():
    names = list_estimators()
    assert names == sorted(names)
    assert set(SEED_TABLE_NAMES) <= set(names)
    assert set(names) == set(ESTIMATORS)


REGISTERED = [  # name, class, bound, has_critic, estimate_defaults (the critic defaults or the hybrid's)
    ("alpha_tuba", "AlphaTUBA", "lower", True, "critic"),
    ("ba", "BA", "lower", False, None),
    ("binned", "Binned", None, False, None),
    ("club", "CLUB", "upper", False, None),
    ("doe", "DoE", None, False, None),
    ("flo", "FLO", "lower", True, "critic"),
    ("gaussian", "GaussianMI", None, False, None),
    ("gaussian_hybrid", "GenerativeHybrid", "lower", False, "hybrid"),
    ("gm", "GM", None, False, None),
    ("infonce", "InfoNCE", "lower", True, "critic"),
    ("js", "JS", "lower", True, "critic"),
    ("kernel", "KernelMI", None, False, None),
    ("l1out", "L1OUT", "upper", False, None),
    ("mine", "MINE", "lower", True, "critic"),
    ("nwj", "NWJ", "lower", True, "critic"),
    ("pq", "PQ", "lower", False, None),
    ("pq_hybrid", "PQHybrid", "lower", True, "critic"),
    ("smile", "SMILE", "lower", True, "critic"),
    ("tuba", "TUBA", "lower", True, "critic"),
]


def test_registry_lists_every_entry_in_order_and_each_is_registered_beside_its_class():
    defaults = {
        None: {},
        "critic": ESTIMATION_CRITIC_DEFAULTS,
        "hybrid": {"hidden_dims": (128, 128, 128), "projection_dim": 32},
    }
    assert list_estimators() == [row[0] for row in REGISTERED]
    for name, cls_name, bound, has_critic, estimate_defaults in REGISTERED:
        entry = get_entry(name)
        assert (entry.cls.__name__, entry.bound, entry.has_critic) == (cls_name, bound, has_critic), name
        assert dict(entry.estimate_defaults) == defaults[estimate_defaults], name
        assert entry.factory.__module__ == entry.cls.__module__, name


@pytest.mark.parametrize("name", list_estimators())
def test_every_registered_estimator_builds_with_a_bound_direction(name):
    estimator = build(name, x_dim=2, y_dim=2, pair=contract_pair())
    assert isinstance(estimator, MIEstimator)
    assert estimator.bound in ("lower", "upper", None)
    if name in SEED_TABLE_NAMES or isinstance(estimator, DiscriminativeEstimator):
        assert estimator.bound == "lower"


# --------------------------------------------------------------------------------------
# The estimator contract (tests/estimator_contract.py), for every registered name
# --------------------------------------------------------------------------------------


def contract_pair():
    return gaussian_pair(CONTRACT_TASK, n=2000, n_test=4096)


def prepared(name: str):
    """The estimator after one training step on the contract task (its data-dependent
    initialisation done), with a batch of 64 held-out samples."""
    pair = contract_pair()
    estimator = prepare(build(name, x_dim=2, y_dim=2, pair=pair), pair.x, pair.y)
    return estimator, pair.x_test[:64], pair.y_test[:64]


def test_every_registered_estimator_states_its_expectations():
    assert sorted(EXPECTATIONS) == list_estimators()


@pytest.mark.parametrize("name", [contract_param(n, "ground_truth") for n in list_estimators()])
def test_contract_ground_truth(name):
    pair = contract_pair()
    low, high = EXPECTATIONS[name].ground_truth
    estimator = build(name, x_dim=2, y_dim=2, pair=pair)
    check_ground_truth(estimator, pair, low, high, **CONTRACT_FIT)


@pytest.mark.parametrize("name", [contract_param(n, "gradients") for n in list_estimators()])
def test_contract_gradients(name):
    estimator, x, y = prepared(name)
    expectation = EXPECTATIONS[name]
    check_gradients(estimator, x, y, expectation.input_gradients, expectation.trains)
    if isinstance(estimator, DiscriminativeEstimator):
        reached = [n for n, p in estimator.named_parameters() if p.grad is not None and float(p.grad.abs().sum()) > 0]
        assert any(n.startswith("critic.") for n in reached), f"no gradient reached the critic of {name}"


@pytest.mark.parametrize("name", [contract_param(n, "autocast") for n in list_estimators()])
def test_contract_autocast(name):
    check_autocast(*prepared(name))


@pytest.mark.parametrize("name", [contract_param(n, "permutation") for n in list_estimators()])
def test_contract_permutation_invariance(name):
    check_permutation_invariance(*prepared(name))


@pytest.mark.parametrize(
    "name", [contract_param(n, "batch_split") for n in list_estimators() if EXPECTATIONS[n].per_sample]
)
def test_contract_batch_split_invariance(name):
    # only estimators made of per-sample terms: the others take negatives (or a marginal,
    # or a kernel fit) from within each batch, so the batch size is part of the estimate
    estimator, _, _ = prepared(name)
    pair = contract_pair()
    check_batch_split_invariance(estimator, pair.x_test[:1024], pair.y_test[:1024], [1024, 256, 100])


@pytest.mark.parametrize("name", [contract_param(n, "state_round_trip") for n in list_estimators()])
def test_contract_state_round_trip(name):
    estimator, x, y = prepared(name)
    check_state_round_trip(
        lambda: build(name, x_dim=2, y_dim=2, pair=contract_pair(), seed=1),
        estimator,
        lambda m: m.mutual_information(x, y),
    )


def test_names_are_case_and_dash_insensitive():
    assert type(instantiate_estimator("Alpha-TUBA", x_dim=2, y_dim=2, hidden_dims=[8])) is AlphaTUBA
    assert type(instantiate_estimator("InfoNCE", x_dim=2, y_dim=2, hidden_dims=[8])) is InfoNCE


def test_unknown_estimator_error_lists_valid_names():
    with pytest.raises(ValueError) as info:
        instantiate_estimator("mutual_info_magic", x_dim=2, y_dim=2)
    message = str(info.value)
    assert "mutual_info_magic" in message
    for name in list_estimators():
        assert name in message
    with pytest.raises(TypeError):
        instantiate_estimator(3, x_dim=2, y_dim=2)


def test_unknown_critic_type_error():
    with pytest.raises(ValueError, match="critic_type") as info:
        instantiate_estimator("nwj", x_dim=2, y_dim=2, hidden_dims=[8], critic_type="bilinear")
    assert "joint" in str(info.value) and "separable" in str(info.value)


def test_critic_type_selects_the_critic_class():
    joint = instantiate_estimator("infonce", x_dim=2, y_dim=3, hidden_dims=[8], critic_type="joint")
    separable = instantiate_estimator("infonce", x_dim=2, y_dim=3, hidden_dims=[8], critic_type="separable")
    assert isinstance(joint.critic, JointCritic) and isinstance(separable.critic, SeparableCritic)
    assert [m.out_features for m in joint.critic.modules() if isinstance(m, nn.Linear)] == [8, 1]


def test_register_estimator_refuses_duplicates():
    with pytest.raises(ValueError, match="already registered"):
        register_estimator("nwj")(lambda **kw: None)
    assert "nwj" in ESTIMATORS


def test_estimator_constructor_validation():
    with pytest.raises(TypeError, match="Critic"):
        NWJ(critic=nn.Linear(3, 1))
    critic = JointCritic(nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 1)))
    with pytest.raises(TypeError, match="neg_samples"):
        NWJ(critic, neg_samples=2.5)
    with pytest.raises(ValueError, match="tau"):
        SMILE(critic, tau=0.0)
    with pytest.raises(ValueError, match="alpha"):
        AlphaTUBA(critic, baseline=nn.Linear(3, 1), alpha=1.2)


def test_input_validation_names_the_problem():
    estimator = instantiate_estimator("nwj", x_dim=3, y_dim=2, hidden_dims=[8])
    x, y = small_batch()
    with pytest.raises(ValueError, match="same number of samples"):
        estimator(x, y[:-1])
    with pytest.raises(ValueError, match=r"shape \[N, x_dim\]"):
        estimator(x[:, 0], y)
    with pytest.raises(TypeError, match="floating-point"):
        estimator(x.long(), y)
    with pytest.raises(ValueError, match="at least 2"):
        estimator(x[:1], y[:1])


# --------------------------------------------------------------------------------------
# Negative sampling
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "neg_samples,batch,expected",
    [(5, 10, 5), (1, 2, 1), (0, 10, 9), (0, 2, 1), (-3, 10, 7), (-9, 10, 1), (20, 10, 9), (9, 10, 9)],
)
def test_resolve_neg_samples(neg_samples, batch, expected):
    assert resolve_neg_samples(neg_samples, batch) == expected


@pytest.mark.parametrize("neg_samples,batch", [(-10, 10), (-11, 10), (0, 1), (3, 1), (3, 0)])
def test_resolve_neg_samples_errors(neg_samples, batch):
    with pytest.raises(ValueError):
        resolve_neg_samples(neg_samples, batch)


def index_data(n: int):
    """x = 1 and y_j = j: with the dot-product critic the score of (x_i, y_j) is j."""
    return torch.ones(n, 1), torch.arange(n, dtype=torch.float32).unsqueeze(1)


def identity_critic() -> SeparableCritic:
    return SeparableCritic(nn.Identity(), nn.Identity())


@pytest.mark.parametrize("neg_samples", [1, 3, 7, -2])
def test_negatives_never_pair_a_row_with_its_own_y(neg_samples):
    n = 10
    torch.manual_seed(0)
    estimator = NWJ(identity_critic(), neg_samples=neg_samples)
    x, y = index_data(n)
    for _ in range(5):
        positive, negative = estimator.scores(x, y)
        m = resolve_neg_samples(neg_samples, n)
        assert negative.shape == (n, m)
        assert negative.dtype == torch.float32
        partners = negative.long()
        rows = torch.arange(n).unsqueeze(1)
        torch.testing.assert_close(positive, torch.arange(n, dtype=torch.float32))
        assert not bool((partners == rows).any()), "a row was paired with its own y"
        for row in partners:
            assert len(set(row.tolist())) == m, "negatives of a row repeat"
        # every y serves as a negative equally often
        assert torch.bincount(partners.flatten(), minlength=n).tolist() == [m] * n


@pytest.mark.parametrize("neg_samples", [0, 50])
def test_all_other_samples_are_negatives(neg_samples):
    n = 6
    estimator = InfoNCE(identity_critic(), neg_samples=neg_samples)
    positive, negative = estimator.scores(*index_data(n))
    assert negative.shape == (n, n - 1)
    for i, row in enumerate(negative.long().tolist()):
        assert sorted(row) == [j for j in range(n) if j != i]


def test_joint_critic_negatives_match_pairs():
    # A joint critic whose score identifies the pair: f(x, y) = 100 x + y.
    net = nn.Linear(2, 1)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[100.0, 1.0]]))
        net.bias.zero_()
    estimator = NWJ(JointCritic(nn.Sequential(net, nn.Identity())), neg_samples=4)
    n = 9
    x = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    torch.manual_seed(0)
    positive, negative = estimator.scores(x, x.clone())
    torch.testing.assert_close(positive, 101 * torch.arange(n, dtype=torch.float32))
    rows, partners = (negative // 100).long(), (negative % 100).long()
    assert negative.shape == (n, 4)
    assert torch.equal(rows, torch.arange(n).unsqueeze(1).expand(-1, 4))
    assert not bool((partners == rows).any())


def test_batch_of_one_is_rejected():
    estimator = NWJ(identity_critic(), neg_samples=0)
    with pytest.raises(ValueError, match="at least 2"):
        estimator(torch.ones(1, 1), torch.ones(1, 1))


# --------------------------------------------------------------------------------------
# Each estimator computes its bound on the critic's scores
# --------------------------------------------------------------------------------------


def _manual_scores(estimator, x, y):
    matrix = estimator.critic.score_matrix(x, y)
    n = matrix.shape[0]
    mask = ~torch.eye(n, dtype=torch.bool)
    return matrix.diagonal(), matrix[mask].reshape(n, n - 1)


@pytest.mark.parametrize("name", SEED_TABLE_NAMES)
def test_estimate_equals_bound_on_critic_scores(name):
    torch.manual_seed(0)
    estimator = instantiate_estimator(name, x_dim=3, y_dim=2, hidden_dims=[16], neg_samples=0)
    x, y = small_batch(10)
    with torch.no_grad():
        pos, neg = _manual_scores(estimator, x, y)
        if name == "nwj":
            expected = bounds.nwj(pos, neg)
        elif name == "infonce":
            expected = bounds.infonce(pos, neg)
        elif name == "mine":
            expected = bounds.donsker_varadhan(pos, neg)
        elif name == "js":
            expected = bounds.nwj(pos + 1, neg + 1)
        elif name == "smile":
            expected = bounds.smile(pos, neg, estimator.tau)
        elif name == "tuba":
            expected = bounds.tuba(pos, neg, estimator.baseline(x))
        elif name == "alpha_tuba":
            expected = bounds.alpha_tuba(pos, neg, estimator.baseline(x), estimator.alpha)
        else:
            expected = bounds.flo(pos, neg, estimator.baseline(x, y))
        estimator.eval()
        value = float(estimator.mutual_information(x, y))
    assert value == pytest.approx(float(expected.value()), abs=1e-5)


def test_training_objectives_differ_where_documented():
    torch.manual_seed(0)
    x, y = small_batch(10)
    js = instantiate_estimator("js", x_dim=3, y_dim=2, hidden_dims=[16])
    smile = instantiate_estimator("smile", x_dim=3, y_dim=2, hidden_dims=[16], tau=1.0)
    mine_est = instantiate_estimator("mine", x_dim=3, y_dim=2, hidden_dims=[16])
    with torch.no_grad():
        pos, neg = _manual_scores(js, x, y)
        assert float(js(x, y)) == pytest.approx(-float(bounds.js_divergence(pos, neg)), abs=1e-5)
        pos, neg = _manual_scores(smile, x, y)
        # SMILE reports the clipped DV value but trains with the JS gradient
        assert float(smile(x, y)) == pytest.approx(-float(bounds.smile(pos, neg, 1.0).value()), abs=1e-5)
        pos, neg = _manual_scores(mine_est, x, y)
        assert float(mine_est(x, y)) == pytest.approx(-float(bounds.donsker_varadhan(pos, neg).value()), abs=1e-5)


# --------------------------------------------------------------------------------------
# MINE's moving average
# --------------------------------------------------------------------------------------


def test_mine_log_ema_updates_in_train_mode_only():
    torch.manual_seed(0)
    gamma = 0.7
    estimator = mine(x_dim=3, y_dim=2, hidden_dims=[16], gamma=gamma)
    assert math.isnan(float(estimator.log_ema))
    x1, y1 = small_batch(8, seed=1)
    x2, y2 = small_batch(8, seed=2)
    with torch.no_grad():
        lme1 = float(bounds.logmeanexp(_manual_scores(estimator, x1, y1)[1]))
        lme2 = float(bounds.logmeanexp(_manual_scores(estimator, x2, y2)[1]))

    estimator.eval()
    estimator(x1, y1)
    assert math.isnan(float(estimator.log_ema)), "eval mode must not touch the moving average"

    estimator.train()
    estimator(x1, y1)
    assert float(estimator.log_ema) == pytest.approx(lme1, abs=1e-5)
    estimator(x2, y2)
    expected = math.log(gamma * math.exp(lme1) + (1 - gamma) * math.exp(lme2))
    assert float(estimator.log_ema) == pytest.approx(expected, abs=1e-5)

    estimator.eval()
    estimator(x1, y1)
    evaluate_mi(estimator, x=x1, y=y1, batch_size=4)
    assert float(estimator.log_ema) == pytest.approx(expected, abs=1e-5)
    assert "log_ema" in estimator.state_dict()


def test_mine_gamma_one_keeps_the_first_batch():
    torch.manual_seed(0)
    estimator = mine(x_dim=3, y_dim=2, hidden_dims=[16], gamma=1.0)
    x1, y1 = small_batch(8, seed=1)
    estimator(x1, y1)
    first = float(estimator.log_ema)
    estimator(*small_batch(8, seed=2))
    assert float(estimator.log_ema) == pytest.approx(first, abs=1e-7)


@pytest.mark.parametrize("gamma", [0.0, -0.5, 1.5])
def test_mine_gamma_validation(gamma):
    with pytest.raises(ValueError, match="gamma"):
        mine(x_dim=3, y_dim=2, hidden_dims=[16], gamma=gamma)


# --------------------------------------------------------------------------------------
# The simplified and advanced instantiation of the torch_mist 0.1.5 API build the same model
# --------------------------------------------------------------------------------------


def test_seed_simplified_and_advanced_instantiation_match():
    x_dim, y_dim = 5, 4
    simplified = mine(x_dim=x_dim, y_dim=y_dim, neg_samples=16, hidden_dims=[32, 32], critic_type="joint")
    critic = JointCritic(
        joint_net=nn.Sequential(
            nn.Linear(x_dim + y_dim, 32),
            nn.ReLU(True),
            nn.Linear(32, 32),
            nn.ReLU(True),
            nn.Linear(32, 1),
        )
    )
    advanced = MINE(critic=critic, neg_samples=16)
    assert type(simplified) is type(advanced)
    assert simplified.neg_samples == advanced.neg_samples == 16
    assert simplified.gamma == advanced.gamma
    shapes = lambda m: [(n, tuple(p.shape)) for n, p in m.named_parameters()]  # noqa: E731
    assert shapes(simplified) == shapes(advanced)
    assert [n for n, _ in simplified.named_buffers()] == [n for n, _ in advanced.named_buffers()]
    # same weights -> same estimates
    advanced.load_state_dict(simplified.state_dict())
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, x_dim, generator=g), torch.randn(40, y_dim, generator=g)
    simplified.eval()
    advanced.eval()
    with torch.no_grad():
        torch.manual_seed(3)
        a = float(simplified.mutual_information(x, y))
        torch.manual_seed(3)
        b = float(advanced.mutual_information(x, y))
    assert a == pytest.approx(b, abs=1e-6)


# --------------------------------------------------------------------------------------
# Short training runs on a task with known MI
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SEED_TABLE_NAMES)
def test_short_training_learns_a_lower_bound(name):
    # Joint critic [64, 64], 16 negatives per row, 200 steps of batch 64 at lr 3e-3:
    # estimates on held-out samples land at 0.72-0.99 for a true MI of 1.0 (checked over
    # three seeds for each estimator), so the window below leaves a wide margin.
    pair = gaussian_pair("gaussian-5x5", n=2000, n_test=2000)
    torch.manual_seed(0)
    estimator = instantiate_estimator(name, x_dim=5, y_dim=5, hidden_dims=[64, 64], critic_type="joint", neg_samples=16)
    # with the default validation split and early stopping, as a user's call has them
    settings = dict(batch_size=64, max_iterations=200, lr=3e-3, eval_every=50, valid_percentage=0.1)
    check_ground_truth(estimator, pair, 0.5 - pair.mutual_information, 0.1, eval_batch_size=100, **settings)
