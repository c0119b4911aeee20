"""The fairness recipe's UCI Adult loader, the baseline penalties (gradient reversal,
confusion, MMD) on tiny tensors, and a tiny end-to-end comparison of methods on Adult."""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import replace

import pytest
import torch
from recipe_utils import load_recipe

from recipes.common.adult import SHA256, SHIPPED_DIR, find_adult_files, load_adult, read_adult_text
from recipes.common.adversary import AdversaryPenalty, reverse_gradient
from recipes.common.confusion import ConfusionPenalty
from recipes.common.mmd import mmd_penalty
from recipes.common.run import command_line

fairness = load_recipe("fairness")

HEADER = "|1x3 Cross validator\n"
TRAIN_ROWS = [
    "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, United-States, <=50K",
    "50, Self-emp-not-inc, 83311, Bachelors, 13, Married-civ-spouse, Exec-managerial, Husband, White, Male, 0, 0, 13, United-States, >50K",
    "38, Private, 215646, HS-grad, 9, Divorced, Handlers-cleaners, Not-in-family, Black, Female, 0, 0, 40, United-States, <=50K",
    "53, ?, 234721, 11th, 7, Married-civ-spouse, ?, Husband, Black, Male, 0, 0, 40, United-States, <=50K",
    "28, Private, 338409, Bachelors, 13, Married-civ-spouse, Prof-specialty, Wife, Black, Female, 0, 1902, 40, Cuba, >50K",
]
TEST_ROWS = [
    "25, Private, 226802, 11th, 7, Never-married, Machine-op-inspct, Own-child, Black, Male, 0, 0, 40, United-States, <=50K.",
    "38, Private, 89814, HS-grad, 9, Married-civ-spouse, Farming-fishing, Husband, White, Female, 0, 0, 50, ?, <=50K.",
    "44, Private, 160323, Some-college, 10, Married-civ-spouse, Tech-support, Husband, Asian-Pac-Islander, Female, 7688, 0, 40, Peru, >50K.",
    "18, Private, 103497, Some-college, 10, Never-married, Prof-specialty, Own-child, White, Male, 0, 0, 30, United-States, <=50K.",
]


def write_adult(folder, train=TRAIN_ROWS, test=TEST_ROWS, compress=False):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("adult.data", "\n".join(train) + "\n\n"), ("adult.test", HEADER + "\n".join(test) + "\n")):
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(text.encode()))
        else:
            (folder / name).write_text(text)
    return folder


# -- the loader ---------------------------------------------------------------------------


def test_adult_loader_on_a_few_rows(tmp_path):
    data, s_train, s_test = load_adult(write_adult(tmp_path / "adult"), sensitive="sex")
    # the '?' rows are dropped (one of 5 training rows, one of 4 test rows)
    assert data.train_inputs.shape[0] == 4 and data.test_inputs.shape[0] == 3
    assert data.train_labels.tolist() == [0, 1, 0, 1]
    assert data.test_labels.tolist() == [0, 1, 0]  # the full stops of adult.test are removed
    assert s_train.tolist() == [1, 1, 0, 0] and s_test.tolist() == [1, 0, 1]  # 1 = male
    names = data.feature_names
    assert not any(n.startswith("sex") for n in names)  # S is not an input
    assert "race=White" in names and "race=Asian-Pac-Islander" not in names  # levels from the training rows
    assert data.train_inputs.shape[1] == len(names)
    # a test level never seen in training encodes as all zeros
    race = [i for i, n in enumerate(names) if n.startswith("race=")]
    assert data.test_inputs[1, race].tolist() == [0.0, 0.0]
    country = [i for i, n in enumerate(names) if n.startswith("native-country=")]
    assert data.test_inputs[1, country].sum() == 0  # Peru
    # numeric columns standardised with the training statistics; capital-gain after log1p
    age = names.index("age")
    ages = torch.tensor([39.0, 50.0, 38.0, 28.0])
    assert data.train_inputs[:, age].tolist() == pytest.approx(((ages - ages.mean()) / ages.std()).tolist(), abs=1e-5)
    gain = names.index("capital-gain")
    logs = torch.tensor([math.log1p(2174), 0.0, 0.0, 0.0])
    expected = (math.log1p(7688) - logs.mean()) / logs.std()
    assert float(data.test_inputs[1, gain]) == pytest.approx(float(expected), abs=1e-5)
    assert data.train_inputs[:, gain].mean().abs() < 1e-6

    race_data, r_train, r_test = load_adult(tmp_path / "adult", sensitive="race")
    assert r_train.tolist() == [1, 1, 0, 0] and r_test.tolist() == [0, 0, 1]  # 1 = white
    assert not any(n.startswith("race") for n in race_data.feature_names)
    assert any(n.startswith("sex") for n in race_data.feature_names)

    # the first rows only, from gzip copies in an adult/ sub-folder
    write_adult(tmp_path / "gz" / "adult", compress=True)
    few, s_few, _ = load_adult(tmp_path / "gz", max_rows=3)
    assert few.train_inputs.shape[0] == 3 and few.test_inputs.shape[0] == 3 and s_few.tolist() == [1, 1, 0]


def test_adult_loader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="adult.data and adult.test.*omit --data-dir"):
        load_adult(tmp_path)
    with pytest.raises(ValueError, match="valid choices: sex, race, race5, age"):
        load_adult(sensitive="income")
    bad = list(TRAIN_ROWS)
    bad[1] = bad[1].replace(">50K", "50K+")
    with pytest.raises(ValueError, match="line 2: income must be"):
        load_adult(write_adult(tmp_path / "bad", train=bad))
    with pytest.raises(ValueError, match="line 3: expected 15"):
        load_adult(write_adult(tmp_path / "short", train=TRAIN_ROWS[:2] + ["1, 2, 3"]))
    only_men = [r for r in TRAIN_ROWS if "Female" not in r]
    with pytest.raises(ValueError, match="single value of sex"):
        load_adult(write_adult(tmp_path / "men", train=only_men))


def test_shipped_copy_matches_the_original_checksums(tmp_path):
    paths = find_adult_files(None)
    assert paths["adult.data"] == SHIPPED_DIR / "adult.data.gz"
    text = read_adult_text(paths["adult.test"], SHA256["adult.test"])
    assert text.startswith("|1x3 Cross validator") and len(text.splitlines()) >= 16281
    assert len(read_adult_text(paths["adult.data"], SHA256["adult.data"]).splitlines()) >= 32561
    readme = (SHIPPED_DIR / "README.md").read_text()
    assert all(digest in readme for digest in SHA256.values()) and "10.24432/C5XW20" in readme and "CC BY 4.0" in readme
    # a copy that differs by one byte is refused
    corrupted = tmp_path / "adult.test.gz"
    corrupted.write_bytes(gzip.compress(text.replace("<=50K.", "<=50K ", 1).encode()))
    with pytest.raises(ValueError, match="does not match the original file: sha256"):
        read_adult_text(corrupted, SHA256["adult.test"])


# -- the penalties ------------------------------------------------------------------------


def test_gradient_reversal_flips_the_sign():
    torch.manual_seed(0)
    z, s = torch.randn(32, 4, requires_grad=True), torch.randint(0, 2, (32,))
    penalty = AdversaryPenalty(4, n_classes=2, weight=2.5)
    penalty(z, s).backward()
    reversed_grad = z.grad.clone()
    adversary_grads = [p.grad.clone() for p in penalty.net.parameters()]
    z.grad, plain = None, torch.nn.functional.cross_entropy(penalty.net(z), s)
    penalty.zero_grad()
    plain.backward()
    # the encoder gets -weight times the gradient; the adversary its own, at unit scale
    assert torch.allclose(reversed_grad, -2.5 * z.grad, atol=1e-6)
    assert all(torch.allclose(a, p.grad, atol=1e-6) for a, p in zip(adversary_grads, penalty.net.parameters()))
    t = torch.ones(2, requires_grad=True)
    (3 * reverse_gradient(t, 0.5)).sum().backward()
    assert t.grad.tolist() == [-1.5, -1.5]


def test_mmd_falls_when_the_groups_move_together():
    g = torch.Generator().manual_seed(0)
    s = torch.arange(200) % 2
    z = torch.randn(200, 3, generator=g) + 1.5 * s[:, None]
    far, near = float(mmd_penalty(z, s)), float(mmd_penalty(z - 1.0 * s[:, None], s))
    same = float(mmd_penalty(torch.randn(200, 3, generator=g), s))
    assert far > near > same >= 0.0
    # rescaling Z does not change it (batch standardisation), so shrinking Z cannot hide S
    assert float(mmd_penalty(0.01 * z, s)) == pytest.approx(far, rel=1e-4)
    # a gradient step on Z moves the groups together: the means get closer and the MMD falls
    z = z.clone().requires_grad_(True)
    mmd_penalty(z, s).backward()
    moved = (z - 0.5 * z.grad / z.grad.norm() * math.sqrt(200)).detach()
    gap = lambda t: float((t[s == 1].mean(0) - t[s == 0].mean(0)).norm())  # noqa: E731
    assert gap(moved) < gap(z.detach()) and float(mmd_penalty(moved, s)) < far
    assert float(mmd_penalty(z.detach(), torch.zeros(200, dtype=torch.long))) == 0.0


def test_confusion_pushes_q_towards_the_prior():
    torch.manual_seed(0)
    s = torch.arange(256) % 2
    z = torch.randn(256, 4) + 2.0 * s[:, None]
    penalty = ConfusionPenalty(4, prior=torch.tensor([0.5, 0.5]), weight=1.0)
    optimizer = torch.optim.Adam(penalty.q.parameters(), lr=1e-2)
    penalty.fit_q(z, s, optimizer, steps=100)
    assert float(penalty.last_q_loss) < 0.3  # q reads S from z
    z = z.requires_grad_(True)
    term = penalty(z, s)
    term.backward()
    assert all(p.grad is None for p in penalty.q.parameters())  # the encoder's term leaves q alone
    assert float(term.detach()) > math.log(2) + 0.1  # a confident q is far from the prior
    step = (z - 0.05 * z.grad / z.grad.abs().max()).detach()
    assert float(penalty(step, s)) < float(term.detach())  # the encoder's gradient makes q less certain
    # the minimum, q = prior everywhere, is H(prior)
    flat = ConfusionPenalty(4, prior=torch.tensor([0.7, 0.3]))
    torch.nn.init.zeros_(flat.q[-1].weight)
    with torch.no_grad():
        flat.q[-1].bias.copy_(torch.tensor([0.7, 0.3]).log())
    entropy = -(0.7 * math.log(0.7) + 0.3 * math.log(0.3))
    assert float(flat(torch.randn(8, 4))) == pytest.approx(entropy, abs=1e-5)


# -- end to end ---------------------------------------------------------------------------


def test_adult_comparison_end_to_end(tmp_path):
    out = tmp_path / "adult"
    argv = [
        "--data",
        "adult",
        "--max-rows",
        "600",
        "--out",
        str(out),
        "--threads",
        "1",
        "--no-progress",
        "--steps",
        "30",
        "--batch-size",
        "64",
        "--log-every",
        "10",
        "--leakage-every",
        "15",
        "--leakage-rows",
        "300",
        "--seeds",
        "0,1",
        "--weights-mi",
        "1",
        "--weights-club",
        "1",
        "--weights-club-learned",
        "1",
        "--weights-adversary",
        "1,3",
        "--weights-confusion",
        "1",
        "--weights-mmd",
        "100",
        "--weights-gaussian",
        "1",
        "--weights-hsic",
        "100",
        "--readers",
        "linear",
    ]
    summary = fairness.main(argv)
    methods = summary["methods"]
    assert list(methods) == list(fairness.METHODS)
    assert list(methods) == ["none", "mi", "gaussian", "club", "club_learned", "adversary", "confusion", "mmd", "hsic"]
    assert [r["weight"] for r in methods["adversary"]] == [1.0, 3.0]
    for rows in methods.values():
        for row in rows:
            assert row["seeds"] == [0, 1]
            for name in fairness.METRICS:
                assert math.isfinite(row[name]) and math.isfinite(row[f"{name}_se"]) and row[f"{name}_se"] >= 0
            assert 0.0 <= row["mlp_accuracy"] <= 1.0 and 0.0 <= row["dp_gap"] <= 1.0
    assert len(summary["runs"]) == 2 * 10  # nine methods, two adversary weights
    assert summary["s_chance"] == pytest.approx(summary["runs"][0]["leakage"]["chance"], abs=0.1)
    assert (out / "plots" / "methods_tradeoff.png").stat().st_size > 1000
    table = (out / "summary.md").read_text()
    assert "| mmd | 100 |" in table and "±" in table
    # the leakage checks during training are in the metrics log
    records = [
        json.loads(line) for line in (out / "mi" / "seed_1" / "weight_1" / "metrics.jsonl").read_text().splitlines()
    ]
    checks = [r for r in records if r.get("check") == "leakage"]
    assert [r["step"] for r in checks] == [15, 30] and all(0 <= r["leakage_accuracy"] <= 1 for r in checks)
    # the LeakageMonitor is read at every check and at the end, and ranked against the readers
    assert all(0 <= r["monitor_accuracy"] <= 1 and math.isfinite(r["monitor_mi"]) for r in checks)
    assert all(len(r["checks"]) == 2 and 0 <= r["monitor_accuracy"] <= 1 for r in summary["runs"])
    assert set(summary["monitor_tracking"]) == {"final", "final_mi", "checks", "checks_mi", "checks_information"}
    assert all(-1 <= v <= 1 for v in summary["monitor_tracking"].values())
    assert "LeakageMonitor" in table
    assert [r["step"] for r in records if "loss" in r] == [10, 20, 30]
    # the MI penalties: the kernel and Gaussian models refitted on every batch (nothing to
    # train), and the learned categorical q of the adversarial game
    config = fairness.parse_config(fairness.AdultFairnessConfig, ["--max-rows", "600"])
    task = fairness.load_task(config)
    assert type(fairness.MethodModel(config, task, "mi", 1.0).penalty.estimator).__name__ == "KernelMI"
    assert type(fairness.MethodModel(config, task, "gaussian", 1.0).penalty.estimator).__name__ == "GaussianMI"
    club = fairness.MethodModel(config, task, "club", 1.0).penalty.estimator
    assert type(club.q_y_given_x).__name__ == "BatchByType" and sum(p.numel() for p in club.parameters()) == 0
    learned = fairness.MethodModel(config, task, "club_learned", 1.0).penalty
    assert type(learned.estimator.q_y_given_x).__name__ == "ConditionalCategorical"
    assert sum(p.numel() for p in learned.parameters()) > 0
    # a second call finds every run finished and trains nothing
    again = fairness.main(argv)
    assert again["methods"]["mmd"][0]["task_accuracy"] == methods["mmd"][0]["task_accuracy"]


def test_adult_defaults_and_option_errors(tmp_path):
    config = fairness.parse_config(fairness.config_class(["--data", "adult"]), ["--data", "adult"])
    assert (config.steps, config.batch_size, config.lr, config.z_dim, config.hidden) == (3000, 256, 1e-3, 8, (64, 64))
    assert config.methods == fairness.METHODS and config.seeds == (0, 1, 2) and config.sensitive == "sex"
    assert fairness.config_class([]) is fairness.FairnessConfig
    bad = fairness.FairnessConfig(methods=("mmd",), weights_mmd=(-1.0, 1.0))
    assert "--weights-mmd must list finite weights >= 0" in fairness.check_config(bad, continuous=False)
    assert fairness.method_weights(fairness.FairnessConfig(weights=(0.0,)), "mmd") == (0.0,)  # --weights honoured
    with pytest.raises(ValueError, match="--methods must list distinct methods from none, mi"):
        fairness.main(
            [
                "--data",
                "adult",
                "--max-rows",
                "300",
                "--out",
                str(tmp_path / "x"),
                "--methods",
                "none,dann",
                "--no-progress",
            ]
        )


def test_digits_comparison_runs_every_method(tmp_path):
    summary = fairness.main(
        [
            "--methods",
            ",".join(fairness.METHODS),
            "--out",
            str(tmp_path / "d"),
            "--threads",
            "1",
            "--no-progress",
            "--image-size",
            "8",
            "--width",
            "4",
            "--steps",
            "6",
            "--batch-size",
            "32",
            "--log-every",
            "3",
            "--leakage-every",
            "0",
            "--weights-mi",
            "1",
            "--weights-club",
            "1",
            "--weights-club-learned",
            "1",
            "--weights-adversary",
            "1",
            "--weights-confusion",
            "1",
            "--weights-mmd",
            "1",
            "--weights-gaussian",
            "1",
            "--weights-hsic",
            "1",
        ]
    )
    assert list(summary["methods"]) == list(fairness.METHODS)
    assert (
        summary["sensitive"] == "tint" and 0.7 < summary["s_from_label"] < 0.9
    )  # the tint follows the label group at rate 0.8
    assert all(math.isfinite(rows[0]["mlp_accuracy"]) for rows in summary["methods"].values())


def test_bad_options_are_one_line_errors_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "never"
    for options in (["--weights=-1"], ["--estimator", "bogus"], ["--rate", "2"], ["--weights", "nan"],
                    ["--batch-size", "1"], ["--data", "adult", "--sensitive", "age", "--methods", "mmd"]):  # fmt: skip
        try:
            code = command_line(fairness.main, ["--out", str(out), *options])
        except SystemExit as stop:  # the option parser's own exit
            code = stop.code
        assert code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and ": error: " in err[0]
        assert not out.exists()
    (tmp_path / "file").write_text("a user's file")
    with pytest.raises((ValueError, SystemExit), match="is a file|2"):
        command_line(fairness.main, ["--out", str(tmp_path / "file")])
    assert (tmp_path / "file").read_text() == "a user's file"


def test_adult_attributes_of_every_kind():
    config = fairness.parse_config(fairness.AdultFairnessConfig, ["--max-rows", "400"])
    race5 = fairness.load_task(replace(config, sensitive="race5"))
    assert race5.s_classes == 5 and race5.s_train.dtype == torch.int64
    age = fairness.load_task(replace(config, sensitive="age"))
    assert age.continuous and abs(float(age.s_train.mean())) < 1e-5 and float(age.s_train.std()) == pytest.approx(1.0)
