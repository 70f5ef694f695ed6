"""The closing challenge of a lab: a clear verdict, reported as metrics, never a traceback."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labkit import settings
from labkit.lab import metrics
from labkit.lab.challenge import Challenge


@pytest.fixture
def metrics_file(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    monkeypatch.setenv(settings.METRICS_FILE.name, str(path))
    monkeypatch.delenv("LABKIT_TIME_SCALE", raising=False)
    return path


def _accuracy(**kwargs) -> Challenge:
    return Challenge("beat the baseline", metric="test_accuracy", bar=0.85, **kwargs)


def test_a_result_over_the_bar_meets_it_and_is_reported(metrics_file, capsys) -> None:
    _accuracy().score(np.float32(0.87))
    out = capsys.readouterr().out
    assert "Challenge met" in out and "test_accuracy = 0.87" in out
    reported = metrics.read(metrics_file)
    assert reported["challenge_met"] == 1.0
    assert reported["challenge_result"] == pytest.approx(0.87)
    assert "challenge_seconds" not in reported  # nothing was timed


def test_a_result_under_the_bar_says_by_how_much(metrics_file, capsys) -> None:
    _accuracy().score(0.80)
    out = capsys.readouterr().out
    assert "Challenge not met yet" in out and "0.05 short of the bar" in out
    assert metrics.read(metrics_file)["challenge_met"] == 0.0


def test_lower_is_better_bars_and_custom_names(metrics_file) -> None:
    mse = Challenge("smaller error", "test_mse", 0.02, higher_is_better=False, name="mse_goal")
    assert mse.judge(0.019).met and not mse.judge(0.021).met
    mse.score(0.019)
    assert metrics.read(metrics_file)["mse_goal_met"] == 1.0


def test_the_timer_measures_training_and_the_limit_is_enforced(metrics_file) -> None:
    challenge = _accuracy(max_seconds=10)
    with challenge.timer():
        pass
    assert 0 <= challenge.seconds < 1
    assert challenge.judge(0.9).met
    late = challenge.judge(0.9, seconds=11)
    assert not late.met and "over the limit of 10 s" in late.message
    challenge.score(0.9)
    assert metrics.read(metrics_file)["challenge_seconds"] == pytest.approx(challenge.seconds)


def test_the_limit_follows_the_time_scale(metrics_file, monkeypatch) -> None:
    monkeypatch.setenv("LABKIT_TIME_SCALE", "2")
    assert _accuracy(max_seconds=10).judge(0.9, seconds=15).met  # 10 s x 2
    monkeypatch.setenv("LABKIT_TIME_SCALE", "fast please")
    verdict = _accuracy(max_seconds=10).judge(0.9, seconds=5)
    assert not verdict.met and "LABKIT_TIME_SCALE" in verdict.message


def test_a_timed_challenge_without_a_time_is_not_met(metrics_file) -> None:
    verdict = _accuracy(max_seconds=10).judge(0.9)
    assert not verdict.met and "challenge.timer()" in verdict.message


@pytest.mark.parametrize(
    "value",
    [None, math.nan, math.inf, "0.9", True, [0.1, 0.9], np.array([0.8, 0.9]), object()],
    ids=["None", "nan", "inf", "str", "bool", "list", "array", "object"],
)
def test_a_value_that_is_not_one_number_is_not_scored_and_never_raises(
    value, metrics_file, capsys
) -> None:
    _accuracy().score(value)
    out = capsys.readouterr().out
    assert "Challenge not scored" in out and "should be one number" in out
    reported = metrics.read(metrics_file)
    assert reported["challenge_met"] == 0.0 and "challenge_result" not in reported


@pytest.mark.parametrize("seconds", [-1, "soon", math.nan])
def test_a_bad_training_time_is_named(seconds, metrics_file) -> None:
    verdict = _accuracy(max_seconds=10).judge(0.9, seconds=seconds)
    assert not verdict.met and "number of seconds" in verdict.message


def test_tensors_and_one_element_arrays_are_numbers(metrics_file) -> None:
    tf = pytest.importorskip("tensorflow")
    assert _accuracy().judge(tf.constant(0.9)).met
    assert _accuracy().judge(np.array([0.9])).met
    assert not _accuracy().judge(tf.constant([0.9, 0.8])).met
