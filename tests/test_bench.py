"""The benchmark (benchmarks/): its arithmetic, its files, its coupling to the notebooks, a
smoke run, and the README showing the results."""

from __future__ import annotations

import ast
import builtins
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from benchmarks import compare, labs, recorder, report
from benchmarks import run as bench_run
from benchmarks.compare import Curve
from labkit.errors import LabkitError
from labkit.notebooks import run as notebook_run
from labkit.notebooks import solutions


def test_time_to_reach_reads_the_curve_either_way() -> None:
    accuracy = Curve("ref", "acc", seconds=[10, 20, 30], values=[0.8, 0.9, 0.88])
    assert accuracy.final == 0.88
    assert accuracy.time_to_reach(0.85) == 20
    assert accuracy.time_to_reach(0.88) == 20  # first reached before the end
    assert accuracy.time_to_reach(0.95) is None
    mse = Curve("ref", "mse", higher_is_better=False, seconds=[5, 9], values=[0.03, 0.02])
    assert mse.time_to_reach(0.025) == 9 and mse.time_to_reach(0.01) is None


OUR_CURVE = {"ours": {"seconds": [5.0, 10.0, 15.0], "values": [0.86, 0.885, 0.90]}}
MLP = "03_multilayer_perceptron"


def results_of(rows: list[dict], **extra) -> dict:
    """A results document around some labs' rows, as ``benchmarks.run.run`` makes it."""
    header = {"device": "Some CPU, 2 cores", "smoke": False, "date": "2026-11-23"}
    versions = {"tensorflow": "2.21.0", "keras": "3.15.1", "python": "3.12.1"}
    return {**header, **versions, "time_scale": 1.0, "seeds": [42], "labs": rows, **extra}


def test_compare_against_a_reference_curve() -> None:
    ref = Curve("mlp", "test_accuracy", seconds=[10, 20, 30], values=[0.85, 0.87, 0.88])
    ours = {"test_accuracy": 0.90, "train_seconds": 15.0, "wall_seconds": 40.0}
    row = compare.compare(MLP, ours, ref, OUR_CURVE)
    assert row["meets_target"] and row["reference_value"] == 0.88
    # the reference needs 30 s to reach its final 0.88, ours 10 s
    assert row["our_time_to_reference_value"] == 10.0
    assert row["speedup"] == pytest.approx(30 / 10)
    assert row["reference_time_to_our_value"] is None  # the reference never gets to 0.90
    slow = {"ours": {"seconds": [5.0, 10.0], "values": [0.80, 0.86]}}
    worse = compare.compare(MLP, {**ours, "test_accuracy": 0.86}, ref, slow)
    assert not worse["meets_target"] and "speedup" not in worse
    assert worse["our_time_to_reference_value"] is None
    assert worse["reference_time_to_our_value"] == 20
    one_run = [compare.summarize(MLP, [r]) for r in (row, worse)]
    assert report._speedup(one_run[0]) == "3.0x (30 s / 10 s)"
    assert report._speedup(one_run[1]) == "ours never reaches it"
    assert "speedup" not in compare.compare(MLP, ours, ref)  # no curve


def test_lab06_target_needs_the_intent_accuracy_and_the_time_limit() -> None:
    ref = Curve("lstm", "slot_f1", seconds=[60.0, 120.0], values=[0.90, 0.93])
    good = {"slot_f1": 0.958, "intent_accuracy": 0.975, "train_seconds": 200.0}
    row = compare.compare("06_rnn_slot_filling", good, ref)
    assert row["meets_target"] and row["metrics"]["intent_accuracy"] == 0.975
    assert row["reference_time_to_our_value"] is None
    for worse in ({"intent_accuracy": 0.96}, {"train_seconds": 301.0}, {"slot_f1": 0.95}):
        assert not compare.compare("06_rnn_slot_filling", {**good, **worse}, ref)["meets_target"]
    lab_row = compare.summarize("06_rnn_slot_filling", [row])
    table = report.markdown(results_of([lab_row]))
    assert (
        "0.9580; intent_accuracy 0.9750 | >= 0.9550; intent_accuracy >= 0.97; training <= 300 s"
        in table
    )


def test_a_time_scale_scales_the_training_time_target() -> None:
    ours = {"slot_f1": 0.958, "intent_accuracy": 0.975, "train_seconds": 200.0}
    scaled = compare.compare("06_rnn_slot_filling", ours, None, time_scale=0.6)
    assert scaled["max_seconds"] == pytest.approx(180) and not scaled["meets_target"]
    faster = compare.compare("06_rnn_slot_filling", {**ours, "train_seconds": 170.0}, None, {}, 0.6)
    assert faster["meets_target"]
    lab_row = compare.summarize("06_rnn_slot_filling", [faster], time_scale=0.6)
    assert lab_row["max_seconds"] == pytest.approx(180) and lab_row["meets_target"]
    table = report.markdown(results_of([lab_row], time_scale=0.6))
    assert "training <= 180 s" in table
    assert "Every time budget scaled by 0.6 (`--time-scale 0.6`)" in table
    assert "1.7x slower" in table


def mlp_run(
    accuracy: float, seconds: float, curve_seconds: list[float], values: tuple = (0.86, 0.885)
) -> dict:
    """One run of lab 03 against a reference that reaches 0.88 after 30 s; our curve has
    `values`, then `accuracy`."""
    ref = Curve("mlp", "test_accuracy", seconds=[10.0, 20.0, 30.0], values=[0.85, 0.87, 0.88])
    ours = {"test_accuracy": accuracy, "train_seconds": seconds, "wall_seconds": seconds + 20}
    curves = {"ours": {"seconds": curve_seconds, "values": [*values, accuracy]}}
    return compare.compare(MLP, ours, ref, curves)


def test_repeated_runs_give_medians_with_their_spread_and_per_run_speedups() -> None:
    # speed-ups per run: 30/15 = 2, 30/10 = 3, 30/5 = 6 (ours reaches 0.88 at its second point)
    runs = [
        mlp_run(0.890, 20.0, [10.0, 15.0, 20.0]),  # below the 0.895 target
        mlp_run(0.900, 30.0, [5.0, 10.0, 30.0]),
        mlp_run(0.910, 10.0, [2.0, 5.0, 10.0]),
    ]
    row = compare.summarize(MLP, runs)
    assert row["value"] == pytest.approx(0.900) and row["spread"]["value"] == [0.890, 0.910]
    assert row["train_seconds"] == 20.0 and row["spread"]["train_seconds"] == [10.0, 30.0]
    assert row["meets_target"] and row["runs_meeting_target"] == 2  # the median meets it
    assert row["speedup"] == pytest.approx(3.0)  # the median of the runs' speed-ups
    assert row["spread"]["speedup"] == [pytest.approx(2.0), pytest.approx(6.0)]
    assert [run["speedup"] for run in row["runs"]] == pytest.approx([2.0, 3.0, 6.0])
    assert row["metrics"]["test_accuracy"] == pytest.approx(0.900)
    table = report.markdown(results_of([row], seeds=[42, 43, 44]))
    assert "Each figure is the median of 3 runs (seeds 42-44), their min-max in brackets" in table
    assert "| 0.9000 (0.8900-0.9100) | >= 0.8950 | yes (2 of 3 runs) | 20.0 (10.0-30.0) |" in table
    assert "| 3.0x (2.0-6.0x) | never |" in table
    below = compare.summarize(MLP, runs[:1] + [mlp_run(0.891, 20.0, [10.0, 15.0, 20.0])] + runs[2:])
    assert not below["meets_target"] and below["runs_meeting_target"] == 1  # median 0.891


def test_the_median_of_an_even_number_of_runs_and_a_run_that_never_catches_up() -> None:
    never = mlp_run(0.870, 20.0, [10.0, 15.0, 20.0], (0.85, 0.86))  # never gets to 0.88
    assert "speedup" not in never
    row = compare.summarize(MLP, [mlp_run(0.900, 30.0, [5.0, 10.0, 30.0]), never])
    assert row["value"] == pytest.approx(0.885)  # the mean of the middle two
    assert row["speedup"] == pytest.approx(3.0)  # from the one run that has one
    assert report._speedup(row) == "3.0x (3.0-3.0x); ours never reaches it in 1 of 2 runs"
    assert report._reaches(row) == "after 20 s in 1 of 2 runs"


def test_a_failed_run_fails_the_lab_but_keeps_the_others() -> None:
    row = compare.summarize(
        MLP, [mlp_run(0.91, 10.0, [2.0, 5.0, 10.0]), {"seed": 43, "error": "x"}]
    )
    assert row["error"] == "x" and not row["meets_target"]
    assert row["value"] == pytest.approx(0.91) and len(row["runs"]) == 2
    nothing = compare.summarize(MLP, [{"seed": 42, "error": "no data"}])
    assert nothing["value"] is None and nothing["train_seconds"] is None
    assert "| 03_multilayer_perceptron | test_accuracy | - |" in report.markdown(
        results_of([nothing])
    )


def test_results_files_are_named_by_device_time_scale_and_smoke() -> None:
    assert report.results_stem("AMD EPYC, 2 cores") == "amd-epyc-2-cores"
    assert report.results_stem("AMD EPYC, 2 cores", 0.6) == "amd-epyc-2-cores-time-scale-0.6"
    assert report.results_stem("T4 x1", 0.6, smoke=True) == "t4-x1-time-scale-0.6-smoke"
    assert report.results_stem("T4 x1", 1.0, smoke=True) == "t4-x1-smoke"


def test_a_partial_rerun_keeps_the_other_labs_rows_of_the_same_time_scale(tmp_path) -> None:
    ours = {"test_accuracy": 0.849, "train_seconds": 14.0}
    old_row = compare.summarize(
        "02_logistic_regression", [compare.compare("02_logistic_regression", ours, None)]
    )
    old = {"device": "cpu", "date": "2026-11-01", "time_scale": 1.0, "labs": [old_row]}
    (tmp_path / "cpu.json").write_text(json.dumps(old))
    scaled_row = {**old_row, "value": 0.5}
    scaled = {**old, "time_scale": 0.6, "labs": [scaled_row]}
    (tmp_path / "cpu-time-scale-0.6.json").write_text(json.dumps(scaled))
    new_row = compare.summarize(MLP, [mlp_run(0.9, 20.0, [5.0, 10.0, 20.0])] * 2)
    results = {**results_of([new_row], seeds=[42, 43]), "device": "cpu"}
    report.merge_earlier(results, tmp_path)
    assert [row["lab"] for row in results["labs"]] == ["02_logistic_regression", MLP]
    kept = results["labs"][0]
    assert kept["date"] == "2026-11-01" and kept["meets_target"] and kept["value"] == 0.849
    table = report.markdown(results)
    assert "| 02_logistic_regression (run 2026-11-01, 1 run) |" in table
    assert f"| {MLP} |" in table


def test_compare_lab05_against_the_dense_autoencoder_of_the_same_run() -> None:
    ours = {"conv_mse": 0.007, "conv_seconds": 50.0, "dense_mse": 0.010, "dense_seconds": 25.0}
    curves = {
        "ours": {"seconds": [10.0, 20.0, 50.0], "values": [0.012, 0.009, 0.007]},
        "reference": {"seconds": [5.0, 15.0, 25.0], "values": [0.02, 0.012, 0.010]},
    }
    row = compare.compare("05_autoencoders", ours, None, curves)
    assert row["target"] == pytest.approx(0.008) and row["meets_target"]
    assert row["reference_value"] == 0.010 and row["reference_time_to_final"] == 25.0
    assert row["our_time_to_reference_value"] == 20.0  # lower is better: 0.009 <= 0.010
    assert row["speedup"] == pytest.approx(25 / 20)
    worse = compare.compare("05_autoencoders", {**ours, "conv_mse": 0.0085}, None)
    assert not worse["meets_target"]
    # several runs: the target is 0.8x the median of the runs' dense MSE
    other = compare.compare("05_autoencoders", {**ours, "dense_mse": 0.012}, None, curves)
    lab_row = compare.summarize("05_autoencoders", [row, other, worse])
    assert lab_row["target"] == pytest.approx(0.8 * 0.010) and lab_row["value"] == 0.007


def test_record_epochs_keeps_the_weights_of_every_epoch_ema_included(monkeypatch) -> None:
    import keras
    import numpy as np

    monkeypatch.setattr(keras.Model, "fit", keras.Model.fit)  # undone after the test
    recorder.record_epochs()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.1, use_ema=True, ema_momentum=0.5), loss="mse")
    x, y = np.ones((8, 3), "float32"), np.full((8, 1), 2.0, "float32")
    model.fit(x, y, epochs=3, batch_size=4, verbose=0)
    points = recorder._snapshots[model]
    assert len(points) == 3 and points[0][0] < points[1][0] < points[2][0]
    # fit ends by copying the moving averages into the model: the last snapshot already had them
    for got, want in zip(points[-1][1], model.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)  # trained again: the time goes on
    assert len(points) == 4 and points[3][0] > points[2][0]


def test_results_are_written_as_json_and_markdown(tmp_path) -> None:
    ref = Curve("mlp", "test_accuracy", seconds=[10.0], values=[0.87])
    curves = {"ours": {"seconds": [2.5, 5.0], "values": [0.88, 0.9]}}
    ours = {"test_accuracy": 0.9, "train_seconds": 5.0}
    row = compare.summarize(MLP, [{"seed": 42, **compare.compare(MLP, ours, ref, curves)}])
    cost = {"main_py_seconds": 3.3, "import_tensorflow_seconds": 3.0, "ratio": 1.1}
    json_path, md_path = report.write(results_of([row], main_py=cost), tmp_path)
    assert json_path.name == "some-cpu-2-cores.json" and md_path.name == "some-cpu-2-cores.md"
    stored = json.loads(json_path.read_text())["labs"][0]
    assert stored["value"] == 0.9 and stored["runs"][0]["seed"] == 42  # every run is kept
    table = md_path.read_text()
    assert "| 03_multilayer_perceptron | test_accuracy | 0.9000 | >= 0.8950 | yes | 5.0 |" in table
    assert "| 4.0x (10 s / 2 s) | never |" in table and "ratio 1.10" in table
    scaled = results_of([row], time_scale=0.6)
    assert report.write(scaled, tmp_path)[0].name == "some-cpu-2-cores-time-scale-0.6.json"
    assert len(list(tmp_path.iterdir())) == 4  # the scaled run beside the full one


def test_the_table_says_how_busy_the_machine_was_around_the_runs(tmp_path) -> None:
    ref = Curve("mlp", "test_accuracy", seconds=[10.0], values=[0.87])
    ours = {"test_accuracy": 0.9, "train_seconds": 5.0}
    runs = []
    for seed, (before, after, others) in zip(
        (42, 43),
        ((0.2, 1.9, []), (2.5, 3.4, [{"name": "python3", "pid": 7, "percent": 97.0}] * 2)),
        strict=True,
    ):
        machine = {
            "before": {"load": before, "busy_others": others},
            "after": {"load": after, "busy_others": []},
        }
        runs.append({"seed": seed, "machine": machine, **compare.compare(MLP, ours, ref, None)})
    row = compare.summarize(MLP, runs)
    table = report.markdown(results_of([row], seeds=[42, 43]))
    assert "| 03_multilayer_perceptron (load 0.2-3.4, beside python3) |" in table
    older = compare.summarize(MLP, [{"seed": 42, **compare.compare(MLP, ours, ref, None)}])
    assert "| 03_multilayer_perceptron |" in report.markdown(results_of([older]))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="starts a process that is not its child")
def test_a_busy_process_that_is_not_ours_is_named_and_our_children_are_not(tmp_path) -> None:
    from benchmarks import machine_load

    spin = "import time\nend = time.time() + 20\nwhile time.time() < end:\n    pass\n"
    orphan = (  # a busy process whose parent has gone: the machine's, not the benchmark's
        "import os, subprocess, sys\n"
        f"child = subprocess.Popen([sys.executable, '-c', {spin!r}], stdout=subprocess.DEVNULL,"
        " stderr=subprocess.DEVNULL, start_new_session=True)\n"
        "print(child.pid)\n"
    )
    started = subprocess.run([sys.executable, "-c", orphan], capture_output=True, text=True)
    stranger = int(started.stdout)
    ours = subprocess.Popen([sys.executable, "-c", spin])
    try:
        busy = machine_load.busy_others()
    finally:
        ours.kill()
        os.kill(stranger, 9)
        ours.wait()
    pids = [other["pid"] for other in busy]
    assert stranger in pids and ours.pid not in pids and os.getpid() not in pids, busy
    assert all(other["percent"] >= machine_load.BUSY_PERCENT for other in busy)
    load = machine_load.load_average()
    assert load is None or load >= 0


def test_run_notebook_gives_the_kernel_the_seed_and_the_time_scale(monkeypatch) -> None:
    seen = {}

    def fake_run(nb, cwd, *, fast, env):
        seen.update(env, fast=fast, cells=[cell.source for cell in nb.cells])
        return notebook_run.NotebookRun(nb, {"test_accuracy": 0.9}, 12.0)

    monkeypatch.setattr(notebook_run, "run", fake_run)
    result = bench_run.run_notebook(MLP, fast=True, seed=43, time_scale=0.6)
    assert result == {"test_accuracy": 0.9, "wall_seconds": 12.0}  # no curves file: no curves
    assert seen["LABKIT_SEED"] == "43" and seen["LABKIT_TIME_SCALE"] == "0.6" and seen["fast"]
    assert seen["PYTHONPATH"].split(os.pathsep)[0] == str(REPO_ROOT)  # benchmarks importable
    code = [i for i, source in enumerate(seen["cells"]) if "_recorder" in source]
    assert code[0] == 2 and code[1] == len(seen["cells"]) - 1  # after the setup cell, and last


def test_a_failing_notebook_is_recorded_and_the_run_goes_on(tmp_path, monkeypatch) -> None:
    def fail(lab, fast=False, seed=42, time_scale=1.0):
        raise RuntimeError(
            "Traceback ...\nLabkitError: ATIS is missing: run python -m labkit data fetch"
        )

    monkeypatch.setattr(bench_run, "run_notebook", fail)
    monkeypatch.setattr(bench_run, "device_description", lambda: "test cpu")
    cost = {"main_py_seconds": 1.0, "import_tensorflow_seconds": 1.0, "ratio": 1.0}
    monkeypatch.setattr(bench_run, "main_py_cost", lambda repeats: cost)
    chosen = ["01_tensorflow_operations", "02_logistic_regression"]
    results = bench_run.run(chosen, smoke=True, out_dir=tmp_path, repeat=2, log=lambda text: None)
    assert [row["error"] for row in results["labs"]] == [
        "LabkitError: ATIS is missing: run python -m labkit data fetch"
    ] * 2
    assert [run["seed"] for run in results["labs"][0]["runs"]] == [42, 43]
    assert not any(row["meets_target"] for row in results["labs"])
    assert (tmp_path / "test-cpu-smoke.md").is_file()


def test_the_command_refuses_what_it_cannot_run(capsys) -> None:
    from labkit.__main__ import build_parser, main

    for wrong in (["--repeat", "0"], ["--repeat", "two"], ["--time-scale", "-1"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["bench", *wrong])
    with pytest.raises(LabkitError, match="no lab 99: it knows 01, 02, .*LABS"):
        bench_run.main(["99"])
    assert main(["bench", "--out", "/dev/null/results"]) == 1  # before running anything
    assert "Cannot write the results" in capsys.readouterr().err


def test_the_command_finds_the_benchmark_from_any_folder_and_leaves_sys_path(tmp_path) -> None:
    code = (
        "import sys\n"
        "from labkit.__main__ import main\n"
        f"sys.path.remove({str(REPO_ROOT)!r})  # labkit came from there; benchmarks may not\n"
        "before = list(sys.path)\n"
        "status = main(['bench', '99'])\n"
        "assert sys.path == before, 'sys.path changed'\n"
        "print(status, sys.modules['benchmarks.run'].__file__)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "The benchmark has no lab 99" in done.stderr
    status, path = done.stdout.split()
    assert status == "1" and Path(path) == REPO_ROOT / "benchmarks" / "run.py"


@pytest.mark.notebook
def test_smoke_run_of_the_command_with_repeats_and_a_time_scale(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "labkit", "bench", "--smoke", "04", "--out", str(tmp_path)]
        + ["--repeat", "2", "--time-scale", "0.5"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (json_file,) = tmp_path.glob("*-time-scale-0.5-smoke.json")
    results = json.loads(json_file.read_text())
    (row,) = results["labs"]
    assert results["smoke"] and results["time_scale"] == 0.5 and results["seeds"] == [42, 43]
    assert row["lab"] == "04_convolutional_networks" and row["max_seconds"] == 90
    assert [run["seed"] for run in row["runs"]] == [42, 43]
    assert [run["reference_seed"] for run in row["runs"]] == [0, 1]
    for run in row["runs"]:
        assert 0 < run["value"] <= 1 and 0 < run["reference_value"] <= 1
        assert len(run["reference_curve"]["values"]) == 1
        # our curve, from the notebook's own model after each epoch: the reported value is one
        # of its points (the last, or the best one when early stopping restores it)
        assert any(abs(v - run["value"]) < 1e-6 for v in run["curve"]["values"])
        assert 0 < run["curve"]["seconds"][-1] <= run["train_seconds"]
        for when in ("before", "after"):  # how busy the machine was, around the run
            assert isinstance(run["machine"][when]["busy_others"], list)
        assert "our_time_to_reference_value" in run
    low, high = row["spread"]["value"]
    assert low <= row["value"] <= high
    assert results["main_py"]["ratio"] > 0
    assert "median of 2 runs" in (tmp_path / json_file.name.replace(".json", ".md")).read_text()


def test_readme_shows_the_committed_results() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    tables = sorted(report.RESULTS_DIR.glob("*.md"))
    assert tables, "benchmarks/results/ holds no results: run `python -m labkit bench`"
    for table in tables:
        assert table.read_text(encoding="utf-8").strip() in readme, f"README lacks {table.name}"
    assert "python -m labkit bench" in readme


def test_update_readme_shows_the_full_run_then_the_scaled_one(tmp_path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "cpu.md").write_text("| a table |\n")
    (results / "cpu-time-scale-0.6.md").write_text("| a scaled table |\n")
    (results / "cpu-smoke.md").write_text("| a smoke table |\n")
    (results / "a-gpu.md").write_text("| a GPU table |\n")
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.README_BEGIN}\nold\n{report.README_END}\nend\n")
    report.update_readme(results, readme)
    body = "| a GPU table |\n\n| a table |\n\n| a scaled table |"
    assert readme.read_text() == f"intro\n{report.README_BEGIN}\n{body}\n{report.README_END}\nend\n"


def test_update_readme_without_its_markers_says_what_to_do(tmp_path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    with pytest.raises(LabkitError, match="put them back"):
        report.update_readme(tmp_path, readme)
    assert readme.read_text() == "no markers here\n"


# ------------------------------------------------------------- the coupling to the notebooks
def notebook_tree(lab: str) -> ast.Module:
    """The code of a lab's solution notebook, IPython's `!` and `%` lines made Python."""
    from IPython.core.inputtransformer2 import TransformerManager

    transform = TransformerManager().transform_cell
    nb = solutions.read(solutions.solution_path(lab))
    return ast.parse("\n".join(transform(c.source) for c in nb.cells if c.cell_type == "code"))


def defined_names(tree: ast.AST) -> set[str]:
    """Every name the code binds: assigned, defined, imported, a loop's or a `with`'s target."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def missing_names(expression: str, defined: set[str]) -> set[str]:
    """The names an expression reads that neither the notebook nor Python defines."""
    tree = ast.parse(expression, mode="eval")
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return used - defined - defined_names(tree) - set(dir(builtins))


def reported_names(tree: ast.AST) -> set[str]:
    """The metric names the notebook reports: the keywords of its ``report(...)`` calls."""
    return {
        keyword.arg
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "attr", getattr(node.func, "id", None)) == "report"
        for keyword in node.keywords
        if keyword.arg
    }


def test_every_lab_has_a_benchmark_entry_and_every_entry_a_lab() -> None:
    assert sorted(labs.LABS) == solutions.lab_names(), (
        "benchmarks/labs.py: LABS must have one entry per folder of solutions/"
    )


@pytest.mark.parametrize("lab", sorted(labs.LABS))
def test_the_entry_names_what_its_notebook_defines_and_reports(lab: str) -> None:
    spec, tree = labs.LABS[lab], notebook_tree(lab)
    defined = defined_names(tree)
    for curve in (spec.curve, spec.reference_curve):
        if curve:
            variable, expression = curve
            assert variable in defined, f"{lab}: the notebook has no `{variable}` (LABS curve)"
            assert not missing_names(expression, defined), f"{lab}: LABS curve `{expression}`"
    reported = reported_names(tree)
    missing = set(spec.reported_metrics()) - reported
    assert not missing, f"{lab}: LABS reads {missing}, which the notebook does not report"


def test_the_coupling_check_finds_a_renamed_variable() -> None:
    tree = ast.parse("import numpy as np\ndef test_mse(m, x): ...\nconv_ae = 1\nx_val = 2")
    defined = defined_names(tree)
    assert missing_names("test_mse(conv_ae, x_val)", defined) == set()
    assert missing_names("test_mse(conv_ae, x_test)", defined) == {"x_test"}
    assert missing_names("np.mean([v for v in range(3)])", defined) == set()
    assert reported_names(ast.parse("labkit.report(a=1, b=2)\nreport(c=3)")) == {"a", "b", "c"}


def test_what_learners_import_loads_no_benchmark_code() -> None:
    """`import labkit`, every import of the notebooks and every module of labkit but its
    command line and the room kit (instructor tools) leave the benchmark and the room kit (and
    its server library) unloaded, even with the checkout on the path."""
    statements = sorted(
        {
            ast.unparse(node)
            for lab in solutions.lab_names()
            for node in ast.walk(notebook_tree(lab))
            if isinstance(node, ast.Import | ast.ImportFrom)
            and any(
                name.startswith("labkit")
                for name in [getattr(node, "module", None) or "", *(a.name for a in node.names)]
            )
        }
    )
    code = "\n".join(
        [
            *statements,
            "import json, pkgutil, importlib, sys, labkit",
            "def walk(path, prefix):",
            "    for m in pkgutil.iter_modules(path, prefix):",
            "        if m.name not in ('labkit.__main__', 'labkit.room'):",
            "            module = importlib.import_module(m.name)",
            "            if m.ispkg: walk(module.__path__, m.name + '.')",
            "walk(labkit.__path__, 'labkit.')",
            "print(json.dumps(sorted(sys.modules)))",
        ]
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert "import labkit" in statements and "labkit.checks.lab06" in loaded  # it imported them
    assert [m for m in loaded if m == "benchmarks" or m.startswith("benchmarks.")] == []
    assert [m for m in loaded if m.startswith(("labkit.room", "tornado"))] == []
    assert (
        "labkit.install.doctor.probes" in loaded and "labkit.install.offline" in loaded
    )  # the walk went on


def test_the_command_line_loads_the_room_kit_only_when_it_runs() -> None:
    """Every `python -m labkit` builds the `room` parser (labkit.room.cli), never the server."""
    code = (
        "import json, sys; from labkit.__main__ import build_parser; build_parser(); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert "labkit.room.cli" in loaded
    assert [m for m in loaded if m.startswith(("tornado", "labkit.room.serve"))] == []
