"""The evaluate stage's checks beyond test accuracy, against the goals the project set itself."""

from __future__ import annotations

from .formatting import missing, num, table
from .sources import BEHAVIOUR, COUNTS, EVAL, ROBUSTNESS, Sources

# The robustness goals the project set itself (issue: a model that knows sentiment)
GOALS = {"behaviour": 0.90, "contrast_edited": 0.80, "ece": 0.02}


def robustness(src: Sources) -> str:
    """The evaluate stage's checks beyond test accuracy, against their goals."""
    rob, rates, ev, n = src.get(ROBUSTNESS), src.get(BEHAVIOUR), src.get(EVAL), src.get(COUNTS)
    if rob is None or rates is None or n is None:
        return missing(
            src.path(ROBUSTNESS if rob is None else BEHAVIOUR if rates is None else COUNTS),
            "the evaluate stage writes it (`dvc repro`)",
        )
    rows = [
        [f"behaviour: {name.replace('_', ' ')}", rates[name], f">= {num(GOALS['behaviour'])}"]
        for name in sorted(rates)
    ]
    rows += [
        [f"contrast set, original passages ({n['contrast_pairs']})", rob["contrast_original"], ""],
        [
            f"contrast set, edited passages ({n['contrast_pairs']})",
            rob["contrast_edited"],
            f">= {num(GOALS['contrast_edited'])}",
        ],
        ["contrast set, both of a pair right", rob["contrast_both"], ""],
        [f"short texts: single test-review sentences ({n['short_texts']})", rob["short_texts"], ""],
    ]
    if ev is not None and "ece" in ev:
        rows.append(["test calibration error (ECE, 10 bins)", ev["ece"], f"<= {num(GOALS['ece'])}"])
    return table(["check", "value", "goal"], rows)
