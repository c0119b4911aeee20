"""End-to-end runs of the recipes on tiny CPU configurations, checking real outcomes, and
unit tests of their shared infrastructure (recipes/common)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from recipe_utils import load_recipe

from recipes.common.augment import Augment
from recipes.common.config import config_from_dict, parse_config
from recipes.common.data import StepBatches, load_images
from recipes.common.models import build_backbone
from recipes.common.probes import binary_auc, knn_probe, linear_probe

contrastive = load_recipe("contrastive")
fairness = load_recipe("fairness")
disentanglement = load_recipe("disentanglement")

FAST = ["--threads", "1", "--no-progress", "--image-size", "8"]


def args(tmp_path, name: str, *extra: str) -> list[str]:
    return ["--out", str(tmp_path / name), *FAST, *extra]


def check_run_folder(folder, sweep: bool = False) -> None:
    assert (
        (folder / "config.json").is_file() and (folder / "summary.json").is_file() and (folder / "summary.md").is_file()
    )
    runs = sorted(folder.glob("weight_*")) if sweep else [folder]
    assert runs
    for run in runs:
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert [r["step"] for r in records] == sorted({r["step"] for r in records}) and records
        assert all(math.isfinite(r["loss"]) for r in records)
        checkpoint = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
        assert checkpoint["step"] == records[-1]["step"]
        assert (run / "plots" / "training.png").stat().st_size > 1000


# -- end to end --------------------------------------------------------------------------


def test_contrastive_probe_beats_random_initialisation(tmp_path):
    summary = contrastive.main(
        args(
            tmp_path,
            "c",
            "--steps",
            "60",
            "--batch-size",
            "64",
            "--width",
            "8",
            "--log-every",
            "10",
            "--checkpoint-every",
            "30",
        )
    )
    check_run_folder(tmp_path / "c")
    initial = summary["random_init"]
    # measured: 0.94 / 0.93 trained against 0.87 / 0.82 at random initialisation
    assert summary["linear_probe_accuracy"] > initial["linear_probe_accuracy"] + 0.03
    assert summary["knn_accuracy"] > initial["knn_accuracy"] + 0.05
    assert 0.5 < summary["final_mi_estimate"] < summary["mi_estimate_cap"]  # InfoNCE <= log(batch)


def test_fairness_penalty_removes_the_attribute(tmp_path):
    summary = fairness.main(
        args(
            tmp_path,
            "f",
            "--steps",
            "150",
            "--batch-size",
            "64",
            "--width",
            "16",
            "--weights",
            "0,1",
            "--leakage-every",
            "0",
        )
    )
    assert all((tmp_path / "f" / name).is_file() for name in ("config.json", "summary.json", "summary.md"))
    for run in sorted((tmp_path / "f" / "mi" / "seed_0").glob("weight_*")):  # ... and each weight's run
        check_run_folder(run)
    assert (tmp_path / "f" / "plots" / "methods_tradeoff.png").is_file()
    free, penalised = summary["runs"]
    # measured (kernel penalty, weight 1): S-probe accuracy 0.946 -> 0.837 (0.79 from the
    # label alone), I(Z;S) bound 0.57 -> 0.26 nats, task accuracy 0.965 -> 0.957
    # the S probe moves towards what the label alone tells (the floor without task loss)
    assert penalised["reader"] < free["reader"] - 0.03
    assert penalised["mi_zs"] < free["mi_zs"] - 0.05
    # while the task accuracy stays within 5 points
    assert penalised["task_accuracy"] > free["task_accuracy"] - 0.05
    assert free["reader"] > summary["s_from_label"] + 0.03  # without penalty, Z tells more than the label


def test_disentanglement_penalty_lowers_independent_mi(tmp_path):
    summary = disentanglement.main(
        args(tmp_path, "d", "--steps", "200", "--weights", "0,0.1", "--width", "16", "--mi-iterations", "200")
    )
    check_run_folder(tmp_path / "d", sweep=True)
    before, (after,) = summary["before"], summary["after"]
    assert after["estimate"] < before["estimate"] - 0.3
    assert after["ksg"] < before["ksg"] - 0.3
    assert after["style_label_accuracy"] < before["style_label_accuracy"] - 0.15
    content = [r["content_accuracy"] for r in summary["sweep"]]
    assert content[1] > content[0] - 0.05


def test_finished_run_is_not_trained_again(tmp_path):
    argv = args(tmp_path, "c", "--steps", "4", "--batch-size", "32", "--width", "4", "--log-every", "2")
    first = contrastive.main(argv)
    records = (tmp_path / "c" / "metrics.jsonl").read_text()
    second = contrastive.main(argv)
    assert (tmp_path / "c" / "metrics.jsonl").read_text() == records
    assert second["linear_probe_accuracy"] == first["linear_probe_accuracy"]
    with pytest.raises(ValueError, match="another configuration.*lr"):
        contrastive.main(argv + ["--lr", "0.1"])


# -- shared infrastructure ---------------------------------------------------------------


def test_config_file_and_flags(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text('lr = 0.5\nweights = [0, 2]\nbackbone = "mlp"\n')
    config = parse_config(fairness.FairnessConfig, ["--config", str(path), "--lr", "0.25"])
    assert (config.lr, config.weights, config.backbone, config.steps) == (0.25, (0.0, 2.0), "mlp", 900)
    (tmp_path / "c.json").write_text(json.dumps({"no_such_key": 1}))
    with pytest.raises(SystemExit):  # the parser's usage error, not a traceback
        parse_config(fairness.FairnessConfig, ["--config", str(tmp_path / "c.json")])
    assert "valid keys: " in capsys.readouterr().err
    with pytest.raises(ValueError, match="valid choices: infonce, nwj"):
        config_from_dict(contrastive.ContrastiveConfig, {"estimator": "cpc"})
    with pytest.raises(SystemExit):
        parse_config(contrastive.ContrastiveConfig, ["--data", "imagenet"])


def test_missing_dataset_names_the_path_and_the_download_flag(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"(?s)cifar10.*" + str(tmp_path) + ".*--download"):
        load_images("cifar10", tmp_path)
    with pytest.raises(ValueError, match="valid choices: digits, cifar10"):
        load_images("mnist")


def test_backbones_by_name():
    for name in ("cnn", "mlp", "resnet18", "torchvision/resnet18"):
        model, dim = build_backbone(name, in_channels=1, image_size=16, width=4)
        assert model(torch.zeros(2, 1, 16, 16)).shape == (2, dim)
    with pytest.raises(ValueError, match="valid choices: cnn, mlp, any timm model"):
        build_backbone("resnet_nonexistent", 3, 32)


def test_augment_rows_match_the_global_batch():
    images = torch.rand(8, 3, 16, 16)
    augment = Augment(rotation=10.0, noise=0.05)
    whole = augment(images, torch.Generator().manual_seed(1))
    halves = [augment(images[rows], torch.Generator().manual_seed(1), rows, 8) for rows in (slice(0, 4), slice(4, 8))]
    torch.testing.assert_close(torch.cat(halves), whole)
    assert not torch.allclose(whole, augment(images, torch.Generator().manual_seed(2)))


def test_step_batches_split_the_global_batch_across_ranks():
    single = StepBatches(100, 16, seed=3)
    ranks = [StepBatches(100, 16, seed=3, rank=r, world_size=2) for r in range(2)]
    for step in (0, 5, 6, 13):  # 6 steps per epoch: 6 and 13 are in later epochs
        torch.testing.assert_close(torch.cat([r.indices(step) for r in ranks]), single.indices(step))
    epoch = torch.cat([single.indices(s) for s in range(6)])
    assert len(epoch.unique()) == 96


def test_probes():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3, (300,), generator=g)
    features = torch.nn.functional.one_hot(labels, 3).float() + 0.25 * torch.randn(300, 3, generator=g)
    noise = torch.randn(300, 3, generator=g)
    assert linear_probe(features[:200], labels[:200], features[200:], labels[200:]).accuracy > 0.9
    assert knn_probe(features[:200], labels[:200], features[200:], labels[200:], k=10).accuracy > 0.9
    assert linear_probe(noise[:200], labels[:200], noise[200:], labels[200:]).accuracy < 0.55
    assert binary_auc(torch.tensor([0.2, 0.2, 0.9, 0.1]), torch.tensor([0, 1, 1, 0])) == pytest.approx(0.875)


def test_common_doctests():
    import doctest
    import importlib
    import pkgutil

    import recipes.common

    for info in pkgutil.iter_modules(recipes.common.__path__, "recipes.common."):
        module = importlib.import_module(info.name)
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, info.name
