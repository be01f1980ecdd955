"""Rewrite the generated blocks of README.md, docs/*.md, docs/lab/*.md and models/*.md from the
committed result files.

A generated block is the text between two marker lines:

    <!-- generated:NAME -->
    ...rewritten by this script...
    <!-- /generated:NAME -->

NAME picks a generator below. Every number in a block comes from the files the
pipeline and the benchmark commit (metrics/, models/model.params.json,
benchmarks/results.json, metrics/seeds.json, metrics/ceilings.json); a file that is absent gives a
one-line note instead of a table.

Product docs (README.md, docs/*.md) say how things are now; the lab (docs/lab/) keeps the
history. So the experiment tables read params.yaml too: a tried setting whose change names a
key that params.yaml no longer has (its code was deleted) is marked "retired" in the lab's
tables and never appears in a product table.

    python tools/docs.py            # rewrite stale blocks in place
    python tools/docs.py --check    # exit 1 and list the stale blocks; writes nothing

Standard library only, so it runs without the project's environment.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import textwrap
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

EVAL = "metrics/eval.json"
TRAIN = "metrics/train/metrics.json"
MODEL_CARD = "models/model.params.json"
DATA = "metrics/data.json"
PREPROCESS = "metrics/preprocess.json"
SEEDS = "metrics/seeds.json"
EXPERIMENTS = "metrics/experiments.json"
CEILINGS = "metrics/ceilings.json"
BENCH = "benchmarks/results.json"
TIMINGS = "benchmarks/timings.json"
ROBUSTNESS = "metrics/robustness.json"
BEHAVIOUR = "metrics/behaviour.json"
COUNTS = "metrics/eval/counts.json"
# The robustness goals the project set itself (issue: a model that knows sentiment)
GOALS = {"behaviour": 0.90, "contrast_edited": 0.80, "ece": 0.02}
PARAMS = "params.yaml"

BLOCK = re.compile(
    r"(?P<open><!-- generated:(?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)"
    r"(?P<close><!-- /generated:(?P=name) -->)",
    re.S,
)
OPENER = re.compile(r"<!-- generated:([a-z0-9-]+) -->")


class DocsError(Exception):
    """A marker problem or an unknown block name: the files need fixing by hand."""


class Sources:
    """The result files under one repository root, read on first use; absent files are None."""

    def __init__(self, root: Path):
        self.root = root
        self._cache: dict[str, Any] = {}

    def get(self, rel: str) -> Any:
        if rel not in self._cache:
            path = self.root / rel
            self._cache[rel] = (
                json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
            )
        return self._cache[rel]

    def param_keys(self) -> set[str] | None:
        """The keys params.yaml has now (`seed`, `train.units`, ...), or None without it."""
        if PARAMS not in self._cache:
            path = self.root / PARAMS
            self._cache[PARAMS] = (
                yaml_keys(path.read_text(encoding="utf-8")) if path.is_file() else None
            )
        return self._cache[PARAMS]


def yaml_keys(text: str) -> set[str]:
    """The dotted keys of a YAML file of sections and scalars, as params.yaml is (a top-level
    key, or a section's key indented under it); standard library only, so no YAML parser."""
    keys, section = set(), None
    for line in text.splitlines():
        match = re.match(r"( *)([A-Za-z_][\w-]*):", line)
        if not match:
            continue
        if not match.group(1):
            section = match.group(2)
            keys.add(section)
        elif section is not None:
            keys.add(f"{section}.{match.group(2)}")
    return keys


CHANGED_KEY = re.compile(r"(?:^|,\s*)([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)=")


def retired_keys(change: str, keys: set[str] | None) -> list[str]:
    """The keys a `-S` change names that params.yaml no longer has (none without params.yaml)."""
    if not change or keys is None:
        return []
    return [key for key in CHANGED_KEY.findall(change) if key not in keys]


def with_retired(change: str, keys: set[str] | None, inside: bool = False) -> str:
    """A change for a table cell, followed by the keys of it that no longer exist: in brackets,
    or after a semicolon when the cell already puts the change `inside` brackets."""
    gone = ", ".join(f"`{k}`" for k in retired_keys(change, keys))
    if not gone:
        return f"`{change}`"
    return f"`{change}`; retired: {gone}" if inside else f"`{change}` (retired: {gone})"


# Formatting ----------------------------------------------------------------------------------


def num(value: Any, digits: int = 4, strip: bool = True) -> str:
    """A number for a table: integers with thousands separators, floats rounded
    (trailing zeros dropped unless `strip` is False)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if strip and value.is_integer() and abs(value) >= 100:
            return f"{int(value):,}"
        text = f"{value:,.{digits}f}"
        if strip and "." in text:
            text = text.rstrip("0").rstrip(".")
        return text if text not in ("", "-0") else "0"
    return str(value)


def prose(text: str) -> str:
    """A paragraph wrapped to short lines."""
    return textwrap.fill(text, 96, break_long_words=False, break_on_hyphens=False)


def pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(num(c) if not isinstance(c, str) else c for c in row) + " |"
        for row in rows
    ]
    return "\n".join(lines)


def missing(rel: str, what: str = "") -> str:
    return f"_`{rel}` is not in this checkout{': ' + what if what else ''}._"


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def speed(value: float) -> str:
    """A reviews/s figure, one decimal as measured."""
    return num(value, 1, strip=False)


def runs(values: list[Any]) -> str:
    return ", ".join(speed(v) for v in values)


def same_batch_speedup(row: dict) -> str:
    """The pipeline over the tutorial at the stage's batch size: the median's ratio, then
    each round's (the sides took turns, so round i of one faced round i of the other)."""
    rounds = [
        ours / theirs
        for ours, theirs in zip(
            row["pipeline"]["reviews_per_s_runs"], row["tutorial_our_batch"]["reviews_per_s_runs"]
        )
    ]
    return (
        f"{num(row['speedup_over_tutorial_our_batch'], 2)}x "
        f"({', '.join(num(x, 2) + 'x' for x in rounds)})"
    )


# README --------------------------------------------------------------------------------------


def model_summary(src: Sources) -> str:
    """One sentence on the model the committed metrics describe, from the model card."""
    card = src.get(MODEL_CARD)
    if card is None or "train" not in card:
        return missing(MODEL_CARD, "no description of the trained model")
    t, p = card["train"], card.get("preprocess", {})
    if t["model"] == "tfidf_logreg":
        return (
            "The committed model is the TF-IDF word n-gram + logistic regression baseline "
            f"(`train.model: tfidf_logreg`, C {num(t['logreg_c'])})."
        )
    layers = "+".join(str(u) for u in t["units"])
    parts = [
        f"{'bidirectional ' if t['bidirectional'] else ''}{t['model'].upper()}({layers})"
        f" over {t['embedding_dim']}-d embeddings"
        + (" started from PPMI-SVD word vectors" if t.get("pretrained_embeddings") else "")
        + (
            f", each followed by a {t['word_pair_dim']}-d vector for the pair (previous word, "
            f"word), hashed into {t['word_pair_buckets']:,} buckets"
            if t.get("word_pair_buckets")
            else ""
        )
        + (
            f", behind a ReLU convolution ({t['conv_filters']} filters) over windows of "
            f"{t['conv_width']} words moving {t['conv_stride']} at a time"
            if t.get("conv_filters")
            else ""
        )
    ]
    parts.append(
        f"{t['pooling']} pooling over time, dropout {num(t['dropout'])}, "
        f"{t['optimizer']} at {num(t['learning_rate'])}, batch {t['batch_size']}"
    )
    if p:
        parts.append(
            f"the {p['keep_tokens']} {p['max_len']} tokens of each review, "
            f"a {p['vocab_size']:,}-word vocabulary"
        )
    fit = card.get("fit", {})
    if t.get("fit_on_validation"):
        labelled = fit.get("train_reviews", 0) - fit.get("unlabeled_reviews", 0)
        parts.append(
            f"fitted on {f'all {labelled:,} ' if labelled > 0 else 'the '}labelled "
            "training reviews, validation's included (`train.fit_on_validation`)"
        )
    if t.get("distill_unlabeled"):
        extra = f" {fit['unlabeled_reviews']:,}" if "unlabeled_reviews" in fit else ""
        grams = f"1-{t['teacher_ngrams']}" if t["teacher"] == "nb_logreg" else "1-2"
        parts.append(
            f"also trained on the{extra} unlabeled reviews labelled by the "
            f"`{t['teacher']}` teacher (word {grams}-grams)"
        )
    if t.get("adversarial_epsilon"):
        parts.append(
            "adversarial training on the word vectors (epsilon "
            f"{num(t['adversarial_epsilon'])} x a review's mean word-vector length)"
        )
    return prose("Model (`" + MODEL_CARD + "`): " + "; ".join(parts) + ".")


def readme_results(src: Sources) -> str:
    """The current headline numbers."""
    ev, tr, card = src.get(EVAL), src.get(TRAIN), src.get(MODEL_CARD)
    fit = (card or {}).get("fit", {})
    rows: list[list[Any]] = []
    if ev is not None:
        n = (src.get(COUNTS) or {}).get("test_reviews")
        rows += [
            [f"test accuracy ({f'{n:,} ' if n else ''}official test reviews)", ev["accuracy"]],
            ["test ROC AUC", ev["roc_auc"]],
            [
                "test F1 / precision / recall",
                f"{num(ev['f1'])} / {num(ev['precision'])} / {num(ev['recall'])}",
            ],
        ]
    if tr is not None and "best_val_accuracy" in tr:
        n = f" ({fit['val_reviews']:,} reviews)" if "val_reviews" in fit else ""
        rows.append([f"validation accuracy{n}", tr["best_val_accuracy"]])
    elif (card or {}).get("train", {}).get("fit_on_validation"):
        rows.append(["validation accuracy", "learned, not scored (`train.fit_on_validation`)"])
    if "teacher_val_accuracy" in fit:
        rows.append(["teacher's validation accuracy", fit["teacher_val_accuracy"]])
    if ev is not None and "ece" in ev:
        rows.append([f"test calibration error, ECE (goal <= {num(GOALS['ece'])})", ev["ece"]])
    rob, rates = src.get(ROBUSTNESS), src.get(BEHAVIOUR)
    if rob and rates:
        weakest = min(rates, key=rates.get)
        rows += [
            [
                f"behaviour suite, weakest capability: {weakest.replace('_', ' ')} "
                f"(goal >= {num(GOALS['behaviour'])} each; all: docs/results.md)",
                rates[weakest],
            ],
            [
                f"contrast edits of test passages (goal >= {num(GOALS['contrast_edited'])}) / "
                "their originals",
                f"{num(rob['contrast_edited'])} / {num(rob['contrast_original'])}",
            ],
            ["short texts: single test-review sentences", rob["short_texts"]],
        ]
    train_log = ((src.get(TIMINGS) or {}).get("stages") or {}).get("train")
    if train_log:
        rows.append(
            [
                f"train stage ({train_log['cpus']} CPUs, `make timings` on "
                f"{train_log['finished'][:10]})",
                f"{minutes(train_log['seconds'])}, {fit.get('epochs_run', '?')} epochs",
            ]
        )
    bench = src.get(BENCH)
    if bench and bench.get("inference"):
        inf = bench["inference"]
        when = bench.get("measured", {}).get("inference", {})
        rows.append(
            [
                f"scoring speed, CLI way ({bench['cpus']} CPUs, {bench['gpus']} GPUs, "
                f"`make bench` on {when.get('date', 'an unrecorded day')})",
                f"{num(inf['batch_reviews_per_s'], 0)} reviews/s",
            ]
        )
    if not rows:
        return missing(EVAL)
    return table(["measure", "value"], rows)


def seeds_summary(src: Sources) -> str:
    """Spread over training seeds, from metrics/seeds.json, or a one-line note."""
    seeds = src.get(SEEDS)
    if not seeds or not seeds.get("runs"):
        return f"Spread over seeds: not measured yet (`{SEEDS}` does not exist)."
    n = len(seeds["runs"])
    listed = ", ".join(str(r["seed"]) for r in seeds["runs"])
    val, test = seeds["best_val_accuracy"], seeds["test_accuracy"]
    rows = [["test accuracy", test["mean"], test["std"]]]
    if val is not None:
        rows.insert(0, ["validation accuracy", val["mean"], val["std"]])
    head = f"Spread over {n} seeds ({listed}), from `{SEEDS}`"
    if val is None:
        head += (
            "; validation is learned by the final fit (`train.fit_on_validation`), so not scored"
        )
    return prose(head + ":") + "\n\n" + table(["metric", "mean", "std"], rows)


def val_noise(src: Sources) -> str:
    """One standard error of the validation accuracy, the noise floor for choosing on it: at
    the saved model's accuracy, or, when the final fit learned validation, at the mean of
    the default's held-out runs (`held-out`, the row tries are judged against)."""
    tr, card = src.get(TRAIN) or {}, src.get(MODEL_CARD) or {}
    n = card.get("fit", {}).get("val_reviews")
    p, whose = tr.get("best_val_accuracy"), ""
    if p is None:
        held_out = [
            s
            for s in (src.get(EXPERIMENTS) or {}).get("settings", [])
            if s["setting"] == "held-out" and s["best_val_accuracy"] is not None
        ]
        n = (src.get(PREPROCESS) or {}).get("val", {}).get("reviews")
        if held_out:
            p = held_out[0]["best_val_accuracy"]["mean"]
            whose = " (the mean of the default's held-out runs, `held-out`)"
    if p is None or not n:
        return missing(TRAIN, "no validation score to compute the noise floor from")
    se = math.sqrt(p * (1 - p) / n)
    return prose(
        f"With {n:,} validation reviews at accuracy {num(p)}{whose}, one standard "
        f"error is {se * 100:.2f} points: differences smaller than that are noise."
    )


# docs/results.md and docs/lab/results.md ------------------------------------------------------


def results_test(src: Sources) -> str:
    ev = src.get(EVAL)
    if ev is None:
        return missing(EVAL)
    return table(["metric", "value"], [[k, v] for k, v in ev.items()])


def results_train(src: Sources) -> str:
    tr, card = src.get(TRAIN), src.get(MODEL_CARD)
    out = []
    if tr is None:
        out.append(missing(TRAIN))
    else:
        rows = [
            [f"validation {what}, saved model (`best_val_{key}`)", tr[f"best_val_{key}"]]
            for what, key in (("accuracy", "accuracy"), ("loss", "loss"))
            if f"best_val_{key}" in tr
        ]
        for part in ("train", "validation"):
            if part in tr:
                name = "training" if part == "train" else "validation"
                rows += [
                    [f"last epoch: {name} accuracy", tr[part]["accuracy"]],
                    [f"last epoch: {name} loss", tr[part]["loss"]],
                ]
        if "epoch_seconds" in tr:  # wall-clock; gone from the outputs since the run log
            rows.append(["last epoch: seconds", tr["epoch_seconds"]])
        rows.append(["epochs run (DVCLive step, from 1)", tr.get("step")])
        out.append(f"`{TRAIN}` (DVCLive):\n\n" + table(["metric", "value"], rows))
    fit = (card or {}).get("fit")
    if fit is None:
        out.append(missing(MODEL_CARD, "no `fit` record"))
    else:
        out.append(
            f"`{MODEL_CARD}`, key `fit`:\n\n"
            + table(["key", "value"], [[k, v] for k, v in sorted(fit.items())])
        )
    return "\n\n".join(out)


def results_data(src: Sources) -> str:
    d = src.get(DATA)
    if d is None:
        return missing(DATA)
    rows = [[f"reviews: {k}", v] for k, v in d["counts"].items()]
    rows += [[f"duplicate texts: {k.replace('_', ' ')}", v] for k, v in d["duplicates"].items()]
    rows += [["reviews containing `<br />`", pct(d["br_share"])]]
    rows += [[f"movies: {k}", v] for k, v in d["movies"].items()]
    rows += [["movies in both train and test", d["movies_shared_train_test"]]]
    rows += [[f"words per review: {k}", v] for k, v in d["words"].items()]
    rows += [
        ["archive sha256", f"`{d['archive_sha256'][:16]}...`"],
        ["labeled-content fingerprint", f"`{d['labeled_fingerprint'][:16]}...`"],
    ]
    return table(["measure", "value"], rows)


def results_preprocess(src: Sources) -> str:
    d = src.get(PREPROCESS)
    if d is None:
        return missing(PREPROCESS)
    splits = [s for s in ("train", "val", "test") if s in d]
    keys = ["reviews", "movies", "positive_share", "oov_rate", "tokens_median", "truncated_share"]
    rows = [
        [s]
        + [
            pct(d[s][k]) if k in ("positive_share", "oov_rate", "truncated_share") else d[s][k]
            for k in keys
        ]
        for s in splits
    ]
    text = table(
        [
            "split",
            "reviews",
            "movies",
            "positive",
            "out-of-vocabulary tokens",
            "median tokens",
            "truncated by max_len",
        ],
        rows,
    )
    return (
        text
        + "\n\n"
        + prose(
            f"Vocabulary: {d['vocabulary_size']:,} entries (padding and OOV "
            f"included); word vectors learned from {d['pretrain_reviews']:,} "
            "reviews."
        )
    )


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
            num(r["best_val_accuracy"]),
            num(r["test_accuracy"]) if r["test_accuracy"] is not None else "not recorded",
            num(r["train_seconds"], 0),
        ]
        for r in runs
    ]
    return table(
        ["run", "model", "seed", "validation accuracy", "test accuracy", "training, s"], rows
    )


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
            mean_sd(s["best_val_accuracy"]),
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


def seeds_runs(src: Sources) -> str:
    seeds = src.get(SEEDS)
    if not seeds or not seeds.get("runs"):
        return seeds_summary(src)
    rows = [[r["seed"], r["best_val_accuracy"], r["test_accuracy"]] for r in seeds["runs"]]
    return (
        seeds_summary(src)
        + "\n\nEach run:\n\n"
        + table(["seed", "validation accuracy", "test accuracy"], rows)
    )


def ceilings(src: Sources) -> str:
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


# docs/benchmarks.md --------------------------------------------------------------------------


def bench_or_note(section: str) -> Callable[[Callable[[dict], str]], Callable[[Sources], str]]:
    def wrap(fn: Callable[[dict], str]) -> Callable[[Sources], str]:
        def gen(src: Sources) -> str:
            bench = src.get(BENCH)
            if bench and section and not bench.get(section):
                command = "make bench-quick" if section == "quick" else "make bench"
                return (
                    f"_Not measured yet: `{command}` writes the `{section}` section of `{BENCH}`._"
                )
            if not bench:
                return missing(BENCH)
            return fn(bench)

        return gen

    return wrap


@bench_or_note("")
def bench_machine(b: dict) -> str:
    lines = [
        prose(
            f"Machine: {b['cpus']} CPU cores ({b['machine']}), {b['gpus']} GPUs. Each "
            "section was measured in its own run, on machines of this kind whose speed "
            "varies, so each gives the matmul peak measured with it:"
        )
    ]
    for section, when in b.get("measured", {}).items():
        at = f" at {when['commit']}" if when.get("commit") else ""
        lines.append(
            f"- {section}: measured on {when['date']}{at}, float32 matmul peak "
            f"{num(when['matmul_peak_gflops'])} GFLOP/s"
        )
    return "\n".join(lines)


@bench_or_note("training")
def bench_training(b: dict) -> str:
    first = b["training"][0]
    head = (
        prose(
            f"{first['reviews']:,} training-part reviews, at most {first['max_epochs']} "
            f"epochs, {first['rounds']} rounds per side; the train stage's batch size is "
            f"{first['stage_batch_size']}, its thread pools {first['stage_threads']}."
        )
        + "\n\n"
    )
    rows = []
    for r in b["training"]:
        for side in ("tutorial", "tutorial_our_batch", "pipeline"):
            x = r[side]
            rows.append(
                [
                    r["max_len"],
                    side,
                    f"{speed(x['reviews_per_s'])} ({runs(x['reviews_per_s_runs'])})",
                    f"{x['epochs_run']} ({x['best_epoch']})",
                    ", ".join(num(v) for v in x["val_accuracy"]),
                    x["test_accuracy"],
                    pct(x["padding_share"]),
                    num(x["useful_flops_pct_of_peak"], 1),
                ]
            )
    return head + table(
        [
            "max_len",
            "side",
            "reviews/s (rounds)",
            "epochs (best)",
            "val accuracy per epoch",
            "test acc",
            "padding",
            "FLOP/s % peak",
        ],
        rows,
    )


@bench_or_note("training")
def bench_speedup(b: dict) -> str:
    rows = [
        [
            r["max_len"],
            f"{num(r['speedup'], 2)}x ({', '.join(num(s, 2) + 'x' for s in r['speedup_runs'])})",
            same_batch_speedup(r),
            f"{num(r['pipeline']['test_accuracy'])} vs {num(r['tutorial']['test_accuracy'])}",
        ]
        for r in b["training"]
    ]
    return table(
        [
            "max_len",
            "pipeline over tutorial (rounds)",
            "over tutorial at the stage's batch (rounds)",
            "test acc: pipeline vs tutorial",
        ],
        rows,
    )


@bench_or_note("settings")
def bench_settings(b: dict) -> str:
    first = b["settings"][0]
    head = (
        prose(
            f"The default model on {first['reviews']:,} reviews for {first['epochs']} epochs "
            "under each setting."
        )
        + "\n\n"
    )
    rows = [
        [
            r["batch_size"],
            str(r["jit_compile"]).lower(),
            r["threads"],
            f"{speed(r['reviews_per_s'])} ({runs(r['reviews_per_s_runs'])})",
        ]
        for r in b["settings"]
    ]
    return head + table(
        ["batch size", "XLA (jit_compile)", "thread pools (inter, intra)", "reviews/s (rounds)"],
        rows,
    )


@bench_or_note("stages")
def bench_stages(b: dict) -> str:
    rows = [
        [
            f"{r['stage']} ({r['epochs']} epoch{'s' if r['epochs'] != 1 else ''})"
            if "epochs" in r
            else r["stage"],
            num(r["seconds"], 1),
            num(r["peak_mib"], 0),
        ]
        for r in b["stages"]
    ]
    return table(["stage", "wall time, s", "peak memory, MiB"], rows)


@bench_or_note("inference")
def bench_inference(b: dict) -> str:
    i = b["inference"]
    rows = [
        [
            f"{i['reviews']:,} test reviews, CLI's way ({i['workers']} batches at once)",
            f"{speed(i['batch_reviews_per_s'])} reviews/s "
            f"(best of {runs(i['batch_reviews_per_s_runs'])})",
        ],
        [
            "the same, 1 batch at a time, default thread pools",
            f"{runs(i['default_threads_1_worker_reviews_per_s_runs'])} reviews/s",
        ],
        [
            f"one review per call, warm process ({i['single_reviews']} calls)",
            f"p50 {num(i['single_p50_ms'], 1)} ms, p99 {num(i['single_p99_ms'], 1)} ms",
        ],
    ]
    return table(["measurement", "result"], rows)


@bench_or_note("pinning")
def bench_pinning(b: dict) -> str:
    k = b["pinning"]
    pins = ", ".join(f"`{name}={value}`" for name, value in k["pinned_env"].items())
    head = (
        prose(
            f"Measured on {b.get('measured', {}).get('pinning', {}).get('date', 'an unrecorded day')}: the default model on "
            f"{k['reviews']:,} reviews for {k['epochs']} epochs with the stage launcher's "
            f"pins ({pins}) and without them, and the word vectors' SVD on one BLAS thread "
            f"and on the machine's default; fresh processes, {k['rounds']} rounds per "
            "side."
        )
        + "\n\n"
    )
    rows = [
        [
            "training, reviews/s (rounds)",
            f"{speed(k['pinned']['train_reviews_per_s'])} ({runs(k['pinned']['train_reviews_per_s_runs'])})",
            f"{speed(k['native']['train_reviews_per_s'])} ({runs(k['native']['train_reviews_per_s_runs'])})",
            f"{num(k['train_speed_ratio'], 3)}x speed",
        ],
        [
            "SVD, seconds (rounds)",
            f"{num(k['pinned']['svd_seconds'], 2)} ({runs(k['pinned']['svd_seconds_runs'])})",
            f"{num(k['native']['svd_seconds'], 2)} ({runs(k['native']['svd_seconds_runs'])})",
            f"{num(k['svd_time_ratio'], 3)}x time",
        ],
    ]
    return head + table(["measurement", "pinned", "native", "pinned / native"], rows)


@bench_or_note("quick")
def bench_quick(b: dict) -> str:
    q = b["quick"]
    g, c, i, t = q["ingest"], q["cold_start"], q["inference"], q["training"]
    at = f" at {q['commit']}" if q.get("commit") else ""
    head = (
        prose(
            f"`make bench-quick` on {q['date']}{at}: {q['cpus']} CPU cores ({q['machine']}), "
            f"{q['gpus']} GPUs; {q['minutes']} minutes in all. Each figure is the median "
            "over fresh processes (inference: the best), every round in brackets; the "
            f"training ratio is measured on {t['reviews']:,} training-part reviews at "
            f"max_len {t['max_len']} for at most {t['max_epochs']} epochs, the sides "
            "taking turns. On so small a slice the accuracies only show that both sides "
            "learn; the full run below compares them."
        )
        + "\n\n"
    )
    rows = [
        [
            "ingest, full archive: wall time",
            f"{num(g['seconds'], 2)} s ({runs(g['seconds_runs'])})",
            "at most 5 s",
        ],
        [
            "ingest: peak memory",
            f"{num(g['peak_mib'], 0)} MiB ({runs(g['peak_mib_runs'])})",
            "at most 600 MB",
        ],
        [
            '`imdb-sentiment predict "<one review>"` from a cold start: wall time',
            f"{num(c['seconds'], 2)} s ({runs(c['seconds_runs'])})",
            "at most 4 s",
        ],
        ["the same: peak memory", f"{num(c['peak_mib'], 0)} MiB ({runs(c['peak_mib_runs'])})", ""],
        [
            f"the command line on {c['identity_reviews']:,} test reviews against the evaluate "
            "stage's predictions.csv: largest difference",
            f"{c['max_abs_diff_vs_evaluate']:.1e}",
            "at most 1e-6",
        ],
        [
            f"batch scoring, {i['reviews']:,} test reviews, the CLI's way",
            f"{speed(i['batch_reviews_per_s'])} reviews/s (best of {runs(i['batch_reviews_per_s_runs'])})",
            "at least 2,000 reviews/s",
        ],
        [
            f"training at max_len {t['max_len']}: pipeline over the tutorial way",
            f"{num(t['speedup'], 2)}x ({', '.join(num(x, 2) + 'x' for x in t['speedup_runs'])})",
            "at least 3x",
        ],
        [
            "the same, over the tutorial at the train stage's batch size",
            same_batch_speedup(t),
            "at least 2x",
        ],
        [
            "test accuracy: pipeline vs tutorial way",
            f"{num(t['pipeline']['test_accuracy'])} vs {num(t['tutorial']['test_accuracy'])}",
            "equal or better",
        ],
    ]
    text = head + table(["measurement", "result (rounds)", "goal"], rows)
    if f := q.get("profile"):
        text += (
            "\n\n"
            + prose(
                f"Where a training epoch goes (the default network's architecture, {f['reviews']:,} "
                f"reviews at max_len {f['max_len']}, {f['batches']} batches of {f['batch_size']}): "
                f"train steps on batches of T real tokens (T = {', '.join(map(str, f['lengths']))}) "
                f"took {', '.join(num(x, 1) for x in f['step_ms'])} ms: {num(f['per_step_ms'], 1)} ms "
                f"per step that does not grow with length, then {num(f['per_token_ms'], 3)} ms "
                f"per token in the sequence layers ({stride_words(f['tokens_per_time_step'])}). "
                f"They do their matrix products at {num(f['token_gflops'], 1)} GFLOP/s, against a "
                f"measured matmul peak of {num(f['matmul_peak_gflops'], 1)}."
            )
            + "\n\n"
            + table(
                ["part of one epoch", "seconds"],
                [
                    [
                        "the sequence layers (tokens x per-token cost)",
                        num(f["sequence_seconds"], 1),
                    ],
                    [
                        "per-step cost (dispatch, optimizer, head) x steps",
                        num(f["per_step_seconds"], 1),
                    ],
                    ["the rest (input pipeline, callbacks, Python)", num(f["rest_seconds"], 1)],
                    ["the whole epoch", num(f["epoch_seconds"], 1)],
                    [
                        "the input pipeline alone, iterated without a model",
                        num(f["input_pipeline_seconds"], 1),
                    ],
                ],
            )
        )
    return text


def stride_words(tokens_per_time_step: int) -> str:
    if tokens_per_time_step == 1:
        return "the recurrent loop, one time step per token"
    return (
        f"a strided convolution, then the recurrent loop, one time step per "
        f"{tokens_per_time_step} tokens"
    )


# Robustness, the machine, the model card ----------------------------------------------------


def robustness(src: Sources) -> str:
    """The evaluate stage's checks beyond test accuracy, against their goals."""
    rob, rates, ev, n = src.get(ROBUSTNESS), src.get(BEHAVIOUR), src.get(EVAL), src.get(COUNTS)
    if rob is None or rates is None or n is None:
        return missing(
            ROBUSTNESS if rob is None else BEHAVIOUR if rates is None else COUNTS,
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


def machine_needs(src: Sources) -> str:
    """What the commands took on the machine `make timings` last described."""
    timings = src.get(TIMINGS)
    if not timings or not timings.get("stages"):
        return missing(TIMINGS, "no published run log (`make timings` after `make run`)")
    stages, tests, disk, machine = (
        timings["stages"],
        timings.get("tests", {}),
        timings.get("disk_mib", {}),
        timings["machine"],
    )
    rows = [
        [
            "`make run` (the five stages)",
            minutes(sum(s["seconds"] for s in stages.values())),
            f"{max(s['peak_memory_mib'] for s in stages.values()) / 1024:.1f} GiB (train)"
            if "train" in stages
            else "-",
        ]
    ]
    for tier, command in (("full", "make test"), ("fast", "make test-fast")):
        if tier in tests:
            rows.append([f"`{command}`", minutes(tests[tier]["seconds"]), "-"])
    gib = lambda mib: "-" if mib is None else f"{mib / 1024:.1f} GiB"  # noqa: E731
    rows.append(["disk: the environment (.venv)", "-", gib(disk.get("venv"))])
    data = sum(v for k, v in disk.items() if k in ("data", "dvc_cache", "models") and v)
    rows.append(["disk: data, DVC cache and models", "-", gib(data)])
    return (
        f"Measured on {machine['cpus']} CPUs and {num(machine['memory_gib'])} GiB "
        f"(`make timings`, {timings['measured']}):\n\n"
        + table(["command or need", "time", "memory or disk"], rows)
    )


def model_card(src: Sources) -> str:
    """A model card (Mitchell et al. 2019) of the committed model, from the committed results."""
    card, ev, rob, data = src.get(MODEL_CARD), src.get(EVAL), src.get(ROBUSTNESS), src.get(DATA)
    if card is None or ev is None:
        return missing(MODEL_CARD if card is None else EVAL, "no model card")
    t, fit = card["train"], card.get("fit", {})
    counts = (data or {}).get("counts", {})
    sections = [
        "### Model details",
        model_summary(src),
        f"Trained by the train stage of this repository (`dvc repro`), seed {card['seed']}; "
        "raw review text in, P(positive) out; Keras 3 on TensorFlow. Licence: MIT.",
        "### Intended use",
        prose(
            "Scoring the sentiment of English movie reviews, and teaching how a reproducible "
            "text-classification pipeline is built. Not for decisions about people, for "
            "moderation, or for text far from reviews without checking it there first."
        ),
        "### Factors",
        prose(
            "Review length (the model reads the "
            f"{card.get('preprocess', {}).get('keep_tokens', 'last')} "
            f"{card.get('preprocess', {}).get('max_len', '?')} tokens), negation and "
            "contrast, short texts, and text that is not a movie review: the robustness "
            "checks below measure each."
        ),
        "### Metrics",
        prose(
            "Accuracy, F1, ROC AUC and expected calibration error on the official test set; "
            "behavioural pass rates per capability, accuracy on minimally edited contrast "
            "passages and on single sentences (`metrics/robustness.json`)."
        ),
        "### Evaluation data",
        prose(
            f"The {counts.get('test_pos', 0) + counts.get('test_neg', 0):,} official IMDb test reviews (Maas et al. 2011); "
            "the hand-made checks in `checks/` and the behavioural suite "
            "(`imdb_sentiment.evaluation.behaviour`)."
        ),
        "### Training data",
        prose(
            f"The {counts.get('train_pos', 0) + counts.get('train_neg', 0):,} labelled "
            f"training reviews"
            + (
                f" and the {fit['unlabeled_reviews']:,} unlabeled ones, "
                f"labelled by the `{t['teacher']}` teacher"
                if "unlabeled_reviews" in fit
                else ""
            )
            + "; no other data."
        ),
        "### Quantitative analyses",
        table(
            ["measure", "value"],
            [
                ["test accuracy", ev["accuracy"]],
                ["test F1", ev["f1"]],
                ["test ROC AUC", ev["roc_auc"]],
                ["test ECE", ev.get("ece")],
            ],
        ),
        robustness(src) if rob else "",
        "### Ethical considerations",
        prose(
            "IMDb reviewers are not a sample of all people; the model learns their vocabulary "
            "and their topics, including the biases of film criticism. Scores on names or "
            "identity terms have not been audited."
        ),
        "### Caveats and recommendations",
        prose(
            "Accuracy drops on short and out-of-domain text and on minimal edits (see the "
            "checks): check the model on your own text before relying on it."
        ),
    ]
    return "\n\n".join(s for s in sections if s)


GENERATORS: dict[str, Callable[[Sources], str]] = {
    "robustness": robustness,
    "machine-needs": machine_needs,
    "model-card": model_card,
    "model-summary": model_summary,
    "readme-results": readme_results,
    "seeds-summary": seeds_summary,
    "val-noise": val_noise,
    "results-test": results_test,
    "results-train": results_train,
    "results-data": results_data,
    "results-preprocess": results_preprocess,
    "seeds-runs": seeds_runs,
    "experiments-table": experiments_table,
    "experiments-scored": lambda src: experiments_table(src, tried=False),
    "experiments-settings": experiments_settings,
    "ceilings": ceilings,
    "bench-machine": bench_machine,
    "bench-training": bench_training,
    "bench-speedup": bench_speedup,
    "bench-settings": bench_settings,
    "bench-stages": bench_stages,
    "bench-inference": bench_inference,
    "bench-pinning": bench_pinning,
    "bench-quick": bench_quick,
}


# Rewriting -----------------------------------------------------------------------------------


def markdown_files(root: Path) -> list[Path]:
    files = [root / "README.md"] if (root / "README.md").is_file() else []
    return (
        files
        + sorted((root / "docs").glob("*.md"))
        + sorted((root / "docs" / "lab").glob("*.md"))
        + sorted((root / "models").glob("*.md"))
    )


def render(text: str, src: Sources, where: str = "") -> tuple[str, list[str]]:
    """The text with every block regenerated, and the names of the blocks that changed."""
    closed = Counter(m.group("name") for m in BLOCK.finditer(text))
    for name, count in Counter(OPENER.findall(text)).items():
        if count != closed[name]:
            raise DocsError(
                f"{where}: a <!-- generated:{name} --> line has no matching "
                f"<!-- /generated:{name} --> line"
            )
    changed: list[str] = []

    def replace(match: re.Match) -> str:
        name = match.group("name")
        if name not in GENERATORS:
            raise DocsError(
                f"{where}: unknown generated block {name!r} "
                f"(known: {', '.join(sorted(GENERATORS))})"
            )
        body = GENERATORS[name](src).rstrip("\n") + "\n"
        if body != match.group("body"):
            changed.append(name)
        return match.group("open") + body + match.group("close")

    return BLOCK.sub(replace, text), changed


def stale_blocks(root: Path) -> dict[Path, tuple[str, list[str]]]:
    """Files whose generated blocks differ from what the result files give: new text, names."""
    src = Sources(root)
    out = {}
    for path in markdown_files(root):
        text = path.read_text(encoding="utf-8")
        new, changed = render(text, src, str(path.relative_to(root)))
        if changed:
            out[path] = (new, changed)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="list stale blocks and exit 1 if any; write nothing"
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="repository root (default: this one)"
    )
    args = parser.parse_args(argv)
    try:
        stale = stale_blocks(args.root)
    except (DocsError, KeyError, ValueError) as err:
        print(
            f"docs: error: {type(err).__name__ + ': ' if not isinstance(err, DocsError) else ''}{err}",
            file=sys.stderr,
        )
        return 2
    for path, (new, names) in stale.items():
        rel = path.relative_to(args.root)
        if args.check:
            for name in names:
                print(f"stale: {rel} [{name}]")
        else:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote {rel}: {', '.join(names)}")
    if args.check and stale:
        print(
            "docs: generated blocks are stale; run `make docs` (python tools/docs.py)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
