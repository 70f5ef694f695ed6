"""The benchmark: its arithmetic, its files, a smoke run, and the README showing the results."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

from labkit import bench
from labkit.errors import LabkitError


def test_time_to_reach_reads_the_curve_either_way() -> None:
    accuracy = bench.Curve("ref", "acc", seconds=[10, 20, 30], values=[0.8, 0.9, 0.88])
    assert accuracy.final == 0.88
    assert accuracy.time_to_reach(0.85) == 20
    assert accuracy.time_to_reach(0.88) == 20  # first reached before the end
    assert accuracy.time_to_reach(0.95) is None
    mse = bench.Curve("ref", "mse", higher_is_better=False, seconds=[5, 9], values=[0.03, 0.02])
    assert mse.time_to_reach(0.025) == 9 and mse.time_to_reach(0.01) is None


OUR_CURVE = {"ours": {"seconds": [5.0, 10.0, 15.0], "values": [0.86, 0.885, 0.90]}}


def test_compare_against_a_reference_curve() -> None:
    ref = bench.Curve("mlp", "test_accuracy", seconds=[10, 20, 30], values=[0.85, 0.87, 0.88])
    ours = {"test_accuracy": 0.90, "train_seconds": 15.0, "wall_seconds": 40.0}
    row = bench.compare("03_multilayer_perceptron", ours, ref, OUR_CURVE)
    assert row["meets_target"] and row["reference_value"] == 0.88
    # the reference needs 30 s to reach its final 0.88, ours 10 s
    assert row["our_time_to_reference_value"] == 10.0
    assert row["speedup"] == pytest.approx(30 / 10)
    assert row["reference_time_to_our_value"] is None  # the reference never gets to 0.90
    slow = {"ours": {"seconds": [5.0, 10.0], "values": [0.80, 0.86]}}
    worse = bench.compare("03_multilayer_perceptron", {**ours, "test_accuracy": 0.86}, ref, slow)
    assert not worse["meets_target"] and "speedup" not in worse
    assert worse["our_time_to_reference_value"] is None
    assert worse["reference_time_to_our_value"] == 20
    assert bench._speedup(row) == "3.0x (30 s / 10 s)"
    assert bench._speedup(worse) == "ours never reaches it"
    assert "speedup" not in bench.compare("03_multilayer_perceptron", ours, ref)  # no curve


def test_lab06_target_needs_the_intent_accuracy_and_the_time_limit() -> None:
    ref = bench.Curve("lstm", "slot_f1", seconds=[60.0, 120.0], values=[0.90, 0.93])
    good = {"slot_f1": 0.958, "intent_accuracy": 0.975, "train_seconds": 200.0}
    row = bench.compare("06_rnn_slot_filling", good, ref)
    assert row["meets_target"] and row["metrics"]["intent_accuracy"] == 0.975
    assert row["reference_time_to_our_value"] is None
    for worse in ({"intent_accuracy": 0.96}, {"train_seconds": 301.0}, {"slot_f1": 0.95}):
        assert not bench.compare("06_rnn_slot_filling", {**good, **worse}, ref)["meets_target"]
    table = bench.markdown({"device": "d", "smoke": False, "date": "x", "tensorflow": "2.21",
                            "keras": "3", "python": "3.12", "labs": [row]})  # fmt: skip
    assert (
        "0.9580; intent_accuracy 0.9750 | >= 0.9550; intent_accuracy >= 0.97; training <= 300 s"
        in table
    )


def test_a_partial_rerun_keeps_the_other_labs_rows(tmp_path) -> None:
    old_row = bench.compare(
        "02_logistic_regression", {"test_accuracy": 0.849, "train_seconds": 14.0}, None
    )
    old = {"device": "cpu", "date": "2026-11-01", "labs": [old_row]}
    (tmp_path / "cpu.json").write_text(json.dumps(old))
    new_row = bench.compare(
        "03_multilayer_perceptron", {"test_accuracy": 0.9, "train_seconds": 70.0}, None
    )
    results = {"device": "cpu", "labs": [new_row]}
    bench.merge_earlier(results, tmp_path)
    assert [row["lab"] for row in results["labs"]] == [
        "02_logistic_regression",
        "03_multilayer_perceptron",
    ]
    assert results["labs"][0]["date"] == "2026-11-01" and results["labs"][0]["meets_target"]
    table = bench.markdown({**results, "smoke": False, "date": "2026-11-23", "tensorflow": "2.21",
                            "keras": "3", "python": "3.12"})  # fmt: skip
    assert "| 02_logistic_regression (run 2026-11-01) |" in table
    assert "| 03_multilayer_perceptron |" in table


def test_compare_lab05_against_the_dense_autoencoder_of_the_same_run() -> None:
    ours = {"conv_mse": 0.007, "conv_seconds": 50.0, "dense_mse": 0.010, "dense_seconds": 25.0}
    curves = {"ours": {"seconds": [10.0, 20.0, 50.0], "values": [0.012, 0.009, 0.007]},
              "reference": {"seconds": [5.0, 15.0, 25.0], "values": [0.02, 0.012, 0.010]}}  # fmt: skip
    row = bench.compare("05_autoencoders", ours, None, curves)
    assert row["target"] == pytest.approx(0.008) and row["meets_target"]
    assert row["reference_value"] == 0.010 and row["reference_time_to_final"] == 25.0
    assert row["our_time_to_reference_value"] == 20.0  # lower is better: 0.009 <= 0.010
    assert row["speedup"] == pytest.approx(25 / 20)
    assert not bench.compare("05_autoencoders", {**ours, "conv_mse": 0.0085}, None)["meets_target"]


def test_record_epochs_keeps_the_weights_of_every_epoch_ema_included(monkeypatch) -> None:
    import keras
    import numpy as np

    monkeypatch.setattr(keras.Model, "fit", keras.Model.fit)  # undone after the test
    bench.record_epochs()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.1, use_ema=True, ema_momentum=0.5), loss="mse")
    x, y = np.ones((8, 3), "float32"), np.full((8, 1), 2.0, "float32")
    model.fit(x, y, epochs=3, batch_size=4, verbose=0)
    points = bench._snapshots[model]
    assert len(points) == 3 and points[0][0] < points[1][0] < points[2][0]
    # fit ends by copying the moving averages into the model: the last snapshot already had them
    for got, want in zip(points[-1][1], model.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)  # trained again: the time goes on
    assert len(points) == 4 and points[3][0] > points[2][0]


def test_results_are_written_as_json_and_markdown(tmp_path) -> None:
    ref = bench.Curve("mlp", "test_accuracy", seconds=[10.0], values=[0.87])
    results = {
        "device": "Some CPU, 2 cores", "smoke": False, "date": "2026-11-23", "tensorflow": "2.21.0",
        "keras": "3.15.1", "python": "3.12.1",
        "labs": [bench.compare("03_multilayer_perceptron",
                               {"test_accuracy": 0.9, "train_seconds": 5.0}, ref,
                               {"ours": {"seconds": [2.5, 5.0], "values": [0.88, 0.9]}})],
        "main_py": {"main_py_seconds": 3.3, "import_tensorflow_seconds": 3.0, "ratio": 1.1},
    }  # fmt: skip
    json_path, md_path = bench.write(results, tmp_path)
    assert json_path.name == "some-cpu-2-cores.json" and md_path.suffix == ".md"
    assert json.loads(json_path.read_text())["labs"][0]["value"] == 0.9
    table = md_path.read_text()
    assert "| 03_multilayer_perceptron | test_accuracy | 0.9000 | >= 0.8950 | yes | 5.0 |" in table
    assert "| 4.0x (10 s / 2 s) | never |" in table and "ratio 1.10" in table
    assert sorted(p.name for p in tmp_path.iterdir()) == [json_path.name, md_path.name]


@pytest.mark.notebook
def test_smoke_run_of_the_command(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "labkit", "bench", "--smoke", "03", "--out", str(tmp_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (json_file,) = tmp_path.glob("*-smoke.json")
    results = json.loads(json_file.read_text())
    (row,) = results["labs"]
    assert results["smoke"] and row["lab"] == "03_multilayer_perceptron"
    assert 0 < row["value"] <= 1 and 0 < row["reference_value"] <= 1
    assert len(row["reference_curve"]["values"]) == 1
    # our curve, from the notebook's own model after each epoch: the reported value is one of
    # its points (the last, or the best one when early stopping restores it)
    assert any(abs(v - row["value"]) < 1e-6 for v in row["curve"]["values"])
    assert 0 < row["curve"]["seconds"][-1] <= row["train_seconds"]
    assert "our_time_to_reference_value" in row
    assert results["main_py"]["ratio"] > 0


def test_readme_shows_the_committed_results() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    tables = sorted(bench.RESULTS_DIR.glob("*.md"))
    assert tables, "benchmarks/results/ holds no results: run `python -m labkit bench`"
    for table in tables:
        assert table.read_text(encoding="utf-8").strip() in readme, f"README lacks {table.name}"
    assert "python -m labkit bench" in readme


def test_update_readme_replaces_only_the_marked_section(tmp_path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "cpu.md").write_text("| a table |\n")
    (results / "cpu-smoke.md").write_text("| a smoke table |\n")
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{bench.README_BEGIN}\nold\n{bench.README_END}\nend\n")
    bench.update_readme(results, readme)
    assert (
        readme.read_text() == f"intro\n{bench.README_BEGIN}\n| a table |\n{bench.README_END}\nend\n"
    )


def test_a_failing_notebook_is_recorded_and_the_run_goes_on(tmp_path, monkeypatch) -> None:
    def fail(lab, fast=False):
        raise RuntimeError(
            "Traceback ...\nLabkitError: ATIS is missing: run python -m labkit data fetch"
        )

    monkeypatch.setattr(bench, "run_notebook", fail)
    monkeypatch.setattr(bench, "device_description", lambda: "test cpu")
    monkeypatch.setattr(bench, "main_py_cost", lambda repeats: {"main_py_seconds": 1.0,
                        "import_tensorflow_seconds": 1.0, "ratio": 1.0})  # fmt: skip
    results = bench.run(["01_tensorflow_operations", "02_logistic_regression"], smoke=True,
                        out_dir=tmp_path, log=lambda text: None)  # fmt: skip
    assert [row["error"] for row in results["labs"]] == [
        "LabkitError: ATIS is missing: run python -m labkit data fetch"
    ] * 2
    assert not any(row["meets_target"] for row in results["labs"])
    assert (tmp_path / "test-cpu-smoke.md").is_file()


def test_update_readme_without_its_markers_says_what_to_do(tmp_path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    with pytest.raises(LabkitError, match="put them back"):
        bench.update_readme(tmp_path, readme)
    assert readme.read_text() == "no markers here\n"
