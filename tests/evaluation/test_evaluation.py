"""The checks beyond test accuracy: calibration, the hand-made check sets, robustness metrics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from builders import CHECKS

from imdb_sentiment.core.errors import PipelineError
from imdb_sentiment.evaluation import behaviour, calibration, checksets


def test_a_calibrated_model_has_no_calibration_error():
    rng = np.random.default_rng(0)
    probs = rng.uniform(0, 1, 200_000)
    labels = (rng.uniform(0, 1, probs.size) < probs).astype(int)  # P(positive) is the truth
    table = calibration.reliability_table(labels, probs)
    assert calibration.expected_calibration_error(table) < 0.01
    assert table["reviews"].sum() == probs.size


def test_an_overconfident_model_has_the_gap_as_its_error():
    labels = np.array([1, 0] * 50)  # right half the time ...
    probs = np.full(100, 0.99)  # ... at 0.99 confidence
    table = calibration.reliability_table(labels, probs)
    assert calibration.expected_calibration_error(table) == pytest.approx(0.49)
    assert table[["confidence", "accuracy"]].values.ravel().tolist() == pytest.approx([0.99, 0.5])


@pytest.mark.parametrize(
    "labels, probs", [([1, 0], [0.5]), ([2], [0.5]), ([1], [np.nan]), ([1], [1.5]), ([], [])]
)
def test_calibration_refuses_bad_arguments(labels, probs):
    with pytest.raises(ValueError):
        calibration.reliability_table(np.array(labels), np.array(probs))


def test_the_committed_check_sets_are_well_formed_and_large_enough():
    pairs = checksets.read_contrast_set(CHECKS / "contrast.jsonl")
    short = checksets.read_short_texts(CHECKS / "short_texts.jsonl")
    assert len(pairs) >= 200 and len({p.review for p in pairs}) == len(pairs)
    assert {p.original_label for p in pairs} == {0, 1}
    assert len(short) >= 250 and 0.4 < np.mean([s.label for s in short]) < 0.6
    assert all(3 <= len(s.text.split()) <= 25 for s in short)
    assert len(behaviour.behaviour_cases()) >= 300 and len(behaviour.CAPABILITIES) >= 8


def test_quotes_are_checked_against_the_reviews_they_name():
    test = pd.DataFrame({"label": [1], "id": [12], "rating": [9], "text": ["A fine film. Truly."]})
    assert checksets.check_quotes([("test/pos/12_9", "A fine film.")], test, "x") == 1
    assert checksets.check_quotes([("test/neg/12_2", "anything")], test, "x") == 0  # not held
    with pytest.raises(PipelineError, match="does not contain"):
        checksets.check_quotes([("test/pos/12_9", "A dull film.")], test, "x")
    with pytest.raises(PipelineError, match="does not name a test review"):
        checksets.check_quotes([("train/pos/12_9", "A fine film.")], test, "x")


@pytest.mark.parametrize(
    "line, message",
    [
        (
            '{"review": "test/pos/1_9", "original": "good", "edited": "good", '
            '"original_label": 1, "edited_label": 0}',
            "change the text",
        ),
        (
            '{"review": "test/pos/1_9", "original": "good", "edited": "bad", '
            '"original_label": 1, "edited_label": 1}',
            "flip the label",
        ),
        (
            '{"review": "test/pos/1_9", "original": "good", "edited": "bad", '
            '"original_label": true, "edited_label": 0}',
            "0 or 1",
        ),
        ('{"review": "test/pos/1_9", "original": "good"}', "exactly the keys"),
        ("not json", "not JSON"),
    ],
)
def test_a_bad_contrast_row_is_named(tmp_path, line, message):
    path = tmp_path / "contrast.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(PipelineError, match=message):
        checksets.read_contrast_set(path)


@pytest.mark.parametrize("content", ["", "\n"])
def test_an_empty_check_set_has_no_rows(tmp_path, content):
    path = tmp_path / "short.jsonl"
    path.write_text(content)
    with pytest.raises(PipelineError, match="short.jsonl: no rows"):
        checksets.read_short_texts(path)


def test_a_check_set_line_may_hold_any_character_json_allows_raw(tmp_path):
    """U+2028 and U+0085 are line breaks to str.splitlines, but may stand raw in JSON."""
    path = tmp_path / "short.jsonl"
    path.write_text(
        '{"review": "test/pos/1_9", "text": "A fine\u2028film.\u0085", "label": 1}\n',
        encoding="utf-8",
    )
    assert checksets.read_short_texts(path)[0].text == "A fine\u2028film.\u0085"


def test_a_check_set_line_naming_a_key_twice_is_refused(tmp_path):
    path = tmp_path / "short.jsonl"
    path.write_text('{"review": "test/pos/1_9", "text": "good", "label": 1, "label": 0}\n')
    with pytest.raises(PipelineError, match="short.jsonl:1: not JSON .*same key twice"):
        checksets.read_short_texts(path)


def test_a_check_set_that_is_a_device_is_refused_unread(tmp_path):
    path = tmp_path / "short.jsonl"
    path.symlink_to("/dev/zero")
    with pytest.raises(PipelineError, match="is not a regular file"):
        checksets.read_short_texts(path)


def test_evaluate_writes_calibration_and_robustness(tiny_pipeline):
    results = json.loads(tiny_pipeline["eval"].read_text())
    assert 0 <= results["ece"] <= 1
    robustness = json.loads(tiny_pipeline["robustness"].read_text())
    rates = json.loads(tiny_pipeline["behaviour"].read_text())
    assert set(rates) == set(behaviour.CAPABILITIES)
    assert set(robustness) == {
        "contrast_original",
        "contrast_edited",
        "contrast_both",
        "short_texts",
        "behaviour_min",
    }
    assert all(0 <= value <= 1 for value in [*robustness.values(), *rates.values()])
    plots = tiny_pipeline["eval_plots"]
    counts = json.loads((plots / "counts.json").read_text())
    assert counts["contrast_pairs"] >= 200 and counts["short_texts"] >= 250
    assert (plots / "reliability.png").stat().st_size > 0
    checks = pd.read_csv(plots / "checks.csv")
    assert set(checks["check"]) == {"behaviour", "contrast", "short_texts"}
    assert checks["probability"].between(0, 1).all()
