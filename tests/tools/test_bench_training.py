"""The benchmarks' own judgement: which training epochs stalled and the line that says so,
the train stage's epoch times, the stage benchmark's scratch workspace, and the train step
benchmark's variants."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from builders import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

from suite.report import training_spread_line  # noqa: E402
from suite.stages import epoch_times, scratch_workspace, stage_inputs  # noqa: E402
from suite.training import stalled_epochs  # noqa: E402


def test_an_epoch_over_one_and_a_half_times_the_median_is_a_stall():
    assert stalled_epochs([100.0, 100.0, 50.0, 100.0]) == [3]  # twice the median time
    assert stalled_epochs([100.0, 70.0, 110.0]) == []  # 1.43x: within the machine's noise
    assert stalled_epochs([80.0]) == []
    assert stalled_epochs([50.0, 100.0, 100.0]) == []  # the first epoch traces the graph


def test_the_spread_line_names_each_side_and_the_stalled_ones():
    row = {
        "pipeline": {"spread": [300.0, 320.0]},
        "tutorial": {"spread": [100.0, 150.0]},
        "tutorial_our_batch": {"spread": [140.0, 145.0]},
        "stalled_sides": ["tutorial"],
    }
    line = training_spread_line(row)
    assert "pipeline 300.0-320.0" in line and "tutorial 100.0-150.0" in line
    assert line.endswith("sides that stalled: tutorial")
    assert training_spread_line({**row, "stalled_sides": []}).endswith("stalled: none")


def test_the_train_stages_epochs_are_read_from_keras_epoch_lines():
    log = (
        "train: epoch 1/2, batch 139/590 (24%), about 3.2 min left\n"
        "590/590 - 226s - 383ms/step - accuracy: 0.8439 - loss: 0.3846\n"
        "Epoch 2/2\n"
        "590/590 - 224s - 380ms/step - accuracy: 0.9359 - loss: 0.2207\n"
        "evaluate: 100/590 - 5s - 3ms/step is no epoch line\n"
    )
    assert epoch_times(log) == ([226, 224], [383, 380])
    assert epoch_times("no epochs") == ([], [])


def test_the_stage_benchmark_links_every_input_that_no_stage_writes(tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    inputs = stage_inputs(REPO, params)
    assert "checks" in inputs  # the evaluate stage's checks: no stage writes them
    assert not any(path.startswith(("src/", "data/", "models/", "metrics/")) for path in inputs)
    scratch_workspace(tmp_path, params)
    for path in [params["ingest"]["archive"], *inputs]:
        assert (tmp_path / path).is_symlink()
        assert (tmp_path / path).resolve() == (REPO / path).resolve()


@pytest.mark.slow
def test_the_train_step_benchmark_times_each_variant():
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/train_step.py"), "--batch", "4", "--length", "12"]
        + ["--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")][1:]
    assert [row.split(" | ")[0].lstrip("| ") for row in rows] == [
        "default",
        "no-adversarial",
        "no-conv",
        "no-pairs",
    ]
