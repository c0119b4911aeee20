"""Recipe settings and run folders: every invalid setting is a one-line usage error (exit
status 2) before anything is written, and a folder that is not a run of the recipe is never
deleted nor written to (``--no-resume`` deletes only what a run wrote)."""

from __future__ import annotations

import json

import pytest
import torch
from recipe_utils import load_recipe

from recipes.common.run import Run, command_line

contrastive = load_recipe("contrastive")
disentanglement = load_recipe("disentanglement")
fairness = load_recipe("fairness")
RECIPES = {"contrastive": contrastive, "disentanglement": disentanglement, "fairness": fairness}


def a_run(folder, recipe="contrastive"):
    r"""A folder holding the files a run of ``recipe`` writes."""
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "plots").mkdir()
    (folder / "config.json").write_text(json.dumps({"recipe": recipe, "steps": 3}))
    (folder / "metrics.jsonl").write_text('{"step": 1}\n')
    (folder / "checkpoints" / "last.pt").write_bytes(b"x")
    (folder / "plots" / "training.png").write_bytes(b"x")
    (folder / "summary.json").write_text("{}")
    (folder / "summary.md").write_text("# run")


def test_no_resume_never_deletes_a_folder_that_holds_no_run(tmp_path, capsys):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "thesis.tex").write_text("years of work")
    assert command_line(contrastive.main, ["--out", str(victim), "--no-resume", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{victim} holds other files and no run" in err
    assert (victim / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in victim.iterdir()) == ["thesis.tex"]


def test_an_invalid_option_leaves_the_run_folder_untouched(tmp_path, capsys):
    victim = tmp_path / "victim"
    a_run(victim)
    (victim / "notes.txt").write_text("mine")
    before = {p: p.read_bytes() for p in victim.rglob("*") if p.is_file()}
    with pytest.raises(SystemExit) as info:
        contrastive.main(["--out", str(victim), "--no-resume", "--temperature", "-1"])
    assert info.value.code == 2 and "--temperature must be positive, got -1.0" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in victim.rglob("*") if p.is_file()} == before


def test_no_resume_deletes_only_what_runs_wrote(tmp_path):
    root = tmp_path / "sweep"
    a_run(root, "test")
    a_run(root / "weight_0", "test")
    a_run(root / "method" / "seed_0", "test")
    (root / "notes.txt").write_text("mine")
    (root / "plots" / "mine.txt").write_text("mine")
    (root / "weight_0" / "extra.csv").write_text("1,2")
    (root / "empty_of_mine").mkdir()
    Run(root, {"recipe": "test", "steps": 5}, resume=False)
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    assert left == [
        "config.json",
        "empty_of_mine",
        "notes.txt",
        "plots",
        "plots/mine.txt",
        "weight_0",
        "weight_0/extra.csv",
    ]
    assert json.loads((root / "config.json").read_text()) == {"recipe": "test", "steps": 5}


@pytest.mark.parametrize("out", [".", "..", "~"])
def test_the_working_directory_and_folders_above_it_are_refused(out, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path))
    (work / "keep.txt").write_text("mine")
    out = str(tmp_path) if out == "~" else out
    with pytest.raises(SystemExit) as info:
        contrastive.main(["--out", out, "--no-resume"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "give a folder of the run's own" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["keep.txt", "work"]


def test_a_run_of_another_recipe_or_a_foreign_config_is_refused(tmp_path):
    a_run(tmp_path / "c", "contrastive")
    with pytest.raises(ValueError, match="holds a run of the contrastive recipe, not of disentanglement"):
        Run(tmp_path / "c", {"recipe": "disentanglement"}, resume=False)
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "config.json").write_text('{"name": "my project"}')
    with pytest.raises(ValueError, match="holds a config.json that is not a recipe's run"):
        Run(tmp_path / "p", {"recipe": "contrastive"}, resume=False)
    assert (tmp_path / "c" / "summary.json").is_file() and (tmp_path / "p" / "config.json").is_file()


CONTRASTIVE_ERRORS = [
    (["--estimator", "bogus"], "invalid estimator 'bogus'; valid choices: infonce"),
    (["--batch-size", "1"], "--batch-size must be at least 2, got 1"),
    (["--temperature", "nan"], "--temperature expects a finite number, got 'nan'"),
    (["--lr", "-1"], "--lr must be positive, got -1.0"),
    (["--warmup", "1"], "--warmup must lie in [0, 1), got 1.0"),
    (["--neg-samples", "256"], "--neg-samples must be below --batch-size (256), got 256"),
    (["--device", "gpu"], "--device must be auto, cpu, cuda, cuda:N (N a GPU index) or mps, got 'gpu'"),
]
DISENTANGLEMENT_ERRORS = [
    (["--weights=-1"], "--weights must list non-negative weights, got [-1.0]"),
    (["--weights", "0,nan"], "--weights expects a finite number, got 'nan'"),
    (["--weights", "0,1,1"], "--weights must list distinct weights, got [0.0, 1.0, 1.0]"),
    (["--weights", ","], "--weights must list at least one weight"),
    (["--mi-estimator", "bogus"], "--mi-estimator names no mist_reg estimator: 'bogus'"),
    (["--penalty-warmup", "2"], "--penalty-warmup must lie in [0, 1], got 2.0"),
    (["--inner-lr", "0"], "--inner-lr must be positive, got 0.0"),
]


@pytest.mark.parametrize(
    "recipe, flags, message",
    [("contrastive", *case) for case in CONTRASTIVE_ERRORS]
    + [("disentanglement", *case) for case in DISENTANGLEMENT_ERRORS],
)
def test_invalid_settings_are_one_line_usage_errors_and_write_nothing(recipe, flags, message, tmp_path, capsys):
    module = RECIPES[recipe]
    with pytest.raises(SystemExit) as info:
        module.main(["--out", str(tmp_path / "run"), *flags])
    err = capsys.readouterr().err
    assert info.value.code == 2 and message in err and err.count("\n") == 1 and ": error: " in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_and_out_naming_a_file_are_usage_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        contrastive.main(["--out", str(tmp_path / "run"), "--device", "cuda"])
    assert (
        info.value.code == 2 and "--device cuda asks for CUDA, which is not available here" in capsys.readouterr().err
    )
    (tmp_path / "file").write_text("mine")
    with pytest.raises(SystemExit) as info:
        disentanglement.main(["--out", str(tmp_path / "file")])
    assert info.value.code == 2 and "is a file, not a folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


# the options of issue 23 item 7, and others that used to train (and write) before failing
SHARED_ERRORS = [
    (["--device", "gpu"], "--device must be auto, cpu, cuda, cuda:N"),
    (["--batch-size", "1"], "--batch-size must be at least"),
    (["--steps", "0"], "--steps must be at least 1, got 0"),
    (["--backbone", "bogus"], "--backbone 'bogus' is not an encoder; valid choices: cnn, mlp"),  # wrote config.json
    (["--bogus", "1"], "unrecognized arguments: --bogus 1 (see"),
    (["--steps"], "argument --steps: expected one argument"),
]
FAIRNESS_ERRORS = [
    (["--weights=-1"], "--weights must list finite weights >= 0, got [-1.0]"),
    (["--estimator", "bogus"], "--estimator 'bogus' is not a registered estimator"),
    (["--methods", "bogus"], "--methods must list distinct methods from none, mi"),
    (["--rate", "2"], "--rate must be in [0, 1]"),
    (["--weights", "nan"], "--weights expects a finite number, got 'nan'"),
    (["--readers", "bogus"], "--readers must list distinct names from linear, mlp, boosted"),  # trained first
    (["--leakage-rows", "1"], "--leakage-rows must be at least 34, got 1"),  # trained first
    (["--adversary-lr", "0"], "--adversary-lr must be positive, got 0.0"),
    (["--hidden", "8,0"], "--hidden must list values that are each at least 1, got 0"),
    (["--mmd-bandwidths="], "--mmd-bandwidths must list at least one value"),
]


@pytest.mark.parametrize(
    "recipe, flags, message",
    [(name, *case) for name in RECIPES for case in SHARED_ERRORS] + [("fairness", *case) for case in FAIRNESS_ERRORS],
)
def test_every_recipe_refuses_bad_options_in_one_line_before_writing(recipe, flags, message, tmp_path, capsys):
    out = tmp_path / "run"
    try:
        code = command_line(RECIPES[recipe].main, ["--out", str(out), "--steps", "2", *flags])
    except SystemExit as stop:  # the option parser's own exit
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1 and ": error: " in err, err
    assert list(tmp_path.iterdir()) == []


def test_adult_comparison_honours_weights():
    config = fairness.parse_config(fairness.config_class(["--data", "adult"]), ["--data", "adult", "--weights", "0"])
    assert config.methods == fairness.METHODS and config.seeds == (0, 1, 2)  # the adult defaults, as --help says
    assert all(fairness.method_weights(config, method) == (0.0,) for method in config.methods)
