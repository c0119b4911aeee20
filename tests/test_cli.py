"""The ``mist-reg`` command line (run in-process through ``main``) and the file reader
behind it (``mist_reg.cli.io``)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mist_reg.cli.app import main
from mist_reg.cli.io import DataError, load_pair, parse_columns, read_table
from mist_reg.estimators import list_estimators
from mist_reg.tasks import get_task, list_tasks
from mist_reg.tasks.structured import PeriodicTask

ROOT = Path(__file__).resolve().parents[1]
RHO, N = 0.8, 1200
TRUTH = -2 / 2 * math.log(1 - RHO**2)  # two independent pairs (x_i, y_i) with correlation RHO
FAST = ["--max-iterations", "10", "--param", "hidden_dims=[16]"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, 2))
    y = RHO * x + math.sqrt(1 - RHO**2) * rng.standard_normal((N, 2))
    return x, y


def write_table(path: Path, x: np.ndarray, y: np.ndarray, delimiter: str, header: bool) -> None:
    lines = [delimiter.join(["a", "b", "id", "c", "d"])] if header else []
    for i, (a, b, c, d) in enumerate(np.hstack([x, y]).tolist()):
        lines.append(delimiter.join([repr(a), repr(b), f"row{i}", repr(c), repr(d)]))
    path.write_text("\n".join(lines) + "\n")


def make_file(kind: str, tmp_path: Path, x: np.ndarray, y: np.ndarray) -> list[str]:
    """Writes the pair in one format and returns the DATA argument and its options."""
    if kind == "npz":
        np.savez(tmp_path / "d.npz", x=x, y=y)
        return [str(tmp_path / "d.npz")]
    if kind == "npz-keys":
        np.savez(tmp_path / "d.npz", features=x, target=y, other=np.zeros(3))
        return [str(tmp_path / "d.npz"), "--x", "features", "--y", "target"]
    if kind == "npy-pair":
        np.save(tmp_path / "x.npy", x)
        np.save(tmp_path / "y.npy", y)
        return [str(tmp_path / "x.npy"), "--y-file", str(tmp_path / "y.npy")]
    if kind == "npy-columns":
        np.save(tmp_path / "xy.npy", np.hstack([x, y]))
        return [str(tmp_path / "xy.npy"), "--x", "0:2"]  # y: the remaining columns
    if kind == "csv-names":
        write_table(tmp_path / "d.csv", x, y, ",", header=True)
        return [str(tmp_path / "d.csv"), "--x", "a,b", "--y", "c,d"]  # 'id' is not numeric and not selected
    if kind == "csv-ranges":
        write_table(tmp_path / "d.csv", x, y, ",", header=True)
        return [str(tmp_path / "d.csv"), "--x", ":2", "--y", "3:5"]
    if kind == "tsv-no-header":
        write_table(tmp_path / "d.tsv", x, y, "\t", header=False)
        return [str(tmp_path / "d.tsv"), "--x", "0,1", "--y=-2:"]  # "=" lets a value start with "-"
    if kind == "pt-dict":
        torch.save({"x": torch.tensor(x), "y": torch.tensor(y)}, tmp_path / "d.pt")
        return [str(tmp_path / "d.pt")]
    if kind == "pt-tuple":
        torch.save((torch.tensor(x), torch.tensor(y)), tmp_path / "d.pt")
        return [str(tmp_path / "d.pt")]
    raise AssertionError(kind)


FORMATS = [
    "npz",
    "npz-keys",
    "npy-pair",
    "npy-columns",
    "csv-names",
    "csv-ranges",
    "tsv-no-header",
    "pt-dict",
    "pt-tuple",
]


@pytest.mark.parametrize("kind", FORMATS)
def test_estimate_round_trip_through_every_format(kind, tmp_path, pair, capsys):
    x, y = pair
    args = make_file(kind, tmp_path, x, y)
    code, out, err = run(capsys, "estimate", *args, *FAST, "--json")
    assert code == 0, err
    record = json.loads(out)
    assert record["data"]["n_samples"] == N and record["data"]["x_dim"] == 2 and record["data"]["y_dim"] == 2
    assert record["bound"] == "lower" and record["estimator"] == "mine" and record["n_test"] == 360
    low, high = record["interval"]
    assert low < record["estimate"] < high
    # the Gaussian-reference critic makes this near exact; 0.15 nats is about 3 standard errors
    assert abs(record["estimate"] - TRUTH) < 0.15, record


def test_estimate_text_output(tmp_path, pair, capsys):
    args = make_file("npz", tmp_path, *pair)
    code, out, err = run(capsys, "estimate", *args, *FAST)
    assert code == 0, err
    assert "I(X;Y)" in out and "95% interval" in out and "standard error" in out
    assert "lower: the estimate errs low" in out and "one split, 30% held out" in out
    assert "array 'x' of d.npz" in out and "held out        360 samples" in out
    estimate = float(out.splitlines()[0].split()[1])
    assert abs(estimate - TRUTH) < 0.15


def test_estimate_text_output_names_independent_groups(tmp_path, capsys):
    task = PeriodicTask(2, 3.0, 0.3)  # two independent coordinate pairs
    x, y = task.sample(1000, seed=0)
    np.savez(tmp_path / "d.npz", x=x.numpy(), y=y.numpy())
    code, out, err = run(capsys, "estimate", str(tmp_path / "d.npz"))
    assert code == 0, err
    assert "2 independent groups of columns" in out and "samples used    1000 samples" in out
    groups = [line for line in out.splitlines() if line.startswith("group")]
    assert [line.split(":")[0].split()[1:] for line in groups] == [["x[0]", "~", "y[0]"], ["x[1]", "~", "y[1]"]]
    assert all(line.endswith("(ksg)") for line in groups)
    estimate = float(out.splitlines()[0].split()[1])
    assert abs(estimate - task.mutual_information) < 0.15


def test_estimate_with_cross_fitting_and_options(tmp_path, pair, capsys):
    args = make_file("npz", tmp_path, *pair)
    code, out, err = run(
        capsys,
        "estimate",
        *args,
        *FAST,
        "--n-folds",
        "3",
        "--confidence",
        "0.9",
        "--estimator",
        "NWJ",
        "--seed",
        "3",
        "--json",
    )
    assert code == 0, err
    record = json.loads(out)
    assert record["n_folds"] == 3 and len(record["fold_estimates"]) == 3 and record["n_test"] == N
    assert record["confidence"] == 0.9 and record["estimator"] == "nwj"
    assert record["estimator_params"] == {"hidden_dims": [16]}
    assert abs(record["estimate"] - TRUTH) < 0.15
    code, out, _ = run(capsys, "estimate", *args, *FAST, "--n-folds", "3")
    assert code == 0 and "3-fold cross-fitting (fold estimates" in out


def test_estimate_reports_infonce_saturation(tmp_path, capsys):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(800, 5, generator=g)
    y = x + 0.05 * torch.randn(800, 5, generator=g)  # far more MI than log(8)
    np.savez(tmp_path / "high.npz", x=x.numpy(), y=y.numpy())
    common = [
        str(tmp_path / "high.npz"),
        "--estimator",
        "infonce",
        "--max-iterations",
        "30",
        "--param",
        "hidden_dims=[16]",
        "--param",
        "eval_batch_size=8",
    ]
    code, out, _ = run(capsys, "estimate", *common)
    assert code == 0 and "warning: InfoNCE is saturated" in out
    code, out, _ = run(capsys, "estimate", *common, "--json")
    assert code == 0 and any("saturated" in m for m in json.loads(out)["warnings"])


def test_tasks(capsys):
    code, out, _ = run(capsys, "tasks")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["name", "dim_x", "dim_y", "MI"]
    assert len(lines) == 1 + len(list_tasks())
    assert any(line.split()[:4] == ["staircase-2", "20", "20", "2.0000"] for line in lines)
    code, out, _ = run(capsys, "tasks", "--json")
    records = {r["name"]: r for r in json.loads(out)}
    assert set(records) == set(list_tasks())
    assert records["student-t-5x5"]["mutual_information"] == pytest.approx(get_task("student-t-5x5").mutual_information)
    assert records["gaussian-5x5"]["in_suite"] and not records["staircase-10"]["in_suite"]


def test_estimators(capsys):
    code, out, _ = run(capsys, "estimators")
    assert code == 0
    heads = {
        line.split()[0]: line.split()[1]
        for line in out.splitlines()
        if line and not line.startswith((" ", "critic", "estimate_mi", "bound"))
    }
    assert set(heads) == set(list_estimators())
    assert heads["club"] == "upper" and heads["mine"] == "lower" and heads["binned"] == "None"
    assert "gamma=0.9" in out and "critic_type='joint'" in out
    code, out, _ = run(capsys, "estimators", "--json")
    record = json.loads(out)
    by_name = {r["name"]: r for r in record["estimators"]}
    assert set(by_name) == set(list_estimators())
    assert {"name": "tau", "required": False, "default": 5.0} in by_name["smile"]["arguments"]
    assert by_name["smile"]["critic_arguments"] and not by_name["club"]["critic_arguments"]
    assert by_name["l1out"]["bound"] == "upper" and by_name["doe"]["bound"] is None


def test_bench_writes_table_json_and_plot(tmp_path, capsys):
    out_dir = tmp_path / "bench"
    code, out, err = run(
        capsys,
        "bench",
        "--tasks",
        "independent-5x5",
        "gaussian-5x5",
        "--estimators",
        "default",
        "nwj",
        "--n-samples",
        "600",
        "--max-iterations",
        "5",
        "--out",
        str(out_dir),
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["task", "estimator", "truth", "estimate"]
    rows = [line.split() for line in lines[2:6]]
    assert [(r[0], r[1]) for r in rows] == [
        ("independent-5x5", "default"),
        ("independent-5x5", "nwj"),
        ("gaussian-5x5", "default"),
        ("gaussian-5x5", "nwj"),
    ]
    assert float(rows[2][2]) == pytest.approx(1.0) and abs(float(rows[2][3]) - 1.0) < 0.3
    results = json.loads((out_dir / "results.json").read_text())
    assert [r["task"] for r in results["rows"]] == ["independent-5x5", "gaussian-5x5"]
    assert results["summary"]["mist_reg:nwj"]["tasks"] == 2
    assert "| gaussian-5x5 | 1.000 |" in (out_dir / "results.md").read_text()
    pytest.importorskip("matplotlib")
    assert (out_dir / "estimate_vs_truth.png").stat().st_size > 1000 and "plot:" in out


def test_bench_json_and_missing_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    code, out, err = run(
        capsys,
        "bench",
        "--tasks",
        "independent-5x5",
        "--estimators",
        "js",
        "--n-samples",
        "400",
        "--max-iterations",
        "3",
        "--out",
        str(tmp_path),
        "--json",
    )
    assert code == 0
    record = json.loads(out)
    assert record["plot"] is None and "matplotlib is not installed" in err
    assert record["rows"][0]["truth"] == 0.0 and "mist_reg:js" in record["rows"][0]
    assert not (tmp_path / "estimate_vs_truth.png").exists()


def test_bad_input_exits_2_with_one_line(tmp_path, pair, capsys):
    x, y = pair
    np.savez(tmp_path / "d.npz", x=x, y=y)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "short.npy", y[:-10])
    (tmp_path / "nan.csv").write_text("a,b\n1,2\n3,nan\n")
    (tmp_path / "text.csv").write_text("a,b,c\n1,2,cat\n3,4,dog\n")
    (tmp_path / "typo.csv").write_text("a,b,c\n1,2,3\n3,4,x\n5,6,7\n")
    (tmp_path / "data.xlsx").write_text("")
    d, xs = str(tmp_path / "d.npz"), str(tmp_path / "x.npy")
    cases = [
        (["estimate", str(tmp_path / "missing.npz")], "no such file"),
        (["estimate", str(tmp_path / "data.xlsx")], "supported: .csv, .tsv, .npy, .npz, .pt, .pth"),
        (["estimate", d, "--y", "target"], "no array 'target' for y; available: 'x', 'y'"),
        (["estimate", xs, "--y-file", str(tmp_path / "short.npy")], "has 1200 samples but y"),
        (["estimate", str(tmp_path / "nan.csv"), "--x", "a"], "column 'b' of nan.csv (for y) at line 3"),
        (["estimate", str(tmp_path / "typo.csv"), "--x", "a", "--y", "b,c"], "holds 'x', which is not a number, in a"),
        (
            ["estimate", str(tmp_path / "text.csv"), "--x", "a", "--y", "e"],
            "no column named 'e'; column names: a, b, c",
        ),
        (["estimate", str(tmp_path / "text.csv"), "--x", "0:2", "--y", "b"], "x and y share column 'b'"),
        (["estimate", str(tmp_path / "text.csv")], "say which are x and which are y"),
        (["estimate", xs], "give y in a second file with --y-file"),
        (["estimate", d, "--estimator", "mien"], "unknown estimator 'mien'; valid names: default, ksg, alpha_tuba"),
        (["estimate", d, "--n-folds", "1"], "--n-folds must be at least 2"),
        (["estimate", d, "--param", "hidden_dims"], "expected NAME=VALUE"),
        (["estimate", d, "--param", "bogus=1", *FAST], "bogus"),
        (["estimate", d, "--confidence", "95"], "strictly between 0 and 1"),
        (["estimate", d, "--device", "tpu9"], "unknown device"),
        (["bench", "--tasks", "gaussian-7x7"], "unknown task 'gaussian-7x7'; valid names"),
        (["bench", "--estimators", "nope"], "unknown estimator 'nope'; valid names: default, alpha_tuba"),
        (["frobnicate"], "invalid choice"),
        (["--json"], "required: COMMAND"),
        (["demo", "--task", "gaussian-7x7"], "unknown task 'gaussian-7x7'; valid names"),
        (["demo", "--estimator", "mien"], "unknown estimator 'mien'; valid names: default, ksg, alpha_tuba"),
    ]
    for argv, expected in cases:
        code, out, err = run(capsys, *argv)
        lines = err.strip().splitlines()
        assert code == 2, (argv, err)
        assert len(lines) == 1 and "Traceback" not in err, (argv, err)
        assert lines[0].startswith("mist-reg") and expected in lines[0], (argv, lines[0])
        assert out == ""


def test_help_and_module_entry_point(capsys):
    code, out, _ = run(capsys, "estimate", "--help")
    assert code == 0 and "--n-folds" in out and "--y-file" in out
    code, in_process, _ = run(capsys, "--help")
    assert code == 0 and in_process.startswith("usage: mist-reg")
    assert all(c in in_process for c in ("demo", "estimate", "tasks", "estimators", "bench"))
    # both module entry points run that command line (one process each: each imports torch)
    result = subprocess.run(
        [sys.executable, "-m", "mist_reg.cli.app", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and result.stdout == in_process
    result = subprocess.run(
        [sys.executable, "-m", "mist_reg", "tasks", "--json"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0
    listed, in_process_list = json.loads(result.stdout), json.loads(run(capsys, "tasks", "--json")[1])
    # closed-form truths (eigenvalues of wide covariances) may differ in the last bits between thread counts
    for entry in in_process_list:
        entry["mutual_information"] = pytest.approx(entry["mutual_information"], rel=1e-9)
    assert listed == in_process_list


def test_demo_prints_the_estimate_beside_the_truth(capsys):
    code, out, _ = run(capsys, "demo", "--task", "gaussian-5x5", "--estimator", "infonce", "--n-samples", "300")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("task      gaussian-5x5") and lines[1] == "truth     1.0000 nats"
    assert lines[2].startswith("estimate  ") and "(infonce, lower bound, 300 held-out samples" in lines[2]
    code, out, _ = run(
        capsys, "demo", "--task", "gaussian-5x5", "--estimator", "infonce", "--n-samples", "300", "--json"
    )
    record = json.loads(out)
    assert code == 0 and record["truth"] == pytest.approx(1.0)
    assert record["error"] == pytest.approx(record["estimate"] - record["truth"])


def test_no_command_runs_the_demo(capsys, monkeypatch):
    import mist_reg.cli.demo as demo

    seen = []
    monkeypatch.setattr(
        demo, "run_demo", lambda args, out: seen.append((args.task, args.estimator, args.n_samples)) or 0
    )
    code, out, err = run(capsys)
    assert code == 0 and seen == [(demo.DEFAULT_DEMO_TASK, demo.DEFAULT_ESTIMATOR, 5000)]
    assert "no command given: running 'mist-reg demo'" in err


def test_console_script_is_declared():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["mist-reg"] == "mist_reg.cli:main"


# --------------------------------------------------------------------------------------
# mist_reg.cli.io directly
# --------------------------------------------------------------------------------------


def test_parse_columns():
    assert parse_columns("0:3,5", 8) == [0, 1, 2, 5]
    assert parse_columns("-1", 4) == [3] and parse_columns("2:", 4) == [2, 3] and parse_columns(":-2", 4) == [0, 1]
    assert parse_columns("age, 0", 3, ["id", "age", "income"]) == [1, 0]
    assert parse_columns("1", 2, ["1", "0"]) == [0]  # a header name wins over an index
    for spec, message in (
        ("9", "out of range"),
        ("5:9", "reaches column 5, beyond a table of 4 columns"),
        ("3:10", "reaches column 10, beyond a table of 4 columns"),
        ("-9:", "reaches column -9"),
        ("0,,1", "empty column"),
        ("x", "no column named"),
    ):
        with pytest.raises(DataError, match=message):
            parse_columns(spec, 4)


def test_header_detection(tmp_path):
    (tmp_path / "h.csv").write_text("# a comment\nx1,y1\n1.5,2\n\n3,4e-1\n")
    table = read_table(tmp_path / "h.csv")
    assert table.header == ["x1", "y1"] and table.rows == [["1.5", "2"], ["3", "4e-1"]] and table.lines == [3, 5]
    (tmp_path / "n.csv").write_text("1,cat\n2,dog\n")  # a text column is not a header
    assert read_table(tmp_path / "n.csv").header is None
    assert read_table(tmp_path / "n.csv", header=True).header == ["1", "cat"]
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    with pytest.raises(DataError, match="line 2 of ragged.csv has 1 fields where 2 were expected"):
        read_table(tmp_path / "ragged.csv")


def test_load_pair_checks(tmp_path):
    np.savez(tmp_path / "inf.npz", x=np.array([[0.0], [np.inf], [1.0]]), y=np.zeros((3, 1)))
    with pytest.raises(DataError, match=r"x \(array 'x' of inf.npz\) contains infinite values .* first at row 1"):
        load_pair(tmp_path / "inf.npz")
    np.savez(tmp_path / "text.npz", x=np.array(["a", "b"]), y=np.zeros(2))
    with pytest.raises(DataError, match="must hold numbers"):
        load_pair(tmp_path / "text.npz")
    torch.save({"x": torch.zeros(3, 2), "y": torch.ones(3), "z": torch.ones(3)}, tmp_path / "d.pt")
    data = load_pair(tmp_path / "d.pt", y="z")
    assert data.y_source == "array 'z' of d.pt" and data.x.dtype == torch.float32
    torch.save(torch.arange(12.0).reshape(4, 3), tmp_path / "t.pt")
    data = load_pair(tmp_path / "t.pt", y="2")
    assert data.x.tolist()[1] == [3.0, 4.0] and data.y.tolist()[1] == [5.0]
    np.savez(tmp_path / "two.npz", a=np.zeros(3), b=np.zeros(3))
    np.save(tmp_path / "y.npy", np.ones(3))
    with pytest.raises(DataError, match="holds several arrays .* name the one for x with --x"):
        load_pair(tmp_path / "two.npz", y_file=tmp_path / "y.npy")
    assert load_pair(tmp_path / "two.npz", x="b", y_file=tmp_path / "y.npy").x_source == "array 'b' of two.npz"


def test_unreadable_files_devices_and_output_folders_exit_2(tmp_path, pair, capsys):
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04not a zip archive")
    code, _, err = run(capsys, "estimate", str(corrupt))
    assert code == 2 and "cannot read corrupt.npz as an .npz archive" in err
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x89PNG\x00\xff\xfe")
    code, _, err = run(capsys, "estimate", str(binary))
    assert code == 2 and "binary.csv is not UTF-8 text" in err
    data = tmp_path / "pair.npz"
    np.savez(data, x=pair[0], y=pair[1])
    code, _, err = run(capsys, "estimate", str(data), "--device", "meta")
    assert code == 2 and "unsupported device 'meta'" in err
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, _, err = run(
        capsys, "bench", "--tasks", "independent-5x5", "--estimators", "nwj", "--out", str(blocker / "sub")
    )
    assert code == 2 and "cannot create the output folder" in err
    assert "done" not in err  # refused before any task ran


def test_a_column_named_twice_is_refused(tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("a,b,c\n" + "\n".join(f"{i},{i + 1},{i * 2}" for i in range(20)) + "\n")
    code, _, err = run(capsys, "estimate", str(table), "--x", "a,a", "--y", "c")
    assert code == 2 and "x names" in err and "more than once" in err


# --------------------------------------------------------------------------------------
# files that cannot be what they claim, x given as y, wide dtypes, Ctrl-C
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty.npz is empty"),
        (b"not a zip archive at all" * 4, "as an .npz archive: it is not a zip file"),
    ],
)
def test_empty_and_garbage_npz(tmp_path, capsys, content, message):
    path = tmp_path / "empty.npz"
    path.write_bytes(content)
    code, out, err = run(capsys, "estimate", str(path))
    assert code == 2 and message in err and "pickled" not in err and "Traceback" not in err


@pytest.mark.parametrize("content, message", [(b"", "is empty"), (b"garbage" * 9, "is not an .npy file")])
def test_empty_and_garbage_npy(tmp_path, capsys, content, message):
    path = tmp_path / "table.npy"
    path.write_bytes(content)
    code, _, err = run(capsys, "estimate", str(path), "--x", "0", "--y", "1")
    assert code == 2 and message in err


def test_same_array_for_x_and_y_is_refused(tmp_path, pair, capsys):
    path = tmp_path / "pairs.npz"
    np.savez(path, x=pair[0], y=pair[1])
    code, out, err = run(capsys, "estimate", str(path), "--y", "x", *FAST)
    assert code == 2 and out == ""
    assert "x and y are both array 'x' of pairs.npz" in err
    code, _, err = run(capsys, "estimate", str(path), "--y-file", str(path), "--x", "y", "--y", "y", *FAST)
    assert code == 2 and "x and y both read 'y' of pairs.npz" in err


def test_float64_offset_in_a_csv_keeps_the_information(tmp_path, pair, capsys):
    x, y = pair
    plain, shifted = tmp_path / "plain.csv", tmp_path / "shifted.csv"
    np.savetxt(plain, np.hstack([x, y]), delimiter=",", fmt="%.10f")
    np.savetxt(shifted, np.hstack([x + 1.7e9, y]), delimiter=",", fmt="%.10f")  # e.g. timestamps
    data_plain = load_pair(plain, x="0:2", y="2:4")
    data_shifted = load_pair(shifted, x="0:2", y="2:4")
    standardized = (data_plain.x - data_plain.x.mean(0)) / data_plain.x.std(0, correction=0)
    assert torch.allclose(data_shifted.x, standardized, atol=1e-4)
    assert data_shifted.x.dtype == torch.float32


def test_ctrl_c_exits_130_without_traceback(tmp_path, pair, capsys, monkeypatch):
    import mist_reg.cli.estimate as cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    path = tmp_path / "pairs.npz"
    np.savez(path, x=pair[0], y=pair[1])
    monkeypatch.setattr(cli, "estimate_mi", interrupted)
    code, out, err = run(capsys, "estimate", str(path), *FAST)
    assert code == 130 and err.strip() == "mist-reg: interrupted"


def test_an_exact_copy_is_infinite_in_valid_json(tmp_path, capsys):
    x = np.random.default_rng(0).normal(size=(400, 2))
    np.savez(tmp_path / "copy.npz", x=x, y=3 * x[:, :1] + 1)
    assert main(["estimate", str(tmp_path / "copy.npz"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["estimate"] is None and result["interval"] == [None, None]  # docs/cli.md: null


def _interrupt_when_loaded(library: str) -> subprocess.Popen:
    """Starts ``python -m mist_reg tasks`` and sends SIGINT once the process has mapped ``library``."""
    import signal
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "mist_reg", "tasks"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if library in Path(f"/proc/{process.pid}/maps").read_text():
                break
        except OSError:
            break
        time.sleep(0.002)
    process.send_signal(signal.SIGINT)
    return process


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/PID/maps to time the interrupt")
@pytest.mark.parametrize("library", ["libtorch", "_multiarray_umath"])
def test_ctrl_c_while_the_libraries_load_is_one_line_and_130(library):
    # "_multiarray_umath": numpy loading inside torch's C extension, which swallowed the KeyboardInterrupt
    # (the command then ran on and exited 0) before main() took over SIGINT while importing
    light = "import sys, mist_reg.cli, mist_reg.__main__; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", light], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.stdout.strip() == "False", result.stderr  # the entry point imports nothing heavy
    process = _interrupt_when_loaded(library)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130 and err == "mist-reg: interrupted\n" and out == "", (process.returncode, err)


def test_a_parameter_value_with_an_open_bracket_is_named(tmp_path, pair, capsys):
    path = tmp_path / "pairs.npz"
    np.savez(path, x=pair[0], y=pair[1])
    code, _, err = run(capsys, "estimate", str(path), "--param", "hidden_dims=[8")
    assert code == 2 and err.count("\n") == 1
    assert "cannot read the value of hidden_dims: '[8' is not a Python literal" in err
