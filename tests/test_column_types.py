"""Column types: which columns estimate_mi reads as discrete, the plug-in estimate of a discrete
pair against exact truths, and the routes and encodings that follow from the types."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from mist_reg import estimate_mi
from mist_reg.estimation.column_types import read_side
from mist_reg.estimation.discrete_estimate import held_out_table_bound, plugin_mi
from mist_reg.estimation.typed_pair import read_pair
from mist_reg.tasks import GaussianMixtureLabelTask, dense_gaussian


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _shifted_pair(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """x uniform on 4 values, y = x + (0 or 1) mod 4: I = log 4 - log 2 = log 2 exactly."""
    g = _generator(seed)
    x = torch.randint(0, 4, (n,), generator=g)
    return x, (x + torch.randint(0, 2, (n,), generator=g)) % 4


# ------------------------------------------------------------------------------------------------
# the rule


@pytest.mark.parametrize(
    "values, discrete",
    [
        (torch.randint(0, 3, (200,)), (0,)),  # integers: codes
        (torch.rand(200) < 0.5, (0,)),  # booleans
        (np.array(["a", "b"] * 100), (0,)),  # strings
        (torch.tensor([0.0, 1.0] * 100), (0,)),  # a float label
        (torch.randn(200), ()),  # a measurement
        (torch.arange(200) % 25 * 0.5, ()),  # 25 float values: more than 20, a quantised measurement
        (torch.arange(1000) % 50 * 0.5, ()),  # 50 values a half apart, 20 rows each: quantised too
        (torch.arange(1000) % 50 * 1.0, (0,)),  # 50 whole numbers as floats, 20 rows each: labels
        (torch.arange(200), ()),  # 200 distinct integers in 200 samples: a number (with a warning)
    ],
    ids=["int", "bool", "str", "float-label", "float", "quantised", "quantised-50", "float-codes", "identifier"],
)
def test_the_rule_reads_codes_as_discrete_and_measurements_as_continuous(values, discrete):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        side = read_side(values, "x")
    assert side.discrete == discrete
    if discrete:
        assert side.levels[0] == len(np.unique(np.asarray(values)))
    if isinstance(values, torch.Tensor) and values.dtype == torch.int64 and not discrete:
        assert any("discrete_x=True" in str(w.message) for w in caught)


def test_many_valued_integer_columns_are_codes_while_the_rows_can_fit_their_indicators():
    pixels = torch.randint(0, 256, (5000, 3), dtype=torch.uint8)  # 256 values per column, 20 rows each
    with pytest.warns(RuntimeWarning, match=r"3 integer column\(s\) of x \(0, 1, 2\) take more than 20 values"):
        assert read_side(pixels, "x").discrete == ()  # 768 values in all, one per 6.5 rows: measurements
    category = torch.randint(0, 30, (5000, 1))  # an integer side: a category of 30 values, a count, a flag
    side = read_side(torch.cat([torch.randint(0, 60, (5000, 1)), category, pixels[:, :1].long() % 4], 1), "x")
    assert side.discrete == (0, 1, 2) and side.levels == (60, 30, 4)  # 90 values in all: codes
    assert torch.equal(side.codes[:, 1], category[:, 0])
    assert read_side(pixels.float(), "x").discrete == ()  # stored as floats too
    with pytest.warns(RuntimeWarning, match="512 in all"):  # two of 256 values: numbers; 4 values: a code
        assert read_side(torch.cat([pixels[:, :2], pixels[:, :1] % 4], 1), "x").discrete == (2,)
    assert read_side(pixels[:, :1], "y").discrete == (0,)  # one column of 256 values: labels
    assert read_side(pixels[:, :1].float(), "y").discrete == (0,)  # whatever its dtype
    assert read_side(pixels[:, :1].float() + 0.5, "y").discrete == ()  # not whole numbers: a measurement
    assert read_side(pixels, "x", declared=[0]).discrete == (0,)  # the override still wins


def test_overrides_win_and_are_checked():
    labels_as_floats = torch.tensor([0.0, 1.0, 2.0] * 100)
    assert read_side(labels_as_floats, "y", declared=False).discrete == ()
    rounded = torch.randn(300, 3).mul(2).round()  # a few dozen values, each in several rows
    assert read_side(rounded, "x", declared=[2]).discrete == (2,)
    assert read_side(rounded, "x", declared=True).discrete == (0, 1, 2)
    with pytest.raises(
        ValueError, match=r"column 2 of x is read as classes but 300 of its 300 rows .* discrete_x=False"
    ):
        read_side(torch.randn(300, 3), "x", declared=[2])  # a measurement declared discrete: every value once
    with pytest.raises(ValueError, match=r"column 0 of y is read as classes .* encode it as numbers"):
        read_side(np.array([f"id{i}" for i in range(40)]), "y")  # identifiers as strings
    with pytest.raises(ValueError, match="discrete_x names column 3, but x has 3 column"):
        read_side(torch.randn(300, 3), "x", declared=[3])
    with pytest.raises(ValueError, match="non-numeric values .* cannot be continuous"):
        read_side(np.array(["a", "b"] * 10), "y", declared=False)
    with pytest.raises(ValueError, match=r"y holds a missing value \(None\) at row 1"):
        read_side(np.array(["a", None, "b"] * 10, dtype=object), "y")


def test_a_side_is_categorical_only_with_enough_samples_per_joint_value():
    two_codes = torch.randint(0, 3, (300, 2), generator=_generator())
    assert read_side(two_codes, "x").categorical  # 9 joint values, 33 samples each
    assert not read_side(torch.randint(0, 40, (300,), generator=_generator()), "x", declared=True).categorical


def test_indicators_stand_for_discrete_columns_and_continuous_ones_lead():
    x = torch.stack([torch.randn(300), torch.arange(300.0) % 3, torch.randn(300)], 1)
    pair = read_pair(x, torch.randn(300))
    assert pair.x_types.discrete == (1,) and pair.n_continuous_x == 2
    assert pair.x.shape == (300, 4)  # two measurements, then two indicators of three codes
    assert torch.equal(pair.x[:, :2], x[:, [0, 2]])
    assert torch.equal(pair.x[:, 2:].sum(1), (x[:, 1] > 0).float())


# ------------------------------------------------------------------------------------------------
# the plug-in estimate of a discrete pair


def test_plugin_finds_an_exact_truth_within_its_error_bar():
    x, y = _shifted_pair(4000)
    mi = plugin_mi(x, y)
    assert mi.interval[0] < math.log(2) < mi.interval[1] and abs(float(mi) - math.log(2)) < 0.01


def test_plugin_of_independent_codes_is_near_zero_with_an_honest_error_bar():
    g = _generator(1)
    x, y = torch.randint(0, 10, (2000,), generator=g), torch.randint(0, 10, (2000,), generator=g)
    mi = plugin_mi(x, y)
    # Miller-Madow removes the plug-in's (K_x - 1)(K_y - 1) / 2N = 0.020 bias; the chi-square term keeps the bar open
    assert abs(float(mi)) < 0.01 and mi.interval[0] < 0 < mi.interval[1] and mi.standard_error > 0.003


def test_a_sparse_table_gets_an_interval_down_to_its_held_out_bound_which_covers_the_truth():
    # a copy of 100 codes kept half the time, 5,000 samples: most joint cells are seen once,
    # the corrected plug-in stays far above the truth, the held-out bound of the counts below it
    g = _generator(3)
    x = torch.randint(0, 100, (5000,), generator=g)
    y = torch.where(torch.rand(5000, generator=g) < 0.5, x, torch.randint(0, 100, (5000,), generator=g))
    truth = math.log(100) + 0.505 * math.log(0.505) + 99 * 0.005 * math.log(0.005)
    with pytest.warns(RuntimeWarning, match="held-out bound of the counts"):
        mi = plugin_mi(x, y)
    assert float(mi) > truth + 0.3  # what the wider interval is for
    bound, bound_error = held_out_table_bound(x, y)
    assert truth - 0.3 < bound < truth and 0 < bound_error < 0.05
    assert mi.interval[0] < bound - bound_error and mi.interval[0] < truth < mi.interval[1]


def test_the_held_out_bound_of_independent_codes_is_at_most_zero_and_of_a_copy_near_the_entropy():
    g = _generator(4)
    x, y = torch.randint(0, 10, (3000,), generator=g), torch.randint(0, 10, (3000,), generator=g)
    assert -0.02 < held_out_table_bound(x, y)[0] <= 0.005
    assert abs(held_out_table_bound(x, x)[0] - math.log(10)) < 0.01
    with pytest.raises(ValueError, match="integer codes"):
        held_out_table_bound(x.float(), y)
    with pytest.raises(ValueError, match="pair row by row"):
        held_out_table_bound(x, y[:-1])


def test_plugin_warns_when_cells_are_sparse():
    g = _generator(2)
    x, y = torch.randint(0, 60, (1000,), generator=g), torch.randint(0, 60, (1000,), generator=g)
    with pytest.warns(RuntimeWarning, match="occupied cells for 1000 samples"):
        plugin_mi(x, y)
    with pytest.raises(ValueError, match="integer codes"):
        plugin_mi(torch.randn(10), torch.randint(0, 2, (10,)))


# ------------------------------------------------------------------------------------------------
# routes and encodings in estimate_mi


def test_two_discrete_sides_take_the_plug_in_whatever_their_codes():
    x, y = _shifted_pair(3000)
    names = np.array(["north", "east", "south", "west"])[x.numpy()]
    for x_given in (x, x + 1990, names, x.double()):
        mi = estimate_mi(x_given, y)
        assert mi.estimator_name == "plug-in" and mi.interval[0] < math.log(2) < mi.interval[1]


def test_test_rows_share_the_codes_of_training_rows():
    x, y = _shifted_pair(3000)
    split = estimate_mi(x[:2000], y[:2000], x_test=x[2000:], y_test=y[2000:])
    assert split.estimator_name == "plug-in" and float(split) == float(estimate_mi(x, y))


def test_mixed_columns_enter_the_critic_as_indicators_not_ranks():
    g = _generator(3)
    codes = torch.randint(0, 4, (1500,), generator=g).float()
    x = torch.stack([torch.randn(1500, generator=g), codes], 1)
    y = x[:, :1] + codes[:, None] + 0.5 * torch.randn(1500, 1, generator=g)
    mi = estimate_mi(x, y, max_iterations=30)
    widths = {m.x_dim for m in mi.estimator.modules() if hasattr(m, "x_dim")}
    assert mi.estimator_name == "mine" and widths == {1 + 3}  # one measurement, three indicators


def test_named_estimators_that_model_labels_receive_class_indices():
    g = _generator(4)
    y = torch.randint(0, 3, (1500,), generator=g)
    x = torch.randn(1500, 2, generator=g) + 2.0 * torch.nn.functional.one_hot(y, 3)[:, :2].float()
    gaussian = estimate_mi(x, y, "gaussian")
    # the class-conditional Gaussian is the exact model here: it must see labels, not one float column
    exact = estimate_mi(x, y, "gaussian", discrete_y=False)
    assert float(gaussian) > float(exact) + 0.05
    mine = estimate_mi(x, y, "mine", max_iterations=5).estimator
    assert {m.y_dim for m in mine.modules() if hasattr(m, "y_dim")} == {2}  # indicators of 3 classes


def test_ties_keep_the_default_off_ksg_and_are_named_when_ksg_is_asked_for():
    x, y = dense_gaussian(1, 1, 0.5).sample(2000, seed=0)
    atom = torch.rand(2000, generator=_generator(5)) < 0.02
    x[atom], y[atom] = -999.0, -999.0  # a missing-value code in both columns
    assert estimate_mi(x, y, max_iterations=20).estimator_name == "mine"
    with pytest.warns(RuntimeWarning, match=r"column 0 of x has a value shared by \d+ of 2000 rows"):
        assert estimate_mi(x, y, "ksg").estimator_name == "ksg"


def test_ksg_on_a_discrete_column_names_the_users_column_not_its_indicators():
    codes = torch.randint(0, 20, (2000, 1), generator=_generator(6)).float()
    y = codes + torch.randn(2000, 1, generator=_generator(7))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimate = estimate_mi(codes, y, "ksg")
    messages = [str(w.message) for w in caught]
    assert messages and all(m.startswith("column 0 of x is read as discrete (20 values)") for m in messages)
    # I(X; X + N(0, 1)) for X uniform on 20 integers: at most the Gaussian value 0.5 log(1 + 399 / 12)
    assert 1.5 < float(estimate) < 0.5 * math.log(1 + 399 / 12)


def test_a_float_column_declared_continuous_is_not_read_as_codes():
    x, y = dense_gaussian(1, 1, 0.8).sample(2000, seed=1)
    coarse = (x * 2).round() / 2  # about 15 values: discrete by the rule
    assert read_side(coarse, "x").discrete == (0,)
    assert estimate_mi(coarse, y, discrete_x=False, max_iterations=20).estimator_name == "mine"


# ------------------------------------------------------------------------------------------------
# the CLI


def _cli_json(args: list[str], capsys) -> dict:
    import json

    from mist_reg.cli.app import main

    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_the_cli_keeps_integer_codes_and_takes_type_options(tmp_path, capsys):
    x, y = _shifted_pair(2000)
    path = tmp_path / "codes.npz"
    np.savez(path, x=x.numpy(), y=y.numpy())
    record = _cli_json(["estimate", str(path), "--json"], capsys)
    assert record["estimator"] == "plug-in" and abs(record["estimate"] - math.log(2)) < 0.02
    floats = tmp_path / "floats.npz"
    np.savez(floats, x=x.numpy().astype(float), y=np.random.default_rng(0).normal(size=2000))
    forced = _cli_json(["estimate", str(floats), "--json", "--discrete-x", "no", "--max-iterations", "5"], capsys)
    assert forced["estimator"] == "mine"


def test_the_cli_reads_a_column_of_text_as_codes(tmp_path, capsys):
    x, y = _shifted_pair(2000)  # I = log 2
    names = np.array(["ant", "bee", "cat", "dog"])
    path = tmp_path / "named.csv"
    rows = [f"{names[a]},{b},{names[b]}" for a, b in zip(x.tolist(), y.tolist())]
    path.write_text("x,y_code,y_name\n" + "\n".join(rows) + "\n")
    by_name = _cli_json(["estimate", str(path), "--x", "x", "--y", "y_name", "--json"], capsys)
    by_code = _cli_json(["estimate", str(path), "--x", "x", "--y", "y_code", "--json"], capsys)
    assert by_name["estimator"] == by_code["estimator"] == "plug-in"
    assert by_name["estimate"] == pytest.approx(by_code["estimate"]) and abs(by_name["estimate"] - math.log(2)) < 0.02


def test_the_cli_refuses_an_unknown_type_option(tmp_path, capsys):
    from mist_reg.cli.app import main

    path = tmp_path / "pair.npz"
    np.savez(path, x=np.zeros(10), y=np.zeros(10))
    assert main(["estimate", str(path), "--discrete-y", "maybe"]) == 2
    assert "expected auto, yes, no or column positions" in capsys.readouterr().err


def test_a_declared_label_column_with_few_rows_per_class_reaches_the_classifier():
    # 150 classes of about four rows each: too few rows per class for class probabilities,
    # enough for a classifier, whose held-out value is a lower bound on the truth
    task = GaussianMixtureLabelTask(150, 4, 4.0, seed=1)
    x, y = task.sample(600, seed=2)
    mi = estimate_mi(x, y.float(), discrete_y=True)
    assert mi.estimator_name.startswith("classifier:") and mi.bound == "lower"
    assert 0.3 * task.mutual_information < float(mi) < task.mutual_information + 3 * mi.standard_error
    assert read_pair(y.float(), x, discrete_x=True).x_types.label_column


def test_a_table_mixing_strings_and_numbers_reads_each_column_by_its_values():
    # x: a measurement independent of y beside a string category; y copies the category with
    # probability 0.8 + 0.2 / 3, else one of the two others: I = log 3 - H(0.8 + 0.2/3, 0.2/3, 0.2/3)
    g = np.random.default_rng(0)
    n = 4000
    category = g.integers(0, 3, n)
    y = np.where(g.random(n) < 0.2, g.integers(0, 3, n), category)
    q = 0.2 / 3
    truth = math.log(3) + (1 - 2 * q) * math.log(1 - 2 * q) + 2 * q * math.log(q)
    table = np.empty((n, 2), dtype=object)
    table[:, 0], table[:, 1] = g.normal(size=n), np.array(["a", "b", "c"])[category]
    side = read_side(table, "x")
    assert side.discrete == (1,) and side.levels == (3,)
    rows = [(float(v), s) for v, s in table]  # a list of rows: numpy would turn the numbers into strings
    codes = np.stack([table[:, 0].astype(float), category], 1)
    estimates = [estimate_mi(v, y) for v in (table, rows, codes)]
    assert float(estimates[0]) == float(estimates[1]) == float(estimates[2])
    assert abs(float(estimates[0]) - truth) <= 0.05 * truth, (float(estimates[0]), truth)
    with pytest.raises(ValueError, match="column 1 of x holds non-numeric values"):
        estimate_mi(table, y, discrete_x=False)


def test_a_pandas_table_is_read_by_its_columns_and_refuses_missing_values():
    import pandas as pd

    g = np.random.default_rng(1)
    n = 3000
    category = g.integers(0, 3, n)
    y = np.where(g.random(n) < 0.2, g.integers(0, 3, n), category)
    table = pd.DataFrame(
        {
            "noise": g.normal(size=n),
            "category": pd.Categorical(np.array(["a", "b", "c"])[category]),
            "flag": g.random(n) < 0.5,
            "count": g.integers(0, 5, n),
        }
    )
    codes = np.stack([table["noise"].to_numpy(), category, table["flag"].to_numpy(), table["count"].to_numpy()], 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no complaint about pandas' read-only arrays
        assert float(estimate_mi(table, pd.Series(y))) == float(estimate_mi(codes, y))
    assert read_side(table.to_numpy(), "x").discrete == (1, 2, 3)
    table.loc[5, "category"] = np.nan
    with pytest.raises(ValueError, match="missing value .* at row 5 of column 1"):
        estimate_mi(table, y)
    nullable = pd.DataFrame({"noise": table["noise"], "count": pd.array(category, dtype="Int64")})
    nullable.loc[7, "count"] = pd.NA
    with pytest.raises(ValueError, match="missing value .* at row 7 of column 1"):
        estimate_mi(nullable, y)
