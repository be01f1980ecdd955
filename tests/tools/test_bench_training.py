"""The training benchmark's own judgement: which epochs stalled, and the line that says so."""

from __future__ import annotations

import sys

from builders import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

from suite.report import training_spread_line  # noqa: E402
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
