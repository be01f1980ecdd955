"""The experiment tables: every run beside the default (the lab's, and the product's without
tries), each setting over seeds (tools/experiments.py), and the ceilings (tools/ceilings.py)."""

from __future__ import annotations

from .formatting import missing, num, prose, table
from .sources import CEILINGS, EXPERIMENTS, Sources, retired_keys


def with_retired(change: str, keys: set[str] | None, inside: bool = False) -> str:
    """A change for a table cell, followed by the keys of it that no longer exist: in brackets,
    or after a semicolon when the cell already puts the change `inside` brackets."""
    if change.startswith("code: "):  # a try of code (tools/experiments.py, CODE_TRIES): prose
        return change
    gone = ", ".join(f"`{k}`" for k in retired_keys(change, keys))
    if not gone:
        return f"`{change}`"
    return f"`{change}`; retired: {gone}" if inside else f"`{change}` (retired: {gone})"


def experiments_table(src: Sources, tried: bool = True) -> str:
    """The workspace's run beside the seed, n-gram and (if `tried`, for the lab) try-NAME
    experiments (tools/experiments.py). With `tried` a change naming a key that params.yaml
    no longer has is marked retired; without it (a product table) such a row is left out."""
    ex = src.get(EXPERIMENTS)
    if not ex or not ex.get("runs"):
        return missing(EXPERIMENTS)
    keys = src.param_keys()
    runs = [
        r
        for r in ex["runs"]
        if tried or not (r.get("tried") or retired_keys(r.get("change", ""), keys))
    ]
    rows = [
        [
            r["name"],
            f"`{r['model']}`"
            + (f" with {with_retired(r['change'], keys)}" if r.get("change") else ""),
            r["seed"],
            r["val_accuracy"],
            num(r["test_accuracy"]) if r["test_accuracy"] is not None else "not recorded",
            num(r["train_seconds"], 0),
        ]
        for r in runs
    ]
    return table(
        ["run", "model", "seed", "validation accuracy", "test accuracy", "training, s"], rows
    )


def experiments_scored(src: Sources) -> str:
    """The product's experiments table: the tries and the retired settings left out."""
    return experiments_table(src, tried=False)


def experiments_settings(src: Sources) -> str:
    """Each setting run on several seeds (tools/experiments.py): mean and spread."""
    ex = src.get(EXPERIMENTS)
    if not ex or not ex.get("settings"):
        return missing(EXPERIMENTS, "no setting has run on more than one seed")

    def mean_sd(s: dict | None) -> str:
        return "not recorded" if s is None else f"{num(s['mean'])} ({num(s['std'])})"

    keys = src.param_keys()
    rows = [
        [
            s["setting"]
            + (
                f" ({with_retired(s['change'], keys, inside=True)})"
                if s["change"]
                else " (`params.yaml`)"
                if s["setting"] == "default"
                else ""
            ),
            ", ".join(map(str, s["seeds"])),
            mean_sd(s["val_accuracy"]),
            mean_sd(s["test_accuracy"]),
            num(s["train_seconds"], 0),
        ]
        for s in ex["settings"]
    ]
    return table(
        [
            "setting",
            "seeds",
            "validation accuracy: mean (sd)",
            "test accuracy: mean (sd)",
            "training, s (mean)",
        ],
        rows,
    )


def ceilings(src: Sources) -> str:
    """What simpler models score on validation (tools/ceilings.py)."""
    c = src.get(CEILINGS)
    if c is None:
        return missing(CEILINGS, "run `python tools/ceilings.py`")
    rows = [
        [r["name"], num(r["val_accuracy"]), num(r["seconds"], 1) if "seconds" in r else ""]
        for r in c["rows"]
    ]
    return (
        prose(
            f"On the {c['val_reviews']:,} validation reviews, from `{CEILINGS}` "
            "(`python tools/ceilings.py`):"
        )
        + "\n\n"
        + table(["scored on validation", "accuracy", "seconds (fit and score)"], rows)
    )
